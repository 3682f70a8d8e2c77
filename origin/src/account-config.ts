/**
 * Account configuration as data: what a customer sets through the management API (named
 * transformations) is stored in the control-plane bucket (PIXMESH_CONTROL_BUCKET, default
 * `pixmesh-control`, one bucket every region reads) as `accounts/<account>.json`, and laid over the
 * account file (the seed) by AccountDirectory.setOverlay. Writes happen in the account's home
 * region; every region polls the bucket (PIXMESH_CONFIG_POLL_MS, default 2 s) and the edge re-reads
 * the directory within its TTL (5 s), so a change is in effect everywhere within about 7 s.
 *
 * Named transformations are part of the cache key (expanded by the parser, shared/cache-key.ts),
 * so editing one changes the key of every URL using it: nothing stale can be served.
 *
 *   GET    /v1/named-transformations        → NamedTransformation[]
 *   POST   /v1/named-transformations        {name, transformation, enabled} → 201 NamedTransformation
 *   GET    /v1/named-transformations/:id    → NamedTransformation
 *   PATCH  /v1/named-transformations/:id    {name, transformation, enabled} → NamedTransformation
 *   DELETE /v1/named-transformations/:id    → 204
 */
import crypto from 'node:crypto';
import type { Context, Hono } from 'hono';
import type { HomeVars } from './home-region.js';
import type { Account } from '../../shared/accounts.js';
import { AccountFileError } from '../../shared/accounts.js';
import { badRequest, conflict, notFound } from '../../shared/errors.js';
import type { AccountDirectory } from './accounts.js';
import { int, text, type ConfigSpec } from './config-spec.js';
import { log } from './log.js';
import type { S3Location } from './sources/s3.js';
import { RegionBucket } from './region/bucket.js';
import { deliveryEndpoint, webhookRoutes, type StoredWebhook } from './account-webhooks.js';
import { endpointsOf, LIMITS, newConfigId, parseEndpoint, parseOrigin, publicEndpoint, publicOrigin, seedFromFile, type StoredEndpoint, type StoredOrigin } from './account-origins.js';

export interface NamedTransformation {
  id: string;
  name: string;
  transformation: string;
  enabled: boolean;
  createdAt: string;
}

/** What is stored per account. */
export interface AccountConfigDoc {
  v: 1;
  updatedAt: string;
  namedTransformations?: NamedTransformation[];
  /** Origins and URL endpoints (origin/src/account-origins.ts); both stored once either changes. */
  origins?: StoredOrigin[];
  urlEndpoints?: StoredEndpoint[];
  /** Webhook endpoints made through the API (origin/src/account-webhooks.ts), delivered to with the file's. */
  webhooks?: StoredWebhook[];
}

export interface ControlPlaneConfig {
  bucket: string;
  pollMs: number;
}

/** This module's config spec (composed at boot in config.ts). */
export const CONTROL_PLANE_SPEC: ConfigSpec<ControlPlaneConfig> = {
  bucket: text('PIXMESH_CONTROL_BUCKET', 'pixmesh-control', 'the bucket holding per-account settings every region reads'),
  pollMs: int('PIXMESH_CONFIG_POLL_MS', 2000, 'how often a region re-reads the account settings', 100),
};

const docKey = (accountId: string) => `accounts/${accountId}.json`;
/** A seeded transformation's id is derived from its name, so every region seeds the same ids. */
const seedId = (accountId: string, name: string) => crypto.createHash('sha1').update(`${accountId}\nnt\n${name}`).digest('hex').slice(0, 24);

/** The account-file fields a stored document replaces. */
export function overlayOf(doc: AccountConfigDoc): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (doc.namedTransformations) out.namedTransforms = Object.fromEntries(doc.namedTransformations.filter((n) => n.enabled).map((n) => [n.name, n.transformation]));
  if (doc.origins && doc.urlEndpoints) out.endpoints = endpointsOf(doc.origins, doc.urlEndpoints);
  if (doc.webhooks?.length) out.webhooks = doc.webhooks.map(deliveryEndpoint);
  return out;
}

export class ControlPlane {
  /** The control-plane bucket through the region bucket's client (lean S3 with static keys: the 2-s poll is ≈ 0.5 ms of CPU instead of ≈ 2). */
  private readonly store: RegionBucket;
  /** key → ETag last applied. */
  private readonly seen = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private bucketReady = false;

  constructor(
    s3: S3Location,
    readonly bucket: string,
    private readonly directory: AccountDirectory,
  ) {
    this.store = new RegionBucket(bucket, s3, 10_000);
  }

  /** Reads every changed document and applies it (missing bucket = nothing stored yet). */
  async poll(): Promise<void> {
    let listed;
    try {
      listed = await this.store.list('accounts/');
    } catch (e) {
      if ((e as { name?: string }).name === 'NoSuchBucket') return;
      throw e;
    }
    for (const o of listed) {
      if (!o.etag || this.seen.get(o.key) === o.etag) continue;
      const doc = await this.read(o.key);
      const id = o.key.slice('accounts/'.length, -'.json'.length);
      if (doc && this.directory.setOverlay(id, overlayOf(doc))) log.info('account configuration applied', { account: id, updatedAt: doc.updatedAt });
      this.seen.set(o.key, o.etag);
    }
  }

  start(intervalMs: number): void {
    if (this.timer) return;
    const tick = () => this.poll().catch((e) => log.warn('control-plane poll failed', { bucket: this.bucket, err: String(e) }));
    void tick();
    this.timer = setInterval(tick, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async read(key: string): Promise<AccountConfigDoc | undefined> {
    // missing key or bucket → null (RegionBucket.get)
    return (await this.store.getJson<AccountConfigDoc>(key)) ?? undefined;
  }

  /** The account's stored document, or one seeded from the account file. */
  async load(account: Account): Promise<AccountConfigDoc> {
    const doc = await this.read(docKey(account.id));
    return doc ?? { v: 1, updatedAt: new Date(0).toISOString(), namedTransformations: undefined };
  }

  /** Validates the document against the account file, stores it, and applies it here at once. */
  async save(account: Account, doc: AccountConfigDoc): Promise<void> {
    const overlay = overlayOf(doc);
    try {
      this.directory.preview(account.id, overlay);
    } catch (e) {
      if (e instanceof AccountFileError) throw badRequest(e.problems.map((p) => p.replace(/^accounts\[\d+\]( \([^)]*\))?[.:]?\s*/, '')).join('; '));
      throw e;
    }
    if (!this.bucketReady) {
      await this.store.ensure().catch(() => undefined);
      this.bucketReady = true;
    }
    const body = JSON.stringify({ ...doc, updatedAt: new Date().toISOString() });
    const etag = await this.store.put(docKey(account.id), body, 'application/json');
    this.directory.setOverlay(account.id, overlay);
    if (etag) this.seen.set(docKey(account.id), etag);
  }
}

/** The account's named transformations: the stored list, or the account file's, seeded. */
function namedList(account: Account, doc: AccountConfigDoc): NamedTransformation[] {
  if (doc.namedTransformations) return doc.namedTransformations;
  const at = new Date(0).toISOString();
  return Object.entries(account.namedTransforms).map(([name, transformation]) => ({ id: seedId(account.id, name), name, transformation, enabled: true, createdAt: at }));
}

const NAME = /^[A-Za-z0-9_-]{1,100}$/;

export interface ConfigRouteDeps {
  control: ControlPlane;
  /** Purges every cached variant of the account in every region; answers the edge-purge headers. */
  purgeAll: (accountId: string) => Promise<Record<string, string>>;
}

/**
 * Every route here is under mediaRoutes' home-region middleware (/internal/media/:account/*):
 * `c.var.account` is the account, resolved once there (404 unknown, 421 not home).
 */
export function configRoutes(app: Hono<HomeVars>, deps: ConfigRouteDeps): void {
  originRoutes(app, deps);
  webhookRoutes(app, { load: (a) => deps.control.load(a), store: async (a, webhooks) => deps.control.save(a, { ...(await deps.control.load(a)), webhooks }) });
  const P = '/internal/media/:account/v1/named-transformations';
  const body = async (c: Context) => {
    const b = (await c.req.json().catch(() => null)) as unknown;
    if (!b || typeof b !== 'object' || Array.isArray(b)) throw badRequest('the body must be a JSON object');
    return b as Record<string, unknown>;
  };
  const fields = (b: Record<string, unknown>, partial: boolean) => {
    for (const k of Object.keys(b)) if (!['name', 'transformation', 'enabled'].includes(k)) throw badRequest(`${k} is not a field of a named transformation (name, transformation, enabled)`);
    if ((!partial || b.name !== undefined) && (typeof b.name !== 'string' || !NAME.test(b.name))) throw badRequest('name is required: 1–100 characters of A-Z a-z 0-9 _ -');
    if ((!partial || b.transformation !== undefined) && (typeof b.transformation !== 'string' || b.transformation.trim() === '' || b.transformation.length > 2000))
      throw badRequest('transformation is required: a transformation string such as "w-300,h-300"');
    if (b.enabled !== undefined && typeof b.enabled !== 'boolean') throw badRequest('enabled must be a boolean');
    return b as Partial<NamedTransformation>;
  };
  const ctx = async (c: Context<HomeVars>) => {
    const account = c.var.account;
    const doc = await deps.control.load(account);
    return { account, doc, list: namedList(account, doc) };
  };

  app.get(P, async (c) => c.json((await ctx(c)).list));
  app.get(`${P}/:id`, async (c) => {
    const found = (await ctx(c)).list.find((n) => n.id === c.req.param('id'));
    if (!found) throw notFound('No named transformation with this id.');
    return c.json(found);
  });
  app.post(P, async (c) => {
    const f = fields(await body(c), false);
    const { account, doc, list } = await ctx(c);
    if (list.some((n) => n.name === f.name)) throw conflict(`a named transformation "${f.name}" already exists`);
    const made: NamedTransformation = { id: crypto.randomBytes(12).toString('hex'), name: f.name!, transformation: f.transformation!, enabled: f.enabled ?? true, createdAt: new Date().toISOString() };
    await deps.control.save(account, { ...doc, namedTransformations: [...list, made] });
    return c.json(made, 201);
  });
  app.patch(`${P}/:id`, async (c) => {
    const f = fields(await body(c), true);
    const { account, doc, list } = await ctx(c);
    const cur = list.find((n) => n.id === c.req.param('id'));
    if (!cur) throw notFound('No named transformation with this id.');
    if (f.name && f.name !== cur.name && list.some((n) => n.name === f.name)) throw conflict(`a named transformation "${f.name}" already exists`);
    const next = { ...cur, ...f };
    await deps.control.save(account, { ...doc, namedTransformations: list.map((n) => (n.id === cur.id ? next : n)) });
    return c.json(next);
  });
  app.delete(`${P}/:id`, async (c) => {
    const { account, doc, list } = await ctx(c);
    if (!list.some((n) => n.id === c.req.param('id'))) throw notFound('No named transformation with this id.');
    await deps.control.save(account, { ...doc, namedTransformations: list.filter((n) => n.id !== c.req.param('id')) });
    return c.body(null, 204);
  });
}

/** Origins and URL endpoints: the stored lists, or the account file's, seeded. */
function originLists(seed: Account, doc: AccountConfigDoc): { origins: StoredOrigin[]; urlEndpoints: StoredEndpoint[] } {
  if (doc.origins && doc.urlEndpoints) return { origins: doc.origins, urlEndpoints: doc.urlEndpoints };
  return seedFromFile(seed);
}

function originRoutes(app: Hono<HomeVars>, deps: ConfigRouteDeps): void {
  const O = '/internal/media/:account/v1/accounts/origins';
  const E = '/internal/media/:account/v1/accounts/url-endpoints';
  const ctx = async (c: Context<HomeVars>) => {
    const account = c.var.account;
    const doc = await deps.control.load(account);
    // Until the lists are stored, the account's endpoints are the account file's (no overlay for them).
    return { account, doc, ...originLists(account, doc) };
  };
  const body = (c: Context) => c.req.json().catch(() => {
    throw badRequest('the body must be JSON');
  }) as Promise<unknown>;
  /** Stores both lists, then purges what was cached under the old configuration (cache keys name the endpoint, not its origins). */
  const save = async (x: Awaited<ReturnType<typeof ctx>>, origins: StoredOrigin[], urlEndpoints: StoredEndpoint[]) => {
    await deps.control.save(x.account, { ...x.doc, origins, urlEndpoints });
    return deps.purgeAll(x.account.id);
  };
  const missing = (what: string) => notFound(`No ${what} with this id.`);

  app.get(O, async (c) => c.json((await ctx(c)).origins.map(publicOrigin)));
  app.get(`${O}/:id`, async (c) => {
    const o = (await ctx(c)).origins.find((x) => x.id === c.req.param('id'));
    if (!o) throw missing('origin');
    return c.json(publicOrigin(o));
  });
  app.post(O, async (c) => {
    const b = await body(c);
    const x = await ctx(c);
    if (x.origins.length >= LIMITS.origins) throw badRequest(`at most ${LIMITS.origins} origins per account`);
    const made = parseOrigin(b, newConfigId(), x.account);
    // A new origin serves nothing until an endpoint lists it: nothing to purge.
    await deps.control.save(x.account, { ...x.doc, origins: [...x.origins, made], urlEndpoints: x.urlEndpoints });
    return c.json(publicOrigin(made), 201);
  });
  app.put(`${O}/:id`, async (c) => {
    const b = await body(c);
    const x = await ctx(c);
    const cur = x.origins.find((o) => o.id === c.req.param('id'));
    if (!cur) throw missing('origin');
    const next = parseOrigin(b, cur.id, x.account);
    const headers = await save(x, x.origins.map((o) => (o.id === cur.id ? next : o)), x.urlEndpoints);
    return c.json(publicOrigin(next), 200, headers);
  });
  app.delete(`${O}/:id`, async (c) => {
    const x = await ctx(c);
    const id = c.req.param('id');
    if (!x.origins.some((o) => o.id === id)) throw missing('origin');
    const users = x.urlEndpoints.filter((e) => e.origins.includes(id));
    if (users.length) throw conflict(`the origin is used by URL endpoint ${users.map((e) => `"${e.urlPrefix}" (${e.id})`).join(', ')}; remove it there first`);
    await deps.control.save(x.account, { ...x.doc, origins: x.origins.filter((o) => o.id !== id), urlEndpoints: x.urlEndpoints });
    return c.body(null, 204);
  });

  app.get(E, async (c) => c.json((await ctx(c)).urlEndpoints.map(publicEndpoint)));
  app.get(`${E}/:id`, async (c) => {
    const e = (await ctx(c)).urlEndpoints.find((x) => x.id === c.req.param('id'));
    if (!e) throw missing('URL endpoint');
    return c.json(publicEndpoint(e));
  });
  app.post(E, async (c) => {
    const b = await body(c);
    const x = await ctx(c);
    if (x.urlEndpoints.length >= LIMITS.endpoints) throw badRequest(`at most ${LIMITS.endpoints} URL endpoints per account`);
    const made = parseEndpoint(b, newConfigId(), x.origins);
    if (x.urlEndpoints.some((e) => e.urlPrefix === made.urlPrefix)) throw conflict(`a URL endpoint with urlPrefix "${made.urlPrefix}" already exists`);
    const headers = await save(x, x.origins, [...x.urlEndpoints, made]);
    return c.json(publicEndpoint(made), 201, headers);
  });
  app.put(`${E}/:id`, async (c) => {
    const b = await body(c);
    const x = await ctx(c);
    const cur = x.urlEndpoints.find((e) => e.id === c.req.param('id'));
    if (!cur) throw missing('URL endpoint');
    const next = parseEndpoint(b, cur.id, x.origins, cur);
    if (x.urlEndpoints.some((e) => e.id !== cur.id && e.urlPrefix === next.urlPrefix)) throw conflict(`a URL endpoint with urlPrefix "${next.urlPrefix}" already exists`);
    const headers = await save(x, x.origins, x.urlEndpoints.map((e) => (e.id === cur.id ? next : e)));
    return c.json(publicEndpoint(next), 200, headers);
  });
  app.delete(`${E}/:id`, async (c) => {
    const x = await ctx(c);
    const cur = x.urlEndpoints.find((e) => e.id === c.req.param('id'));
    if (!cur) throw missing('URL endpoint');
    if (cur.urlPrefix === '') throw badRequest('the default URL endpoint cannot be deleted');
    const headers = await save(x, x.origins, x.urlEndpoints.filter((e) => e.id !== cur.id));
    return c.body(null, 204, headers);
  });
}
