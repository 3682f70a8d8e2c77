/**
 * Child process: ipx (its own pinned sharp) serving a folder over HTTP, with the encoder settings
 * aligned to the origin's. ipx hands the encoder only `quality`, so the other settings go in via
 * `sharpOptions`, which ipx copies onto sharp's option object (jpegProgressive, webpEffort,
 * heifEffort). sharp 0.34 has no AVIF `tune` option: that one difference stays.
 * argv: <dir> <host> <port>
 */
import { createRequire } from 'node:module';
import http from 'node:http';
import { createIPX, createIPXNodeServer, ipxFSStorage } from 'ipx';
import { IPX_SHARP_OPTIONS } from './cases.js';

const [dir, host, port] = process.argv.slice(2) as [string, string, string];
// ipx's own sharp (not the project's): same libvips threading and cache settings as the origin.
const ipxRequire = createRequire(createRequire(import.meta.url).resolve('ipx'));
const ipxSharp = ipxRequire('sharp') as { concurrency(n: number): number; cache(o: boolean): void; versions: Record<string, string> };
ipxSharp.concurrency(1);
ipxSharp.cache(false);

const ipx = createIPX({ storage: ipxFSStorage({ dir }), sharpOptions: IPX_SHARP_OPTIONS as never });
const server = http.createServer(createIPXNodeServer(ipx));
server.keepAliveTimeout = 30_000;
server.listen(Number(port), host, () => {
  process.stdout.write(JSON.stringify({ ready: true, sharp: ipxSharp.versions.sharp, vips: ipxSharp.versions.vips }) + '\n');
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
