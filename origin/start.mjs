/**
 * Starts one region origin: the compiled build of origin/src (built first when the sources
 * changed: scripts/origin-build.mjs), run in this process. Every launcher uses this file — the
 * cluster of `npm start`, the benches, the tests that spawn origins, the Docker image — so there
 * is one code path, and no TypeScript loader in a region process.
 */
import { pathToFileURL } from 'node:url';
import { buildOrigin } from '../scripts/origin-build.mjs';

await import(pathToFileURL(await buildOrigin()).href);
