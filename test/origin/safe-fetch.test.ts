/**
 * safe-fetch against real sockets on loopback: the address check on the connected address, every
 * redirect re-checked, protocol and host rules, size limits while streaming, and timeouts.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { safeFetch, SafeFetchError, type SafeFetchOptions } from '../../origin/src/sources/safe-fetch.js';
import { serveBytes, startOriginServer, type OriginServer } from './helpers.js';

let a: OriginServer; // 127.0.0.1
let b: OriginServer; // 127.0.0.2 (another loopback address: "the internal host")
const BODY = Buffer.from('x'.repeat(2048));
const base: SafeFetchOptions = { maxBytes: 1 << 20, connectTimeoutMs: 1000, headerTimeoutMs: 1000, bodyTimeoutMs: 1000 };
const privateOk: SafeFetchOptions = { ...base, allowPrivateNetwork: true };

beforeAll(async () => {
  a = await startOriginServer('127.0.0.1');
  b = await startOriginServer('127.0.0.2');
  a.route('/ok', serveBytes(BODY, 'image/jpeg'));
  b.route('/secret', serveBytes(Buffer.from('internal'), 'text/plain'));
  const redirect = (to: (req: http.IncomingMessage) => string, status = 302): http.RequestListener => (req, res) => {
    res.writeHead(status, { location: to(req) });
    res.end();
  };
  a.route('/to-b', redirect(() => `${b.url}/secret`));
  a.route('/to-file', redirect(() => 'file:///etc/passwd'));
  a.route('/to-localhost-name', redirect(() => `http://localhost:${a.port}/ok`, 301));
  // /hops?n=3 redirects n times then serves /ok
  a.route('/hops', redirect((req) => {
    const n = Number(new URL(req.url!, 'http://x').searchParams.get('n'));
    return n > 1 ? `/hops?n=${n - 1}` : '/ok';
  }, 307));
  a.route('/big-declared', serveBytes(Buffer.alloc(4096, 1), 'image/png'));
  a.route('/big-chunked', (_req, res) => {
    res.writeHead(200, { 'content-type': 'image/png' });
    let sent = 0;
    const tick = setInterval(() => {
      if (res.destroyed || sent > 1 << 20) return void (clearInterval(tick), res.end());
      res.write(Buffer.alloc(16 * 1024, 2));
      sent += 16 * 1024;
    }, 1);
  });
  a.route('/no-headers', () => undefined); // never answers
  a.route('/stall-body', (_req, res) => {
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': '1000' });
    res.write(Buffer.alloc(10));
  });
  a.route('/missing', (_req, res) => void (res.writeHead(404), res.end('nope')));
});
afterAll(async () => {
  await a?.close();
  await b?.close();
});

async function refusal(p: Promise<unknown>): Promise<SafeFetchError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(SafeFetchError);
  return e as SafeFetchError;
}

describe('the address actually connected to', () => {
  it('fetches from loopback only when the origin allows private networks', async () => {
    const res = await safeFetch(`${a.url}/ok`, privateOk);
    expect(res.status).toBe(200);
    expect(res.body.equals(BODY)).toBe(true);
  });

  it.each([
    ['IPv4 literal', (p: number) => `http://127.0.0.1:${p}/ok`],
    ['a name that resolves to loopback', (p: number) => `http://localhost:${p}/ok`],
    ['IPv6 loopback literal', (p: number) => `http://[::1]:${p}/ok`],
    ['IPv4-mapped IPv6 literal', (p: number) => `http://[::ffff:127.0.0.1]:${p}/ok`],
    ['decimal IPv4', (p: number) => `http://2130706433:${p}/ok`],
    ['hex/short IPv4', (p: number) => `http://0x7f.1:${p}/ok`],
    ['0.0.0.0', (p: number) => `http://0.0.0.0:${p}/ok`],
  ])('refuses %s by default, before any request reaches the server', async (_name, url) => {
    const before = a.hits.length;
    const e = await refusal(safeFetch(url(a.port), base));
    expect(e.code).toBe('EACCES');
    expect(a.hits.length).toBe(before);
  });

  it('refuses a name when any of its addresses is private (fails closed)', async () => {
    const before = a.hits.length;
    const lookup: SafeFetchOptions['lookup'] = (_h, _o, cb) =>
      cb(null, [
        { address: '93.184.216.34', family: 4 },
        { address: '127.0.0.1', family: 4 },
      ]);
    const e = await refusal(safeFetch(`http://mixed.test:${a.port}/ok`, { ...base, lookup }));
    expect(e.code).toBe('EACCES');
    expect(e.message).toMatch(/127\.0\.0\.1.*loopback/);
    expect(a.hits.length).toBe(before);
  });

  it('connects to the address the guarded lookup approved', async () => {
    const lookup: SafeFetchOptions['lookup'] = (_h, _o, cb) => cb(null, [{ address: '127.0.0.1', family: 4 }]);
    const res = await safeFetch(`http://images.test:${a.port}/ok`, { ...base, lookup, addressAllowed: (ip) => ip === '127.0.0.1' });
    expect(res.status).toBe(200);
  });
});

describe('redirects', () => {
  it('re-checks every hop: a redirect to another (internal) address is refused and never reached', async () => {
    const e = await refusal(safeFetch(`${a.url}/to-b`, { ...base, addressAllowed: (ip) => ip === '127.0.0.1' }));
    expect(e.code).toBe('EACCES');
    expect(e.message).toMatch(/127\.0\.0\.2/);
    expect(b.count('/secret')).toBe(0);
  });

  it('follows the same redirect when the policy allows the target', async () => {
    const res = await safeFetch(`${a.url}/to-b`, privateOk);
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('internal');
    expect(res.redirects).toBe(1);
  });

  it('refuses a redirect to a non-http scheme', async () => {
    const e = await refusal(safeFetch(`${a.url}/to-file`, privateOk));
    expect(e.code).toBe('EACCES');
  });

  it('applies the host allow-list to redirect targets', async () => {
    const e = await refusal(safeFetch(`${a.url}/to-localhost-name`, { ...privateOk, allowHost: (h) => h === '127.0.0.1' }));
    expect(e.code).toBe('EACCES');
    expect(e.message).toMatch(/localhost/);
  });

  it('follows at most 5 redirects', async () => {
    const ok = await safeFetch(`${a.url}/hops?n=5`, privateOk);
    expect(ok.status).toBe(200);
    expect(ok.redirects).toBe(5);
    const e = await refusal(safeFetch(`${a.url}/hops?n=6`, privateOk));
    expect(e.code).toBe('EUPSTREAM');
    expect(e.message).toMatch(/redirects/);
  });
});

describe('schemes, sizes, timeouts', () => {
  it.each(['file:///etc/passwd', 'ftp://127.0.0.1/x', 'gopher://127.0.0.1:70/', 'data:image/png;base64,AAAA', 'not a url'])('refuses %s', async (url) => {
    const e = await refusal(safeFetch(url, privateOk));
    expect(e.code).toBe('EACCES');
  });

  it('refuses credentials in the URL', async () => {
    const e = await refusal(safeFetch(`http://user:pw@127.0.0.1:${a.port}/ok`, privateOk));
    expect(e.code).toBe('EACCES');
  });

  it('refuses an oversized Content-Length before reading the body', async () => {
    const e = await refusal(safeFetch(`${a.url}/big-declared`, { ...privateOk, maxBytes: 1024 }));
    expect(e.code).toBe('ELIMIT');
    expect(e.message).toMatch(/4096 bytes/);
  });

  it('stops a chunked body once it passes the limit', async () => {
    const t0 = Date.now();
    const e = await refusal(safeFetch(`${a.url}/big-chunked`, { ...privateOk, maxBytes: 64 * 1024 }));
    expect(e.code).toBe('ELIMIT');
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('times out waiting for headers', async () => {
    const t0 = Date.now();
    const e = await refusal(safeFetch(`${a.url}/no-headers`, { ...privateOk, headerTimeoutMs: 200 }));
    expect(e.code).toBe('ETIMEDOUT');
    expect(e.message).toMatch(/headers/);
    expect(Date.now() - t0).toBeLessThan(1500);
  });

  it('times out a stalled body', async () => {
    const e = await refusal(safeFetch(`${a.url}/stall-body`, { ...privateOk, bodyTimeoutMs: 200 }));
    expect(e.code).toBe('ETIMEDOUT');
    expect(e.message).toMatch(/body/);
  });

  it('times out connecting (a resolver that never answers counts as connecting)', async () => {
    const e = await refusal(safeFetch(`http://slow-dns.test:${a.port}/ok`, { ...privateOk, connectTimeoutMs: 200, lookup: () => undefined }));
    expect(e.code).toBe('ETIMEDOUT');
    expect(e.message).toMatch(/connect/);
  });

  it('passes non-2xx answers through without reading them', async () => {
    const res = await safeFetch(`${a.url}/missing`, privateOk);
    expect(res.status).toBe(404);
    expect(res.body.length).toBe(0);
  });

  it('reports a refused connection as EUPSTREAM', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const e = await refusal(safeFetch(`http://127.0.0.1:${port}/`, privateOk));
    expect(e.code).toBe('EUPSTREAM');
  });
});
