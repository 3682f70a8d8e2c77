/** In-process parts of the region origin: account directory, caches, singleflight, queue, ratios. */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AccountFileError } from '../../shared/accounts.js';
import { AccountDirectory } from '../../origin/src/accounts.js';
import { OriginalsCache } from '../../origin/src/cache/originals-cache.js';
import { ResultCache } from '../../origin/src/cache/result-cache.js';
import { SingleFlight } from '../../origin/src/coalesce.js';
import { forwardOutcome, homeBreakers, HomeUnreachable } from '../../origin/src/forward.js';
import { RollingRatio } from '../../origin/src/metrics.js';
import { TransformQueue } from '../../origin/src/queue.js';
import { etagMatches } from '../../origin/src/render.js';
import { hostAllowed, webProxyTarget } from '../../origin/src/sources/web.js';

process.env.PIXMESH_LOG = 'silent';
let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pixmesh-unit-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const account = (id: string, homeRegion = 'eu-central-1', extra: Record<string, unknown> = {}) => ({
  id,
  homeRegion,
  privateKey: `private_${id}`,
  endpoints: [{ prefix: '', origins: [{ type: 'media' }] }],
  ...extra,
});
const meta = (account: string, p: string) => ({ contentType: 'image/jpeg', etag: '"e"', account, path: p, createdAt: Date.now() });
const until = async (cond: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  return cond();
};

describe('account directory', () => {
  it('refuses to boot on a bad file, naming each bad field', () => {
    const file = path.join(dir, 'accounts.json');
    fs.writeFileSync(file, JSON.stringify({ accounts: [account('ok'), account('bad', 'mars-1', { residency: 'sometimes' })] }));
    let err: unknown;
    try {
      new AccountDirectory(file);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AccountFileError);
    expect((err as AccountFileError).problems).toEqual([
      expect.stringContaining('accounts[1] (bad).homeRegion'),
      expect.stringContaining('accounts[1] (bad).residency'),
    ]);
  });

  it('looks up the home region', () => {
    const file = path.join(dir, 'accounts.json');
    fs.writeFileSync(file, JSON.stringify({ accounts: [account('a', 'ap-south-1'), account('b', 'us-west-1')] }));
    const d = new AccountDirectory(file);
    expect(d.homeRegion('a')).toBe('ap-south-1');
    expect(d.homeRegion('b')).toBe('us-west-1');
    expect(d.homeRegion('nobody')).toBeUndefined();
  });

  it('reloads when the file changes, and keeps the last good version on a bad edit', async () => {
    const file = path.join(dir, 'accounts.json');
    fs.writeFileSync(file, JSON.stringify({ accounts: [account('a')] }));
    const d = new AccountDirectory(file);
    d.watch(50);
    try {
      fs.writeFileSync(file, JSON.stringify({ accounts: [account('a', 'us-east-1'), account('c')] }));
      expect(await until(() => d.get('c') !== undefined)).toBe(true);
      expect(d.homeRegion('a')).toBe('us-east-1');
      fs.writeFileSync(file, '{ "accounts": [ {"id": "broken"} ] }');
      await new Promise((r) => setTimeout(r, 400));
      expect(d.get('c')).toBeDefined();
      expect(d.all().map((a) => a.id)).toEqual(['a', 'c']);
      expect(d.reload()).toBe(false);
    } finally {
      d.close();
    }
  });
});

describe('result cache on disk', () => {
  it('keeps entries across a restart', async () => {
    const c1 = await ResultCache.open(dir, 1 << 20);
    await c1.put('k1', meta('a', 'x.jpg'), Buffer.from('one'));
    await c1.put('k2', meta('a', 'y.jpg'), Buffer.from('two'));
    const c2 = await ResultCache.open(dir, 1 << 20);
    expect(c2.stats().entries).toBe(2);
    expect((await c2.get('k1'))?.body.toString()).toBe('one');
    expect((await c2.get('k2'))?.meta.path).toBe('y.jpg');
  });

  it('never serves a truncated entry (a crash mid-write), and drops it', async () => {
    // The disk path alone (no memory tier, which would answer from the bytes it stored).
    const c1 = await ResultCache.open(dir, 1 << 20, 0);
    await c1.put('k', meta('a', 'x.jpg'), Buffer.alloc(5000, 9));
    const file = c1.fileOf('k');
    // Truncated under the real name (what a non-atomic writer would leave behind) …
    const full = await fsp.readFile(file);
    await fsp.writeFile(file, full.subarray(0, full.length - 100));
    expect(await c1.get('k')).toBeNull();
    expect(fs.existsSync(file)).toBe(false);
    // … and a leftover temporary file from a crash is ignored and removed at boot.
    await c1.put('k', meta('a', 'x.jpg'), Buffer.alloc(5000, 9));
    const tmp = `${file}.123.abcd.tmp`;
    await fsp.writeFile(tmp, full.subarray(0, 50));
    await fsp.writeFile(file, full.subarray(0, 200));
    const c2 = await ResultCache.open(dir, 1 << 20, 0);
    expect(c2.stats().entries).toBe(0);
    expect(await c2.get('k')).toBeNull();
    expect(fs.existsSync(tmp)).toBe(false);
  });

  it('never serves an entry whose body was garbled at the same length (no fsync: a crash may leave other bytes), and drops it', async () => {
    const c1 = await ResultCache.open(dir, 1 << 20, 0);
    const body = Buffer.alloc(5000, 9);
    await c1.put('k', meta('a', 'x.jpg'), body);
    const file = c1.fileOf('k');
    const full = await fsp.readFile(file);
    // The header intact, one body byte changed (a block of the file that never reached the disk).
    const garbled = Buffer.from(full);
    garbled[garbled.length - 1000] = garbled[garbled.length - 1000]! ^ 0xff;
    await fsp.writeFile(file, garbled);
    const c2 = await ResultCache.open(dir, 1 << 20, 0);
    expect(c2.stats().entries).toBe(1); // the header alone looks whole: only the body's checksum tells
    expect(await c2.get('k')).toBeNull();
    expect(fs.existsSync(file)).toBe(false);
    // Zeros where the body was (a renamed file whose data blocks were never written), likewise.
    await c2.put('k', meta('a', 'x.jpg'), body);
    const zeroed = Buffer.from(full);
    zeroed.fill(0, zeroed.length - body.length);
    await fsp.writeFile(file, zeroed);
    expect(await (await ResultCache.open(dir, 1 << 20, 0)).get('k')).toBeNull();
  });

  it('reads an entry written before the checksum (no crc32 in its header; that code fsynced before renaming)', async () => {
    const c1 = await ResultCache.open(dir, 1 << 20, 0);
    await c1.put('old', meta('a', 'old.jpg'), Buffer.from('written by the earlier format'));
    const file = c1.fileOf('old');
    const full = await fsp.readFile(file);
    const len = full.readUInt32BE(0);
    const { crc32: _crc, ...header } = JSON.parse(full.subarray(4, 4 + len).toString('utf8')) as Record<string, unknown>;
    const oldHeader = Buffer.from(JSON.stringify(header));
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32BE(oldHeader.length);
    await fsp.writeFile(file, Buffer.concat([prefix, oldHeader, full.subarray(4 + len)]));
    const c2 = await ResultCache.open(dir, 1 << 20, 0);
    expect((await c2.get('old'))?.body.toString()).toBe('written by the earlier format');
  });

  it('evicts least recently used entries to stay within its byte bound', async () => {
    const c = await ResultCache.open(dir, 10_000);
    const body = Buffer.alloc(3000, 1);
    await c.put('a', meta('x', 'a'), body);
    await c.put('b', meta('x', 'b'), body);
    await c.put('c', meta('x', 'c'), body);
    expect(await c.get('a')).not.toBeNull(); // a is now the most recent
    await c.put('d', meta('x', 'd'), body);
    expect(c.stats().bytes).toBeLessThanOrEqual(10_000);
    expect(await c.get('b')).toBeNull(); // least recently used went first
    expect(await c.get('a')).not.toBeNull();
    expect(await c.get('d')).not.toBeNull();
    // The bound holds on disk too.
    const onDisk = fs
      .readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .reduce((n, e) => n + fs.statSync(path.join(e.parentPath, e.name)).size, 0);
    expect(onDisk).toBeLessThanOrEqual(10_000);
    // An entry larger than the whole cache is not stored.
    await c.put('huge', meta('x', 'h'), Buffer.alloc(20_000));
    expect(await c.get('huge')).toBeNull();
  });

  it('answers from its memory tier without reading the file, and the file is written behind put()', async () => {
    const c = await ResultCache.open(dir, 1 << 20, 1 << 16);
    const file = c.fileOf('m');
    const write = c.put('m', meta('a', 'm.jpg'), Buffer.from('memory'));
    // Visible at once, before the file exists.
    expect((await c.get('m'))?.body.toString()).toBe('memory');
    expect(c.memoryHits).toBe(1);
    await write;
    expect(fs.existsSync(file)).toBe(true);
    // The file gone (behind the cache's back): still a hit, from memory.
    fs.rmSync(file);
    expect((await c.get('m'))?.body.toString()).toBe('memory');
    expect(c.diskHits).toBe(0);
    // A cache with no memory tier reads the file.
    await c.put('n', meta('a', 'n.jpg'), Buffer.from('disk'));
    const d = await ResultCache.open(dir, 1 << 20, 0);
    expect((await d.get('n'))?.body.toString()).toBe('disk');
    expect(d.diskHits).toBe(1);
    expect(d.memoryHits).toBe(0);
  });

  it('a purge that meets a write in progress waits for it and removes what it wrote; flush() waits for every write', async () => {
    const c = await ResultCache.open(dir, 1 << 20);
    const file = (k: string) => c.fileOf(k);
    void c.put('w1', meta('a', 'gone.jpg'), Buffer.alloc(4000, 1));
    void c.put('w2', meta('a', 'kept.jpg'), Buffer.alloc(4000, 2));
    expect(c.pendingWrites).toBe(2);
    expect(await c.purge('a', 'gone.jpg')).toBe(1);
    expect(fs.existsSync(file('w1'))).toBe(false);
    expect(await c.get('w1')).toBeNull();
    await c.flush();
    expect(c.pendingWrites).toBe(0);
    expect(fs.existsSync(file('w2'))).toBe(true);
    expect(fs.existsSync(file('w1'))).toBe(false);
  });

  it('purges a path or a prefix of one account only', async () => {
    const c = await ResultCache.open(dir, 1 << 20);
    await c.put('1', meta('a', 'p/x.jpg'), Buffer.from('1'));
    await c.put('2', meta('a', 'p/y.jpg'), Buffer.from('2'));
    await c.put('3', meta('a', 'q/x.jpg'), Buffer.from('3'));
    await c.put('4', meta('b', 'p/x.jpg'), Buffer.from('4'));
    expect(await c.purge('a', 'p/x.jpg')).toBe(1);
    expect(await c.purge('a', 'p/', true)).toBe(1);
    expect(await c.get('3')).not.toBeNull();
    expect(await c.get('4')).not.toBeNull();
  });
});

describe('originals cache', () => {
  const orig = (n: number) => ({ body: Buffer.alloc(n), source: 'web', isPrivate: false });
  it('is bounded in bytes (LRU) and in time', () => {
    let now = 0;
    const c = new OriginalsCache(3000, 1000, () => now);
    c.set('a', orig(1000), 'x', 'a');
    c.set('b', orig(1000), 'x', 'b');
    expect(c.get('a')).toBeDefined();
    c.set('c', orig(1000), 'x', 'c');
    expect(c.stats().bytes).toBeLessThanOrEqual(3000);
    expect(c.get('b')).toBeUndefined();
    expect(c.get('a')).toBeDefined();
    now = 1500;
    expect(c.get('a')).toBeUndefined();
    expect(c.purge('x', '', true)).toBe(1); // c is expired but still held until touched; a was dropped on read
  });
});

describe('singleflight', () => {
  it('runs one execution for concurrent callers and shares its value or error', async () => {
    const sf = new SingleFlight<number>();
    let runs = 0;
    const slow = () => new Promise<number>((r) => setTimeout(() => r(++runs), 30));
    const calls = Array.from({ length: 5 }, () => sf.do('k', slow));
    expect(calls.filter((c) => c.shared)).toHaveLength(4);
    expect(await Promise.all(calls.map((c) => c.promise))).toEqual([1, 1, 1, 1, 1]);
    expect(runs).toBe(1);
    expect(sf.size).toBe(0);
    const failing = [sf.do('e', () => Promise.reject(new Error('boom'))), sf.do('e', async () => 7)];
    for (const f of failing) await expect(f.promise).rejects.toThrow('boom');
    expect((await sf.do('e', async () => 8).promise)).toBe(8); // forgotten after settling
  });
});

describe('transform queue', () => {
  it('runs at most `concurrency` jobs, queues up to the bound, then refuses with 503 EBUSY + Retry-After', async () => {
    const q = new TransformQueue(2, 2);
    let running = 0;
    let peak = 0;
    const job = () =>
      q.run(async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 40));
        running--;
        return 'ok';
      });
    const results = await Promise.allSettled(Array.from({ length: 6 }, job));
    expect(peak).toBe(2);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(4);
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(refused).toHaveLength(2);
    expect(refused[0]!.reason).toMatchObject({ status: 503, code: 'EBUSY', retryAfter: 1 });
    expect(q.depth).toBe(0);
    expect(q.running).toBe(0);
    await expect(job()).resolves.toBe('ok'); // recovers
  });

  it('a job that waits longer than its signal allows leaves the queue with 503 EBUSY', async () => {
    const q = new TransformQueue(1, 5);
    const long = q.run(() => new Promise((r) => setTimeout(() => r('long'), 300)));
    const t0 = Date.now();
    await expect(q.run(async () => 'late', AbortSignal.timeout(50))).rejects.toMatchObject({ status: 503, code: 'EBUSY' });
    expect(Date.now() - t0).toBeLessThan(250);
    expect(q.depth).toBe(0);
    await expect(long).resolves.toBe('long');
    await expect(q.run(async () => 'next', AbortSignal.timeout(50))).resolves.toBe('next');
  });

  it('releases its slot when a job fails', async () => {
    const q = new TransformQueue(1, 0);
    await expect(q.run(() => Promise.reject(new Error('x')))).rejects.toThrow('x');
    await expect(q.run(async () => 1)).resolves.toBe(1);
  });
});

describe('home breaker (the shared breaker, origin settings)', () => {
  it('opens after a network failure, lets one trial through after a doubling cool-down, closes on success', () => {
    let now = 0;
    const b = homeBreakers(10_000, () => now);
    expect(b.takeAttemptLease('eu')).toBeNull();
    b.record('eu', forwardOutcome(new HomeUnreachable('refused', false, true)));
    expect(b.takeAttemptLease('eu')).toMatch(/open for 1 s/);
    now = 1000;
    expect(b.takeAttemptLease('eu')).toBeNull(); // the trial
    expect(b.takeAttemptLease('eu')).toMatch(/half-open/); // everyone else still skips
    b.record('eu', 'failure');
    now = 2999;
    expect(b.takeAttemptLease('eu')).toMatch(/open/); // 2 s now
    now = 3000;
    expect(b.takeAttemptLease('eu')).toBeNull();
    b.record('eu', 'failure');
    now = 3000 + 3999;
    expect(b.takeAttemptLease('eu')).toMatch(/open/); // 4 s
    now = 3000 + 4000;
    expect(b.takeAttemptLease('eu')).toBeNull();
    b.record('eu', 'success');
    expect(b.status('eu')).toBe('closed');
    expect(b.takeAttemptLease('eu')).toBeNull();
    expect(b.takeAttemptLease('other')).toBeNull();
  });

  it('caps the cool-down at 30 s', () => {
    let now = 0;
    const b = homeBreakers(10_000, () => now);
    b.record('eu', 'failure');
    for (let i = 0; i < 8; i++) {
      now += 60_000;
      expect(b.takeAttemptLease('eu')).toBeNull();
      b.record('eu', 'failure');
    }
    now += 29_999;
    expect(b.takeAttemptLease('eu')).toMatch(/open/);
    now += 1;
    expect(b.takeAttemptLease('eu')).toBeNull();
  });

  it('counts only network failures: an answer (even an error) proves the region alive', () => {
    expect(forwardOutcome(new HomeUnreachable('answered 503 EBUSY'))).toBe('success');
    expect(forwardOutcome(new Error('404'))).toBe('success');
    expect(forwardOutcome(new HomeUnreachable('timed out', true, true))).toBe('failure');
  });
});

describe('small pure helpers', () => {
  it('rolling hit ratio over a window', () => {
    const r = new RollingRatio(4);
    expect(r.value).toBe(0);
    [true, true, false, false].forEach((h) => r.record(h));
    expect(r.value).toBe(0.5);
    [true, true].forEach((h) => r.record(h));
    expect(r.value).toBe(0.5); // window: false false true true
    [true, true].forEach((h) => r.record(h));
    expect(r.value).toBe(1);
  });

  it.each([
    ['"abc"', '"abc"', true],
    ['W/"abc"', '"abc"', true],
    ['"x", "abc"', '"abc"', true],
    ['*', '"abc"', true],
    ['"abd"', '"abc"', false],
    [undefined, '"abc"', false],
  ])('If-None-Match %s vs %s → %s', (inm, etag, expected) => {
    expect(etagMatches(inm, etag)).toBe(expected);
  });

  it.each([
    ['img.example.com', ['img.example.com'], true],
    ['IMG.example.com', ['img.example.com'], true],
    ['evil.example.com', ['img.example.com'], false],
    ['a.cdn.test', ['*.cdn.test'], true],
    ['cdn.test', ['*.cdn.test'], false],
    ['evilcdn.test', ['*.cdn.test'], false],
    ['img.example.com.evil.test', ['img.example.com'], false],
  ])('host %s allowed by %j → %s', (host, allow, expected) => {
    expect(hostAllowed(host, allow)).toBe(expected);
  });

  it('reads the web-proxy target (query appended), and ignores plain paths', () => {
    expect(webProxyTarget('https://a.test/x.jpg', [['v', '2']])?.href).toBe('https://a.test/x.jpg?v=2');
    expect(webProxyTarget('photos/x.jpg', [])).toBeNull();
  });
});
