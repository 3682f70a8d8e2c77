/**
 * The one cache key, used by the edge cache (edge/src/edge-cache.ts) and the region result cache
 * (origin/src/render.ts) alike, so the two tiers can never disagree on what makes two requests
 * the same variant. It covers everything that changes the bytes:
 *
 *   - the key layout version (CACHE_KEY_VERSION) and the engine version (TRANSFORM_ENGINE_VERSION),
 *   - account, endpoint prefix, object path and the cache-busting query,
 *   - the canonical transformation, named transformations already expanded by the parser
 *     (so editing a named transformation changes the key), a `q-` equal to the account default dropped,
 *   - the negotiated output format,
 *   - the client hints, only where the plan reads them (normalised),
 *   - the content encoding of a compressed file (br / gzip; identity adds nothing, so images keep one key),
 *   - every account default (quality, auto-format, AVIF, auto-rotate …): changing one changes the
 *     key on both tiers at once, so neither serves bytes rendered under the old defaults.
 *
 * Pure and synchronous (runs in workerd and Node); `cacheKeyDigest` hashes it for stores that
 * want a fixed-length name.
 */
import type { Account } from './accounts.js';
import type { ImageRequest } from './request.js';
import { clientHintsUsed, canonicalTransformation, normaliseHints, TRANSFORM_ENGINE_VERSION, type NegotiatedFormat, type TransformPlan } from './transform/index.js';
import { toHex } from './internal-auth.js';
import type { Encoding } from './delivery.js';

/** Bump when the key's layout changes (a part added, removed or re-encoded). */
export const CACHE_KEY_VERSION = 2; // 2: one key for both tiers, with every account default

export interface VariantIdentity {
  account: Pick<Account, 'id' | 'defaults'>;
  request: Pick<ImageRequest, 'endpoint' | 'path' | 'extraQuery'>;
  plan: TransformPlan;
  format: NegotiatedFormat;
  /** Client hints as received (raw header text or numbers); used only where the plan reads them. */
  dpr?: string | number | null;
  width?: string | number | null;
  /** The body's content encoding (a compressible file served in br / gzip); identity when absent. */
  encoding?: Encoding;
}

/** Account defaults in a fixed order, every field included (a new default changes keys by itself). */
function defaultsPart(defaults: Account['defaults']): string {
  const d = defaults as unknown as Record<string, unknown>;
  return Object.keys(d)
    .sort()
    .map((k) => `${k}=${JSON.stringify(d[k])}`)
    .join(',');
}

/** The transformation part: engine version, canonical transformation, format, used hints, encoding. */
export function transformKeyPart(v: Pick<VariantIdentity, 'plan' | 'format' | 'dpr' | 'width' | 'encoding'>, defaults?: Pick<Account['defaults'], 'quality'>): string {
  const used = clientHintsUsed(v.plan);
  const hints = normaliseHints(v.dpr == null ? null : String(v.dpr), v.width == null ? null : String(v.width));
  const parts = [`v${TRANSFORM_ENGINE_VERSION}`, canonicalTransformation(v.plan, defaults), `f=${v.format}`];
  if (used.dpr) parts.push(`dpr=${hints.dpr ?? ''}`);
  if (used.width) parts.push(`w=${hints.width ?? ''}`);
  if (v.encoding && v.encoding !== 'identity') parts.push(`enc=${v.encoding}`);
  return parts.join('|');
}

/** The cache key of one variant (a readable string; see the module comment for what it holds). */
export function variantCacheKey(v: VariantIdentity): string {
  return [
    `k${CACHE_KEY_VERSION}`,
    v.account.id,
    v.request.endpoint.prefix,
    v.request.path,
    new URLSearchParams(v.request.extraQuery).toString(),
    transformKeyPart(v, v.account.defaults),
    `d=${defaultsPart(v.account.defaults)}`,
  ].join('\n');
}

/**
 * The account's part of every key as a short revision: its defaults and named transformations
 * (what, besides the URL, decides the bytes and the key). Edge, regions and replicas each reload
 * the account file on their own; a tier storing an answer first checks that the answer's
 * revision (header x-pixmesh-account-rev) is its own, so a region still on the old defaults can
 * never fill a cache entry under the new key. FNV-1a (32-bit, sync: both runtimes, per request).
 */
const revisions = new WeakMap<object, string>();
export function accountKeyRevision(account: Pick<Account, 'defaults' | 'namedTransforms'>): string {
  const known = revisions.get(account);
  if (known !== undefined) return known;
  const named = Object.keys(account.namedTransforms ?? {})
    .sort()
    .map((k) => `${k}=${account.namedTransforms[k]}`)
    .join(',');
  const text = `${defaultsPart(account.defaults)}\n${named}`;
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  const rev = h.toString(16).padStart(8, '0');
  revisions.set(account, rev); // account objects are replaced, never changed, when the file reloads
  return rev;
}

/**
 * Whether an answer that names `rev` (its x-pixmesh-account-rev; absent on answers that carry no
 * account revision, e.g. errors) may be stored under a key built from `account` — the one check
 * the edge, a forwarding region and a peer replica make before storing another process's answer.
 */
export function sameAccountRevision(rev: string | null | undefined, account: Pick<Account, 'defaults' | 'namedTransforms'>): boolean {
  return rev == null || rev === accountKeyRevision(account);
}

/** SHA-256 hex of a key (Web Crypto: the same in workerd and Node). */
export async function cacheKeyDigest(key: string): Promise<string> {
  return toHex(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(key)));
}
