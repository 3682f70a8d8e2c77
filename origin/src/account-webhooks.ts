/**
 * Webhook endpoints through the API (pixmesh routes in the ImageKit style; the SDK has no call for
 * them; docs/management-api.md "Webhook endpoints through the API"). Stored with origins and URL
 * endpoints in the account's control-plane document (origin/src/account-config.ts) and laid over
 * the account as extra `webhooks`: the home region delivers to them as well as to the account
 * file's (origin/src/media/webhooks.ts).
 *
 *   GET    /v1/accounts/webhooks        → WebhookEndpoint[] (the secret only as its last 4 characters)
 *   POST   /v1/accounts/webhooks        {url, secret, events?, description?} → 201
 *   GET    /v1/accounts/webhooks/:id
 *   PATCH  /v1/accounts/webhooks/:id    any of {url, secret, events, description} → 200
 *   DELETE /v1/accounts/webhooks/:id    → 204 (pending deliveries to it are dropped)
 *
 * Address rule as for the account file's endpoints and API-made origins: public addresses only
 * (checked at creation for literals, at every attempt for names by safe-fetch), unless the account
 * file's `managedOrigins.allowPrivateNetwork` opts in.
 */
import type { Context, Hono } from 'hono';
import type { HomeVars } from './home-region.js';
import { WEBHOOK_EVENTS, type Account, type WebhookEndpoint, type WebhookEventType } from '../../shared/accounts.js';
import { badRequest, notFound } from '../../shared/errors.js';
import { literalRefused, newConfigId } from './account-origins.js';

export interface StoredWebhook {
  id: string;
  url: string;
  secret: string;
  /** Only these events; all when absent. */
  events?: WebhookEventType[];
  description: string;
  allowPrivateNetwork: boolean;
  createdAt: string;
}

/** File endpoints + API endpoints together (the account file's own limit). */
export const MAX_WEBHOOKS = 10;
const FIELDS = ['url', 'secret', 'events', 'description'];

/** A POST (no `current`) or PATCH body → the stored endpoint; 400 naming the field otherwise. */
export function parseWebhook(body: unknown, account: Pick<Account, 'managedOrigins'>, current?: StoredWebhook, id = newConfigId()): StoredWebhook {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('the body must be a JSON object (a webhook endpoint)');
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) if (!FIELDS.includes(k)) throw badRequest(`${k} is not a field of a webhook endpoint (${FIELDS.join(', ')})`);
  const privateOk = account.managedOrigins?.allowPrivateNetwork === true;
  let url = current?.url;
  if (!current || b.url !== undefined) {
    if (typeof b.url !== 'string' || b.url.length > 2000) throw badRequest('url is required: an absolute http(s) URL of at most 2000 characters');
    let u: URL;
    try {
      u = new URL(b.url);
    } catch {
      throw badRequest(`url must be an absolute http(s) URL (got "${b.url.slice(0, 100)}")`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw badRequest(`url must be an http(s) URL (got ${u.protocol})`);
    if (u.username || u.password) throw badRequest('url may not carry credentials');
    const refused = literalRefused(u, privateOk);
    if (refused) throw badRequest(`url names a private or reserved address: ${refused}`);
    url = u.toString();
  }
  let secret = current?.secret;
  if (!current || b.secret !== undefined) {
    if (typeof b.secret !== 'string' || b.secret.length < 16 || b.secret.length > 256) throw badRequest('secret is required: a string of 16–256 characters (the receiver\'s webhookSecret)');
    secret = b.secret;
  }
  let events = current?.events;
  if (b.events !== undefined && b.events !== null) {
    if (!Array.isArray(b.events) || b.events.length === 0 || b.events.some((e) => !(WEBHOOK_EVENTS as readonly unknown[]).includes(e)))
      throw badRequest(`events must be a non-empty array of ${WEBHOOK_EVENTS.join(', ')}`);
    events = [...new Set(b.events as WebhookEventType[])];
  } else if (b.events === null) events = undefined;
  let description = current?.description ?? '';
  if (b.description !== undefined) {
    if (typeof b.description !== 'string' || b.description.length > 200) throw badRequest('description must be a string of at most 200 characters');
    description = b.description;
  }
  return { id: current?.id ?? id, url: url!, secret: secret!, ...(events ? { events } : {}), description, allowPrivateNetwork: privateOk, createdAt: current?.createdAt ?? new Date().toISOString() };
}

/** As the API answers it: never the secret in full. */
export const publicWebhook = (w: StoredWebhook) => ({
  id: w.id,
  url: w.url,
  description: w.description,
  events: w.events ?? [...WEBHOOK_EVENTS],
  secretHint: `…${w.secret.slice(-4)}`,
  createdAt: w.createdAt,
});

/** What the account gets as extra `webhooks` (the overlay; origin/src/accounts.ts adds them to the file's). */
export const deliveryEndpoint = (w: StoredWebhook): WebhookEndpoint => ({ id: w.id, url: w.url, secret: w.secret, ...(w.events ? { events: w.events } : {}), allowPrivateNetwork: w.allowPrivateNetwork });

export interface WebhookRouteDeps {
  load: (account: Account) => Promise<{ webhooks?: StoredWebhook[] }>;
  store: (account: Account, webhooks: StoredWebhook[]) => Promise<void>;
}

/** Under mediaRoutes' home-region middleware: `c.var.account` is the account (404 unknown, 421 not home). */
export function webhookRoutes(app: Hono<HomeVars>, deps: WebhookRouteDeps): void {
  const W = '/internal/media/:account/v1/accounts/webhooks';
  const ctx = async (c: Context<HomeVars>) => {
    const account = c.var.account;
    return { account, list: (await deps.load(account)).webhooks ?? [] };
  };
  const body = (c: Context) => c.req.json().catch(() => {
    throw badRequest('the body must be JSON');
  }) as Promise<unknown>;
  const find = (list: StoredWebhook[], id: string | undefined) => {
    const w = list.find((x) => x.id === id);
    if (!w) throw notFound('No webhook endpoint with this id.');
    return w;
  };

  app.get(W, async (c) => c.json((await ctx(c)).list.map(publicWebhook)));
  app.get(`${W}/:id`, async (c) => c.json(publicWebhook(find((await ctx(c)).list, c.req.param('id')))));
  app.post(W, async (c) => {
    const b = await body(c);
    const { account, list } = await ctx(c);
    const fromFile = (account.webhooks ?? []).filter((w) => !w.id).length;
    if (fromFile + list.length >= MAX_WEBHOOKS) throw badRequest(`at most ${MAX_WEBHOOKS} webhook endpoints per account (${fromFile} in the account file)`);
    const made = parseWebhook(b, account);
    await deps.store(account, [...list, made]);
    return c.json(publicWebhook(made), 201);
  });
  app.patch(`${W}/:id`, async (c) => {
    const b = await body(c);
    const { account, list } = await ctx(c);
    const next = parseWebhook(b, account, find(list, c.req.param('id')));
    await deps.store(account, list.map((w) => (w.id === next.id ? next : w)));
    return c.json(publicWebhook(next));
  });
  app.delete(`${W}/:id`, async (c) => {
    const { account, list } = await ctx(c);
    const gone = find(list, c.req.param('id'));
    await deps.store(account, list.filter((w) => w.id !== gone.id));
    return c.body(null, 204);
  });
}
