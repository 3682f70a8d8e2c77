/**
 * CPU per region-bucket call, lean S3 client vs @aws-sdk/client-s3 (diagnostic for issue #18):
 * s3rver runs in a child process, so this process's CPU (process.cpuUsage: the client's signing,
 * HTTP, parsing) is the client's alone. Rounds alternate the clients; each call is awaited alone.
 * `npx tsx bench/transform/s3-cost.ts [--n 300 --rounds 3 --port 9790]`
 */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RegionBucket } from '../../origin/src/region/bucket.js';
import { args } from '../lib/results.js';

const a = args();
const n = typeof a.n === 'string' ? Number(a.n) : 300;
const rounds = typeof a.rounds === 'string' ? Number(a.rounds) : 3;
const port = typeof a.port === 'string' ? Number(a.port) : 9790;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pixmesh-s3-cost-'));
const s3 = spawn(process.execPath, ['--input-type=module', '-e', `import S3rver from 's3rver'; await new S3rver({ address: '127.0.0.1', port: ${port}, directory: ${JSON.stringify(dir)}, silent: true }).run(); console.log('up');`], { stdio: ['ignore', 'pipe', 'inherit'] });
await new Promise<void>((resolve) => s3.stdout!.once('data', () => resolve()));
const loc = { endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', forcePathStyle: true };

const body = crypto.randomBytes(16_500); // a jpeg-720 result's size
const member = { id: 'r1', url: 'http://127.0.0.1:1', hits: 12, at: Date.now() };
const ops: [string, (b: RegionBucket, i: number) => Promise<unknown>][] = [
  ['put 16.5 kB (shared-tier write)', (b, i) => b.put(`v/acc/p${i % 50}/@x`, body)],
  ['get 16.5 kB', (b, i) => b.get(`v/acc/p${i % 50}/@x`)],
  ['head (missing)', (b) => b.exists('nothing/here')],
  ['putJson (heartbeat)', (b, i) => b.putJson(`members/m${i % 3}.json`, member)],
  ['list 3 objects (members)', (b) => b.list('members/')],
];
const results = new Map<string, number[]>();
const clients = ['lean', 'sdk'] as const;
const buckets = Object.fromEntries(clients.map((c) => [c, new RegionBucket(`cost-${c}`, loc, 5_000, c)])) as Record<(typeof clients)[number], RegionBucket>;
for (const c of clients) await buckets[c].ensure();
for (let r = 0; r < rounds + 1; r++) {
  for (const c of r % 2 ? [...clients].reverse() : clients) {
    for (const [name, op] of ops) {
      const t0 = process.cpuUsage();
      for (let i = 0; i < n; i++) await op(buckets[c], i);
      const d = process.cpuUsage(t0);
      // round 0 warms both clients up (JIT, sockets) and is not counted.
      if (r > 0) results.set(`${c}|${name}`, [...(results.get(`${c}|${name}`) ?? []), (d.user + d.system) / 1000 / n]);
    }
  }
}
s3.kill();
fs.rmSync(dir, { recursive: true, force: true });
console.log(`CPU of this process per call (ms), ${rounds} rounds × ${n} calls, load ${os.loadavg()[0]!.toFixed(2)}; median [min–max] over rounds`);
const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
for (const [name] of ops) {
  const l = results.get(`lean|${name}`)!;
  const s = results.get(`sdk|${name}`)!;
  const f = (xs: number[]) => `${med(xs).toFixed(3)} [${Math.min(...xs).toFixed(3)}–${Math.max(...xs).toFixed(3)}]`;
  console.log(`  ${name.padEnd(34)} lean ${f(l)}  sdk ${f(s)}  sdk/lean ${(med(s) / med(l)).toFixed(1)}×`);
}
