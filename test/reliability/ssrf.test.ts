/**
 * SSRF, in process: the private-range vectors that must never be connected to, for safe-fetch
 * (web and web-proxy origins) and the media library's upload-by-URL fetcher.
 *
 * A network guard patches libuv's TCP connect for this process: any connection to a non-loopback
 * address is refused locally (EACCES, no packet leaves) and recorded. Each vector asserts both the
 * answer (EACCES / 403) and that no connection was even attempted. Names that must resolve to
 * private addresses use an injected resolver; redirect chains and DNS rebinding are simulated on
 * loopback with an address policy in which only 127.0.0.1 counts as "public".
 */
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPixmeshError } from '../../shared/errors.js';
import { fetchUploadUrl } from '../../origin/src/media/url-fetch.js';
import { classifyAddress } from '../../origin/src/sources/private-net.js';
import { safeFetch, SafeFetchError, type SafeFetchOptions } from '../../origin/src/sources/safe-fetch.js';
import { fetchFromWeb, fetchFromWebProxy } from '../../origin/src/sources/web.js';
import { localServer, recordFigures, type LocalServer } from './harness.js';

/* ------------------------------------------------------------------------------------------ */
/* Network guard                                                                               */

interface TcpProto {
  connect(this: unknown, req: unknown, address: string, port: number): number;
  connect6(this: unknown, req: unknown, address: string, port: number): number;
}
const UV_EACCES = -13;
const attempts: string[] = [];
let restore: (() => void) | undefined;

function installGuard(): void {
  const binding = (process as unknown as { binding(name: string): { TCP: { prototype: TcpProto } } }).binding('tcp_wrap');
  const proto = binding.TCP.prototype;
  const { connect, connect6 } = proto;
  const loopback = (a: string) => a.startsWith('127.') || a === '::1' || a === '::ffff:127.0.0.1';
  proto.connect = function (req, address, port) {
    attempts.push(`${address}:${port}`);
    return loopback(address) ? connect.call(this, req, address, port) : UV_EACCES;
  };
  proto.connect6 = function (req, address, port) {
    attempts.push(`[${address}]:${port}`);
    return loopback(address) ? connect6.call(this, req, address, port) : UV_EACCES;
  };
  restore = () => {
    proto.connect = connect;
    proto.connect6 = connect6;
  };
}

const nonLoopbackAttempts = () => attempts.filter((a) => !a.startsWith('127.') && !a.startsWith('[::1]'));

/* ------------------------------------------------------------------------------------------ */

let pub: LocalServer; // 127.0.0.1: stands in for a public server
let priv: LocalServer; // 127.0.0.2: stands in for a private one
const figures = { vectors: 0, refused: 0, connectionsToPrivate: 0, redirectCases: 0 };

const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xd9]);

beforeAll(async () => {
  installGuard();
  const handler: http.RequestListener = (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/redirect') return void res.writeHead(302, { location: url.searchParams.get('to') ?? '/' }).end();
    if (url.pathname === '/loop') return void res.writeHead(302, { location: '/loop' }).end();
    if (url.pathname === '/slow-headers') return void setTimeout(() => res.writeHead(200).end('late'), 5_000).unref();
    if (url.pathname === '/slow-body') {
      res.writeHead(200, { 'content-type': 'image/jpeg' });
      res.write('a');
      return void setTimeout(() => res.end('b'), 5_000).unref();
    }
    if (url.pathname === '/huge') return void res.writeHead(200, { 'content-length': String(50 * 1024 * 1024) }).end();
    if (url.pathname === '/huge-chunked') {
      res.writeHead(200, { 'content-type': 'image/jpeg' });
      const chunk = Buffer.alloc(64 * 1024);
      let sent = 0;
      const pump = () => {
        while (sent < 4 * 1024 * 1024 && res.write(chunk)) sent += chunk.length;
        if (sent < 4 * 1024 * 1024) res.once('drain', pump);
        else res.end();
      };
      return void pump();
    }
    res.writeHead(200, { 'content-type': 'image/jpeg' }).end(JPEG);
  };
  pub = await localServer(handler, '127.0.0.1', 0);
  priv = await localServer(handler, '127.0.0.2', 0);
});

afterAll(async () => {
  restore?.();
  await pub?.close();
  await priv?.close();
  recordFigures('ssrfInProcess', figures);
});

/** Only 127.0.0.1 is "public" in the simulations; everything else (127.0.0.2 included) is private. */
const onlyPub: Pick<SafeFetchOptions, 'addressAllowed'> = { addressAllowed: (ip) => ip === '127.0.0.1' || ip === '::ffff:127.0.0.1' };

async function refusedWithoutConnecting(run: () => Promise<unknown>, label: string, expectCode = 'EACCES'): Promise<void> {
  const before = attempts.length;
  const t0 = performance.now();
  const outcome = await run().then(
    () => 'resolved',
    (e: unknown) => (e instanceof SafeFetchError ? e.code : isPixmeshError(e) ? `${e.status} ${e.code}` : `other: ${String(e)}`),
  );
  const ms = performance.now() - t0;
  const tried = attempts.slice(before).filter((a) => !a.startsWith(`127.0.0.1:${pub.port}`));
  figures.vectors++;
  if (outcome === expectCode) figures.refused++;
  figures.connectionsToPrivate += tried.length;
  expect({ label, outcome, tried, fast: ms < 2000 }).toEqual({ label, outcome: expectCode, tried: [], fast: true });
}

const VECTORS = [
  // IPv4 private, shared, link-local, loopback, "this network", boundaries included
  'http://10.0.0.1/', 'http://10.255.255.255/', 'http://172.16.0.1/', 'http://172.31.255.254/', 'http://192.168.0.1/', 'http://192.168.255.254/',
  'http://100.64.0.1/', 'http://100.127.255.254/', 'http://169.254.169.254/latest/meta-data/', 'http://169.254.0.1/', 'http://127.0.0.1:1/', 'http://127.255.255.254/',
  'http://0.0.0.0/', 'http://0.1.2.3/', 'http://224.0.0.1/', 'http://255.255.255.255/', 'http://198.18.0.1/',
  // decimal / octal / hex / short forms (the URL parser normalises them; the check must see the result)
  'http://2852039166/', 'http://0xa9fea9fe/', 'http://0251.0376.0251.0376/', 'http://0xA9.0xFE.0xA9.0xFE/', 'http://169.254.43518/', 'http://10.1/', 'http://012.0.0.1/',
  'http://0x0a000001/', 'http://167772161/', 'http://3232235777/', 'http://0300.0250.0.1/', 'http://127.1/', 'http://0/',
  // IPv6 loopback, unspecified, ULA, link-local, site-local, multicast, and IPv4 embedded in IPv6
  'http://[::1]/', 'http://[::]/', 'http://[fc00::1]/', 'http://[fd00:ec2::254]/', 'http://[fe80::1]/', 'http://[fec0::1]/', 'http://[ff02::1]/',
  'http://[::ffff:10.0.0.1]/', 'http://[::ffff:169.254.169.254]/', 'http://[::ffff:a9fe:a9fe]/', 'http://[::ffff:127.0.0.1]:1/', 'http://[64:ff9b::a9fe:a9fe]/',
  'http://[2002:a9fe:a9fe::]/', 'http://[::a9fe:a9fe]/', 'http://[0:0:0:0:0:ffff:192.168.1.1]/',
];

describe('address classifier: every vector is non-public (what safe-fetch relies on)', () => {
  it.each([
    ['10.0.0.0'], ['10.255.255.255'], ['172.16.0.0'], ['172.31.255.255'], ['192.168.0.0'], ['192.168.255.255'], ['100.64.0.0'], ['100.127.255.255'],
    ['169.254.0.0'], ['169.254.255.255'], ['127.0.0.1'], ['0.0.0.0'], ['::1'], ['::'], ['fc00::'], ['fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'], ['fe80::'],
    ['febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff'], ['::ffff:10.0.0.1'], ['::ffff:a9fe:a9fe'], ['64:ff9b::a00:1'], ['2002:0a00:0001::'],
  ])('%s is not public', (ip) => expect(classifyAddress(ip)).not.toBe('public'));

  it.each([['100.63.255.255'], ['100.128.0.0'], ['172.15.255.255'], ['172.32.0.0'], ['192.167.255.255'], ['192.169.0.0'], ['169.253.255.255'], ['11.0.0.0'], ['2606:4700::1111']])(
    '%s (just outside a range) is public',
    (ip) => expect(classifyAddress(ip)).toBe('public'),
  );
});

describe('safe-fetch (web and web-proxy origins): private targets refused before connecting', () => {
  it.each(VECTORS)('%s → EACCES, no connection', (url) => refusedWithoutConnecting(() => safeFetch(url, { maxBytes: 1e6 }), url));

  it('localhost (resolved by the system resolver) → EACCES, no connection', () =>
    refusedWithoutConnecting(() => safeFetch(`http://localhost:${pub.port}/x.jpg`, { maxBytes: 1e6 }), 'localhost'));

  const fakeDns = (table: Record<string, string[]>) =>
    ((host: string, _o: unknown, cb: (e: NodeJS.ErrnoException | null, a: { address: string; family: number }[]) => void) => {
      const list = table[host];
      if (!list) return cb(Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' }), []);
      cb(null, list.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })));
    }) as SafeFetchOptions['lookup'];

  it.each([
    ['metadata.test', ['169.254.169.254']],
    ['intranet.test', ['10.1.2.3']],
    ['mixed.test', ['93.184.216.34', '10.0.0.1']],
    ['v6-ula.test', ['fd00::1']],
    ['mapped.test', ['::ffff:192.168.0.1']],
    ['cgnat.test', ['100.100.100.100']],
  ])('a name resolving to %s → EACCES (any private answer refuses the name), no connection', (host, addrs) =>
    refusedWithoutConnecting(() => safeFetch(`http://${host}/x.jpg`, { maxBytes: 1e6, lookup: fakeDns({ [host]: addrs }) }), host));

  it('allowPrivateNetwork=true reaches a loopback server (control: the refusals above are not a broken fetcher)', async () => {
    const res = await safeFetch(`${pub.url}/x.jpg`, { maxBytes: 1e6, allowPrivateNetwork: true });
    expect(res.status).toBe(200);
    expect(res.body.equals(JPEG)).toBe(true);
  });

  it('non-http schemes and credentials → EACCES', async () => {
    for (const u of ['file:///etc/passwd', 'ftp://127.0.0.1/', 'gopher://127.0.0.1:70/', 'data:text/plain,hi', `http://user:pass@127.0.0.1:${pub.port}/`])
      await refusedWithoutConnecting(() => safeFetch(u, { maxBytes: 1e6, allowPrivateNetwork: true }), u);
  });
});

describe('redirect chains and DNS rebinding (only 127.0.0.1 counts as public)', () => {
  const via = (to: string) => `${pub.url}/redirect?to=${encodeURIComponent(to)}`;

  it('public → private (127.0.0.2) → EACCES; the private server is never contacted', async () => {
    const before = priv.hits.length;
    figures.redirectCases++;
    await expect(safeFetch(via(`${priv.url}/x.jpg`), { maxBytes: 1e6, ...onlyPub })).rejects.toMatchObject({ code: 'EACCES' });
    expect(priv.hits.length).toBe(before);
  });

  it.each([
    'http://169.254.169.254/latest/meta-data/iam/',
    'http://[::ffff:169.254.169.254]/',
    'http://2852039166/',
    'http://10.0.0.1/',
    'http://[fd00::1]/',
    'http://0/',
  ])('public → %s → EACCES, no connection to it', (target) => {
    figures.redirectCases++;
    return refusedWithoutConnecting(() => safeFetch(via(target), { maxBytes: 1e6, ...onlyPub }), target);
  });

  it('public → public → public → private (third hop) → EACCES', async () => {
    figures.redirectCases++;
    const chain = via(via(via(`http://2130706434:${priv.port}/x.jpg`)));
    const before = priv.hits.length;
    await expect(safeFetch(chain, { maxBytes: 1e6, ...onlyPub })).rejects.toMatchObject({ code: 'EACCES' });
    expect(priv.hits.length).toBe(before);
  });

  it('public → file:// → EACCES', async () => {
    figures.redirectCases++;
    await expect(safeFetch(via('file:///etc/passwd'), { maxBytes: 1e6, ...onlyPub })).rejects.toMatchObject({ code: 'EACCES' });
  });

  it('a redirect loop ends after the redirect limit, fast', async () => {
    figures.redirectCases++;
    const t0 = performance.now();
    await expect(safeFetch(`${pub.url}/loop`, { maxBytes: 1e6, ...onlyPub })).rejects.toMatchObject({ code: 'EUPSTREAM' });
    expect(performance.now() - t0).toBeLessThan(3000);
  });

  it('every hop is checked against the host allow-list too', async () => {
    figures.redirectCases++;
    await expect(
      safeFetch(via(`http://localhost:${pub.port}/x.jpg`), { maxBytes: 1e6, allowPrivateNetwork: true, allowHost: (h) => h === '127.0.0.1' }),
    ).rejects.toMatchObject({ code: 'EACCES' });
  });

  it('DNS rebinding: a name that resolves public, then private on the next lookup, is refused at the second connection', async () => {
    figures.redirectCases++;
    let calls = 0;
    const lookup = ((_h: string, _o: unknown, cb: (e: null, a: { address: string; family: number }[]) => void) => {
      calls++;
      cb(null, [{ address: calls === 1 ? '127.0.0.1' : '127.0.0.2', family: 4 }]);
    }) as SafeFetchOptions['lookup'];
    const before = priv.hits.length;
    // Same host name, same port: the first answer reaches "public" 127.0.0.1, which redirects back to the name.
    const url = `http://rebind.test:${pub.port}/redirect?to=${encodeURIComponent(`http://rebind.test:${pub.port}/x.jpg`)}`;
    await expect(safeFetch(url, { maxBytes: 1e6, ...onlyPub, lookup })).rejects.toMatchObject({ code: 'EACCES' });
    expect(calls).toBe(2);
    expect(priv.hits.length).toBe(before);
  });
});

describe('timeouts and size caps on outbound fetches (a slow or huge origin)', () => {
  const opts = { maxBytes: 1024 * 1024, allowPrivateNetwork: true };
  it('headers that never come → ETIMEDOUT at headerTimeoutMs', async () => {
    const t0 = performance.now();
    await expect(safeFetch(`${pub.url}/slow-headers`, { ...opts, headerTimeoutMs: 300 })).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    expect(performance.now() - t0).toBeLessThan(2000);
  });
  it('a body that stalls → ETIMEDOUT at bodyTimeoutMs', async () => {
    const t0 = performance.now();
    await expect(safeFetch(`${pub.url}/slow-body`, { ...opts, bodyTimeoutMs: 300 })).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    expect(performance.now() - t0).toBeLessThan(2000);
  });
  it('a declared Content-Length over the cap → ELIMIT before reading', async () => {
    await expect(safeFetch(`${pub.url}/huge`, opts)).rejects.toMatchObject({ code: 'ELIMIT' });
  });
  it('a chunked body growing over the cap → ELIMIT while streaming', async () => {
    await expect(safeFetch(`${pub.url}/huge-chunked`, opts)).rejects.toMatchObject({ code: 'ELIMIT' });
  });
});

describe('origin adapters map refusals to 403 EACCES', () => {
  const limits = { maxBytes: 1e6, fetch: { connectTimeoutMs: 1000, headerTimeoutMs: 1000, bodyTimeoutMs: 1000, maxRedirects: 5 } };
  it.each(['http://10.0.0.1/img', 'http://169.254.169.254/latest', 'http://[::ffff:10.0.0.1]/img', `http://127.0.0.1:${9}/img`])('web origin %s → 403 EACCES', (baseUrl) =>
    refusedWithoutConnecting(() => fetchFromWeb({ type: 'web', baseUrl, allowPrivateNetwork: false }, 'a.jpg', [], limits), baseUrl, '403 EACCES'),
  );
  it.each(['http://10.0.0.1/a.jpg', 'http://169.254.169.254/a.jpg', 'http://0xa9fea9fe/a.jpg', 'http://[fd00::1]/a.jpg'])(
    'web proxy to %s (host allowed) → 403 EACCES',
    (target) => {
      const host = new URL(target).hostname;
      return refusedWithoutConnecting(
        () => fetchFromWebProxy({ type: 'webproxy', allowHosts: [host], allowPrivateNetwork: false, requireSignedUrls: false }, target, [], true, limits),
        target,
        '403 EACCES',
      );
    },
  );
});

describe('upload by URL (media library fetcher)', () => {
  const opts = { allowPrivateNetwork: false, maxBytes: 1e6, timeoutMs: 2000 };
  it.each(VECTORS.filter((_, i) => i % 2 === 0))('%s → 403 EACCES, no connection', (url) => refusedWithoutConnecting(() => fetchUploadUrl(url, opts), url, '403 EACCES'));

  it('allowPrivateNetwork=true fetches from loopback (control)', async () => {
    const got = await fetchUploadUrl(`${pub.url}/x.jpg`, { ...opts, allowPrivateNetwork: true });
    expect(got.body.equals(JPEG)).toBe(true);
  });

  it('a redirect from loopback to a private literal is refused even with allowPrivateNetwork=false on the first hop', () =>
    refusedWithoutConnecting(() => fetchUploadUrl(`${pub.url}/redirect?to=${encodeURIComponent('http://169.254.169.254/')}`, opts), 'redirect', '403 EACCES'));

  it('a slow URL → a 4xx/5xx within the upload deadline, not a hang', async () => {
    const t0 = performance.now();
    const outcome = await fetchUploadUrl(`${pub.url}/slow-headers`, { ...opts, allowPrivateNetwork: true, timeoutMs: 300 }).then(
      () => 'resolved',
      (e: unknown) => (isPixmeshError(e) ? e.status : -1),
    );
    expect(typeof outcome === 'number' && outcome >= 400).toBe(true);
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});

describe('the guard itself', () => {
  const connectOutcome = (host: string, port: number) =>
    new Promise<string>((resolve) => {
      const sock = net.connect({ host, port });
      sock.once('connect', () => (sock.destroy(), resolve('connected')));
      sock.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });

  it('positive control: the tcp_wrap hook sees a loopback connect, and refuses and records a non-loopback one (so "no connection" below can fail)', async () => {
    const port = Number(new URL(pub.url).port);
    const before = attempts.length;
    expect(await connectOutcome('127.0.0.1', port)).toBe('connected');
    expect(attempts.slice(before)).toContain(`127.0.0.1:${port}`);
    // 192.0.2.1 is TEST-NET-1 (documentation only): the guard answers EACCES before any packet leaves.
    expect(await connectOutcome('192.0.2.1', 9)).toBe('EACCES');
    expect(nonLoopbackAttempts()).toContain('192.0.2.1:9');
    attempts.splice(attempts.indexOf('192.0.2.1:9'), 1); // the control's own attempt is not the code under test
  });

  it('no connection to a non-loopback address was attempted by anything in this file', () => {
    expect(nonLoopbackAttempts()).toEqual([]);
  });
});
