/**
 * Adversarial traffic through the real cluster (s3rver, six origin processes, the edge in
 * workerd), on a free block of ports found at run time:
 *   1. the generated image corpus through edge → region → home → S3: each input gets a correct
 *      image or the right 4xx + ik-error; no origin dies; RSS stays bounded; the next request works;
 *   2. a seeded sample of hostile URLs sent raw to the edge: never a 5xx;
 *   3. URL signatures (ik-s / ik-t) and internal-call signatures (x-pixmesh-auth);
 *   4. SSRF: web and web-proxy origins and upload-by-URL aimed at loopback in every spelling.
 * Every target is on 127.0.0.1; private-range literals are tested in process (ssrf.test.ts).
 */
import { randomBytes as cryptoRandom } from 'node:crypto';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { putObjects } from '../../scripts/cluster.js';
import { REGION_IDS } from '../../shared/regions.js';
import { AUTH_HEADER, signInternalRequest } from '../../shared/internal-auth.js';
import { signImageUrl } from '../../shared/signing.js';
import { startTestCluster, stopTestCluster, type TestCluster } from '../helpers/cluster.js';
import { buildCorpus, checkImage } from './corpus.js';
import { fuzzCases } from './fuzz.js';
import { freePortBase } from '../origin/helpers.js';
import { get, isAlive, localServer, procMemory, rawGet, recordFigures, type Answer, type LocalServer } from './harness.js';

// A free block: S3 = BASE, regions BASE+1…+6, edge BASE+87 (startTestCluster); +90/+91 for our servers.
const BASE = await freePortBase(96);
const CANARY_PORT = BASE + 90;
const IMG_PORT = BASE + 91;
const MAX_INPUT_BYTES = 4 * 1024 * 1024;
/** The render deadline the origins run with here (PIXMESH_RENDER_TIMEOUT_SECONDS). */
const RENDER_TIMEOUT_S = 3;
const S3 = `http://127.0.0.1:${BASE}`;
const s3Origin = { type: 's3', bucket: 'rel-corpus', endpoint: S3, region: 'us-east-1', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
const IMG = `http://127.0.0.1:${IMG_PORT}`;

/** Loopback in every spelling a URL parser or resolver accepts (all reach this machine only). */
const LOOPBACK_HOSTS = [
  '127.0.0.1', 'localhost', '[::1]', '0.0.0.0', '127.1', '2130706433', '0x7f000001', '0x7f.0.0.1', '0177.0.0.1', '017700000001',
  '[::ffff:127.0.0.1]', '[::ffff:7f00:1]', '[0:0:0:0:0:ffff:127.0.0.1]', '127.0.0.2', 'LOCALHOST',
];
// ("localhost." with a trailing dot does not resolve on this machine: ENOTFOUND, so it proves nothing here.)
const webVectorPrefix = (i: number) => `web-v${i}`;

const accounts = {
  accounts: [
    {
      id: 'rel',
      homeRegion: 'eu-central-1',
      privateKey: 'private_rel_main_key',
      publicKey: 'public_rel_main',
      endpoints: [
        { prefix: '', origins: [s3Origin] },
        // The same loopback server in every spelling, allowPrivateNetwork false: always 403.
        ...LOOPBACK_HOSTS.map((h, i) => ({ prefix: webVectorPrefix(i), origins: [{ type: 'web', baseUrl: `http://${h}:${IMG_PORT}/img`, allowPrivateNetwork: false }] })),
        { prefix: 'web-allowed', origins: [{ type: 'web', baseUrl: `${IMG}/img`, allowPrivateNetwork: true }] },
        {
          prefix: 'proxy',
          origins: [{ type: 'webproxy', allowHosts: LOOPBACK_HOSTS.map((h) => h.toLowerCase().replace(/\.$/, '')), allowPrivateNetwork: false, requireSignedUrls: false }],
        },
        { prefix: 'proxy-ok', origins: [{ type: 'webproxy', allowHosts: ['127.0.0.1'], allowPrivateNetwork: true, requireSignedUrls: false }] },
      ],
    },
    { id: 'rel-signed', homeRegion: 'eu-central-1', privateKey: 'private_rel_signed_key', signedUrls: 'required', endpoints: [{ prefix: '', origins: [s3Origin] }] },
    { id: 'rel-media-ok', homeRegion: 'eu-central-1', privateKey: 'private_rel_media_ok', mediaLibrary: { allowPrivateNetwork: true }, endpoints: [{ prefix: '', origins: [{ type: 'media' }] }] },
  ],
};

// The corpus and its canary are made at collection time, so every input is its own test.
const canary = await localServer((_req, res) => res.writeHead(200, { 'content-type': 'image/png' }).end(), '127.0.0.1', CANARY_PORT);
const corpus = await buildCorpus({ canaryUrl: canary.url, maxInputBytes: MAX_INPUT_BYTES });
const photo = corpus.find((e) => e.name === 'control-jpeg')!.body;

let cluster: TestCluster;
let img: LocalServer;
const HEADERS = { accept: 'image/png,image/jpeg,image/gif' };
const colo = (i: number) => ({ ...HEADERS, 'x-pixmesh-colo': i % 3 === 0 ? 'FRA' : 'SYD' });
const edge = (path: string, headers: Record<string, string> = colo(1), timeoutMs = 30_000) => get(cluster.edgeUrl + path, headers, timeoutMs);
const originPids = () => REGION_IDS.map((id) => [id, cluster.pids()[id]] as const);

const figures = {
  inputsTried: 0,
  outcomes: {} as Record<string, number>,
  fiveXx: 0,
  crashes: 0,
  peakRssMb: 0,
  maxRssAfterMb: 0,
  slowestMs: 0,
  slowestInput: '',
};
const urlFuzz = { sent: 0, unsendable: 0, fiveXx: 0, hangs: 0, outcomes: {} as Record<string, number> };

beforeAll(async () => {
  img = await localServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/redirect') {
      res.writeHead(302, { location: url.searchParams.get('to') ?? '/' }).end();
      return;
    }
    if (url.pathname.startsWith('/img/')) {
      res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': String(photo.length) }).end(photo);
      return;
    }
    res.writeHead(404).end();
  }, '127.0.0.1', IMG_PORT);
  cluster = await startTestCluster(BASE, accounts, {
    buckets: ['rel-corpus'],
    originEnv: { PIXMESH_MAX_INPUT_BYTES: String(MAX_INPUT_BYTES), PIXMESH_UPLOAD_MAX_BYTES: String(MAX_INPUT_BYTES), PIXMESH_RENDER_TIMEOUT_SECONDS: String(RENDER_TIMEOUT_S) },
    // Every request here comes from one client: the corpus and the burst alone spend more than the
    // default 60 s of region time per minute (heavy renders at low OS priority on a loaded machine),
    // after which every miss would be this client's 429 instead of the answer the test is about.
    // The per-client budget has its own test (tenant-isolation.test.ts).
    edgeEnv: { PIXMESH_CLIENT_BUDGET_MS: String(3_600_000) },
  });
  const seen = new Set<string>();
  await putObjects(
    cluster.s3Url,
    'rel-corpus',
    [
      ...corpus.filter((e) => !seen.has(e.key) && seen.add(e.key)).map((e) => ({ key: e.key, body: e.body, contentType: e.contentType })),
      { key: 'ok/default-😀.jpg', body: photo, contentType: 'image/jpeg' },
      { key: 'photo.jpg', body: photo, contentType: 'image/jpeg' },
      { key: 'tiny.jpg', body: await sharp({ create: { width: 64, height: 48, channels: 3, background: '#808080' } }).jpeg().toBuffer(), contentType: 'image/jpeg' },
    ],
    true,
  );
});

afterAll(async () => {
  await stopTestCluster(cluster);
  await img?.close();
  await canary.close();
});

function outcomeOf(a: Answer): string {
  return a.status === 200 ? '200' : `${a.status} ${a.code ?? ''}`.trim();
}

describe('adversarial corpus through edge → region → home → S3', () => {
  let nextWidth = 41;
  it.each(corpus.map((e, i) => [e.name, e, i] as const))('%s', async (_name, entry, i) => {
    const res = await edge(`/rel/tr:${entry.tr}/${entry.key}`, colo(i), 60_000);
    figures.inputsTried++;
    const o = outcomeOf(res);
    figures.outcomes[o] = (figures.outcomes[o] ?? 0) + 1;
    if (res.status >= 500 || res.status === 0) figures.fiveXx++;
    if (res.ms > figures.slowestMs) {
      figures.slowestMs = Math.round(res.ms);
      figures.slowestInput = entry.name;
    }
    const problems: string[] = [];
    if (res.status === 200) {
      if (!entry.image) problems.push(`200 with an image, expected ${JSON.stringify(entry.errors)}`);
      else problems.push(...(await checkImage(entry.image, res.body)));
    } else if (!entry.errors?.some((x) => x.status === res.status && x.code === res.code)) {
      problems.push(`got ${res.status} "${res.headers.get('ik-error') ?? res.body.toString().slice(0, 200)}", expected ${entry.image ? 'an image or ' : ''}${JSON.stringify(entry.errors ?? [])}`);
    }
    // Every origin still alive, and the next request still served.
    const dead = originPids().filter(([, pid]) => pid === undefined || !isAlive(pid)).map(([id]) => id);
    figures.crashes += dead.length;
    for (const [, pid] of originPids()) {
      const m = pid === undefined ? null : procMemory(pid);
      if (m) figures.peakRssMb = Math.max(figures.peakRssMb, m.peakMb);
    }
    const next = await edge(`/rel/tr:w-${nextWidth++}/ok/photo.jpg`, colo(i + 1));
    expect({ problems, dead, next: next.status, ms: res.ms < 20_000 }).toEqual({ problems: [], dead: [], next: 200, ms: true });
  });

  it('SVG external references and entities fetched nothing (the canary server saw no request)', async () => {
    // Its own renders (a cache-busting query, so each SVG is rendered now, whatever ran before).
    const svgs = corpus.filter((e) => e.contentType === 'image/svg+xml');
    expect(svgs.map((e) => e.name)).toContain('svg-external-references');
    for (const [i, e] of svgs.entries()) {
      const res = await edge(`/rel/tr:${e.tr}/${e.key}?canary=${i}`, colo(i), 60_000);
      expect(res.status, `${e.name}: ${res.headers.get('ik-error')}`).toBeLessThan(500);
    }
    expect(canary.hits).toEqual([]);
    // Positive control: the canary does record a request that reaches it.
    await get(`${canary.url}/control.png`, {});
    expect(canary.hits).toEqual(['GET /control.png']);
    canary.hits.length = 0;
  });

  it('every origin is alive and RSS stayed bounded (peak < 1.5 GB, now < 1 GB per origin)', () => {
    const mem = originPids().map(([id, pid]) => [id, pid === undefined ? null : procMemory(pid)] as const);
    figures.maxRssAfterMb = Math.max(0, ...mem.map(([, m]) => m?.rssMb ?? 0));
    recordFigures('corpus', figures);
    expect(mem.filter(([, m]) => m === null).map(([id]) => id)).toEqual([]);
    for (const [id, m] of mem) {
      expect(m!.peakMb, `${id} peak RSS`).toBeLessThan(1536);
      expect(m!.rssMb, `${id} RSS`).toBeLessThan(1024);
    }
  });

  it('a burst of 24 concurrent renders of a 36 MP original and 24 bomb headers: 200 / ELIMIT / 503 EBUSY only, RSS bounded', async () => {
    const burst = await Promise.all([
      ...Array.from({ length: 24 }, (_, i) => edge(`/rel/tr:w-${60 + i}/bomb/allowed-6000.png`, colo(i), 60_000)),
      ...Array.from({ length: 24 }, (_, i) => edge(`/rel/tr:w-${60 + i}/bomb/real-10001.png`, colo(i), 60_000)),
    ]);
    const outcomes: Record<string, number> = {};
    for (const a of burst) outcomes[outcomeOf(a)] = (outcomes[outcomeOf(a)] ?? 0) + 1;
    const mem = originPids().map(([, pid]) => (pid === undefined ? null : procMemory(pid)));
    const peak = Math.max(...mem.map((m) => m?.peakMb ?? 0));
    figures.peakRssMb = Math.max(figures.peakRssMb, peak);
    recordFigures('burst', { requests: burst.length, outcomes, peakOriginRssMb: peak, slowestMs: Math.round(Math.max(...burst.map((b) => b.ms))) });
    expect(Object.keys(outcomes).filter((o) => !['200', '400 ELIMIT', '503 EBUSY'].includes(o))).toEqual([]);
    expect(burst.slice(0, 24).filter((a) => a.status === 200).length).toBeGreaterThan(0);
    expect(mem.filter((m) => m === null)).toEqual([]);
    expect(peak).toBeLessThan(1536);
  });

  it('the same hostile input again is answered the same way, from the region or edge cache or not (idempotent)', async () => {
    const bomb = await edge('/rel/tr:w-100/bomb/png-100k.png');
    const again = await edge('/rel/tr:w-100/bomb/png-100k.png');
    expect([bomb.status, bomb.code, again.status, again.code]).toEqual([400, 'ELIMIT', 400, 'ELIMIT']);
  });

  it('errors carry no image content type and are never cached long', async () => {
    const res = await edge('/rel/tr:w-100/bad/page.jpg');
    expect(res.status).toBe(422);
    expect(res.headers.get('content-type') ?? '').not.toMatch(/^image\//);
    const cc = res.headers.get('cache-control') ?? '';
    const maxAge = Number(/max-age=(\d+)/.exec(cc)?.[1] ?? 0);
    expect(maxAge).toBeLessThanOrEqual(60);
  });
});

describe('the same corpus uploaded to the media library, then served from it', () => {
  const uploadFile = (entry: (typeof corpus)[number]) => {
    const form = new FormData();
    form.set('file', new Blob([new Uint8Array(entry.body)], { type: entry.contentType }), entry.key.split('/').pop()!);
    form.set('fileName', `${entry.name}${/\.[a-z]+$/.exec(entry.key)?.[0] ?? ''}`);
    form.set('folder', '/corpus');
    form.set('useUniqueFileName', 'false');
    return fetch(`${cluster.edgeUrl}/api/v1/files/upload`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from('private_rel_media_ok:').toString('base64')}` },
      body: form,
      signal: AbortSignal.timeout(30_000),
    });
  };

  it('every upload is accepted (200) or refused with a 4xx; every accepted file is then served as a correct image or the right 4xx', async () => {
    const problems: string[] = [];
    const tally: Record<string, number> = {};
    const seenNames = new Set<string>();
    for (const [i, entry] of corpus.entries()) {
      if (seenNames.has(entry.name)) continue;
      seenNames.add(entry.name);
      const up = await uploadFile(entry);
      const upCode = (up.headers.get('ik-error') ?? '').split(' - ')[0];
      const record = (await up.json().catch(() => ({}))) as { filePath?: string };
      const k = `upload ${up.status}${upCode ? ' ' + upCode : ''}`;
      tally[k] = (tally[k] ?? 0) + 1;
      if (up.status >= 500) problems.push(`${entry.name}: upload answered ${up.status} ${up.headers.get('ik-error')}`);
      if (up.status !== 200 || !record.filePath) continue;
      const res = await edge(`/rel-media-ok/tr:${entry.tr}${record.filePath}`, colo(i), 60_000);
      const o = outcomeOf(res);
      tally[`serve ${o}`] = (tally[`serve ${o}`] ?? 0) + 1;
      if (res.status === 200) {
        if (!entry.image) problems.push(`${entry.name}: served 200, expected ${JSON.stringify(entry.errors)}`);
        else problems.push(...(await checkImage(entry.image, res.body)).map((p) => `${entry.name}: ${p}`));
      } else if (!entry.errors?.some((x) => x.status === res.status && x.code === res.code)) {
        problems.push(`${entry.name}: served ${res.status} ${res.headers.get('ik-error')}`);
      }
    }
    const dead = originPids().filter(([, pid]) => pid === undefined || !isAlive(pid)).map(([id]) => id);
    recordFigures('mediaCorpus', { uploads: seenNames.size, outcomes: tally, dead });
    expect({ problems, dead }).toEqual({ problems: [], dead: [] });
    expect(tally['upload 200'] ?? 0).toBeGreaterThan(10);
  });
});

describe('hostile URLs sent raw to the real edge', () => {
  it('a seeded sample of 300 fuzzed URLs + every fixed hostile case: never a 5xx, never a hang', async () => {
    // Names with a segment over 255 bytes are the store-limit case, tested on their own below.
    const cases = fuzzCases(4242, 300).filter((c) => !c.path.split('/').some((seg) => seg.length > 255));
    const bad: string[] = [];
    const queue = [...cases];
    const worker = async () => {
      for (let c = queue.shift(); c; c = queue.shift()) {
        const res = await rawGet(cluster.edgeUrl, `/rel${c.path}${c.search}`, { 'x-pixmesh-colo': 'FRA', accept: 'image/jpeg' }, 30_000);
        if (res.status === -1) {
          urlFuzz.unsendable++;
          continue;
        }
        urlFuzz.sent++;
        const o = outcomeOf(res);
        urlFuzz.outcomes[o] = (urlFuzz.outcomes[o] ?? 0) + 1;
        if (res.status === 0) urlFuzz.hangs++;
        if (res.status >= 500) urlFuzz.fiveXx++;
        if (res.status === 0 || res.status >= 500) bad.push(`${c.label}: ${res.status} ${res.headers.get('ik-error') ?? res.body.toString().slice(0, 120)} — ${JSON.stringify((c.path + c.search).slice(0, 160))}`);
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    recordFigures('urlFuzzEdge', urlFuzz);
    expect(bad).toEqual([]);
    expect(urlFuzz.sent).toBeGreaterThan(300);
  });

  it('hostile request headers (geo, Accept, client hints, spoofed internal headers) and other methods: never a 5xx', async () => {
    const url = `${cluster.edgeUrl}/rel/tr:w-90/ok/photo.jpg`;
    const headerCases: Record<string, string>[] = [
      { 'x-pixmesh-colo': '../../etc', 'x-pixmesh-lat': '1e309', 'x-pixmesh-lon': 'NaN' },
      { 'x-pixmesh-colo': 'ZZZ', 'x-pixmesh-lat': '-91', 'x-pixmesh-lon': '181', 'x-pixmesh-country': '__proto__' },
      { 'x-pixmesh-colo': 'SYD'.repeat(1000) },
      { accept: `${'image/webp;q=0.'.repeat(500)}1` },
      { accept: 'image/avif;q=NaN,image/webp;q=-1,*/*;q=1e309' },
      { 'sec-ch-dpr': '1e309', 'sec-ch-width': '-5', 'dpr': 'NaN' },
      // A client cannot speak the internal protocol through the edge.
      { 'x-pixmesh-signed': 'true', 'x-pixmesh-hop': 'us-east-1', 'x-pixmesh-auth': 't=1,n=00,s=00', 'x-pixmesh-format': 'bogus' },
      { 'if-none-match': 'W/"' + 'x'.repeat(5000) + '"' },
      { range: 'bytes=999999999-' },
    ];
    const bad: string[] = [];
    for (const h of headerCases) {
      const res = await get(url, h);
      if (res.status === 0 || res.status >= 500) bad.push(`${JSON.stringify(h).slice(0, 80)} → ${res.status} ${res.headers.get('ik-error')}`);
    }
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      const res = await get(url, {}, 10_000, method);
      if (res.status === 0 || res.status >= 500) bad.push(`${method} → ${res.status} ${res.headers.get('ik-error')}`);
    }
    const head = await get(url, { 'x-pixmesh-colo': 'FRA' }, 10_000, 'HEAD');
    expect(bad).toEqual([]);
    expect([head.status, head.body.length]).toEqual([200, 0]);
    // The spoofed internal headers changed nothing: same image as a plain request.
    const spoofed = await get(url, headerCases[6]!);
    expect([spoofed.status, (await sharp(spoofed.body).metadata()).width]).toEqual([200, 90]);
  });

  it('raw traversal targets never reach another object or account', async () => {
    // Dot segments, raw or %2e-encoded, are removed by URL parsing (WHATWG) before any pixmesh code
    // runs, so they can only name a URL the client could have sent directly; decoded-later forms
    // ("..%2f") are refused by parseImagePath.
    const cases: [string, number[]][] = [
      ['/rel/../rel-signed/ok/photo.jpg', [401]], // = /rel-signed/ok/photo.jpg: that account requires a signature
      ['/rel/%2e%2e/rel-signed/ok/photo.jpg', [401]],
      ['/rel/tr:w-50/%2e%2e/%2e%2e/internal/accounts', [404]],
      ['/rel/tr:w-50/ok/..%2fok%2fphoto.jpg', [400]],
      ['/rel/tr:w-50/ok%2f..%2f..%2frel-signed%2fok%2fphoto.jpg', [400]],
      ['/rel/tr:w-50/%252e%252e/ok/photo.jpg', [404]], // decoded once: a literal "%2e%2e" folder, which does not exist
    ];
    for (const [target, statuses] of cases) {
      const res = await rawGet(cluster.edgeUrl, target, { 'x-pixmesh-colo': 'FRA' });
      expect(statuses, `${target} → ${res.status} ${res.headers.get('ik-error')}`).toContain(res.status);
    }
    // A dot segment inside the same endpoint is just the normalised URL.
    const dotted = await rawGet(cluster.edgeUrl, '/rel/tr:w-50/ok/%2e%2e/ok/photo.jpg', { 'x-pixmesh-colo': 'FRA', accept: 'image/jpeg' });
    const plain = await rawGet(cluster.edgeUrl, '/rel/tr:w-50/ok/photo.jpg', { 'x-pixmesh-colo': 'FRA', accept: 'image/jpeg' });
    expect([dotted.status, dotted.headers.get('etag')]).toEqual([plain.status, plain.headers.get('etag')]);
  });

  it('an object name longer than the store can hold (one 1000-byte segment) → 4xx, not 502', async () => {
    // s3rver (and MinIO) keep objects as files: a segment over 255 bytes cannot exist there, and
    // S3 refuses keys over 1024 bytes with 400 KeyTooLongError. Either way the object is not
    // there: 404 ENOENT (origin/src/sources/s3.ts answers "absent" for a key over 1024 bytes, a 400
    // from the store, or a file-system 500 on a segment too long) — a 502 makes the edge fail over
    // through every region and counts against their health. Both URLs are far below MAX_URL_LENGTH.
    const res = await edge(`/rel/tr:w-100/${'x'.repeat(1000)}.jpg`, colo(0));
    expect(`${res.status} ${res.headers.get('ik-error') ?? ''}`).toMatch(/^404 ENOENT/);
    const longKey = await edge(`/rel/tr:w-100/${'abcdefgh/'.repeat(120)}x.jpg`, colo(0));
    expect(`${longKey.status} ${longKey.headers.get('ik-error') ?? ''}`).toMatch(/^404 ENOENT/);
  });

  it('a default image (di-) whose name has an emoji: the missing original is replaced, no 500', async () => {
    const res = await edge(`/rel/tr:w-50,di-ok@@default-${encodeURIComponent('😀')}.jpg/missing.jpg`, colo(0));
    expect(`${res.status} ${res.headers.get('ik-error') ?? ''}`).toBe('200 ');
    expect((await sharp(res.body).metadata()).width).toBe(50);
  });
});

describe('URL signatures (ik-s, ik-t) on an account that requires them', () => {
  const endpoint = () => `${cluster.edgeUrl}/rel-signed`;
  const sign = (url: string, key = 'private_rel_signed_key', expiresAt?: number) => signImageUrl(key, endpoint(), url, expiresAt);
  const fetchUrl = (url: string) => get(url, colo(1));
  const expect401 = async (url: string) => {
    const res = await fetchUrl(url);
    expect([res.status, res.code], url).toEqual([401, 'EAUTH']);
  };

  it('a correctly signed URL is served', async () => {
    const res = await fetchUrl(await sign(`${endpoint()}/tr:w-120/ok/photo.jpg`));
    expect(res.status).toBe(200);
    expect((await sharp(res.body).metadata()).width).toBe(120);
  });

  it('unsigned → 401', () => expect401(`${endpoint()}/tr:w-120/ok/photo.jpg`));

  it('forged signature (random hex) → 401', () => expect401(`${endpoint()}/tr:w-120/ok/photo.jpg?ik-s=${cryptoRandom(20).toString('hex')}`));

  it('truncated signatures → 401', async () => {
    const signed = await sign(`${endpoint()}/tr:w-121/ok/photo.jpg`);
    const s = new URL(signed).searchParams.get('ik-s')!;
    for (const cut of [39, 20, 1, 0]) await expect401(signed.replace(`ik-s=${s}`, `ik-s=${s.slice(0, cut)}`));
  });

  it("another account's key → 401", () => sign(`${endpoint()}/tr:w-122/ok/photo.jpg`, 'private_rel_main_key').then(expect401));

  it('expired → 401, even after the same variant was cached while valid', async () => {
    const now = Math.floor(Date.now() / 1000);
    const valid = await sign(`${endpoint()}/tr:w-123/ok/photo.jpg`, undefined, now + 600);
    expect((await fetchUrl(valid)).status).toBe(200);
    await expect401(await sign(`${endpoint()}/tr:w-123/ok/photo.jpg`, undefined, now - 5));
  });

  it('changing ik-t, the path or the transformation after signing → 401', async () => {
    const now = Math.floor(Date.now() / 1000);
    const signed = await sign(`${endpoint()}/tr:w-124/ok/photo.jpg`, undefined, now + 60);
    await expect401(signed.replace(`ik-t=${now + 60}`, `ik-t=${now + 999_999}`));
    await expect401(signed.replace('w-124', 'w-1240'));
    await expect401(signed.replace('ok/photo.jpg', 'ok/photo.png'));
    await expect401(signed.replace(/ik-t=\d+&/, ''));
  });

  it('a signature for one account does not open another account that requires none (no cross-use either way)', async () => {
    const mine = await signImageUrl('private_rel_main_key', `${cluster.edgeUrl}/rel`, `${cluster.edgeUrl}/rel/tr:w-125/ok/photo.jpg`);
    expect((await fetchUrl(mine)).status).toBe(200);
    await expect401(mine.replace('/rel/', '/rel-signed/'));
  });
});

describe('internal-call signatures (x-pixmesh-auth) on a region origin', () => {
  const region = () => cluster.regionUrls['eu-central-1'];
  const path = '/internal/render/rel/tr:w-60/ok/photo.jpg';
  const call = (p: string, headers: Record<string, string>, method = 'GET') => get(region() + p, headers, 20_000, method);
  const signed = async (p: string, extra: Record<string, string> = {}, opts: { secret?: string; now?: number; method?: string } = {}) => {
    const h = new Headers({ 'x-pixmesh-format': 'jpeg', ...extra });
    await signInternalRequest(opts.secret ?? cluster.internalSecret, h, { method: opts.method ?? 'GET', pathAndQuery: p, region: 'eu-central-1', now: opts.now });
    return Object.fromEntries(h);
  };
  const expect401 = (res: Answer) => expect([res.status, res.code]).toEqual([401, 'EAUTH']);

  it('a correctly signed call is served (control)', async () => {
    expect((await call(path, await signed(path))).status).toBe(200);
  });

  it('unsigned calls → 401 (render, accounts, purge, media)', async () => {
    expect401(await call(path, { 'x-pixmesh-format': 'jpeg' }));
    const accountsRes = await call('/internal/accounts', {});
    expect401(accountsRes);
    expect(accountsRes.body.toString()).not.toContain('private_rel_main_key');
    expect401(await call('/internal/purge?account=rel&path=ok/photo.jpg', {}, 'POST'));
    expect401(await call('/internal/media/rel/files', {}));
  });

  it('forged, malformed and wrong-secret signatures → 401', async () => {
    const t = Date.now();
    expect401(await call(path, { [AUTH_HEADER]: `t=${t},n=${cryptoRandom(12).toString('hex')},s=${cryptoRandom(32).toString('hex')}` }));
    expect401(await call(path, { [AUTH_HEADER]: 'garbage' }));
    expect401(await call(path, { [AUTH_HEADER]: `t=${t},n=00,s=00` }));
    expect401(await call(path, await signed(path, {}, { secret: 'not-the-secret-0123456789abcdef' })));
  });

  it('a replayed call (the same x-pixmesh-auth twice) → 401 the second time', async () => {
    const h = await signed(path);
    expect((await call(path, h)).status).toBe(200);
    expect401(await call(path, h));
  });

  it('a signature outside the ±15 s window → 401 (past and future)', async () => {
    expect401(await call(path, await signed(path, {}, { now: Date.now() - 30_000 })));
    expect401(await call(path, await signed(path, {}, { now: Date.now() + 30_000 })));
  });

  it('a signature moved to another path, method or steering header → 401', async () => {
    expect401(await call('/internal/render/rel/tr:w-61/ok/photo.jpg', await signed(path)));
    expect401(await call(path, { ...(await signed(path)), 'x-pixmesh-format': 'png' }));
    expect401(await call(path, { ...(await signed(path)), 'x-pixmesh-signed': 'true' }));
    expect401(await call('/internal/purge?account=rel&path=ok/photo.jpg', await signed('/internal/purge?account=rel&path=ok/photo.jpg'), 'POST'));
  });
});

describe('SSRF through the cluster (loopback targets only)', () => {
  const hitsBefore = () => img.hits.length;

  it('web origin, allowPrivateNetwork=true: the local server is reached (control)', async () => {
    const before = hitsBefore();
    const res = await edge('/rel/web-allowed/tr:w-80/a.jpg');
    expect(res.status).toBe(200);
    expect(img.hits.length).toBeGreaterThan(before);
  });

  it.each(LOOPBACK_HOSTS.map((h, i) => [h, i] as const))('web origin baseUrl http://%s:port, allowPrivateNetwork=false → 403 EACCES, no connection', async (_h, i) => {
    const before = hitsBefore();
    const res = await edge(`/rel/${webVectorPrefix(i)}/tr:w-81/a.jpg`, colo(0), 15_000);
    expect([res.status, res.code], res.headers.get('ik-error') ?? '').toEqual([403, 'EACCES']);
    expect(res.ms).toBeLessThan(5000);
    expect(img.hits.length).toBe(before);
  });

  it.each(LOOPBACK_HOSTS)('web proxy to http://%s:port (host in allowHosts), allowPrivateNetwork=false → 403 EACCES on the address', async (h) => {
    const before = hitsBefore();
    const res = await edge(`/rel/proxy/http://${h}:${IMG_PORT}/img/a.jpg?tr=w-82`, colo(0), 15_000);
    expect([res.status, res.code], res.headers.get('ik-error') ?? '').toEqual([403, 'EACCES']);
    // Refused for the address, not merely for the host list (allowHosts alone never opens a private network).
    expect(res.headers.get('ik-error') ?? '').not.toMatch(/allowHosts/);
    expect(img.hits.length).toBe(before);
  });

  it('web proxy with allowPrivateNetwork=true reaches an allowed host (control)', async () => {
    const res = await edge(`/rel/proxy-ok/http://127.0.0.1:${IMG_PORT}/img/a.jpg?tr=w-83`);
    expect(res.status).toBe(200);
  });

  it('web proxy redirect chain: an allowed host redirecting to a host outside allowHosts → 403, target never contacted', async () => {
    const target = `http://localhost:${IMG_PORT}/img/after-redirect.jpg`;
    const res = await edge(`/rel/proxy-ok/http://127.0.0.1:${IMG_PORT}/redirect?to=${encodeURIComponent(target)}&tr=w-84`);
    expect([res.status, res.code], res.headers.get('ik-error') ?? '').toEqual([403, 'EACCES']);
    expect(img.hits.filter((h) => h.startsWith('GET /img/after-redirect'))).toEqual([]);
    // The first hop was made (the chain really started on an allowed host).
    expect(img.hits.some((h) => h.startsWith('GET /redirect'))).toBe(true);
  });

  it('web proxy to non-http schemes → 403 or 4xx, never fetched', async () => {
    for (const u of ['file:///etc/passwd', 'gopher://127.0.0.1:70/x', 'ftp://127.0.0.1/x.jpg', 'data:image/png;base64,iVBORw0KGgo=']) {
      const res = await edge(`/rel/proxy/${u}`);
      expect(res.status, `${u} → ${res.status} ${res.headers.get('ik-error')}`).toBeGreaterThanOrEqual(400);
      expect(res.status, u).toBeLessThan(500);
    }
  });

  const upload = (key: string, fileUrl: string) => {
    const form = new FormData();
    form.set('file', fileUrl);
    form.set('fileName', 'from-url.jpg');
    return fetch(`${cluster.edgeUrl}/api/v1/files/upload`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}` },
      body: form,
      signal: AbortSignal.timeout(20_000),
    });
  };

  it.each(LOOPBACK_HOSTS)('upload by URL http://%s:port without mediaLibrary.allowPrivateNetwork → 403 EACCES, no connection', async (h) => {
    const before = hitsBefore();
    const res = await upload('private_rel_main_key', `http://${h}:${IMG_PORT}/img/upload.jpg`);
    const ik = res.headers.get('ik-error') ?? '';
    expect([res.status, ik.split(' - ')[0]], `${ik} ${await res.text()}`).toEqual([403, 'EACCES']);
    expect(img.hits.length).toBe(before);
  });

  it('upload by URL with mediaLibrary.allowPrivateNetwork=true is fetched (control)', async () => {
    const res = await upload('private_rel_media_ok', `${IMG}/img/upload.jpg`);
    expect(res.status, await res.clone().text()).toBe(200);
    expect(((await res.json()) as { width?: number }).width).toBe(640);
  });
});

// Last, because a failure here leaves an origin busy: a tiny original with a transformation that
// asks for a lot of work. Each is answered within the render deadline (+ slack): a refusal
// (ELIMIT / EBADTR), 503 EBUSY when the deadline fires, or an image if it is fast enough.
describe('transformation bombs (tiny source, expensive output) are bounded by the render deadline', () => {
  const allowed = ['200', '400 ELIMIT', '400 EBADTR', '503 EBUSY'];
  const bound = (RENDER_TIMEOUT_S + 4) * 1000;
  it.each([
    ['upscale to 16383×16383', 'w-16383,h-16383,c-force'],
    ['dpr-5 × w-16000', 'w-16000,dpr-5'],
    ['border 5000 px', 'b-5000_FF0000'],
    ['pad a 64×48 source to 10000×10000 (100 MP JPEG encode)', 'w-10000,h-10000,cm-pad_resize'],
    ['20 chained steps, each upscaling and rotating', Array.from({ length: 20 }, (_, i) => `w-${4000 + i},rt-90`).join(':')],
  ])('%s', async (_name, tr) => {
    const res = await edge(`/rel/tr:${tr}/tiny.jpg`, colo(0), bound + 1000);
    const healthy = await get(`${cluster.regionUrls['eu-central-1']}/healthz`, {}, 5000);
    recordFigures(`trBomb ${_name}`, { status: outcomeOf(res), ms: Math.round(res.ms) });
    expect({ outcome: allowed.includes(outcomeOf(res)) ? 'ok' : outcomeOf(res), withinDeadline: res.ms < bound, home: healthy.status }).toEqual({
      outcome: 'ok',
      withinDeadline: true,
      home: 200,
    });
  });
});
