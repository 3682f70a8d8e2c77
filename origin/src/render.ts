/**
 * GET /internal/render/<account>/<path as in the public URL>?<query>
 * The region's answer to one image request: its own result cache, else the home region (forward),
 * else — at home, or when home is down and residency allows — originals → pipeline → cache.
 * Identical concurrent requests share one execution (singleflight per variant); transforms go
 * through the bounded queue; residency `strict` keeps a non-home region from storing or
 * transforming the account's bytes.
 */
import { createHash } from 'node:crypto';
import { Hono } from 'hono';
import type { Account } from '../../shared/accounts.js';
import { badRequest, headerSafe, isPixmeshError, notFound, unauthorized, upstreamFailed } from '../../shared/errors.js';
import { accountKeyRevision, sameAccountRevision, variantCacheKey } from '../../shared/cache-key.js';
import { H } from '../../shared/headers.js';
import { answerBy, parseBudgetMs } from '../../shared/deadlines.js';
import { contentDisposition, isActiveDocument, isCompressible, isEncoding, refuseTransformation, SVG_TYPE, transformsContent, wantsRaster, type Encoding } from '../../shared/delivery.js';
import { decodeAccountSegment, parseImagePath, type ImageRequest } from '../../shared/request.js';
import { allOps, parseTransformation, planLayers, type NegotiatedFormat, type TransformPlan } from '../../shared/transform/index.js';
import { ResultCache, type CacheEntry, type CachedMeta } from './cache/result-cache.js';
import { hitIdentity } from './cache/hit-answers.js';
import { compress, resolveDelivery, sanitiseSvg } from './delivery/index.js';
import { callRender, forwardToHome, HomeUnreachable } from './forward.js';
import { replicaIdOf } from './region/members.js';
import { PEER_HEADER } from './region/peers.js';
import { renderRouteKey } from '../../shared/rendezvous.js';
import { checkInputPixels } from './limits.js';
import { checkRenderCost, estimateRenderCost } from './budget.js';
import { log } from './log.js';
import { recordLayerUse } from './layer-deps.js';
import { mediaBucketFor } from './config.js';
import { renderBounded } from './pipeline/isolate.js';
import type { Produced, RegionServices } from './services.js';
import { arrivals, renderOutcomes, ServerTiming } from './server-timing.js';
import type { Original } from './sources/index.js';
import { webProxyTarget } from './sources/web.js';

const FORMATS: NegotiatedFormat[] = ['jpeg', 'png', 'webp', 'avif', 'gif', 'source'];
const LONG_CACHE = 'public, max-age=31536000, s-maxage=31536000';
/** A default image (di-) stands in for a missing original: cached briefly, never in the result cache. */
const DEFAULT_IMAGE_CACHE = 'public, max-age=300, s-maxage=300';
export const DEFAULT_IMAGE_HEADER = H.defaultImage;

export interface Variant {
  account: Account;
  request: ImageRequest;
  plan: TransformPlan;
  format: NegotiatedFormat;
  dpr?: number;
  widthHint?: number;
  signed: boolean;
  /** The best encoding the client accepts (x-pixmesh-encoding); compressible files are served in it. */
  encoding: Encoding;
  /** The result-cache key of the identity body. */
  key: string;
  /** The key of the body in a content encoding (the same variant key with enc=…). */
  encodedKey: (encoding: Exclude<Encoding, 'identity'>) => string;
  /** When the caller stops waiting, less the answer's way back (H.budget, shared/deadlines.ts); undefined: no budget sent. */
  answerBy?: number;
}

/** The render call's URL and steering headers → the variant it asks for (its cache key included). */
function parseVariant(deps: RegionServices, url: URL, headers: Headers): Variant {
  const m = /^\/internal\/render\/([^/]+)(\/.*)?$/.exec(url.pathname);
  if (!m) throw notFound('no account in the path');
  const id = decodeAccountSegment(m[1]!);
  const account = deps.accounts.get(id);
  if (!account) throw notFound(`unknown account "${id}"`);
  const request = parseImagePath(account, m[2] ?? '', url.search);
  const plan = parseTransformation(request.tr, { namedTransforms: account.namedTransforms, namedOnly: account.namedOnly });
  const rawFormat = headers.get(H.format) ?? 'source';
  if (!FORMATS.includes(rawFormat as NegotiatedFormat)) throw badRequest(`bad ${H.format} "${rawFormat}"`);
  const format = rawFormat as NegotiatedFormat;
  const num = (name: string) => {
    const raw = headers.get(name);
    if (raw === null || raw === '') return undefined;
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0) throw badRequest(`bad ${name} "${raw}"`);
    return n;
  };
  const dpr = num(H.dpr);
  const widthHint = num(H.width);
  const rawEncoding = headers.get(H.encoding) ?? 'identity';
  if (!isEncoding(rawEncoding)) throw badRequest(`bad ${H.encoding} "${rawEncoding}"`);
  const budgetMs = parseBudgetMs(headers.get(H.budget));
  // The one key both tiers use (shared/cache-key.ts): the edge caches under the same identity; a
  // compressed body is the same key with its encoding.
  const keyFor = (encoding: Encoding) => variantCacheKey({ account, request, plan, format, dpr, width: widthHint, encoding });
  return {
    account,
    request,
    plan,
    format,
    dpr,
    widthHint,
    signed: headers.get(H.signed) === 'true',
    encoding: rawEncoding,
    key: keyFor('identity'),
    encodedKey: keyFor,
    answerBy: budgetMs === undefined ? undefined : answerBy(budgetMs, Date.now()),
  };
}

/** A web-proxy URL on an endpoint that requires signatures: refused before any cache or fetch. */
function needsSignature(v: Variant): boolean {
  const proxy = v.request.endpoint.origins.find((o) => o.type === 'webproxy');
  if (!proxy || proxy.type !== 'webproxy' || !proxy.requireSignedUrls) return false;
  try {
    return webProxyTarget(v.request.path, []) !== null;
  } catch {
    return false;
  }
}

/** If-None-Match against an ETag (weak comparison, lists and "*"). */
export function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch || !etag) return false;
  const strip = (t: string) => t.trim().replace(/^W\//, '');
  return ifNoneMatch.split(',').some((t) => t.trim() === '*' || strip(t) === strip(etag));
}

export type { Produced } from './services.js';

/** The headers of an entry that do not change per request (computed once per cached entry). */
const fixedHeaders = new WeakMap<CacheEntry, Record<string, string>>();

function entryHeaders(entry: CacheEntry, region: string, defaultImage: boolean): Record<string, string> {
  const memo = !defaultImage ? fixedHeaders.get(entry) : undefined;
  if (memo) return memo;
  const { meta } = entry;
  const headers: Record<string, string> = {
    'content-type': meta.contentType,
    etag: meta.etag,
    'cache-control': meta.isPrivate ? 'private, max-age=3600' : defaultImage ? DEFAULT_IMAGE_CACHE : LONG_CACHE,
    [H.region]: region,
    [H.processedBy]: meta.processedBy ?? region,
    'x-content-type-options': 'nosniff',
    // An SVG served as SVG may style itself and show inline images, never run anything.
    'content-security-policy': meta.contentType === SVG_TYPE ? "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox" : "default-src 'none'; sandbox",
    'last-modified': new Date(meta.lastModified ?? meta.createdAt).toUTCString(),
    'content-length': String(entry.body.length),
  };
  // HTML and XML documents from the image domain would be stored XSS: downloads only (docs/security.md).
  if (isActiveDocument(meta.contentType)) headers['content-disposition'] = contentDisposition('attachment', meta.path.slice(meta.path.lastIndexOf('/') + 1));
  if (meta.contentEncoding) headers[H.contentEncoding] = meta.contentEncoding;
  if (!defaultImage) fixedHeaders.set(entry, headers);
  return headers;
}

interface Answer {
  req: Request;
  state: 'HIT' | 'MISS';
  timing: ServerTiming;
  ifNoneMatch: string | undefined;
  /** This replica's id and the region's hit ratio, set here so the access-log middleware sets no header. */
  replica: string;
  extra?: Record<string, string>;
  /** The account revision the bytes were rendered under (H.accountRev): ours, or the producer's when it differed. */
  accountRev: string;
  /** A hit from the memory tier under this cache key: remembered for the hit path (hit-path.ts) under the raw call's identity. */
  prepare?: { key: string; identity: string; account: Account };
}

/**
 * The answer: the entry's memoised headers plus the per-request ones, as a plain record and a
 * view of the cached bytes (no copy), which @hono/node-server writes with one writeHead + end.
 */
function imageResponse(entry: CacheEntry, deps: RegionServices, a: Answer): Response {
  const { config } = deps;
  const extra = a.extra ?? {};
  const fixed = entryHeaders(entry, config.region, extra[DEFAULT_IMAGE_HEADER] !== undefined);
  const processedBy = entry.meta.processedBy ?? config.region;
  const cache = extra[H.failover] ? 'failover' : a.state === 'HIT' ? 'hit' : processedBy !== config.region ? 'forward' : 'miss';
  const headers: Record<string, string> = {
    ...fixed,
    [H.regionCache]: a.state,
    [H.replica]: a.replica,
    [H.regionHitRatio]: deps.region.hitRatio().toFixed(3),
    [H.accountRev]: a.accountRev,
    ...extra,
  };
  if (etagMatches(a.ifNoneMatch, entry.meta.etag)) {
    renderOutcomes.set(a.req, { cache: 'not-modified', bytes: 0 });
    delete headers['content-type'];
    delete headers['content-length'];
    headers['server-timing'] = a.timing.header();
    return new Response(null, { status: 304, headers });
  }
  renderOutcomes.set(a.req, { cache, bytes: entry.body.length });
  if (a.prepare && a.state === 'HIT' && !a.extra) {
    const hash = ResultCache.hashKey(a.prepare.key);
    if (deps.cache.holds(hash, entry)) deps.hitAnswers.remember(a.prepare.identity, { account: a.prepare.account, entry, hash, headers: { ...fixed, [H.accountRev]: a.accountRev } });
  }
  deps.metrics.bytesOut.inc({ route: 'render' }, entry.body.length);
  headers['server-timing'] = a.timing.header();
  // A view of the cached bytes, not a copy (@hono/node-server writes a Uint8Array body in one call).
  return new Response(new Uint8Array(entry.body.buffer, entry.body.byteOffset, entry.body.byteLength), { status: 200, headers });
}

/** Time a stage into both Server-Timing and the stage histogram. */
function stage<T>(deps: RegionServices, timing: ServerTiming, name: string, fn: () => Promise<T>, desc?: string): Promise<T> {
  const end = deps.metrics.stage.startTimer({ stage: name });
  return timing.time(name, fn, desc).finally(() => end());
}

/**
 * Stores a result behind its response (never awaited by the response: a slow disk or S3 costs the
 * client nothing). The entry is visible to this replica's lookups at once (the L1 memory tier);
 * the writes are tracked (deps.writes, flushed at shutdown). A result the cache cannot take
 * (disk full, I/O error) was still served; the failure is logged and counted.
 */
function storeBehind(deps: RegionServices, key: string, meta: Omit<CachedMeta, 'bodyLength'>, body: Buffer, sharedToo = true): void {
  // Visible to this replica's lookups now; the writes (and the S3 client's synchronous request
  // building) start on the next turn of the event loop, after the response was written.
  deps.cache.hold(key, meta, body);
  const epoch = deps.purgeEpoch.value;
  const end = deps.metrics.stage.startTimer({ stage: 'store' });
  const write = new Promise<void>((resolve) => setImmediate(resolve))
    // A purge in between: nothing is written (the purge already dropped the memory copy).
    .then(() => (deps.purgeEpoch.value === epoch ? deps.region.store(key, meta, body, { sharedToo }) : undefined))
    .then(
    () => void end(),
    (e: unknown) => {
      end();
      deps.metrics.cacheWriteErrors.inc();
      log.warn('result cache write failed; served without storing', { account: meta.account, path: meta.path, err: (e as Error).message });
    },
  );
  deps.writes.track(write);
}

async function fetchWithDefault(deps: RegionServices, v: Variant, timing: ServerTiming): Promise<{ original: Original; defaultImage?: string }> {
  const input = {
    account: v.account,
    endpoint: v.request.endpoint,
    path: v.request.path,
    extraQuery: v.request.extraQuery,
    signed: v.signed,
    maxBytes: deps.config.pipeline.maxInputBytes,
  };
  try {
    return { original: await stage(deps, timing, 'fetch', () => deps.originals.get(input)) };
  } catch (e) {
    if (!(isPixmeshError(e) && e.code === 'ENOENT' && v.plan.defaultImage)) throw e;
    const defaultImage = v.plan.defaultImage;
    // ImageKit takes default images from the media library: look there first, then in the endpoint's own origins.
    const origins = input.endpoint.origins;
    const endpoint = origins.some((o) => o.type === 'media') ? input.endpoint : { ...input.endpoint, origins: [{ type: 'media' as const }, ...origins] };
    const original = await stage(deps, timing, 'fetch', () => deps.originals.get({ ...input, endpoint, path: defaultImage, extraQuery: [] }), 'default-image');
    return { original, defaultImage };
  }
}

/**
 * The files the plan's layers need (layer images, custom fonts), fetched from the same account
 * through the same originals store (cached, coalesced, SSRF-safe, size-limited) — all started
 * at once, before the transform slot is taken. A file is awaited only when the render reaches
 * its layer, so a missing file in an if-branch not taken is no error; a missing file that is
 * used is a 404 ENOENT naming it.
 */
function prefetchLayers(deps: RegionServices, v: Variant, timing: ServerTiming): (path: string, kind: 'image' | 'font') => Promise<Buffer> {
  const wanted = new Map<string, Promise<Buffer>>();
  const fetchOne = async (path: string, kind: 'image' | 'font'): Promise<Buffer> => {
    const origins = v.request.endpoint.origins;
    // fonts come from the media library; layer images from the endpoint's origins (media first, as ImageKit)
    const endpoint =
      kind === 'font' || !origins.some((o) => o.type === 'media')
        ? { ...v.request.endpoint, origins: kind === 'font' ? [{ type: 'media' as const }] : [{ type: 'media' as const }, ...origins] }
        : v.request.endpoint;
    let original: Original;
    try {
      original = await stage(deps, timing, 'fetch', () =>
        deps.originals.get({ account: v.account, endpoint, path, extraQuery: [], signed: v.signed, maxBytes: deps.config.pipeline.maxInputBytes }),
        kind === 'font' ? 'layer-font' : 'layer',
      );
    } catch (e) {
      if (isPixmeshError(e) && e.code === 'ENOENT') throw notFound(`layer ${kind === 'font' ? 'font' : 'image'} "${path}" not found`);
      throw e;
    }
    if (original.isPrivate && !v.signed) throw unauthorized(`the layer file "${path}" is private: the URL must be signed`);
    // a layer renders as one still frame (PNG), like the pipeline's own check of it
    if (kind === 'image') await checkInputPixels(original.body, {}, 'png', deps.config.pipeline.maxInputPixels);
    return original.body;
  };
  const start = (path: string, kind: 'image' | 'font') => {
    const key = `${kind}\n${path}`;
    let p = wanted.get(key);
    if (!p) {
      p = fetchOne(path, kind);
      p.catch(() => {}); // awaited (and reported) only if the render uses it
      wanted.set(key, p);
    }
    return p;
  };
  for (const layer of planLayers(v.plan)) {
    if (layer.type === 'image') start(layer.path, 'image');
    if (layer.type === 'text' && layer.style.ff && 'path' in layer.style.ff) start(layer.style.ff.path, 'font');
  }
  return start;
}

/**
 * fo-custom: the media-library file's saved customCoordinates ("x,y,w,h", in its pixels). Only
 * media-library originals have them; read where the account's media store is (its home region);
 * none → fo-custom falls back to the centre (docs/transformations.md "Face focus").
 */
async function customFocusArea(deps: RegionServices, v: Variant, original: Original): Promise<{ x: number; y: number; w: number; h: number } | undefined> {
  if (original.source !== 'media' || !deps.customCoordinates || !allOps(v.plan).some((o) => o.fo === 'custom')) return undefined;
  const cc = await deps.customCoordinates(v.account.id, v.request.path);
  const m = cc ? /^(\d+),(\d+),(\d+),(\d+)$/.exec(cc) : null;
  return m ? { x: Number(m[1]), y: Number(m[2]), w: Number(m[3]), h: Number(m[4]) } : undefined;
}

/** At home (or on failover): original → limits → queue → pipeline → result cache. */
async function renderHere(deps: RegionServices, v: Variant, timing: ServerTiming, store: boolean): Promise<Produced> {
  const { config } = deps;
  const epoch = deps.purgeEpoch.value;
  // Entries are dated from when their work started: a purge taken meanwhile makes them stale.
  const startedAt = Date.now();
  const { original, defaultImage } = await fetchWithDefault(deps, v, timing);
  if (original.isPrivate && !v.signed) throw unauthorized('this file is private: it needs a signed URL');
  let out: { data: Buffer; contentType: string; width?: number; height?: number };
  // Raster images go through the pipeline; an SVG only when a raster format is asked for; any
  // other file (and orig-true) is served as it is — an SVG sanitised — and refuses transformations.
  const delivery = await resolveDelivery(v.request.path, original.body, original.contentType);
  const pipeline = (delivery.kind === 'image' && !v.plan.original) || (delivery.kind === 'svg' && wantsRaster(v.plan));
  if (!pipeline) {
    if (delivery.kind !== 'image' && transformsContent(v.plan)) refuseTransformation(delivery.kind, delivery.contentType);
    out = delivery.kind === 'svg' ? { data: sanitiseSvg(original.body, config.delivery.svgSanitiseMaxBytes), contentType: SVG_TYPE } : { data: original.body, contentType: delivery.contentType };
  } else {
    // The header is read once: the pixel limit, then the cost estimate and the account's budget, before a transform slot is taken (docs/security.md); the pipeline takes the same facts.
    const source = await checkInputPixels(original.body, v.plan, v.format, config.pipeline.maxInputPixels);
    const cost = estimateRenderCost(v.plan, source.rawWidth, source.rawHeight, v.format);
    checkRenderCost(cost, config.maxRenderCost);
    deps.budgets.take(v.account.id, cost);
    // A heavy render waits and runs apart from cheap ones, at a lower OS priority (origin/src/queue.ts).
    const heavy = cost >= config.heavyRenderCost;
    const fetchLayer = prefetchLayers(deps, v, timing);
    const focusArea = await customFocusArea(deps, v, original);
    // The caller's budget bounds the wait for a slot and the render (shared/deadlines.ts): work nobody
    // waits for is stopped, and the caller gets a 503 it can pass on instead of its own timeout.
    const callerGone = v.answerBy === undefined ? undefined : AbortSignal.timeout(Math.max(0, v.answerBy - Date.now()));
    const queueTimeout = AbortSignal.timeout(config.transformQueueTimeoutMs);
    const opts = { format: v.format, dpr: v.dpr, widthHint: v.widthHint, defaults: v.account.defaults, fetchLayer, focusArea, config: config.pipeline, source, signal: callerGone };
    const queuedAt = performance.now();
    out = await deps.queue.run((waited) => {
      // `waited`: no slot of its lane was free (or its reserve) when it arrived (origin/src/queue.ts)
      timing.add('queue', performance.now() - queuedAt, waited ? 'waited' : 'at-once');
      deps.metrics.stage.observe({ stage: 'queue' }, (performance.now() - queuedAt) / 1000);
      // A 5xx from the pipeline (its render deadline) would recur in any region.
      return stage(deps, timing, 'transform', () => renderBounded(original.body, v.plan, opts, config.pipeline.renderIsolation, heavy), heavy ? 'heavy' : undefined)
        .then((r) => {
          // started from the decoded-original cache: the JPEG scale of the cached pixels (origin/src/pipeline/decoded-cache.ts)
          if (r.decoded) timing.add('decoded', 0, `1/${r.decoded}`);
          if (r.layers?.count) {
            timing.add('layers', r.layers.ms, String(r.layers.count));
            deps.metrics.stage.observe({ stage: 'layers' }, r.layers.ms / 1000);
          }
          if (r.layers?.faceDetections) {
            timing.add('face', r.layers.faceMs, String(r.layers.faceDetections));
            deps.metrics.stage.observe({ stage: 'face' }, r.layers.faceMs / 1000);
          }
          return r;
        })
        .catch((e: unknown) => {
          throw isPixmeshError(e) && e.status >= 500 ? e.requestScoped() : e;
        });
    }, callerGone ? AbortSignal.any([queueTimeout, callerGone]) : queueTimeout, v.account.id, heavy ? 'heavy' : 'cheap');
  }
  const meta: Omit<CachedMeta, 'bodyLength'> = {
    contentType: out.contentType,
    etag: `"${createHash('sha1').update(out.data).digest('hex')}"`,
    account: v.account.id,
    path: v.request.path,
    width: out.width,
    height: out.height,
    processedBy: config.region,
    isPrivate: original.isPrivate,
    lastModified: original.lastModified,
    createdAt: startedAt,
  };
  if (store && !defaultImage && deps.purgeEpoch.value === epoch) storeBehind(deps, v.key, meta, out.data);
  // purging (replacing, deleting) a layer image or a custom font purges this file's variants too (origin/src/layer-deps.ts)
  const layerFiles = planLayers(v.plan).flatMap((l) => (l.type === 'image' ? [l.path] : l.type === 'text' && l.style.ff && 'path' in l.style.ff ? [l.style.ff.path] : []));
  if (pipeline && layerFiles.length && !defaultImage)
    void recordLayerUse(config.s3, mediaBucketFor(v.account.homeRegion), v.account.id, v.request.path, layerFiles);
  return { entry: { meta: { ...meta, bodyLength: out.data.length }, body: out.data }, failover: false, defaultImage };
}

/**
 * Coalescing across the region's replicas: a miss on a replica that does not own the variant
 * (rendezvous hashing over the live replicas, the balancer's function) is asked of its owner,
 * whose singleflight joins it with every other replica's identical miss. The answer is promoted
 * into this replica's L1 (the owner wrote the shared tier). An owner that does not answer within
 * one attempt (PIXMESH_PEER_TIMEOUT_MS) is suspected until its next heartbeat and the work is done here.
 */
async function fromOwner(deps: RegionServices, v: Variant, url: URL, headers: Headers, timing: ServerTiming, mayStoreHere: boolean): Promise<Produced | null> {
  if (headers.get(PEER_HEADER) !== null) return null; // we are the owner someone asked
  const owner = deps.region.ownerOf(renderRouteKey(url.pathname + url.search, headers));
  if (!owner) return null;
  const epoch = deps.purgeEpoch.value;
  const startedAt = Date.now();
  try {
    const mark = { [PEER_HEADER]: deps.region.members.self };
    const res = await stage(deps, timing, 'peer', () => callRender(deps.config, owner, deps.config.region, v.account, url, headers, mark, deps.config.shared.peerTimeoutMs), replicaIdOf(owner));
    const meta = { ...res.meta, path: v.request.path, createdAt: startedAt, processedBy: res.meta.processedBy };
    if (mayStoreHere && sameAccountRevision(res.accountRev, v.account) && !res.defaultImage && deps.purgeEpoch.value === epoch) storeBehind(deps, v.key, meta, res.body, false);
    return { entry: { meta: { ...meta, bodyLength: res.body.length }, body: res.body }, failover: res.failover === true, defaultImage: res.defaultImage, regionHit: res.regionCache === 'HIT', accountRev: res.accountRev };
  } catch (e) {
    if (!(e instanceof HomeUnreachable)) throw e;
    deps.region.members.suspect(owner);
    timing.add('peer-failed', undefined, e.message);
    return null;
  }
}

/** A miss: the variant's owner replica, else forward to home, or render here; one execution per variant key at a time. */
async function produce(deps: RegionServices, v: Variant, url: URL, headers: Headers, timing: ServerTiming): Promise<Produced> {
  const { config } = deps;
  const isHome = v.account.homeRegion === config.region;
  const forwarded = headers.get(H.hop) !== null;
  const mayStoreHere = isHome || v.account.residency === 'flexible';
  const viaOwner = await fromOwner(deps, v, url, headers, timing, mayStoreHere);
  if (viaOwner) return viaOwner;
  if (!isHome && forwarded) {
    // Someone thinks we are home: never forward again (no loops); strict accounts are refused.
    if (v.account.residency === 'strict') throw upstreamFailed(`misdirected: ${v.account.id}'s home region is ${v.account.homeRegion}`, 502);
    return renderHere(deps, v, timing, true);
  }
  if (!isHome) {
    const epoch = deps.purgeEpoch.value;
    const startedAt = Date.now();
    try {
      const res = await stage(deps, timing, 'forward', () => forwardToHome(deps, url, headers), v.account.homeRegion);
      deps.metrics.bytesIn.inc({ source: 'forward' }, res.body.length);
      const meta = { ...res.meta, path: v.request.path, createdAt: startedAt };
      // Home still (or already) on another revision of the account than this region: its bytes are not this key's.
      if (mayStoreHere && sameAccountRevision(res.accountRev, v.account) && !res.defaultImage && deps.purgeEpoch.value === epoch) storeBehind(deps, v.key, meta, res.body);
      return { entry: { meta: { ...meta, bodyLength: res.body.length }, body: res.body }, failover: false, defaultImage: res.defaultImage, accountRev: res.accountRev };
    } catch (e) {
      if (!(e instanceof HomeUnreachable)) throw e;
      if (v.account.residency === 'strict') throw e.asError();
      timing.add('failover', undefined, e.message);
    }
    const produced = await renderHere(deps, v, timing, true);
    return { ...produced, failover: true };
  }
  return renderHere(deps, v, timing, true);
}

/**
 * The identity entry in br / gzip, stored under the encoded key (one computation per region:
 * concurrent requests share it); null when compressing does not make it smaller.
 */
async function encodeOnce(deps: RegionServices, v: Variant, entry: CacheEntry, encoding: Exclude<Encoding, 'identity'>, timing: ServerTiming, store: boolean): Promise<CacheEntry | null> {
  const key = v.encodedKey(encoding);
  const flight = deps.variantFlights.do(`${key}\n${v.signed ? 's' : 'u'}\n${deps.purgeEpoch.value}`, async (): Promise<Produced> => {
    const epoch = deps.purgeEpoch.value;
    const body = await stage(deps, timing, 'compress', () => compress(entry.body, encoding, entry.meta.contentType), encoding);
    // Not smaller: an empty marker entry is not worth it; the identity body is served.
    // A compressed body carries the identity body's ETag, weak (the same representation, other bytes: RFC 9110 §8.8.1).
    if (!body) return { entry: { ...entry, meta: { ...entry.meta, contentEncoding: undefined } }, failover: false };
    const meta = { ...entry.meta, etag: `W/${entry.meta.etag.replace(/^W\//, '')}`, contentEncoding: encoding } as CachedMeta;
    const { bodyLength: _omit, ...storedMeta } = meta;
    if (store && deps.purgeEpoch.value === epoch) storeBehind(deps, key, storedMeta, body);
    return { entry: { meta: { ...meta, bodyLength: body.length }, body }, failover: false };
  });
  const produced = await flight.promise;
  return produced.entry.meta.contentEncoding ? produced.entry : null;
}

export function renderRoutes(deps: RegionServices): Hono {
  const app = new Hono();
  const replica = replicaIdOf(deps.config.shared.replicaUrl);
  app.get('/internal/render/*', async (c) => {
    const { config } = deps;
    const timing = new ServerTiming(arrivals.get(c.req.raw));
    timing.add('region', undefined, config.region);
    const url = new URL(c.req.url);
    const headers = c.req.raw.headers;
    const v = parseVariant(deps, url, headers);
    if (!v.signed && needsSignature(v)) throw unauthorized('web-proxy URLs must be signed (ik-s)');
    const isHome = v.account.homeRegion === config.region;
    const mayStoreHere = isHome || v.account.residency === 'flexible';
    const ifNoneMatch = c.req.header('if-none-match');
    // The raw call as the hit path (hit-path.ts) sees it: a memory-tier hit answered here is answered there next time.
    const rawUrl = (c.env as { incoming?: { url?: string } } | undefined)?.incoming?.url;
    const identity = rawUrl ? hitIdentity(rawUrl, (n) => headers.get(n)) : undefined;

    // A peer's call is counted by the replica that took the request (once per request, region-wide).
    const count = headers.get(PEER_HEADER) === null;
    const ownRev = accountKeyRevision(v.account);
    // A compressible file asked for in br / gzip: the compressed body is computed once per region and cached.
    const encoding = v.encoding;
    if (encoding !== 'identity' && mayStoreHere) {
      const hit = await stage(deps, timing, 'cache', () => deps.region.lookup(v.encodedKey(encoding), v.account.id, v.request.path), `lookup ${encoding}`);
      if (hit) {
        if (count) deps.metrics.hitRatio.record(true);
        if (hit.entry.meta.isPrivate && !v.signed) throw unauthorized('this file is private: it needs a signed URL');
        timing.add('tier', undefined, hit.tier);
        return imageResponse(hit.entry, deps, { req: c.req.raw, state: 'HIT', timing, ifNoneMatch, replica, accountRev: ownRev, prepare: identity && hit.tier === 'L1' ? { key: v.encodedKey(encoding), identity, account: v.account } : undefined });
      }
    }

    let entry: CacheEntry | undefined;
    let state: 'HIT' | 'MISS' = 'MISS';
    let fromL1 = false;
    let accountRev = ownRev;
    const extra: Record<string, string> = {};
    let storable = mayStoreHere;
    const takeHit = (hit: { entry: CacheEntry; tier: string }) => {
      if (count) deps.metrics.hitRatio.record(true);
      if (hit.entry.meta.isPrivate && !v.signed) throw unauthorized('this file is private: it needs a signed URL');
      timing.add('tier', undefined, hit.tier);
      entry = hit.entry;
      state = 'HIT';
    };
    let shared: Promise<{ entry: CacheEntry; tier: 'shared' } | null> | undefined;
    let rendersHere = false;
    if (mayStoreHere) {
      const hit = await stage(deps, timing, 'cache', () => deps.region.lookupLocal(v.key), 'lookup');
      if (hit) {
        takeHit(hit);
        fromL1 = true;
      }
      else if (deps.region.sharedReadable) {
        // Where the render would happen here (home, and this replica owns the variant), it does not
        // wait for the shared tier's answer (one S3 round trip): both start at once, a shared hit wins
        // and the render's own result is stored anyway — and a variant the tier's key index does not
        // hold is not asked for at all (region/shared-cache.ts SharedIndex). Elsewhere the shared tier is asked first.
        rendersHere = isHome && (headers.get(PEER_HEADER) !== null || deps.region.ownerOf(renderRouteKey(url.pathname + url.search, headers)) === null);
        if (rendersHere && !deps.region.sharedMayHold(v.key)) timing.add('shared', undefined, 'absent');
        else shared = stage(deps, timing, 'shared', () => deps.region.lookupShared(v.key, v.account.id, v.request.path), 'lookup');
      }
    }
    if (shared && !rendersHere) {
      const hit = await shared;
      shared = undefined;
      if (hit) takeHit(hit);
    }
    if (!entry) {
      const flight = deps.variantFlights.do(`${v.key}\n${v.signed ? 's' : 'u'}\n${deps.purgeEpoch.value}`, () => produce(deps, v, url, headers, timing));
      if (flight.shared) timing.add('coalesced');
      // While the shared tier is asked, the flight may already fail: that is handled below, never an unhandled rejection.
      if (shared) flight.promise.catch(() => undefined);
      const hit = shared ? await shared : null;
      if (hit) {
        takeHit(hit); // the flight finishes (and stores) on its own
      } else {
        const produced = await flight.promise;
        if (mayStoreHere && count) deps.metrics.hitRatio.record(produced.regionHit === true);
        if (produced.regionHit) state = 'HIT';
        if (produced.entry.meta.isPrivate && !v.signed) throw unauthorized('this file is private: it needs a signed URL');
        if (produced.failover) extra[H.failover] = 'home-unreachable';
        // Whole code points, %-escaped as UTF-8 (a lone surrogate becomes U+FFFD): never a URIError.
        if (produced.defaultImage) extra[DEFAULT_IMAGE_HEADER] = headerSafe(produced.defaultImage, 1024);
        storable &&= !produced.defaultImage;
        if (!sameAccountRevision(produced.accountRev, v.account)) {
          // Produced under another view of the account (its file reloads in each process on its own): passed on, not stored.
          storable = false;
          accountRev = produced.accountRev!;
          timing.add('account-rev', undefined, `${produced.accountRev} not ${ownRev}`);
        }
        entry = produced.entry;
      }
    }
    if (!entry) throw new Error('unreachable: no entry after the flight');
    if (encoding !== 'identity' && isCompressible(entry.meta.contentType)) {
      const encoded = await encodeOnce(deps, v, entry, encoding, timing, storable);
      if (encoded) return imageResponse(encoded, deps, { req: c.req.raw, state, timing, ifNoneMatch, replica, accountRev, extra: Object.keys(extra).length ? extra : undefined });
    }
    const prepare = identity && fromL1 && (encoding === 'identity' || !isCompressible(entry.meta.contentType)) ? { key: v.key, identity, account: v.account } : undefined;
    return imageResponse(entry, deps, { req: c.req.raw, state, timing, ifNoneMatch, replica, accountRev, extra: Object.keys(extra).length ? extra : undefined, prepare });
  });
  return app;
}
