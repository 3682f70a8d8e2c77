/**
 * The account file (docs/architecture.md "Account file"): types and validation. Pure: both tiers validate the
 * same way, and every problem names the field it is about.
 */
import { isRegionId, REGION_IDS, type RegionId } from './regions.js';
import { namedTransformProblems } from './transform/index.js';

// The delivery defaults are declared with the transformation types (the grammar reads them and
// must not import this module back): one definition, named here too.
export type { AccountDefaults } from './transform/types.js';
import type { AccountDefaults } from './transform/types.js';

export interface MediaOrigin {
  type: 'media';
}
export interface S3Origin {
  type: 's3';
  bucket: string;
  prefix: string;
  endpoint?: string;
  region: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  forcePathStyle?: boolean;
  /**
   * Absent for the account file's S3 origins (the operator's). Set on origins made through the API
   * (origin/src/account-origins.ts): false = the endpoint must resolve to public addresses only.
   */
  allowPrivateNetwork?: boolean;
}
export interface WebOrigin {
  type: 'web';
  baseUrl: string;
  allowPrivateNetwork: boolean;
}
export interface WebProxyOrigin {
  type: 'webproxy';
  allowHosts: string[];
  allowPrivateNetwork: boolean;
  /** Web-proxy URLs must be signed unless this is false. */
  requireSignedUrls: boolean;
}
export type SourceConfig = MediaOrigin | S3Origin | WebOrigin | WebProxyOrigin;

export interface Endpoint {
  /** URL path prefix after the account id, without slashes; "" is the default endpoint. */
  prefix: string;
  origins: SourceConfig[];
}

export interface Account {
  id: string;
  homeRegion: RegionId;
  privateKey: string;
  publicKey: string;
  residency: 'flexible' | 'strict';
  signedUrls: 'optional' | 'required';
  namedOnly: boolean;
  defaults: AccountDefaults;
  namedTransforms: Record<string, string>;
  customDomains: string[];
  endpoints: Endpoint[];
  /** Region holding the media-library backup copy (flexible accounts only). */
  backupRegion?: RegionId;
  /** Media-library settings: upload-from-URL may reach private addresses; a per-account upload cap. */
  mediaLibrary?: { allowPrivateNetwork: boolean; maxUploadBytes?: number };
  /** Origins the customer makes through the API may reach private addresses (operator opt-in; default false). */
  managedOrigins?: { allowPrivateNetwork: boolean };
  /** Where the home region POSTs signed events (Standard Webhooks; origin/src/media/webhooks.ts). */
  webhooks?: WebhookEndpoint[];
}

/** The events pixmesh sends (the SDK's UnwrapWebhookEvent types that apply here). */
export const WEBHOOK_EVENTS = ['file.created', 'file.updated', 'file.deleted', 'file-version.created', 'file-version.deleted'] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number];

export interface WebhookEndpoint {
  url: string;
  /** The signing secret (the SDK's `webhookSecret`); `whsec_<base64>` or any string (used as its UTF-8 bytes). */
  secret: string;
  /** Only these events; all when absent. */
  events?: WebhookEventType[];
  /** Deliver to loopback / private addresses (operator opt-in; default false). */
  allowPrivateNetwork: boolean;
}

export const DEFAULT_ACCOUNT_DEFAULTS: AccountDefaults = { quality: 80, autoFormat: true, avif: false, autoRotate: true };

/** Account ids that would collide with edge routes. */
export const RESERVED_ACCOUNT_IDS = ['api', 'v1', 'internal'];

export class AccountFileError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid account file:\n  - ${problems.join('\n  - ')}`);
    this.name = 'AccountFileError';
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Validate a parsed account file; throws AccountFileError listing every problem. */
export function validateAccountFile(data: unknown): Account[] {
  const problems: string[] = [];
  if (!isObj(data) || !Array.isArray(data.accounts)) throw new AccountFileError(['top level must be { "accounts": [ … ] }']);
  const accounts: Account[] = [];
  const seenIds = new Set<string>();
  const seenDomains = new Map<string, string>();
  data.accounts.forEach((raw, i) => {
    const at = (field: string) => `accounts[${i}]${isObj(raw) && typeof raw.id === 'string' ? ` (${raw.id})` : ''}.${field}`;
    if (!isObj(raw)) {
      problems.push(`accounts[${i}] must be an object`);
      return;
    }
    const before = problems.length;
    const str = (field: string, required = true): string => {
      const v = raw[field];
      if (v === undefined && !required) return '';
      if (typeof v !== 'string' || (required && v === '')) problems.push(`${at(field)} must be a non-empty string`);
      return typeof v === 'string' ? v : '';
    };
    const id = str('id');
    if (id && !/^[a-z0-9][a-z0-9_-]{0,62}$/.test(id)) problems.push(`${at('id')} must match [a-z0-9][a-z0-9_-]* (got "${id}")`);
    if (RESERVED_ACCOUNT_IDS.includes(id)) problems.push(`${at('id')} "${id}" is reserved`);
    if (seenIds.has(id)) problems.push(`${at('id')} "${id}" is used twice`);
    seenIds.add(id);
    const homeRegion = raw.homeRegion;
    if (!isRegionId(homeRegion)) problems.push(`${at('homeRegion')} must be one of ${REGION_IDS.join(', ')}`);
    const privateKey = str('privateKey');
    const publicKey = str('publicKey', false);
    const residency = raw.residency ?? 'flexible';
    if (residency !== 'flexible' && residency !== 'strict') problems.push(`${at('residency')} must be "flexible" or "strict"`);
    const signedUrls = raw.signedUrls ?? 'optional';
    if (signedUrls !== 'optional' && signedUrls !== 'required') problems.push(`${at('signedUrls')} must be "optional" or "required"`);
    const namedOnly = raw.namedOnly ?? false;
    if (typeof namedOnly !== 'boolean') problems.push(`${at('namedOnly')} must be a boolean`);

    const defaults = { ...DEFAULT_ACCOUNT_DEFAULTS };
    if (raw.defaults !== undefined) {
      if (!isObj(raw.defaults)) problems.push(`${at('defaults')} must be an object`);
      else {
        for (const [k, v] of Object.entries(raw.defaults)) {
          if (k === 'quality') {
            if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 100) problems.push(`${at('defaults.quality')} must be an integer 1–100`);
            else defaults.quality = v;
          } else if (k === 'autoFormat' || k === 'avif' || k === 'autoRotate') {
            if (typeof v !== 'boolean') problems.push(`${at(`defaults.${k}`)} must be a boolean`);
            else defaults[k] = v;
          } else problems.push(`${at(`defaults.${k}`)} is not a known setting (quality, autoFormat, avif, autoRotate)`);
        }
      }
    }

    const namedTransforms: Record<string, string> = {};
    if (raw.namedTransforms !== undefined) {
      if (!isObj(raw.namedTransforms)) problems.push(`${at('namedTransforms')} must be an object of name → transformation`);
      else
        for (const [name, tr] of Object.entries(raw.namedTransforms)) {
          if (!/^[A-Za-z0-9_-]+$/.test(name)) problems.push(`${at(`namedTransforms.${name}`)}: name may use letters, digits, _ and -`);
          if (typeof tr !== 'string' || tr === '') problems.push(`${at(`namedTransforms.${name}`)} must be a non-empty transformation string`);
          else namedTransforms[name] = tr;
        }
      // A named transform must parse on its own (and may not name another): refused at load, not per request.
      for (const p of namedTransformProblems(namedTransforms)) problems.push(at(p));
    }

    const customDomains: string[] = [];
    if (raw.customDomains !== undefined) {
      if (!Array.isArray(raw.customDomains)) problems.push(`${at('customDomains')} must be an array of host names`);
      else
        raw.customDomains.forEach((d, j) => {
          if (typeof d !== 'string' || !/^[a-z0-9.-]+(:\d+)?$/i.test(d)) problems.push(`${at(`customDomains[${j}]`)} must be a host name`);
          else {
            const host = d.toLowerCase();
            const owner = seenDomains.get(host);
            if (owner && owner !== id) problems.push(`${at(`customDomains[${j}]`)} "${host}" already belongs to ${owner}`);
            seenDomains.set(host, id);
            customDomains.push(host);
          }
        });
    }

    const endpoints: Endpoint[] = [];
    if (!Array.isArray(raw.endpoints) || raw.endpoints.length === 0) problems.push(`${at('endpoints')} must be a non-empty array`);
    else
      raw.endpoints.forEach((ep, j) => {
        const epAt = (f: string) => at(`endpoints[${j}].${f}`);
        if (!isObj(ep)) {
          problems.push(at(`endpoints[${j}]`) + ' must be an object');
          return;
        }
        const prefix = typeof ep.prefix === 'string' ? ep.prefix.replace(/^\/+|\/+$/g, '') : '';
        if (ep.prefix !== undefined && typeof ep.prefix !== 'string') problems.push(`${epAt('prefix')} must be a string`);
        if (prefix.startsWith('tr:') || prefix.startsWith('_')) problems.push(`${epAt('prefix')} may not start with "tr:" or "_"`);
        if (endpoints.some((e) => e.prefix === prefix)) problems.push(`${epAt('prefix')} "${prefix}" is used twice`);
        const origins: SourceConfig[] = [];
        if (!Array.isArray(ep.origins) || ep.origins.length === 0) problems.push(`${epAt('origins')} must be a non-empty array`);
        else
          ep.origins.forEach((o, k) => {
            const oAt = (f: string) => epAt(`origins[${k}]${f ? '.' + f : ''}`);
            if (!isObj(o)) return void problems.push(`${oAt('')} must be an object`);
            const allowPrivateNetwork = o.allowPrivateNetwork ?? false;
            if (typeof allowPrivateNetwork !== 'boolean') problems.push(`${oAt('allowPrivateNetwork')} must be a boolean`);
            switch (o.type) {
              case 'media':
                origins.push({ type: 'media' });
                break;
              case 's3': {
                if (typeof o.bucket !== 'string' || !o.bucket) problems.push(`${oAt('bucket')} must be a non-empty string`);
                if (o.endpoint !== undefined && (typeof o.endpoint !== 'string' || !/^https?:\/\//.test(o.endpoint)))
                  problems.push(`${oAt('endpoint')} must be an http(s) URL`);
                for (const f of ['prefix', 'region', 'accessKeyId', 'secretAccessKey'])
                  if (o[f] !== undefined && typeof o[f] !== 'string') problems.push(`${oAt(f)} must be a string`);
                origins.push({
                  type: 's3',
                  bucket: String(o.bucket ?? ''),
                  prefix: String(o.prefix ?? '').replace(/^\/+/, ''),
                  endpoint: o.endpoint as string | undefined,
                  region: String(o.region ?? 'us-east-1'),
                  accessKeyId: o.accessKeyId as string | undefined,
                  secretAccessKey: o.secretAccessKey as string | undefined,
                  forcePathStyle: o.forcePathStyle === undefined ? o.endpoint !== undefined : Boolean(o.forcePathStyle),
                  ...(o.allowPrivateNetwork !== undefined ? { allowPrivateNetwork: allowPrivateNetwork === true } : {}),
                });
                break;
              }
              case 'web':
                if (typeof o.baseUrl !== 'string' || !/^https?:\/\/[^/]/.test(o.baseUrl)) problems.push(`${oAt('baseUrl')} must be an http(s) URL`);
                origins.push({ type: 'web', baseUrl: String(o.baseUrl ?? '').replace(/\/+$/, ''), allowPrivateNetwork: allowPrivateNetwork === true });
                break;
              case 'webproxy': {
                const hosts = o.allowHosts;
                if (!Array.isArray(hosts) || hosts.some((h) => typeof h !== 'string' || !h))
                  problems.push(`${oAt('allowHosts')} must be an array of host names`);
                const requireSignedUrls = o.requireSignedUrls ?? true;
                if (typeof requireSignedUrls !== 'boolean') problems.push(`${oAt('requireSignedUrls')} must be a boolean`);
                origins.push({
                  type: 'webproxy',
                  allowHosts: Array.isArray(hosts) ? hosts.map((h) => String(h).toLowerCase()) : [],
                  allowPrivateNetwork: allowPrivateNetwork === true,
                  requireSignedUrls: requireSignedUrls !== false,
                });
                break;
              }
              default:
                problems.push(`${oAt('type')} must be one of media, s3, web, webproxy (got ${JSON.stringify(o.type)})`);
            }
          });
        endpoints.push({ prefix, origins });
      });

    let backupRegion: RegionId | undefined;
    if (raw.backupRegion !== undefined) {
      if (!isRegionId(raw.backupRegion)) problems.push(`${at('backupRegion')} must be one of ${REGION_IDS.join(', ')}`);
      else if (raw.backupRegion === homeRegion) problems.push(`${at('backupRegion')} must differ from homeRegion`);
      else backupRegion = raw.backupRegion;
    }

    const mediaLibrary: NonNullable<Account['mediaLibrary']> = { allowPrivateNetwork: false };
    if (raw.mediaLibrary !== undefined) {
      const m = raw.mediaLibrary;
      if (!isObj(m)) problems.push(`${at('mediaLibrary')} must be an object`);
      else
        for (const [k, v] of Object.entries(m)) {
          if (k === 'allowPrivateNetwork') {
            if (typeof v !== 'boolean') problems.push(`${at('mediaLibrary.allowPrivateNetwork')} must be a boolean`);
            else mediaLibrary.allowPrivateNetwork = v;
          } else if (k === 'maxUploadBytes') {
            if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) problems.push(`${at('mediaLibrary.maxUploadBytes')} must be a positive integer`);
            else mediaLibrary.maxUploadBytes = v;
          } else problems.push(`${at(`mediaLibrary.${k}`)} is not a known setting (allowPrivateNetwork, maxUploadBytes)`);
        }
    }

    let managedOrigins: Account['managedOrigins'];
    if (raw.managedOrigins !== undefined) {
      const m = raw.managedOrigins;
      if (!isObj(m) || Object.keys(m).some((k) => k !== 'allowPrivateNetwork') || (m.allowPrivateNetwork !== undefined && typeof m.allowPrivateNetwork !== 'boolean'))
        problems.push(`${at('managedOrigins')} must be { "allowPrivateNetwork": boolean }`);
      else managedOrigins = { allowPrivateNetwork: m.allowPrivateNetwork === true };
    }

    const webhooks: WebhookEndpoint[] = [];
    if (raw.webhooks !== undefined) {
      if (!Array.isArray(raw.webhooks) || raw.webhooks.length > 10) problems.push(`${at('webhooks')} must be an array of at most 10 endpoints`);
      else
        raw.webhooks.forEach((w, j) => {
          const wAt = (f: string) => at(`webhooks[${j}].${f}`);
          if (!isObj(w)) return void problems.push(at(`webhooks[${j}]`) + ' must be an object');
          for (const k of Object.keys(w)) if (!['url', 'secret', 'events', 'allowPrivateNetwork'].includes(k)) problems.push(`${wAt(k)} is not a known setting (url, secret, events, allowPrivateNetwork)`);
          if (typeof w.url !== 'string' || !/^https?:\/\/[^/]/.test(w.url)) problems.push(`${wAt('url')} must be an http(s) URL`);
          if (typeof w.secret !== 'string' || w.secret.length < 16) problems.push(`${wAt('secret')} must be a string of at least 16 characters`);
          if (w.events !== undefined && (!Array.isArray(w.events) || w.events.some((e) => !(WEBHOOK_EVENTS as readonly unknown[]).includes(e))))
            problems.push(`${wAt('events')} must list events among ${WEBHOOK_EVENTS.join(', ')}`);
          if (w.allowPrivateNetwork !== undefined && typeof w.allowPrivateNetwork !== 'boolean') problems.push(`${wAt('allowPrivateNetwork')} must be a boolean`);
          webhooks.push({ url: String(w.url), secret: String(w.secret), ...(Array.isArray(w.events) ? { events: w.events as WebhookEventType[] } : {}), allowPrivateNetwork: w.allowPrivateNetwork === true });
        });
    }

    if (problems.length > before) return;
    accounts.push({
      id,
      homeRegion: homeRegion as RegionId,
      privateKey,
      publicKey,
      residency: residency as Account['residency'],
      signedUrls: signedUrls as Account['signedUrls'],
      namedOnly: namedOnly as boolean,
      defaults,
      namedTransforms,
      customDomains,
      endpoints,
      backupRegion,
      mediaLibrary,
      ...(managedOrigins ? { managedOrigins } : {}),
      ...(webhooks.length ? { webhooks } : {}),
    });
  });
  if (problems.length) throw new AccountFileError(problems);
  return accounts;
}

/** Account lookups by id and by custom domain. */
export class AccountIndex {
  private readonly byId = new Map<string, Account>();
  private readonly byDomain = new Map<string, Account>();
  constructor(readonly accounts: Account[]) {
    for (const a of accounts) {
      this.byId.set(a.id, a);
      for (const d of a.customDomains) this.byDomain.set(d, a);
    }
  }
  get(id: string): Account | undefined {
    return this.byId.get(id);
  }
  byHost(host: string): Account | undefined {
    const h = host.toLowerCase();
    return this.byDomain.get(h) ?? this.byDomain.get(h.replace(/:\d+$/, ''));
  }
  static fromJson(text: string): AccountIndex {
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (e) {
      throw new AccountFileError([`not valid JSON: ${(e as Error).message}`]);
    }
    return new AccountIndex(validateAccountFile(data));
  }
}

/** The endpoint whose prefix is the longest match of the path's leading segments. */
export function matchEndpoint(account: Account, segments: string[]): { endpoint: Endpoint; rest: string[] } | undefined {
  let best: { endpoint: Endpoint; rest: string[] } | undefined;
  for (const endpoint of account.endpoints) {
    const prefixSegs = endpoint.prefix ? endpoint.prefix.split('/') : [];
    if (prefixSegs.length > segments.length) continue;
    if (!prefixSegs.every((s, i) => segments[i] === s)) continue;
    if (!best || prefixSegs.length > (best.endpoint.prefix ? best.endpoint.prefix.split('/').length : 0))
      best = { endpoint, rest: segments.slice(prefixSegs.length) };
  }
  return best;
}

/**
 * The account file as the edge receives it: what the edge uses (ids, keys for URL signatures and
 * API authentication, domains, endpoints and origin types, transforms, defaults, residency) and
 * nothing it does not — no S3 credentials or endpoints, no credentials inside web origin URLs, no
 * webhook endpoints or secrets.
 * A captured or leaked edge copy gives no access to anyone's storage (docs/security.md).
 */
export function edgeAccountFile(accounts: Account[]): string {
  const origin = (o: SourceConfig): SourceConfig => {
    if (o.type === 's3') return { type: 's3', bucket: o.bucket, prefix: o.prefix, region: o.region };
    if (o.type === 'web') {
      try {
        const u = new URL(o.baseUrl);
        u.username = '';
        u.password = '';
        u.search = '';
        return { ...o, baseUrl: u.toString().replace(/\/+$/, '') };
      } catch {
        return { ...o, baseUrl: 'http://invalid' };
      }
    }
    return o;
  };
  // Webhook endpoints (their signing secrets) are the home region's business only.
  return JSON.stringify({ accounts: accounts.map(({ webhooks: _w, ...a }) => ({ ...a, endpoints: a.endpoints.map((e) => ({ ...e, origins: e.origins.map(origin) })) })) });
}
