/** The region app in-process (Hono app.request), against a local web origin: edge cases of render. */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signInternalRequest } from '../../shared/internal-auth.js';
import { AccountDirectory } from '../../origin/src/accounts.js';
import { createOriginApp } from '../../origin/src/app.js';
import { ResultCache } from '../../origin/src/cache/result-cache.js';
import { loadConfig, type ServerConfig } from '../../origin/src/config.js';
import { metricValue, serveBytes, startOriginServer, testJpeg, type OriginServer } from './helpers.js';

process.env.PIXMESH_LOG = 'silent';
const SECRET = 'test-secret-0123456789abcdef';
let dir: string;
let web: OriginServer;
let accountsFile: string;
let hang: net.Server;
const held: net.Socket[] = [];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pixmesh-app-'));
  web = await startOriginServer();
  const jpeg = await testJpeg(320, 240);
  web.route('/img/a.jpg', serveBytes(jpeg, 'image/jpeg'));
  web.route('/img/slow.jpg', serveBytes(jpeg, 'image/jpeg', { delayMs: 500 }));
  hang = net.createServer((sock) => void held.push(sock)); // an S3 endpoint that accepts and never answers
  await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
  const hangUrl = `http://127.0.0.1:${(hang.address() as net.AddressInfo).port}`;
  accountsFile = path.join(dir, 'accounts.json');
  fs.writeFileSync(
    accountsFile,
    JSON.stringify({
      accounts: [
        { id: 'w', homeRegion: 'eu-central-1', privateKey: 'pk', endpoints: [{ prefix: '', origins: [{ type: 'web', baseUrl: `${web.url}/img`, allowPrivateNetwork: true }] }] },
        {
          id: 'hang',
          homeRegion: 'eu-central-1',
          privateKey: 'pk2',
          endpoints: [{ prefix: '', origins: [{ type: 's3', bucket: 'b', endpoint: hangUrl, region: 'us-east-1', accessKeyId: 'k', secretAccessKey: 's' }] }],
        },
      ],
    }),
  );
});
afterAll(async () => {
  await web?.close();
  held.forEach((sock) => sock.destroy());
  await new Promise((r) => hang?.close(r));
  fs.rmSync(dir, { recursive: true, force: true });
});

async function makeApp(name: string, overrides: Partial<ServerConfig> = {}) {
  const config = {
    ...loadConfig({
      PIXMESH_REGION: 'eu-central-1',
      PIXMESH_INTERNAL_SECRET: SECRET,
      PIXMESH_ACCOUNTS: accountsFile,
      PIXMESH_CACHE_DIR: path.join(dir, name),
      PIXMESH_REGION_URLS: JSON.stringify({ 'eu-central-1': 'http://127.0.0.1:1' }),
    }),
    ...overrides,
  };
  const cache = await ResultCache.open(config.cacheDir, config.cacheMaxBytes);
  return createOriginApp({ config, accounts: new AccountDirectory(accountsFile), cache });
}

async function render(app: Awaited<ReturnType<typeof makeApp>>, p: string): Promise<Response> {
  const pathAndQuery = `/internal/render/${p}`;
  const headers = new Headers({ 'x-pixmesh-format': 'jpeg' });
  await signInternalRequest(SECRET, headers, { method: 'GET', pathAndQuery, region: 'eu-central-1' });
  return app.request(`http://origin.test${pathAndQuery}`, { headers });
}

describe('render edge cases', () => {
  it('serves the image when the result cache cannot store it (disk full, I/O error), and counts it', async () => {
    const app = await makeApp('broken-cache');
    // Replace the cache folder by a file: every write under it fails.
    fs.rmSync(app.services.cache.dir, { recursive: true });
    fs.writeFileSync(app.services.cache.dir, 'not a folder');
    const res = await render(app, 'w/tr:w-40/a.jpg');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-pixmesh-region-cache')).toBe('MISS');
    // The write happens behind the response: once it settled, its failure is counted.
    await app.services.writes.flush();
    const text = await app.services.metrics.registry.metrics();
    expect(metricValue(text, 'pixmesh_origin_result_cache_write_errors_total')).toBe(1);
  });

  it('refuses work beyond the in-flight bound with 503 EBUSY + Retry-After', async () => {
    const app = await makeApp('inflight', { maxInflight: 1 });
    const slow = render(app, 'w/tr:w-41/slow.jpg');
    await new Promise((r) => setTimeout(r, 100));
    const refused = await render(app, 'w/tr:w-42/a.jpg');
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.headers.get('ik-error')).toMatch(/^EBUSY/);
    expect((await slow).status).toBe(200);
    expect((await render(app, 'w/tr:w-42/a.jpg')).status).toBe(200);
  });

  it('a hanging S3 origin is abandoned after the fetch timeouts: 504 EUPSTREAM', async () => {
    const app = await makeApp('s3-hang', { fetch: { connectTimeoutMs: 200, headerTimeoutMs: 300, bodyTimeoutMs: 300, maxRedirects: 5 } });
    const t0 = Date.now();
    const res = await render(app, 'hang/tr:w-40/a.jpg');
    expect(res.status).toBe(504);
    expect(res.headers.get('ik-error')).toMatch(/^EUPSTREAM - .*timed out/);
    expect(Date.now() - t0).toBeLessThan(4000);
  });

  it('/readyz turns 503 while draining', async () => {
    const app = await makeApp('ready', { s3: { endpoint: `http://127.0.0.1:${web.port}`, region: 'us-east-1', forcePathStyle: true } });
    app.services.lifecycle.draining = true;
    const res = await app.request('http://origin.test/readyz');
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ ok: false, checks: { draining: { ok: false }, accounts: { ok: true } } });
  });

  it('refuses bad client-hint headers with 400 EBADREQ', async () => {
    const app = await makeApp('hints');
    const pathAndQuery = '/internal/render/w/tr:w-40/a.jpg';
    const headers = new Headers({ 'x-pixmesh-format': 'jpeg', 'x-pixmesh-dpr': 'NaN' });
    await signInternalRequest(SECRET, headers, { method: 'GET', pathAndQuery, region: 'eu-central-1' });
    const res = await app.request(`http://origin.test${pathAndQuery}`, { headers });
    expect(res.status).toBe(400);
    expect(res.headers.get('ik-error')).toMatch(/^EBADREQ/);
  });
});
