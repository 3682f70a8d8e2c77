/**
 * Origins and URL endpoints as data (`client.accounts.origins.*`, `client.accounts.urlEndpoints.*`;
 * docs/management-api.md "Origins and URL endpoints"). Stored with the rest of the account's
 * configuration in the control-plane bucket (origin/src/account-config.ts) and laid over the
 * account file as its `endpoints`, so the regions fetch from them and the edge matches their
 * prefixes like any endpoint of the file.
 *
 *   GET    /v1/accounts/origins            → OriginResponse[]   (no secret ever)
 *   POST   /v1/accounts/origins            OriginRequest → 201 OriginResponse
 *   GET    /v1/accounts/origins/:id        → OriginResponse
 *   PUT    /v1/accounts/origins/:id        OriginRequest (whole) → OriginResponse
 *   DELETE /v1/accounts/origins/:id        → 204; an origin a URL endpoint uses → 409
 *   GET    /v1/accounts/url-endpoints      → URLEndpointResponse[]
 *   POST   /v1/accounts/url-endpoints      {description, origins, urlPrefix} → 201
 *   GET    /v1/accounts/url-endpoints/:id
 *   PUT    /v1/accounts/url-endpoints/:id  {description, origins?, urlPrefix?} → URLEndpointResponse
 *   DELETE /v1/accounts/url-endpoints/:id  → 204; the default endpoint ("") → 400
 *
 * The origin types pixmesh fetches from are S3, S3_COMPATIBLE, WEB_FOLDER and WEB_PROXY; the
 * others the SDK declares (GCS, AZURE_BLOB, AKENEO_PIM, CLOUDINARY_BACKUP) → 400 naming the type.
 * Origins made here are the customer's, not the operator's: an S3-compatible endpoint, a web
 * folder and a web proxy reach only public addresses, unless the account file's
 * `managedOrigins.allowPrivateNetwork` says otherwise (docs/management-api.md).
 *
 * Pure parts (validation, public shapes, the overlay) are exported for table tests.
 */
import crypto from 'node:crypto';
import net from 'node:net';
import type { Account, Endpoint, SourceConfig } from '../../shared/accounts.js';
import { badRequest } from '../../shared/errors.js';
import { parseUrlRewriter, type UrlRewriter } from '../../shared/url-rewriters.js';
import { classifyAddress } from './sources/private-net.js';

export type OriginType = 'S3' | 'S3_COMPATIBLE' | 'WEB_FOLDER' | 'WEB_PROXY';
const SUPPORTED: OriginType[] = ['S3', 'S3_COMPATIBLE', 'WEB_FOLDER', 'WEB_PROXY'];
const DECLARED_ELSEWHERE = ['CLOUDINARY_BACKUP', 'GCS', 'AZURE_BLOB', 'AKENEO_PIM'];

/** One origin as stored: ImageKit's fields plus what pixmesh fetches with (`source`, secrets included). */
export interface StoredOrigin {
  id: string;
  name: string;
  type: OriginType;
  includeCanonicalHeader: boolean;
  baseUrlForCanonicalHeader?: string;
  forwardHostHeaderToOrigin?: boolean;
  /** Set for origins created through the API (their addresses are checked); absent for the account file's. */
  managed?: boolean;
  source: Exclude<SourceConfig, { type: 'media' }>;
}

export interface StoredEndpoint {
  id: string;
  description: string;
  urlPrefix: string;
  /** Origin ids, in the order they are tried (after the media library when `media`). */
  origins: string[];
  /** The media library is tried first (always for endpoints made here, as on ImageKit). */
  media: boolean;
  urlRewriter?: UrlRewriter;
}

export const LIMITS = { origins: 50, endpoints: 20, originsPerEndpoint: 10, name: 200, url: 2000 };

type Body = Record<string, unknown>;
const derivedId = (accountId: string, what: string) => crypto.createHash('sha1').update(`${accountId}\n${what}`).digest('hex').slice(0, 24);
export const newConfigId = () => crypto.randomBytes(12).toString('hex');

function str(b: Body, field: string, opts: { required?: boolean; max?: number; allowEmpty?: boolean } = {}): string | undefined {
  const v = b[field];
  if (v === undefined || v === null) {
    if (opts.required) throw badRequest(`${field} is required`);
    return undefined;
  }
  if (typeof v !== 'string') throw badRequest(`${field} must be a string`);
  if (!opts.allowEmpty && opts.required && v.trim() === '') throw badRequest(`${field} must not be empty`);
  if (v.length > (opts.max ?? LIMITS.url)) throw badRequest(`${field} is over ${opts.max ?? LIMITS.url} characters`);
  return v;
}
function bool(b: Body, field: string): boolean | undefined {
  const v = b[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw badRequest(`${field} must be a boolean`);
  return v;
}
function httpUrl(value: string, field: string): URL {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw badRequest(`${field} must be an absolute http(s) URL (got "${value.slice(0, 100)}")`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw badRequest(`${field} must be an http(s) URL (got ${u.protocol})`);
  return u;
}

/** An address literal a customer's origin may not name (the name's addresses are checked when it is fetched). */
export function literalRefused(u: URL, allowPrivateNetwork: boolean): string | undefined {
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  if (!net.isIP(host)) return host === 'localhost' || host.endsWith('.localhost') ? host : undefined;
  const cls = classifyAddress(host);
  if (cls === 'invalid' || (!allowPrivateNetwork && cls !== 'public')) return `${host} (${cls})`;
  return undefined;
}

const KNOWN_FIELDS: Record<OriginType, string[]> = {
  S3: ['accessKey', 'secretKey', 'bucket', 'prefix', 'useIAMRole'],
  S3_COMPATIBLE: ['accessKey', 'secretKey', 'bucket', 'prefix', 'endpoint', 's3ForcePathStyle'],
  WEB_FOLDER: ['baseUrl', 'forwardHostHeaderToOrigin'],
  WEB_PROXY: [],
};

/** An OriginRequest body → the stored origin (400 naming the field otherwise). */
export function parseOrigin(body: unknown, id: string, account: Pick<Account, 'managedOrigins'>): StoredOrigin {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('the body must be a JSON object (an origin)');
  const b = body as Body;
  const type = b.type;
  if (typeof type !== 'string') throw badRequest(`type is required: one of ${SUPPORTED.join(', ')}`);
  if (DECLARED_ELSEWHERE.includes(type)) throw badRequest(`origin type ${type} is not supported here (pixmesh fetches from ${SUPPORTED.join(', ')})`);
  if (!SUPPORTED.includes(type as OriginType)) throw badRequest(`type must be one of ${SUPPORTED.join(', ')} (got ${JSON.stringify(type).slice(0, 60)})`);
  const t = type as OriginType;
  const allowed = new Set(['type', 'name', 'includeCanonicalHeader', 'baseUrlForCanonicalHeader', ...KNOWN_FIELDS[t]]);
  for (const k of Object.keys(b)) if (!allowed.has(k)) throw badRequest(`${k} is not a field of a ${t} origin`);
  const name = str(b, 'name', { required: true, max: LIMITS.name })!;
  const includeCanonicalHeader = bool(b, 'includeCanonicalHeader') ?? false;
  const canonical = str(b, 'baseUrlForCanonicalHeader');
  if (canonical !== undefined && canonical !== '') httpUrl(canonical, 'baseUrlForCanonicalHeader');
  if (includeCanonicalHeader && !canonical) throw badRequest('baseUrlForCanonicalHeader is required when includeCanonicalHeader is true');
  const privateOk = account.managedOrigins?.allowPrivateNetwork === true;
  const common = { id, name, type: t, includeCanonicalHeader, ...(canonical ? { baseUrlForCanonicalHeader: canonical } : {}), managed: true };
  switch (t) {
    case 'S3':
    case 'S3_COMPATIBLE': {
      const bucket = str(b, 'bucket', { required: true, max: 63 })!;
      if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw badRequest(`bucket "${bucket}" is not a valid S3 bucket name`);
      if (bool(b, 'useIAMRole')) throw badRequest('useIAMRole is not supported here: give accessKey and secretKey');
      const accessKey = str(b, 'accessKey', { required: true, max: 256 })!;
      const secretKey = str(b, 'secretKey', { required: true, max: 256 })!;
      const prefix = (str(b, 'prefix', { max: 1024 }) ?? '').replace(/^\/+|\/+$/g, '');
      let endpoint: string | undefined;
      if (t === 'S3_COMPATIBLE') {
        const u = httpUrl(str(b, 'endpoint', { required: true })!, 'endpoint');
        const refused = literalRefused(u, privateOk);
        if (refused) throw badRequest(`endpoint names a private or reserved address: ${refused}`);
        endpoint = u.origin;
      }
      return {
        ...common,
        source: {
          type: 's3',
          bucket,
          prefix,
          region: 'us-east-1',
          accessKeyId: accessKey,
          secretAccessKey: secretKey,
          ...(endpoint ? { endpoint, forcePathStyle: bool(b, 's3ForcePathStyle') ?? false } : {}),
          allowPrivateNetwork: privateOk,
        },
      };
    }
    case 'WEB_FOLDER': {
      const raw = str(b, 'baseUrl', { required: true })!;
      const u = httpUrl(raw, 'baseUrl');
      if (u.search || u.hash) throw badRequest('baseUrl may not carry a query or a fragment');
      const refused = literalRefused(u, privateOk);
      if (refused) throw badRequest(`baseUrl names a private or reserved address: ${refused}`);
      if (bool(b, 'forwardHostHeaderToOrigin')) throw badRequest('forwardHostHeaderToOrigin is not supported here (the origin gets its own host name)');
      return { ...common, forwardHostHeaderToOrigin: false, source: { type: 'web', baseUrl: u.toString().replace(/\/+$/, ''), allowPrivateNetwork: privateOk } };
    }
    case 'WEB_PROXY':
      // As on ImageKit, any public host; pixmesh keeps signed URLs required for web proxies (docs/security.md).
      return { ...common, source: { type: 'webproxy', allowHosts: ['*'], allowPrivateNetwork: privateOk, requireSignedUrls: true } };
  }
}

/** The origin as the API answers it: OriginResponse, never a key or a secret. */
export function publicOrigin(o: StoredOrigin): Record<string, unknown> {
  const base = { id: o.id, name: o.name, type: o.type, includeCanonicalHeader: o.includeCanonicalHeader, ...(o.baseUrlForCanonicalHeader ? { baseUrlForCanonicalHeader: o.baseUrlForCanonicalHeader } : {}) };
  const s = o.source;
  switch (s.type) {
    case 's3':
      return o.type === 'S3_COMPATIBLE'
        ? { ...base, bucket: s.bucket, prefix: s.prefix, endpoint: s.endpoint ?? '', s3ForcePathStyle: s.forcePathStyle ?? false }
        : { ...base, bucket: s.bucket, prefix: s.prefix, useIAMRole: false };
    case 'web': {
      const u = new URL(s.baseUrl);
      u.username = '';
      u.password = '';
      return { ...base, baseUrl: u.toString().replace(/\/+$/, ''), forwardHostHeaderToOrigin: o.forwardHostHeaderToOrigin ?? false };
    }
    case 'webproxy':
      return base;
  }
}

const PREFIX = /^[A-Za-z0-9-]{0,100}$/;

/** A URLEndpointRequest body → the stored endpoint; `current` for an update (omitted fields are kept). */
export function parseEndpoint(body: unknown, id: string, origins: StoredOrigin[], current?: StoredEndpoint): StoredEndpoint {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('the body must be a JSON object (a URL endpoint)');
  const b = body as Body;
  for (const k of Object.keys(b)) if (!['description', 'origins', 'urlPrefix', 'urlRewriter'].includes(k)) throw badRequest(`${k} is not a field of a URL endpoint`);
  const description = str(b, 'description', { required: true, max: LIMITS.name })!;
  let urlRewriter = current?.urlRewriter;
  if (b.urlRewriter === null) urlRewriter = undefined;
  else if (b.urlRewriter !== undefined) {
    const r = parseUrlRewriter(b.urlRewriter);
    if (typeof r === 'string') throw badRequest(r);
    urlRewriter = r;
  }
  let ids = current?.origins ?? [];
  if (b.origins !== undefined) {
    if (!Array.isArray(b.origins) || b.origins.some((o) => typeof o !== 'string')) throw badRequest('origins must be an array of origin ids');
    ids = b.origins as string[];
    if (ids.length > LIMITS.originsPerEndpoint) throw badRequest(`origins: at most ${LIMITS.originsPerEndpoint} per URL endpoint`);
    if (new Set(ids).size !== ids.length) throw badRequest('origins lists an origin twice');
    const missing = ids.filter((o) => !origins.some((x) => x.id === o));
    if (missing.length) throw badRequest(`origins: no origin with id ${missing.join(', ')} (create it first)`);
  }
  let urlPrefix = current?.urlPrefix ?? '';
  if (b.urlPrefix !== undefined) {
    if (typeof b.urlPrefix !== 'string' || !PREFIX.test(b.urlPrefix)) throw badRequest('urlPrefix may hold letters, digits and hyphens only (or be empty for the default endpoint)');
    urlPrefix = b.urlPrefix;
  }
  if (current && current.urlPrefix === '' && urlPrefix !== '') throw badRequest('the default URL endpoint keeps the empty urlPrefix');
  return { id, description, urlPrefix, origins: ids, media: current?.media ?? true, ...(urlRewriter ? { urlRewriter } : {}) };
}

export const publicEndpoint = (e: StoredEndpoint) => ({ id: e.id, description: e.description, urlPrefix: e.urlPrefix, origins: e.origins, ...(e.urlRewriter ? { urlRewriter: e.urlRewriter } : {}) });

const originType = (s: SourceConfig): OriginType => (s.type === 's3' ? (s.endpoint ? 'S3_COMPATIBLE' : 'S3') : s.type === 'web' ? 'WEB_FOLDER' : 'WEB_PROXY');

/**
 * The account file's endpoints as origins and URL endpoints (ids derived, so every region seeds
 * the same ones). The media library is tried first in an endpoint that lists it anywhere.
 */
export function seedFromFile(account: Pick<Account, 'id' | 'endpoints'>): { origins: StoredOrigin[]; urlEndpoints: StoredEndpoint[] } {
  const origins: StoredOrigin[] = [];
  const urlEndpoints = account.endpoints.map((e): StoredEndpoint => {
    const ids: string[] = [];
    for (const s of e.origins) {
      if (s.type === 'media') continue;
      const key = JSON.stringify(s);
      let o = origins.find((x) => JSON.stringify(x.source) === key);
      if (!o) {
        o = { id: derivedId(account.id, `origin\n${key}`), name: `${originType(s)} origin ${origins.length + 1} (account file)`, type: originType(s), includeCanonicalHeader: false, source: s };
        origins.push(o);
      }
      ids.push(o.id);
    }
    const id = e.prefix === '' ? 'default' : derivedId(account.id, `endpoint\n${e.prefix}`);
    return { id, description: e.prefix === '' ? 'Default URL endpoint' : `/${e.prefix} (account file)`, urlPrefix: e.prefix, origins: ids, media: e.origins.some((s) => s.type === 'media'), ...(e.urlRewriter ? { urlRewriter: e.urlRewriter } : {}) };
  });
  return { origins, urlEndpoints };
}

/** The account-file `endpoints` these stand for. */
export function endpointsOf(origins: StoredOrigin[], urlEndpoints: StoredEndpoint[]): Endpoint[] {
  return urlEndpoints.map((e) => ({
    prefix: e.urlPrefix,
    ...(e.urlRewriter ? { urlRewriter: e.urlRewriter } : {}),
    origins: [...(e.media ? [{ type: 'media' as const }] : []), ...e.origins.map((id) => origins.find((o) => o.id === id)?.source).filter((s): s is StoredOrigin['source'] => s !== undefined)],
  }));
}
