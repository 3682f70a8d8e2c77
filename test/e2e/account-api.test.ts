/**
 * Account configuration through the official @imagekit/nodejs client against a cluster (s3rver,
 * two regions, the edge in workerd): `accounts.origins.*` and `accounts.urlEndpoints.*`, used by
 * delivery end to end; webhooks delivered to a local receiver and verified with the SDK's own
 * `webhooks.unwrap`. Accounts: `cfg` (home eu-central-1; its API-made origins may reach
 * loopback because the account file opts in, for the test's s3rver and web server) and `tenant`
 * (no opt-in: a customer's origin on a private address is refused).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import ImageKit, { toFile } from '@imagekit/nodejs';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3Client } from '../../origin/src/sources/s3.js';
import { startTestCluster, stopTestCluster, type TestCluster } from '../helpers/cluster.js';
import { freePortBase } from '../origin/helpers.js';

const CFG = { id: 'cfg', privateKey: 'private_cfg_api_0123456789', publicKey: 'public_cfg_api' };
const TENANT = { id: 'tenant', privateKey: 'private_tenant_api_0123456789', publicKey: 'public_tenant_api' };
const SECRET = 'S3RVER';
const HOOK_SECRET = 'hook-secret-for-cfg-0123456789';

/** What the webhook receiver got; `answer` decides its status for the next request. */
interface Received {
  body: string;
  headers: Record<string, string>;
  /** What the receiver answered. */
  status: number;
  /** The request path (the API-made endpoint listens on its own path). */
  path: string;
}
const received: Received[] = [];
let answer = () => 200;
let hooks: http.Server;
let hookUrl: string;

let cluster: TestCluster;
let s3Port: number;
let web: http.Server;
let webUrl: string;
const s3 = () => s3Client({ endpoint: `http://127.0.0.1:${s3Port}`, region: 'us-east-1', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', forcePathStyle: true });
const ik = (key = CFG.privateKey) => new ImageKit({ privateKey: key, baseURL: cluster.edgeUrl, maxRetries: 0 });
const get = (p: string) => fetch(cluster.edgeUrl + p, { headers: { 'x-pixmesh-colo': 'FRA', accept: 'image/jpeg' } });
const image = (width: number, height: number, colour: string) => sharp({ create: { width, height, channels: 3, background: colour } }).jpeg().toBuffer();
const widthOf = async (res: Response) => (await sharp(Buffer.from(await res.arrayBuffer())).metadata()).width;

/** Polls until the URL answers `status` (a change is in effect everywhere within 10 s: docs/management-api.md). */
async function until(p: string, ok: (res: Response) => Promise<boolean> | boolean): Promise<Response> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const res = await get(p);
    if (await ok(res.clone())) return res;
    await res.body?.cancel();
    if (Date.now() > deadline) throw new Error(`${p} never answered as expected (last ${res.status})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

beforeAll(async () => {
  const base = await freePortBase(96);
  s3Port = base;
  const webJpeg = await image(500, 100, '#22aa22');
  web = http.createServer((req, res) => {
    if (req.url === '/site/both.jpg') res.writeHead(200, { 'content-type': 'image/jpeg' }).end(webJpeg);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
  webUrl = `http://127.0.0.1:${(web.address() as AddressInfo).port}/site`;
  hooks = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const status = answer();
      received.push({ status, path: req.url ?? '', body: Buffer.concat(chunks).toString('utf8'), headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])) });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => hooks.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(hooks.address() as AddressInfo).port}/hooks`;
  const media = [{ prefix: '', origins: [{ type: 'media' }] }];
  cluster = await startTestCluster(
    base,
    {
      accounts: [
        // The receiver is on loopback: only this opt-in lets the deliveries reach it.
        { ...CFG, homeRegion: 'eu-central-1', endpoints: media, managedOrigins: { allowPrivateNetwork: true }, webhooks: [{ url: hookUrl, secret: HOOK_SECRET, allowPrivateNetwork: true }] },
        { ...TENANT, homeRegion: 'eu-central-1', endpoints: media, webhooks: [{ url: hookUrl, secret: HOOK_SECRET, events: ['file.created'] }] },
      ],
    },
    { regions: ['eu-central-1', 'us-east-1'], originEnv: { PIXMESH_WEBHOOK_BACKOFF_MS: '300,600,900' } },
  );
  await s3().send(new CreateBucketCommand({ Bucket: 'cfg-origin' }));
  await s3().send(new PutObjectCommand({ Bucket: 'cfg-origin', Key: 'assets/photo.jpg', Body: await image(400, 200, '#aa2222'), ContentType: 'image/jpeg' }));
  await s3().send(new PutObjectCommand({ Bucket: 'cfg-origin', Key: 'assets/both.jpg', Body: await image(300, 100, '#2222aa'), ContentType: 'image/jpeg' }));
});

afterAll(async () => {
  await stopTestCluster(cluster);
  await new Promise((r) => web?.close(r));
  await new Promise((r) => hooks?.close(r));
});

describe('accounts.origins + accounts.urlEndpoints', () => {
  let s3Id: string;
  let webId: string;
  let endpointId: string;

  it('lists the account file as the seed: the default endpoint (id "default") and no origins', async () => {
    expect(await ik().accounts.origins.list()).toEqual([]);
    const eps = await ik().accounts.urlEndpoints.list();
    expect(eps).toEqual([{ id: 'default', description: 'Default URL endpoint', urlPrefix: '', origins: [] }]);
    expect(await ik().accounts.urlEndpoints.get('default')).toMatchObject({ id: 'default', urlPrefix: '' });
  });

  it('an S3-compatible origin created through the SDK answers without its keys, in create, get and list', async () => {
    const made = await ik().accounts.origins.create({
      type: 'S3_COMPATIBLE',
      name: 'local s3',
      bucket: 'cfg-origin',
      prefix: 'assets',
      endpoint: `http://127.0.0.1:${s3Port}`,
      s3ForcePathStyle: true,
      accessKey: 'S3RVER',
      secretKey: SECRET,
    });
    s3Id = made.id;
    expect(made).toEqual({ id: expect.stringMatching(/^[0-9a-f]{24}$/), type: 'S3_COMPATIBLE', name: 'local s3', bucket: 'cfg-origin', prefix: 'assets', endpoint: `http://127.0.0.1:${s3Port}`, s3ForcePathStyle: true, includeCanonicalHeader: false });
    for (const answer of [made, await ik().accounts.origins.get(s3Id), await ik().accounts.origins.list()]) {
      const text = JSON.stringify(answer);
      expect(text).not.toContain('accessKey');
      expect(text).not.toContain('secretKey');
      expect(text).not.toContain(SECRET);
    }
  });

  it('a URL endpoint created through the SDK serves that origin\'s images through the edge, transformed', async () => {
    const ep = await ik().accounts.urlEndpoints.create({ description: 'from s3', urlPrefix: 'shop', origins: [s3Id] });
    endpointId = ep.id;
    expect(ep).toEqual({ id: expect.stringMatching(/^[0-9a-f]{24}$/), description: 'from s3', urlPrefix: 'shop', origins: [s3Id] });
    const res = await until('/cfg/shop/tr:w-100/photo.jpg', (r) => r.status === 200);
    expect(await widthOf(res)).toBe(100);
    // The default endpoint does not list the origin: the same path there is not found.
    expect((await get('/cfg/tr:w-100/photo.jpg')).status).toBe(404);
  });

  it('origins are tried in the order the endpoint lists them; reordering takes effect although the edge had cached the old answer', async () => {
    const w = await ik().accounts.origins.create({ type: 'WEB_FOLDER', name: 'site', baseUrl: webUrl });
    webId = w.id;
    expect(w).toEqual({ id: expect.any(String), type: 'WEB_FOLDER', name: 'site', baseUrl: webUrl, forwardHostHeaderToOrigin: false, includeCanonicalHeader: false });
    await ik().accounts.urlEndpoints.update(endpointId, { description: 'from s3', origins: [s3Id, webId] });
    const first = await until('/cfg/shop/both.jpg', async (r) => r.status === 200 && (await widthOf(r)) === 300);
    await first.body?.cancel();
    expect((await get('/cfg/shop/both.jpg')).headers.get('x-pixmesh-cache')).toBe('HIT');
    const updated = await ik().accounts.urlEndpoints.update(endpointId, { description: 'web first', origins: [webId, s3Id] });
    expect(updated).toMatchObject({ description: 'web first', urlPrefix: 'shop', origins: [webId, s3Id] });
    // The web folder's 500-px copy now wins (the account's cached variants were purged with the change).
    await until('/cfg/shop/both.jpg', async (r) => r.status === 200 && (await widthOf(r)) === 500);
    // A file only the second origin has is still found.
    expect((await get('/cfg/shop/photo.jpg')).status).toBe(200);
  });

  it('an origin in use cannot be deleted (409); unknown ids are 404; deleting the endpoint makes its URLs 404, then the origin can go', async () => {
    await expect(ik().accounts.origins.delete(s3Id)).rejects.toMatchObject({ status: 409 });
    await expect(ik().accounts.origins.get('0123456789abcdef01234567')).rejects.toMatchObject({ status: 404 });
    await expect(ik().accounts.urlEndpoints.get('0123456789abcdef01234567')).rejects.toMatchObject({ status: 404 });
    await expect(ik().accounts.urlEndpoints.delete('default')).rejects.toMatchObject({ status: 400 });
    await ik().accounts.urlEndpoints.delete(endpointId);
    await until('/cfg/shop/photo.jpg', (r) => r.status === 404);
    await ik().accounts.origins.delete(s3Id);
    await ik().accounts.origins.delete(webId);
    expect(await ik().accounts.origins.list()).toEqual([]);
    expect((await ik().accounts.urlEndpoints.list()).map((e) => e.id)).toEqual(['default']);
  });

  it('update replaces an origin whole, keeps its id, and still answers no secret', async () => {
    const o = await ik().accounts.origins.create({ type: 'S3', name: 'aws', bucket: 'some-bucket', accessKey: 'AKIA', secretKey: 'hush-hush' });
    const u = await ik().accounts.origins.update(o.id, { type: 'S3', name: 'aws 2', bucket: 'other-bucket', prefix: 'p', accessKey: 'AKIA2', secretKey: 'hush-2' });
    expect(u).toEqual({ id: o.id, type: 'S3', name: 'aws 2', bucket: 'other-bucket', prefix: 'p', useIAMRole: false, includeCanonicalHeader: false });
    expect(JSON.stringify(await ik().accounts.origins.list())).not.toContain('hush');
    const proxy = await ik().accounts.origins.create({ type: 'WEB_PROXY', name: 'proxy' });
    expect(proxy).toEqual({ id: expect.any(String), type: 'WEB_PROXY', name: 'proxy', includeCanonicalHeader: false });
    await ik().accounts.origins.delete(o.id);
    await ik().accounts.origins.delete(proxy.id);
  });

  it.each([
    [{ type: 'GCS', name: 'g', bucket: 'b', clientEmail: 'a@b', privateKey: 'k' }, /GCS is not supported/],
    [{ type: 'FTP', name: 'f' }, /type must be one of/],
    [{ type: 'S3', bucket: 'some-bucket', accessKey: 'a', secretKey: 'b' }, /name is required/],
    [{ type: 'S3', name: 'n', bucket: 'Bad_Bucket', accessKey: 'a', secretKey: 'b' }, /bucket "Bad_Bucket"/],
    [{ type: 'S3_COMPATIBLE', name: 'n', bucket: 'some-bucket', accessKey: 'a', secretKey: 'b', endpoint: 'ftp://x' }, /endpoint must be an http/],
    [{ type: 'WEB_FOLDER', name: 'n', baseUrl: 'not a url' }, /baseUrl must be an absolute/],
    [{ type: 'WEB_FOLDER', name: 'n', baseUrl: 'https://example.com', forwardHostHeaderToOrigin: true }, /forwardHostHeaderToOrigin is not supported/],
    [{ type: 'WEB_FOLDER', name: 'n', baseUrl: 'https://example.com', colour: 'red' }, /colour is not a field/],
  ])('a bad origin %j → 400 {message, help} naming the problem', async (body, message) => {
    const err = (await ik()
      .accounts.origins.create(body as never)
      .then(() => undefined, (e: unknown) => e)) as { status: number; error: { message: string; help: string } };
    expect(err.status).toBe(400);
    expect(err.error.message).toMatch(message);
    expect(typeof err.error.help).toBe('string');
  });

  it.each([
    [{ description: 'x', urlPrefix: 'has/slash' }, 400, /urlPrefix may hold/],
    [{ description: 'x', urlPrefix: 'p1', origins: ['0123456789abcdef01234567'] }, 400, /no origin with id/],
    [{ description: 'x', urlPrefix: '' }, 409, /already exists/],
    [{ urlPrefix: 'p2' }, 400, /description is required/],
    [{ description: 'x', urlPrefix: 'p3', urlRewriter: { type: 'FASTLY' } }, 400, /urlRewriter.type must be one of CLOUDINARY, IMGIX, AKAMAI/],
    [{ description: 'x', urlPrefix: 'p4', urlRewriter: { type: 'IMGIX', preserveAssetDeliveryTypes: true } }, 400, /urlRewriter.preserveAssetDeliveryTypes is not a field/],
  ])('a bad URL endpoint %j is refused with %i naming the field', async (body, status, message) => {
    const err = (await ik()
      .accounts.urlEndpoints.create(body as never)
      .then(() => undefined, (e: unknown) => e)) as { status: number; error: { message: string } };
    expect(err.status).toBe(status);
    expect(err.error.message).toMatch(message);
  });

  it.each([
    [{ type: 'S3_COMPATIBLE', name: 'n', bucket: 'some-bucket', accessKey: 'a', secretKey: 'b', endpoint: 'http://127.0.0.1:9000' }, /endpoint names a private or reserved address: 127.0.0.1/],
    [{ type: 'S3_COMPATIBLE', name: 'n', bucket: 'some-bucket', accessKey: 'a', secretKey: 'b', endpoint: 'http://169.254.169.254' }, /169.254.169.254/],
    [{ type: 'WEB_FOLDER', name: 'n', baseUrl: 'http://localhost:8080/x' }, /baseUrl names a private or reserved address: localhost/],
    [{ type: 'WEB_FOLDER', name: 'n', baseUrl: 'http://[::1]/x' }, /::1/],
  ])('without the operator\'s opt-in, a customer origin on a private address is refused: %j', async (body, message) => {
    const err = (await ik(TENANT.privateKey)
      .accounts.origins.create(body as never)
      .then(() => undefined, (e: unknown) => e)) as { status: number; error: { message: string } };
    expect(err.status).toBe(400);
    expect(err.error.message).toMatch(message);
  });

  it('one account never sees another\'s origins', async () => {
    const mine = await ik().accounts.origins.create({ type: 'WEB_PROXY', name: 'mine' });
    await expect(ik(TENANT.privateKey).accounts.origins.get(mine.id)).rejects.toMatchObject({ status: 404 });
    expect(await ik(TENANT.privateKey).accounts.origins.list()).toEqual([]);
    await ik().accounts.origins.delete(mine.id);
  });

  it('a URL endpoint with a CLOUDINARY urlRewriter (made with the SDK) serves a Cloudinary-style URL resized; an unmapped parameter → 400 naming it', async () => {
    await ik().files.upload({ file: await toFile(await image(600, 300, '#884422'), 'cld.jpg'), fileName: 'cld.jpg', folder: '/rw/', useUniqueFileName: false });
    const made = await ik().accounts.urlEndpoints.create({ description: 'cloudinary dialect', urlPrefix: 'cld', urlRewriter: { type: 'CLOUDINARY' } });
    expect(made).toMatchObject({ urlPrefix: 'cld', urlRewriter: { type: 'CLOUDINARY', preserveAssetDeliveryTypes: false } });
    expect(await ik().accounts.urlEndpoints.get(made.id)).toMatchObject({ urlRewriter: { type: 'CLOUDINARY' } });
    const res = await until('/cfg/cld/image/upload/w_150,c_scale/v17/rw/cld.jpg', (r) => r.status === 200);
    const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
    expect([meta.width, meta.height]).toEqual([150, 75]);
    // The same image through ImageKit syntax on the default endpoint: the same size.
    expect(await widthOf(await get('/cfg/tr:w-150,c-force/rw/cld.jpg'))).toBe(150);
    const bad = await get('/cfg/cld/image/upload/w_150,l_logo/rw/cld.jpg');
    expect(bad.status).toBe(400);
    expect(bad.headers.get('ik-error') ?? '').toMatch(/l_/);
    await ik().accounts.urlEndpoints.delete(made.id);
  });
});

describe('webhooks (Standard Webhooks, verified with the SDK)', () => {
  const verifier = new ImageKit({ privateKey: 'unused', webhookSecret: HOOK_SECRET });
  type Event = { id: string; type: string; created_at: string; data: Record<string, unknown> };
  /** Waits for an event matching `pick` that the receiver took (2xx); returns it verified by webhooks.unwrap. */
  async function delivered(pick: (e: Event) => boolean, timeoutMs = 10_000): Promise<{ event: Event; raw: Received }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const raw of received.filter((r) => r.status === 200)) {
        const event = verifier.webhooks.unwrap(raw.body, { headers: raw.headers }) as unknown as Event;
        if (pick(event)) return { event, raw };
      }
      if (Date.now() > deadline) throw new Error('no such event was delivered');
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const upload = async (name: string, bytes: Buffer, key = CFG.privateKey) => ik(key).files.upload({ file: await toFile(bytes, name), fileName: name, folder: '/hooks/', useUniqueFileName: false });
  const logOf = async (account: string) => {
    const out = [];
    const list = await s3().send(new ListObjectsV2Command({ Bucket: 'pixmesh-media-eu-central-1', Prefix: `_webhooks/log/${account}/` }));
    for (const o of list.Contents ?? []) out.push(JSON.parse(await (await s3().send(new GetObjectCommand({ Bucket: 'pixmesh-media-eu-central-1', Key: o.Key! }))).Body!.transformToString()) as { eventId: string; outcome: string; attempts: { status?: number; error?: string }[] });
    return out;
  };
  /** The log entry of one event once it has an outcome: the sender writes it after the endpoint's answer, so a test that saw the delivery may look before it lands. */
  const loggedOutcome = async (account: string, eventId: string, timeoutMs = 10_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const entry = (await logOf(account)).find((d) => d.eventId === eventId && d.outcome);
      if (entry) return entry;
      if (Date.now() > deadline) throw new Error(`no logged outcome for event ${eventId} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  it('an upload sends file.created with the File as data, which the SDK unwraps (signature checked); a changed byte fails verification', async () => {
    const up = await upload('a.jpg', await image(40, 30, '#123456'));
    const { event, raw } = await delivered((e) => e.type === 'file.created' && e.data.fileId === up.fileId);
    expect(event).toMatchObject({ id: raw.headers['webhook-id'], type: 'file.created', data: { fileId: up.fileId, name: 'a.jpg', filePath: '/hooks/a.jpg', width: 40, height: 30 } });
    expect(Date.parse(event.created_at)).toBeGreaterThan(Date.now() - 60_000);
    expect(raw.headers['webhook-signature']).toMatch(/^v1,/);
    // unsafeUnwrap parses without checking: the same event.
    expect(verifier.webhooks.unsafeUnwrap(raw.body)).toEqual(event);
    expect(() => verifier.webhooks.unwrap(raw.body.replace('a.jpg', 'b.jpg'), { headers: raw.headers })).toThrow();
    expect(() => new ImageKit({ privateKey: 'x', webhookSecret: 'another-secret-0123456789' }).webhooks.unwrap(raw.body, { headers: raw.headers })).toThrow();
  });

  it('overwrite, update, version delete and delete send file-version.created, file.updated, file-version.deleted, file.deleted', async () => {
    const v1 = await upload('b.jpg', await image(20, 20, '#111111'));
    const v2 = await upload('b.jpg', await image(22, 20, '#222222'));
    expect((await delivered((e) => e.type === 'file-version.created' && e.data.fileId === v1.fileId)).event.data).toMatchObject({ width: 22, versionInfo: { id: v2.versionInfo!.id } });
    await ik().files.update(v1.fileId!, { tags: ['hooked'] });
    expect((await delivered((e) => e.type === 'file.updated' && e.data.fileId === v1.fileId)).event.data).toMatchObject({ tags: ['hooked'] });
    await ik().files.versions.delete(v1.versionInfo!.id!, { fileId: v1.fileId! });
    expect((await delivered((e) => e.type === 'file-version.deleted')).event.data).toEqual({ fileId: v1.fileId, versionId: v1.versionInfo!.id });
    await ik().files.delete(v1.fileId!);
    expect((await delivered((e) => e.type === 'file.deleted' && e.data.fileId === v1.fileId)).event.data).toEqual({ fileId: v1.fileId });
  });

  it('a failing endpoint is retried with backoff, same webhook-id, until it answers 2xx; the delivery log records every attempt', async () => {
    let failures = 2;
    answer = () => (failures-- > 0 ? 500 : 200);
    try {
      const up = await upload('retry.jpg', await image(10, 10, '#333333'));
      const { event } = await delivered((e) => e.type === 'file.created' && e.data.fileId === up.fileId);
      const attempts = received.filter((r) => r.headers['webhook-id'] === event.id);
      expect(attempts).toHaveLength(3);
      const entry = await loggedOutcome('cfg', event.id);
      expect(entry).toMatchObject({ outcome: 'delivered', attempts: [{ status: 500 }, { status: 500 }, { status: 200 }] });
    } finally {
      answer = () => 200;
    }
  });

  it('a pending delivery survives a restart of the home region and is delivered after it', async () => {
    answer = () => 503;
    let up;
    try {
      up = await upload('durable.jpg', await image(12, 12, '#444444'));
      // Stored before the upload answered: the pending record is in the home bucket.
      const pending = await s3().send(new ListObjectsV2Command({ Bucket: 'pixmesh-media-eu-central-1', Prefix: '_webhooks/pending/cfg/' }));
      expect(pending.KeyCount).toBeGreaterThan(0);
      await cluster.stopRegion('eu-central-1', 'SIGKILL');
    } finally {
      answer = () => 200;
    }
    const before = received.length;
    await cluster.startRegion('eu-central-1');
    const { event } = await delivered((e) => e.type === 'file.created' && e.data.fileId === up.fileId, 15_000);
    expect(received.slice(before).some((r) => r.headers['webhook-id'] === event.id)).toBe(true);
  });

  it('an endpoint on a private address without the opt-in is never called: the log says failed, refused by the address check', async () => {
    const before = received.length;
    const up = await upload('t.jpg', await image(8, 8, '#555555'), TENANT.privateKey);
    const deadline = Date.now() + 10_000;
    let entry;
    while (!(entry = (await logOf('tenant')).find((d) => d.outcome))) {
      if (Date.now() > deadline) throw new Error('no outcome logged');
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(entry.outcome).toBe('failed');
    expect(entry.attempts).toHaveLength(4);
    for (const a of entry.attempts) expect(a.error).toMatch(/EACCES: source address not allowed/);
    expect(received.slice(before).some((r) => r.body.includes(up.fileId!))).toBe(false);
  });
});

describe('webhook endpoints through the API (/v1/accounts/webhooks, plain fetch)', () => {
  const API_SECRET = 'api-made-hook-secret-0123456789';
  const api = (path: string, init: { method?: string; body?: unknown; key?: string } = {}) =>
    fetch(`${cluster.edgeUrl}/v1/accounts/webhooks${path}`, {
      method: init.method ?? 'GET',
      headers: { authorization: `Basic ${Buffer.from(`${init.key ?? CFG.privateKey}:`).toString('base64')}`, 'content-type': 'application/json', 'x-pixmesh-colo': 'FRA' },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
  const upload = async (name: string) => ik().files.upload({ file: await toFile(await image(16, 12, '#abcdef'), name), fileName: name, folder: '/apihooks/', useUniqueFileName: false });
  const verifier = new ImageKit({ privateKey: 'unused', webhookSecret: API_SECRET });
  let id: string;

  it('POST makes an endpoint answered with its secret only as a hint (create, get, list); without the private key → 401', async () => {
    const res = await api('', { method: 'POST', body: { url: `${hookUrl}/api`, secret: API_SECRET, events: ['file.created'], description: 'made by API' } });
    expect(res.status).toBe(201);
    const made = (await res.json()) as Record<string, unknown>;
    expect(made).toMatchObject({ url: `${hookUrl}/api`, events: ['file.created'], description: 'made by API', secretHint: '…6789' });
    id = made.id as string;
    expect(JSON.stringify(made)).not.toContain(API_SECRET);
    const one = await (await api(`/${id}`)).text();
    const all = await (await api('')).text();
    expect(JSON.parse(one)).toEqual(made);
    expect(JSON.parse(all)).toEqual([made]);
    expect(one + all).not.toContain(API_SECRET);
    expect((await api('', { key: 'private_wrong_key_0123456789' })).status).toBe(401);
  });

  it.each([
    [{ secret: API_SECRET }, /url is required/],
    [{ url: 'ftp://example.com/x', secret: API_SECRET }, /url must be an http\(s\) URL/],
    [{ url: 'https://example.com/x', secret: 'short' }, /secret is required/],
    [{ url: 'https://example.com/x', secret: API_SECRET, events: ['file.exploded'] }, /events must be/],
    [{ url: 'https://example.com/x', secret: API_SECRET, colour: 'red' }, /colour is not a field/],
  ])('a bad body %j → 400 {message, help} naming the field', async (body, message) => {
    const res = await api('', { method: 'POST', body });
    expect(res.status).toBe(400);
    const err = (await res.json()) as { message: string; help: string };
    expect(err.message).toMatch(message);
    expect(typeof err.help).toBe('string');
  });

  it('an account without the private-network opt-in cannot point an endpoint at a loopback address (400 naming url); unknown id → 404', async () => {
    const res = await api('', { method: 'POST', key: TENANT.privateKey, body: { url: `${hookUrl}/api`, secret: API_SECRET } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/url names a private or reserved address: 127\.0\.0\.1/);
    expect((await api(`/${id}`, { key: TENANT.privateKey })).status).toBe(404);
    expect((await api('/0123456789abcdef01234567')).status).toBe(404);
  });

  it('an SDK upload is delivered to the API-made endpoint (unwrap verifies it with that secret) as well as to the account file\'s; after DELETE it gets no more events', async () => {
    const up = await upload('api-a.jpg');
    const deadline = Date.now() + 10_000;
    const forFile = (fileId: string, path: string) => received.filter((r) => r.path === path && r.status === 200 && r.body.includes(fileId));
    while (forFile(up.fileId!, '/hooks/api').length === 0 || forFile(up.fileId!, '/hooks').length === 0) {
      if (Date.now() > deadline) throw new Error('the event did not reach both endpoints');
      await new Promise((r) => setTimeout(r, 100));
    }
    const raw = forFile(up.fileId!, '/hooks/api')[0]!;
    const event = verifier.webhooks.unwrap(raw.body, { headers: raw.headers }) as unknown as { type: string; data: { fileId: string } };
    expect(event).toMatchObject({ type: 'file.created', data: { fileId: up.fileId } });
    // Signed with the API endpoint's secret, not the account file's.
    expect(() => new ImageKit({ privateKey: 'x', webhookSecret: HOOK_SECRET }).webhooks.unwrap(raw.body, { headers: raw.headers })).toThrow();
    // Its event filter holds: an update (file.updated) reaches the file's endpoint only.
    await ik().files.update(up.fileId!, { tags: ['t'] });

    expect((await api(`/${id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await api(`/${id}`)).status).toBe(404);
    const after = await upload('api-b.jpg');
    const until2 = Date.now() + 10_000;
    while (forFile(after.fileId!, '/hooks').length === 0) {
      if (Date.now() > until2) throw new Error('the account file endpoint got no event');
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 500));
    expect(received.filter((r) => r.path === '/hooks/api' && r.body.includes(after.fileId!))).toEqual([]);
    expect(received.filter((r) => r.path === '/hooks/api' && r.body.includes('"file.updated"'))).toEqual([]);
    expect(received.some((r) => r.path === '/hooks' && r.body.includes('"file.updated"') && r.body.includes(up.fileId!))).toBe(true);
  });

  it('PATCH changes the secret (kept hidden) and the events; the next delivery is signed with the new secret', async () => {
    const made = (await (await api('', { method: 'POST', body: { url: `${hookUrl}/api2`, secret: API_SECRET } })).json()) as { id: string; events: string[] };
    expect(made.events).toHaveLength(5);
    const NEW = 'rotated-hook-secret-abcdefghij';
    const res = await api(`/${made.id}`, { method: 'PATCH', body: { secret: NEW, events: ['file.created'] } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: made.id, url: `${hookUrl}/api2`, events: ['file.created'], secretHint: '…ghij' });
    const up = await upload('api-c.jpg');
    const deadline = Date.now() + 10_000;
    let raw;
    while (!(raw = received.find((r) => r.path === '/hooks/api2' && r.body.includes(up.fileId!)))) {
      if (Date.now() > deadline) throw new Error('no delivery to the patched endpoint');
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(new ImageKit({ privateKey: 'x', webhookSecret: NEW }).webhooks.unwrap(raw.body, { headers: raw.headers })).toMatchObject({ type: 'file.created' });
    expect((await api(`/${made.id}`, { method: 'DELETE' })).status).toBe(204);
  });
});
