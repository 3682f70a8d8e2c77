/**
 * Edge purge records, next to the edge cache they apply to. The Cache API cannot enumerate an
 * account's variants, so purges are recorded as timestamps (exact path or prefix) per account —
 * in this isolate at once, and in KV (PIXMESH_PURGE) for every other colo — and the image route
 * treats a cached entry stored at or before the newest matching purge as a miss (edgePurgedAt,
 * passed to readCached in edge/src/edge-cache.ts).
 */
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
