/**
 * The origin runs as JavaScript compiled from its TypeScript (origin/src and shared/, one .js per
 * .ts, esbuild, no bundling), not through tsx: tsx's loader thread and its compiler cost a region
 * process ≈ 45 MB of RSS and loader round trips on every lazy import (docs/benchmarks.md).
 *
 * One code path: `node origin/start.mjs` (the cluster of `npm start`, the benches, the tests that
 * spawn origins, the Docker image) builds when the sources changed, then runs the build. A build
 * lives in `dist/origin-<hash of the sources>/` (git-ignored), written under a temporary name and
 * renamed into place, so concurrent starters never see half a build and an edited source is never
 * served stale. Plain JS, so the Docker build can run it with node alone (esbuild comes with tsx).
 *
 *   node scripts/origin-build.mjs      builds (if needed) and prints the entry point
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/**
 * Node flags of every region process (the cluster, the tests, `npm run origin` and the Docker
 * image's CMD all pass these; test/unit/deploy-compose.test.ts holds the last two to them):
 * V8's young generation capped at 2 × 4 MB instead of growing to 2 × 16 MB under a server's
 * allocation rate — ≈ 25–45 MB less RSS at the same throughput (docs/benchmarks.md).
 */
export const ORIGIN_NODE_ARGS = ['--max-semi-space-size=4'];
/** The command line (after `node`) that starts a region origin. */
export const originArgv = () => [...ORIGIN_NODE_ARGS, path.join(ROOT, 'origin/start.mjs')];
/** What the origin is made of (it imports nothing else of the repository). */
const SOURCE_DIRS = ['origin/src', 'shared'];
/** Builds of other sources are removed once this old (a process may still be running one). */
const PRUNE_AFTER_MS = 24 * 3600_000;

function sourceFiles(root) {
  const out = [];
  const walk = (rel) => {
    for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const r = path.posix.join(rel, e.name);
      if (e.isDirectory()) walk(r);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(r);
    }
  };
  for (const d of SOURCE_DIRS) walk(d);
  return out.sort();
}

/** The build of the current sources (built now if there is none); returns its main.js. */
export async function buildOrigin(root = ROOT) {
  const files = sourceFiles(root);
  const hash = crypto.createHash('sha256');
  for (const f of files) hash.update(`${f}\0`).update(fs.readFileSync(path.join(root, f))).update('\0');
  const dist = path.join(root, 'dist');
  const name = `origin-${hash.digest('hex').slice(0, 16)}`;
  const out = path.join(dist, name);
  const entry = path.join(out, 'origin/src/main.js');
  if (fs.existsSync(entry)) return entry;
  const { build } = await import('esbuild');
  const tmp = `${out}.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  await build({
    entryPoints: files.map((f) => path.join(root, f)),
    outdir: tmp,
    outbase: root,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'warning',
  });
  try {
    fs.renameSync(tmp, out);
  } catch (e) {
    // Another starter built the same sources first: theirs is identical.
    fs.rmSync(tmp, { recursive: true, force: true });
    if (!fs.existsSync(entry)) throw e;
  }
  for (const e of fs.readdirSync(dist)) {
    if (!e.startsWith('origin-') || e === name) continue;
    const p = path.join(dist, e);
    try {
      if (Date.now() - fs.statSync(p).mtimeMs > PRUNE_AFTER_MS) fs.rmSync(p, { recursive: true, force: true });
    } catch {
      // gone already
    }
  }
  return entry;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log(await buildOrigin());
}
