/**
 * The management API on the edge (ImageKit's shapes; docs/management-api.md):
 *
 *   POST   /api/v1/files/upload          multipart; file as binary, base64 or URL
 *   GET    /v1/files                     list / search (path, name, tags, fileType, type, sort, skip, limit)
 *   GET    /v1/files/:fileId/details
 *   PATCH  /v1/files/:fileId/details     tags, customMetadata, customCoordinates, description, publish
 *   DELETE /v1/files/:fileId             also purges every cached variant (regions + edge)
 *   POST   /v1/files/purge               {url}: exact, or a trailing "*" for a prefix
 *   GET    /v1/files/purge/:requestId    {status: Pending|Completed}
 *
 * Authentication is HTTP Basic with the account's private key as the user name (the password is
 * ignored: the official SDK sends a placeholder). A client-side upload instead carries publicKey,
 * token, expire and signature in the form; the home region verifies those. Every call is
 * forwarded over the signed internal API to the account's HOME region only — files are stored
 * there and nowhere else (plus the backup region for flexible accounts), so there is no failover.
 * Upload bodies are read whole first (bounded in bytes and time) so the home region gets a signed
 * body digest and a slow or abandoned upload holds no region resources; a client-side upload (no
 * Authorization header) is also parsed here, because the account is named inside the form.
 *
 * Edge-cache purging: every purge (and every delete or replacing upload) is recorded for the edge
 * caches by edge/src/edge-purge.ts.
 */
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import type { Account } from '../../shared/accounts.js';
import { readBodyLimited } from '../../shared/body.js';
import { badRequest, isPixmeshError, notFound, unauthorized, parseIkError, PixmeshError, type ErrorCode } from '../../shared/errors.js';
import { timingSafeEqualStr } from '../../shared/internal-auth.js';
import { internalFetch, InternalUnreachable } from '../../shared/internal-fetch.js';
import { parseRegionUrls } from '../../shared/regions.js';
import { parseImagePath } from '../../shared/request.js';
import { forgetAccounts, loadAccounts } from './accounts.js';
import { recordEdgePurge } from './edge-purge.js';
import type { Env } from './env.js';

/** The authenticated account is set by the `requirePrivateKey` middleware. */
type ManagementVars = { Bindings: Env; Variables: { account: Account } };
type ManagementContext = Context<ManagementVars>;

/** A client-side upload is read before forwarding (the account is named inside the form). */
export const CLIENT_UPLOAD_MAX_BYTES = 50 * 1024 * 1024;
/** Largest upload body (multipart) the edge takes with key auth: the 40 MB file plus form overhead. */
export const UPLOAD_MAX_BYTES = 50 * 1024 * 1024;
/** A whole upload body must arrive within this (a client trickling bytes is cut off: 408). */
export const UPLOAD_BODY_DEADLINE_MS = 120_000;
const UPLOAD_TIMEOUT_MS = 5 * 60_000;
const CALL_TIMEOUT_MS = 20_000;


/** The private key from `Authorization: Basic base64(privateKey:anything)`, or undefined. */
export function basicUser(header: string | undefined): string | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!m) return undefined;
  let decoded: string;
  try {
    decoded = atob(m[1]!);
  } catch {
    return undefined;
  }
  const colon = decoded.indexOf(':');
  return colon < 0 ? decoded : decoded.slice(0, colon);
}

/** Every account is compared (constant time per key), so timing says nothing about which matched. */
function byKey(accounts: Account[], field: 'privateKey' | 'publicKey', key: string): Account | undefined {
  let found: Account | undefined;
  for (const a of accounts) if (a[field] && timingSafeEqualStr(a[field], key) && !found) found = a;
  return found;
}

/** The account whose private key the request's HTTP Basic carries (401 otherwise); the dashboard uses it too. */
export async function authenticate(env: Env, header: string | undefined): Promise<Account> {
  if (!header) throw unauthorized('Your request does not contain private API key.');
  const key = basicUser(header);
  if (!key) throw unauthorized('Your request does not contain a valid Authorization header (HTTP Basic, private key as the user name).');
  const account = byKey((await loadAccounts(env)).accounts, 'privateKey', key);
  if (!account) throw unauthorized('Your account cannot be authenticated.');
  return account;
}

/** Middleware: HTTP Basic with the private key; the account lands in c.var.account. */
const requirePrivateKey: MiddlewareHandler<ManagementVars> = async (c, next) => {
  c.set('account', await authenticate(c.env, c.req.header('authorization')));
  await next();
};

/** A signed call to the account's home region. */
async function callHome(
  c: ManagementContext,
  account: Account,
  method: string,
  pathAndQuery: string,
  init: { body?: string | Uint8Array | null; contentType?: string; contentLength?: string; timeoutMs?: number } = {},
): Promise<Response> {
  const base = parseRegionUrls(c.env.PIXMESH_REGION_URLS)[account.homeRegion];
  if (!base) throw new PixmeshError(503, 'EUPSTREAM', `no URL configured for the home region ${account.homeRegion}`);
  const headers = new Headers();
  if (init.contentType) headers.set('content-type', init.contentType);
  if (init.contentLength) headers.set('content-length', init.contentLength);
  try {
    return await internalFetch({
      secret: c.env.PIXMESH_INTERNAL_SECRET,
      baseUrl: base,
      target: account.homeRegion,
      method,
      pathAndQuery,
      headers,
      body: init.body ?? null,
      timeoutMs: init.timeoutMs ?? CALL_TIMEOUT_MS,
    });
  } catch (e) {
    if (!(e instanceof InternalUnreachable)) throw e;
    throw new PixmeshError(e.timedOut ? 504 : 503, 'EUPSTREAM', `the home region (${account.homeRegion}) ${e.timedOut ? 'timed out' : 'is unavailable'}; try again shortly`);
  }
}

/** Home answer → client answer: 2xx JSON passes; an error is thrown (the edge's one error mapper answers it). */
async function relay(res: Response, status = res.status): Promise<Response> {
  if (res.ok) return new Response(res.body, { status, headers: { 'content-type': 'application/json', 'cache-control': 'no-store' } });
  const ik = parseIkError(res.headers.get('ik-error'));
  let message = ik?.message || `the home region answered ${res.status}`;
  try {
    const body = (await res.json()) as { message?: string };
    if (typeof body.message === 'string') message = body.message;
  } catch {
    /* not JSON */
  }
  // The home region is busy (503) or the account over its share (429): the client hears that, with
  // the region's Retry-After, not a 502 (#12 point 6).
  if ((res.status === 503 || res.status === 429) && ik?.code === 'EBUSY') {
    const retry = Number(res.headers.get('retry-after'));
    throw new PixmeshError(res.status, 'EBUSY', message, { retryAfter: Number.isFinite(retry) && retry > 0 ? retry : 1 });
  }
  // 421 = "not the home region" (account file out of sync between tiers): retryable for the client.
  const out = res.status === 421 ? 503 : res.status >= 500 ? 502 : res.status;
  throw new PixmeshError(out, (ik?.code || 'EUPSTREAM') as ErrorCode, message);
}

/** Must match origin/src/media/index.ts REPLACED_PATH_HEADER. */
const REPLACED_PATH_HEADER = 'x-pixmesh-replaced-path';

function withCors(res: Response): Response {
  const out = new Response(res.body, res);
  out.headers.set('access-control-allow-origin', '*');
  out.headers.set('access-control-allow-methods', 'POST, OPTIONS');
  out.headers.set('access-control-allow-headers', 'content-type, authorization');
  out.headers.set('access-control-max-age', '86400');
  return out;
}

const mediaPath = (account: Account, rest: string) => `/internal/media/${encodeURIComponent(account.id)}${rest}`;
const urlEndpoint = (c: ManagementContext, account: Account) => `${new URL(c.req.url).origin}/${account.id}`;

/** A purge URL → the account's path (inside its endpoint) or prefix. */
export function purgeTarget(account: Account, raw: string): { path: string; prefix: boolean } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw badRequest('url must be an absolute URL of a file, e.g. https://<edge>/<account>/path/to/file.jpg');
  }
  let rest = url.pathname;
  if (!account.customDomains.includes(url.host.toLowerCase())) {
    const first = `/${account.id}`;
    if (rest !== first && !rest.startsWith(`${first}/`)) throw badRequest(`url does not belong to account "${account.id}"`);
    rest = rest.slice(first.length);
  }
  const star = rest.indexOf('*') >= 0 ? rest.indexOf('*') : rest.indexOf('%2A');
  const prefix = star >= 0;
  if (prefix) {
    if (star !== rest.length - (rest.endsWith('%2A') ? 3 : 1) || url.search) throw badRequest('a wildcard "*" is allowed only at the end of the url');
    rest = rest.slice(0, star);
    if (rest === '' || rest === '/') return { path: '', prefix: true };
  }
  // Endpoint prefix and tr: segments come off; a prefix keeps its trailing "/" or partial name.
  const trailing = prefix && rest.endsWith('/');
  let parsed;
  try {
    parsed = parseImagePath(account, trailing ? rest.replace(/\/+$/, '') : rest, prefix ? '' : url.search);
  } catch (e) {
    // "<endpoint prefix>/*": nothing left after the endpoint. Cached paths are relative to their
    // endpoint, so this purges the account's whole cache (more than asked, never less).
    if (prefix && isPixmeshError(e) && e.status === 404) return { path: '', prefix: true };
    throw e;
  }
  return { path: trailing ? `${parsed.path}/` : parsed.path, prefix };
}

// ---------------------------------------------------------------------------------------------

const UPLOAD_PATHS = ['/api/v1/files/upload', '/api/v2/files/upload'];
/** Must match origin/src/media/library.ts EDGE_PURGE_HEADER. */
const EDGE_PURGE_HEADER = 'x-pixmesh-edge-purge';
const LIBRARY_BODY_MAX_BYTES = 1024 * 1024;
const LIBRARY_METADATA_MAX_BYTES = 50 * 1024 * 1024;
const NOT_FOUND = { fileId: 'The requested file does not exist.', versionId: 'The requested file version does not exist.', jobId: 'No job found with this jobId.', id: 'No such object.' };
/** Public calls forwarded as they are to the home region (origin/src/media/library.ts). */
export const LIBRARY_ROUTES: [string, string][] = [
  ['POST', '/v1/files/copy'],
  ['POST', '/v1/files/move'],
  ['PUT', '/v1/files/rename'],
  ['POST', '/v1/files/batch/deleteByFileIds'],
  ['POST', '/v1/files/addTags'],
  ['POST', '/v1/files/removeTags'],
  ['POST', '/v1/files/removeAITags'],
  ['POST', '/v1/folder'],
  ['DELETE', '/v1/folder'],
  ['POST', '/v1/bulkJobs/copyFolder'],
  ['POST', '/v1/bulkJobs/moveFolder'],
  ['POST', '/v1/bulkJobs/renameFolder'],
  ['GET', '/v1/bulkJobs/:jobId'],
  ['GET', '/v1/files/:fileId/versions'],
  ['GET', '/v1/files/:fileId/versions/:versionId'],
  ['DELETE', '/v1/files/:fileId/versions/:versionId'],
  ['PUT', '/v1/files/:fileId/versions/:versionId/restore'],
  ['GET', '/v1/files/:fileId/metadata'],
  ['POST', '/v1/customMetadataFields'],
  ['GET', '/v1/customMetadataFields'],
  ['PATCH', '/v1/customMetadataFields/:id'],
  ['DELETE', '/v1/customMetadataFields/:id'],
  ['GET', '/v1/named-transformations'],
  ['POST', '/v1/named-transformations'],
  ['GET', '/v1/named-transformations/:id'],
  ['PATCH', '/v1/named-transformations/:id'],
  ['DELETE', '/v1/named-transformations/:id'],
  ['GET', '/v1/accounts/usage'],
  ['GET', '/v1/accounts/origins'],
  ['POST', '/v1/accounts/origins'],
  ['GET', '/v1/accounts/origins/:id'],
  ['PUT', '/v1/accounts/origins/:id'],
  ['DELETE', '/v1/accounts/origins/:id'],
  ['GET', '/v1/accounts/url-endpoints'],
  ['POST', '/v1/accounts/url-endpoints'],
  ['GET', '/v1/accounts/url-endpoints/:id'],
  ['PUT', '/v1/accounts/url-endpoints/:id'],
  ['DELETE', '/v1/accounts/url-endpoints/:id'],
  ['GET', '/v1/accounts/webhooks'],
  ['POST', '/v1/accounts/webhooks'],
  ['GET', '/v1/accounts/webhooks/:id'],
  ['PATCH', '/v1/accounts/webhooks/:id'],
  ['DELETE', '/v1/accounts/webhooks/:id'],
];
/** Calls that change the account's configuration: this isolate re-reads the directory at once. */
const CONFIG_PREFIXES = ['/v1/named-transformations', '/v1/accounts/origins', '/v1/accounts/url-endpoints'];

/** Records the purges a home answer names (URI-encoded JSON [{path, prefix}]). */
async function recordFromHeader(env: Env, accountId: string, header: string | null): Promise<void> {
  if (!header) return;
  let items: unknown;
  try {
    items = JSON.parse(decodeURIComponent(header));
  } catch {
    return;
  }
  if (!Array.isArray(items)) return;
  for (const i of items as { path?: unknown; prefix?: unknown }[])
    if (typeof i.path === 'string' && typeof i.prefix === 'boolean') await recordEdgePurge(env, accountId, i.path, i.prefix);
}

/** The edge's own image route, in process (files.metadata.getFromURL reads what a URL delivers). */
export type Deliver = (req: Request, env: Env, ctx: ExecutionContext | undefined) => Promise<Response>;

export function managementRoutes(deliver?: Deliver): Hono<ManagementVars> {
  const app = new Hono<ManagementVars>();
  // Browsers upload straight to the edge: every upload answer (errors too) carries CORS headers.
  app.use('/api/v*/files/upload', async (c, next) => {
    await next();
    c.res = withCors(c.res);
  });
  // Every /v1 call is authenticated by its private key (an unknown /v1 path without one is a 401 too).
  app.use('/v1/*', requirePrivateKey);

  // v2 (beta.v2.files.upload) takes the same form and answers the same file.
  app.on('POST', UPLOAD_PATHS, async (c) => {
    const contentType = c.req.header('content-type') ?? '';
    if (!/^multipart\/form-data\b/i.test(contentType)) throw badRequest('the upload must be multipart/form-data');
    let account: Account;
    let body: Uint8Array;
    let contentLength = c.req.header('content-length');
    let auth: 'key' | 'signature';
    if (c.req.header('authorization')) {
      account = await authenticate(c.env, c.req.header('authorization'));
      // Buffered (bounded in bytes and time) so the home region gets a signed body digest, and a
      // slow client holds no region resources: the region sees the upload only once it is whole.
      body = await readBodyLimited(c.req.raw.body, { maxBytes: UPLOAD_MAX_BYTES, deadlineMs: UPLOAD_BODY_DEADLINE_MS, what: 'the upload body' });
      contentLength = String(body.length);
      auth = 'key';
    } else {
      const bytes = await readBodyLimited(c.req.raw.body, { maxBytes: CLIENT_UPLOAD_MAX_BYTES, what: 'a client-side upload' });
      let publicKey: unknown;
      try {
        publicKey = (await new Response(bytes, { headers: { 'content-type': contentType } }).formData()).get('publicKey');
      } catch {
        throw badRequest('the multipart body could not be parsed');
      }
      if (typeof publicKey !== 'string' || !publicKey) throw unauthorized('Your request does not contain private API key.');
      const found = byKey((await loadAccounts(c.env)).accounts, 'publicKey', publicKey);
      if (!found) throw unauthorized('Your account cannot be authenticated.');
      account = found;
      body = bytes;
      contentLength = String(bytes.length);
      auth = 'signature';
    }
    const q = new URLSearchParams({ auth, endpoint: urlEndpoint(c, account) });
    const res = await callHome(c, account, 'POST', mediaPath(account, `/files/upload?${q}`), { body, contentType, contentLength, timeoutMs: UPLOAD_TIMEOUT_MS });
    // The upload replaced a file: its old variants are stale in this colo's (and every colo's) edge cache.
    const replaced = res.headers.get(REPLACED_PATH_HEADER);
    if (res.ok && replaced) await recordEdgePurge(c.env, account.id, decodeURIComponent(replaced), false);
    if (res.ok) await recordFromHeader(c.env, account.id, res.headers.get(EDGE_PURGE_HEADER)); // variants using it as a layer or font
    return relay(res);
  });

  // Browsers upload straight to the edge (client-side upload): a multipart POST is a simple
  // request, but answer a preflight too, for clients that add headers.
  app.on('OPTIONS', UPLOAD_PATHS, () => new Response(null, { status: 204 }));

  app.get('/v1/files', async (c) => {
    const account = c.var.account;
    const q = new URLSearchParams(new URL(c.req.url).search);
    q.delete('endpoint');
    q.set('endpoint', urlEndpoint(c, account));
    return relay(await callHome(c, account, 'GET', mediaPath(account, `/files?${q}`)));
  });

  app.get('/v1/files/purge/:requestId', async (c) => {
    const account = c.var.account;
    const id = c.req.param('requestId');
    if (!/^[0-9a-f]{24}$/.test(id)) throw new PixmeshError(404, 'ENOENT', 'No purge request with this id.');
    const res = await callHome(c, account, 'GET', mediaPath(account, `/purge/${id}`));
    if (!res.ok) return relay(res);
    const r = (await res.json()) as { status: string };
    return c.json({ status: r.status }, 200, { 'cache-control': 'no-store' });
  });

  app.get('/v1/files/:fileId/details', async (c) => {
    const account = c.var.account;
    const id = c.req.param('fileId');
    if (!/^[0-9a-f]{24}$/.test(id)) throw new PixmeshError(404, 'ENOENT', 'The requested file does not exist.');
    const q = new URLSearchParams({ endpoint: urlEndpoint(c, account) });
    return relay(await callHome(c, account, 'GET', mediaPath(account, `/files/${id}?${q}`)));
  });

  app.patch('/v1/files/:fileId/details', async (c) => {
    const account = c.var.account;
    const id = c.req.param('fileId');
    if (!/^[0-9a-f]{24}$/.test(id)) throw new PixmeshError(404, 'ENOENT', 'The requested file does not exist.');
    const body = await c.req.text();
    if (body.length > 64 * 1024) throw new PixmeshError(413, 'ELIMIT', 'the update is over 64 KB');
    const q = new URLSearchParams({ endpoint: urlEndpoint(c, account) });
    const res = await callHome(c, account, 'PATCH', mediaPath(account, `/files/${id}?${q}`), { body, contentType: 'application/json' });
    if (res.ok) await recordFromHeader(c.env, account.id, res.headers.get(EDGE_PURGE_HEADER)); // a new focus area: fo-custom variants are stale
    return relay(res);
  });

  app.delete('/v1/files/:fileId', async (c) => {
    const account = c.var.account;
    const id = c.req.param('fileId');
    if (!/^[0-9a-f]{24}$/.test(id)) throw new PixmeshError(404, 'ENOENT', 'The requested file does not exist.');
    const res = await callHome(c, account, 'DELETE', mediaPath(account, `/files/${id}`));
    if (!res.ok) return relay(res);
    const done = (await res.json()) as { path: string };
    await recordEdgePurge(c.env, account.id, done.path, false);
    await recordFromHeader(c.env, account.id, res.headers.get(EDGE_PURGE_HEADER)); // variants using it as a layer or font
    return new Response(null, { status: 204, headers: { 'cache-control': 'no-store' } });
  });

  app.post('/v1/files/purge', async (c) => {
    const account = c.var.account;
    const body = (await c.req.json().catch(() => null)) as { url?: unknown } | null;
    if (!body || typeof body.url !== 'string' || !body.url) throw badRequest('Missing url parameter: {"url": "<file URL>"}');
    const target = purgeTarget(account, body.url);
    const res = await callHome(c, account, 'POST', mediaPath(account, '/purge'), {
      body: JSON.stringify({ url: body.url, ...target }),
      contentType: 'application/json',
    });
    if (!res.ok) return relay(res);
    await recordEdgePurge(c.env, account.id, target.path, target.prefix);
    await recordFromHeader(c.env, account.id, res.headers.get(EDGE_PURGE_HEADER)); // variants using the file as a layer
    const r = (await res.json()) as { requestId: string };
    return c.json({ requestId: r.requestId }, 201, { 'cache-control': 'no-store' });
  });

  // The rest of the media library (origin/src/media/library.ts): forwarded to the home region
  // unchanged (method, path, query, JSON body). Answers that make cached variants stale name the
  // paths in EDGE_PURGE_HEADER, which this colo records (and KV carries to the others).
  for (const [method, path] of LIBRARY_ROUTES)
    app.on(method, path, async (c) => {
      const account = c.var.account;
      for (const name of ['fileId', 'versionId', 'jobId', 'id'] as const) {
        const v = c.req.param(name as never) as string | undefined;
        // The default URL endpoint's id is "default" (as on ImageKit); every other id is 24 hex digits.
        if (v !== undefined && !/^[0-9a-f]{24}$/.test(v) && !(name === 'id' && v === 'default')) throw new PixmeshError(404, 'ENOENT', NOT_FOUND[name]);
      }
      const q = new URLSearchParams(new URL(c.req.url).search);
      q.set('endpoint', urlEndpoint(c, account));
      const hasBody = method !== 'GET';
      const body = hasBody && c.req.raw.body ? new TextDecoder().decode(await readBodyLimited(c.req.raw.body, { maxBytes: LIBRARY_BODY_MAX_BYTES, what: 'the request body' })) : undefined;
      const res = await callHome(c, account, method, mediaPath(account, `${c.req.path}?${q}`), body === undefined ? {} : { body, contentType: 'application/json' });
      await recordFromHeader(c.env, account.id, res.headers.get(EDGE_PURGE_HEADER));
      // The home region applied the change at once (the others within their poll): read it there next.
      if (res.ok && method !== 'GET' && CONFIG_PREFIXES.some((p) => c.req.path.startsWith(p))) forgetAccounts(account.homeRegion);
      return relay(res);
    });

  // files.metadata.getFromURL: the URL is delivered by this edge (any transformation applied), and
  // the home region reads the delivered bytes.
  app.get('/v1/metadata', async (c) => {
    const account = c.var.account;
    const raw = c.req.query('url');
    if (!raw) throw badRequest('Missing url parameter: the URL of a file of this account');
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw badRequest('url must be an absolute URL of a file of this account');
    }
    const ours = account.customDomains.includes(url.host.toLowerCase()) || (url.host === new URL(c.req.url).host && url.pathname.startsWith(`/${account.id}/`));
    if (!ours) throw badRequest(`url does not belong to account "${account.id}"`);
    if (!deliver) throw new PixmeshError(501, 'EUPSTREAM', 'metadata from URL is not available on this edge');
    let ctx: ExecutionContext | undefined;
    try {
      ctx = c.executionCtx;
    } catch {
      ctx = undefined;
    }
    const delivered = await deliver(new Request(url, { headers: { accept: 'image/*' } }), c.env, ctx);
    if (!delivered.ok) {
      await delivered.body?.cancel();
      throw new PixmeshError(delivered.status === 404 ? 404 : 400, delivered.status === 404 ? 'ENOENT' : 'EBADTR', `the url answered ${delivered.status}`);
    }
    const bytes = await readBodyLimited(delivered.body, { maxBytes: LIBRARY_METADATA_MAX_BYTES, what: 'the delivered file' });
    const ext = (url.pathname.split('/').pop() ?? '').split('.').pop() ?? '';
    const res = await callHome(c, account, 'POST', mediaPath(account, `/metadata?${new URLSearchParams({ ext })}`), { body: bytes, contentType: 'application/octet-stream', contentLength: String(bytes.length) });
    return relay(res);
  });

  // Everything else under the reserved /api and /v1 prefixes.
  const noRoute = () => {
    throw notFound('No such API endpoint.');
  };
  app.all('/api/*', noRoute);
  app.all('/v1/*', noRoute);
  return app;
}
