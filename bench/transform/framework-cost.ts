/**
 * What the framework alone costs per render answer (diagnostic, not a benchmark of record): two
 * child servers give the same answer (a 17 KB body with a render's dozen headers, one event-loop
 * turn of "work"), one from a bare `node:http` listener, one through @hono/node-server + Hono with
 * the origin's route shape (access-log middleware, internal sub-app with an auth middleware, two
 * render middlewares — usage, in-flight bound — and the render route among the other routes).
 * Each child reports its own CPU (process.cpuUsage) per request; c1 and c2, rounds interleaved.
 * `npx tsx bench/transform/framework-cost.ts [--n 8000 --rounds 3 --base-port 9791]`
 */
import { fork, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { args } from '../lib/results.js';

const BODY = Buffer.alloc(17_000, 7);
const HEADERS: Record<string, string> = {
  'content-type': 'image/jpeg', 'cache-control': 'public, max-age=31536000', 'x-ik-region-cache': 'MISS', 'x-ik-processed-by': 'eu-central-1',
  'x-ik-replica': 'r1', 'x-ik-region-hit-ratio': '0.500', 'server-timing': 'fetch;dur=1.2, render;dur=10.3', etag: '"abc123"',
  'x-ik-width': '320', 'x-ik-height': '240', vary: 'accept', 'content-length': String(BODY.length),
};
const work = () => new Promise<void>((r) => setImmediate(r));

function child(kind: string, port: number): void {
  if (kind === 'raw') {
    http.createServer((req, res) => {
      if (!req.url?.startsWith('/internal/render/')) return void res.writeHead(404).end();
      void work().then(() => { res.writeHead(200, HEADERS); res.end(BODY); });
    }).listen(port, '127.0.0.1');
  } else {
    const app = new Hono();
    const internal = new Hono();
    app.use('*', async (c, next) => {
      const t0 = performance.now();
      await next();
      void [c.res.status, c.req.path.startsWith('/internal/render/'), performance.now() - t0, c.req.header('x-request-id')];
    });
    for (const p of ['/healthz', '/readyz', '/metrics']) app.get(p, (c) => c.text('ok'));
    internal.use('*', async (c, next) => { void c.req.header('authorization'); await next(); });
    internal.use('/internal/render/*', async (_c, next) => { await next(); });
    internal.use('/internal/render/*', async (_c, next) => { await next(); });
    internal.get('/internal/render/:account/*', async () => { await work(); return new Response(BODY, { status: 200, headers: HEADERS }); });
    internal.post('/internal/purge', (c) => c.text('x'));
    internal.use('/internal/media/*', async (_c, next) => next());
    app.route('/', internal);
    serve({ fetch: app.fetch, hostname: '127.0.0.1', port });
  }
  let u0 = process.cpuUsage();
  process.on('message', (m) => {
    if (m === 'reset') { u0 = process.cpuUsage(); process.send!('ok'); }
    else { const u = process.cpuUsage(u0); process.send!((u.user + u.system) / 1000); }
  });
  process.send!('ready');
}

async function main(): Promise<void> {
  const a = args();
  const n = Number(a.n ?? 8000);
  const rounds = Number(a.rounds ?? 3);
  const base = Number(a['base-port'] ?? 9791);
  const self = fileURLToPath(import.meta.url);
  const ask = (p: ChildProcess, m: string) => new Promise<unknown>((r) => { p.once('message', r); p.send(m); });
  const start = (kind: string, port: number) => new Promise<ChildProcess>((r) => {
    const p = fork(self, ['--child', kind, String(port)], { execArgv: process.execArgv });
    p.once('message', () => r(p));
  });
  const kinds = ['raw', 'hono'] as const;
  const ports = { raw: base, hono: base + 1 };
  const servers = { raw: await start('raw', ports.raw), hono: await start('hono', ports.hono) };
  const get = (agent: http.Agent, port: number, i: number) => new Promise<void>((res, rej) => {
    http.get({ host: '127.0.0.1', port, path: `/internal/render/tput/tr:w-${i % 300},f-jpg/a.jpg`, agent, headers: { authorization: 'x', 'x-request-id': `r${i}` } }, (r) => {
      r.resume();
      r.on('end', res);
    }).on('error', rej);
  });
  const out: Record<string, number[]> = {};
  try {
    for (const c of [1, 2]) for (let round = 0; round < rounds; round++) for (const kind of round % 2 ? [...kinds].reverse() : kinds) {
      const agent = new http.Agent({ keepAlive: true, maxSockets: c });
      for (let i = 0; i < 300; i++) await get(agent, ports[kind], i);
      await ask(servers[kind], 'reset');
      let next = 0;
      await Promise.all(Array.from({ length: c }, async () => { while (next < n) await get(agent, ports[kind], next++); }));
      const ms = (await ask(servers[kind], 'read')) as number;
      (out[`${kind} c${c}`] ??= []).push((ms / n) * 1000);
      agent.destroy();
    }
    for (const [k, v] of Object.entries(out)) console.log(`${k}: CPU µs per request by round ${v.map((x) => x.toFixed(1)).join(' / ')}`);
    for (const c of [1, 2]) console.log(`c${c} hono − raw, µs per request by round: ${out[`hono c${c}`]!.map((h, i) => (h - out[`raw c${c}`]![i]!).toFixed(1)).join(' / ')}`);
  } finally {
    for (const p of Object.values(servers)) p.kill();
  }
}

const i = process.argv.indexOf('--child');
if (i >= 0) child(process.argv[i + 1]!, Number(process.argv[i + 2]));
else await main();
