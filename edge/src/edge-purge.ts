/**
 * Edge purge records, next to the edge cache they apply to. The Cache API cannot enumerate an
 * account's variants, so purges are recorded as timestamps (exact path or prefix) per account —
 * in this isolate at once, and in KV (PIXMESH_PURGE) for every other colo — and the image route
 * treats a cached entry stored at or before the newest matching purge as a miss (edgePurgedAt,
 * passed to lookupCached in edge/src/edge-cache.ts).
 */
import { Hono } from 'hono';
import { readBodyLimited } from '../../shared/body.js';
import { badRequest, PixmeshError } from '../../shared/errors.js';
import { NonceMemory, sha256Hex, verifyInternalRequest } from '../../shared/internal-auth.js';
import { EDGE_PURGE_PATH, EDGE_TARGET } from '../../shared/internal-fetch.js';
import type { Env } from './env.js';

interface PurgeDoc {
  v: 1;
  /** Everything stored at or before this is purged (set when the record overflows). */
  floor: number;
  exact: Record<string, number>;
  prefixes: [string, number][];
}
const MAX_EXACT = 2000;
const MAX_PREFIXES = 200;
/** Purges made through this isolate apply at once; KV carries them to every other colo. */
const local = new Map<string, { doc: PurgeDoc; readAt: number }>();
const KV_MEMO_MS = 10_000;
const emptyDoc = (): PurgeDoc => ({ v: 1, floor: 0, exact: {}, prefixes: [] });
const kvKey = (accountId: string) => `purge:v1:${accountId}`;

function merge(a: PurgeDoc, b: PurgeDoc): PurgeDoc {
  const out: PurgeDoc = { v: 1, floor: Math.max(a.floor, b.floor), exact: { ...a.exact }, prefixes: [...a.prefixes] };
  for (const [p, t] of Object.entries(b.exact)) out.exact[p] = Math.max(out.exact[p] ?? 0, t);
  for (const [p, t] of b.prefixes) {
    const i = out.prefixes.findIndex(([q]) => q === p);
    if (i < 0) out.prefixes.push([p, t]);
    else out.prefixes[i] = [p, Math.max(out.prefixes[i]![1], t)];
  }
  return bound(out);
}

/** Keeps the record small: the oldest entries fold into `floor` (over-purging, never under-purging). */
function bound(doc: PurgeDoc): PurgeDoc {
  const exact = Object.entries(doc.exact).sort((x, y) => y[1] - x[1]);
  for (const [, t] of exact.slice(MAX_EXACT)) doc.floor = Math.max(doc.floor, t);
  doc.exact = Object.fromEntries(exact.slice(0, MAX_EXACT));
  doc.prefixes.sort((x, y) => y[1] - x[1]);
  for (const [, t] of doc.prefixes.slice(MAX_PREFIXES)) doc.floor = Math.max(doc.floor, t);
  doc.prefixes = doc.prefixes.slice(0, MAX_PREFIXES);
  return doc;
}

async function readDoc(env: Env, accountId: string, now: number): Promise<PurgeDoc> {
  const memo = local.get(accountId);
  if (!env.PIXMESH_PURGE) return memo?.doc ?? emptyDoc();
  if (memo && now - memo.readAt < KV_MEMO_MS) return memo.doc;
  let fromKv = emptyDoc();
  try {
    const got = (await env.PIXMESH_PURGE.get(kvKey(accountId), { type: 'json', cacheTtl: 60 })) as PurgeDoc | null;
    if (got && got.v === 1) fromKv = got;
  } catch (e) {
    console.error('purge record unreadable', e);
  }
  const doc = memo ? merge(memo.doc, fromKv) : fromKv;
  local.set(accountId, { doc, readAt: now });
  return doc;
}

/** Records a purge of `path` (or of every path starting with it) for the account's edge caches. */
export async function recordEdgePurge(env: Env, accountId: string, path: string, prefix: boolean, at = Date.now()): Promise<void> {
  const doc = structuredClone(await readDoc(env, accountId, at));
  if (prefix) doc.prefixes.push([path, at]);
  else doc.exact[path] = at;
  const merged = merge(emptyDoc(), doc);
  local.set(accountId, { doc: merged, readAt: local.get(accountId)?.readAt ?? 0 });
  if (env.PIXMESH_PURGE) {
    // Read-modify-write on KV: a concurrent purge from another colo can be lost within KV's
    // consistency window; the region caches are purged regardless (they are authoritative).
    const current = ((await env.PIXMESH_PURGE.get(kvKey(accountId), { type: 'json' }).catch(() => null)) as PurgeDoc | null) ?? emptyDoc();
    await env.PIXMESH_PURGE.put(kvKey(accountId), JSON.stringify(merge(current.v === 1 ? current : emptyDoc(), merged)));
  }
}

/**
 * For the edge cache (edge/src/images.ts): the time (ms) of the newest purge covering this
 * account + path (path inside the endpoint, as ImageRequest.path), 0 if none. A cached entry
 * whose x-pixmesh-stored-at is ≤ this must be treated as a miss (and not served as stale).
 */
export async function edgePurgedAt(env: Env, accountId: string, path: string, now = Date.now()): Promise<number> {
  if (!env.PIXMESH_PURGE && !local.has(accountId)) return 0;
  const doc = await readDoc(env, accountId, now);
  let at = Math.max(doc.floor, doc.exact[path] ?? 0);
  for (const [p, t] of doc.prefixes) if (path.startsWith(p)) at = Math.max(at, t);
  return at;
}

const MAX_PURGE_ITEMS = 1000;
/** Nonces seen in this isolate (a replay within the window is refused; a purge is idempotent anyway). */
const nonces = new NonceMemory(10_000);

/**
 * POST /_internal/purge  {"account": "<id>", "items": [{"path": "…", "prefix": false}, …]}
 * A home region's purge, told to the edge by the region itself (signed like every internal call,
 * body digest included): every purge it takes — a crash replay of the media journal included,
 * which has no client answer to carry the x-pixmesh-edge-purge header — is recorded here as if
 * made through this colo (KV carries it to the others). 200 {"ok":true,"recorded":n}.
 */
export function edgePurgeRoutes(): Hono<{ Bindings: Env }> {
  const app = new Hono<{ Bindings: Env }>();
  app.post(EDGE_PURGE_PATH, async (c) => {
    const url = new URL(c.req.url);
    const now = Date.now();
    const auth = await verifyInternalRequest(c.env.PIXMESH_INTERNAL_SECRET, { method: 'POST', pathAndQuery: url.pathname + url.search, headers: c.req.raw.headers, region: EDGE_TARGET }, now);
    if (!auth.ok) throw new PixmeshError(401, 'EAUTH', `internal call refused: ${auth.reason}`);
    if (!nonces.remember(auth.nonce, undefined, now)) throw new PixmeshError(401, 'EAUTH', 'internal call refused: replayed request');
    const bytes = await readBodyLimited(c.req.raw.body, { maxBytes: 256 * 1024, what: 'the purge body' });
    if ((await sha256Hex(bytes)) !== auth.bodySha256) throw new PixmeshError(401, 'EAUTH', 'internal call refused: the body does not match the signed digest');
    let body: { account?: unknown; items?: unknown };
    try {
      body = JSON.parse(new TextDecoder().decode(bytes)) as typeof body;
    } catch {
      throw badRequest('the purge body is not JSON');
    }
    const items = Array.isArray(body.items) ? (body.items as { path?: unknown; prefix?: unknown }[]) : [];
    if (typeof body.account !== 'string' || !body.account || !items.length || items.length > MAX_PURGE_ITEMS || !items.every((i) => typeof i.path === 'string' && typeof i.prefix === 'boolean'))
      throw badRequest(`the purge body must be {"account": "<id>", "items": [{"path": "…", "prefix": true|false}] (1 to ${MAX_PURGE_ITEMS})}`);
    for (const i of items) await recordEdgePurge(c.env, body.account, i.path as string, i.prefix as boolean, now);
    return c.json({ ok: true, recorded: items.length }, 200, { 'cache-control': 'no-store' });
  });
  return app;
}
