/**
 * The region-cache hit, answered before the framework (docs/benchmarks.md "Hit path").
 *
 * After render.ts answered a render call from this replica's memory tier, it remembers the answer
 * under the call's identity (the raw path and query and the steering headers: everything the
 * variant is parsed from). The next identical call is answered from the raw Node request with one
 * writeHead + end of the entry's precomputed headers and a view of its bytes — no Request or
 * Response objects, no routing, no re-parse of the variant, no cache-key hash — when all of this
 * still holds (anything else goes to the full app, which decides and answers as always):
 *   - the account object is the one the variant was parsed with (the directory did not reload);
 *   - the memory tier still holds that very entry (a purge, a delete or a newer write replaced it);
 *   - no purge record covers it (RegionState.valid), it is not private to an unsigned call, no
 *     If-None-Match is asked, the in-flight bound is not reached;
 *   - the internal signature is valid and its nonce unseen (the same verifier and nonce store as
 *     requireInternalAuth: a refused call goes to the app, which refuses it with its reason).
 * Metrics, usage bytes, the hit ratio and the access log are recorded as for any answer.
 * The entry's headers are flattened once per prepared answer into writeHead's `[name, value, …]`
 * form, so an answer copies one array and appends the four per-request headers instead of spreading
 * a record; with the origin's synchronous HMAC and a nonce this replica owns, the whole answer is
 * written in the request's own tick, with no promise (docs/benchmarks.md "Round 5").
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { H } from '../../shared/headers.js';
import { DEFAULT_WINDOW_MS, EMPTY_SHA256, verifyInternalRequestNow, type InternalAuthResult } from '../../shared/internal-auth.js';
import { hitIdentity, type PreparedHit } from './cache/hit-answers.js';
import type { NonceStore } from './internal-auth.js';
import { log } from './log.js';
import { deliversToUser, type UsageMeter } from './media/usage.js';
import { PEER_HEADER } from './region/peers.js';
import type { RegionServices } from './services.js';

const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v.join(', ') : v);

/** The per-request headers (set after the prepared ones: a prepared header of the same name is left out, as a record spread would override it). */
const PER_REQUEST = new Set<string>([H.regionCache, H.replica, H.regionHitRatio, 'server-timing']);

/** Metric labels of every hit answer, made once (prom-client reads them; nothing writes them). */
const RENDER = Object.freeze({ route: 'render' });
const RENDER_HIT_200 = Object.freeze({ route: 'render', status: '200', cache: 'hit' });

/** The path of a request target: everything before the first '?' (url.split('?')[0], without the array). */
export function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/** A prepared answer's headers as writeHead's flat `[name, value, …]` list, computed once per prepared answer. */
const flatHeaders = new WeakMap<PreparedHit, string[]>();
export function preparedHeaderList(hit: PreparedHit): string[] {
  let list = flatHeaders.get(hit);
  if (!list) {
    list = [];
    for (const name of Object.keys(hit.headers)) if (!PER_REQUEST.has(name)) list.push(name, hit.headers[name]!);
    flatHeaders.set(hit, list);
  }
  return list;
}

/**
 * A Node request listener that answers prepared hits and hands everything else to `next` (the
 * app's listener). Nothing is consumed before it decides to answer: the nonce is claimed only
 * once every other check passed.
 */
export function hitListener(
  services: RegionServices,
  deps: { nonces: NonceStore; usage: UsageMeter; replica: string },
  next: (req: IncomingMessage, res: ServerResponse) => unknown,
): (req: IncomingMessage, res: ServerResponse) => void {
  const { config, metrics, cache, region } = services;
  const answers = services.hitAnswers;
  const timingHead = `region;desc="${config.region}", cache;desc="memory", tier;desc="L1", proc;dur=`;
  return (req, res) => {
    const t0 = performance.now();
    const url = req.url ?? '';
    const h = req.headers;
    if (req.method !== 'GET' || !url.startsWith('/internal/render/') || h['if-none-match'] !== undefined || services.inflight.count >= config.maxInflight) return void next(req, res);
    const get = (name: string) => one(h[name]);
    const identity = hitIdentity(url, get);
    const hit = answers.get(identity);
    if (!hit) return void next(req, res);
    const { entry } = hit;
    const signed = h[H.signed] === 'true';
    if (services.accounts.get(hit.account.id) !== hit.account || !cache.holds(hit.hash, entry) || !region.isValid(entry.meta) || (entry.meta.isPrivate && !signed)) {
      answers.forget(identity);
      return void next(req, res);
    }
    const bag = { get: (name: string) => get(name) ?? null };
    const failed = (e: unknown) => {
      log.warn('hit path failed; answered by the app', { err: String(e) });
      if (!res.headersSent) next(req, res);
    };
    const answer = (fresh: boolean) => {
      if (!fresh) return void next(req, res);
      cache.countMemoryHit(hit.hash);
      const counted = h[PEER_HEADER] === undefined;
      if (counted) metrics.hitRatio.record(true);
      const bytes = entry.body.length;
      const proc = performance.now() - t0;
      // One array of the exact size (a copy then pushes grew it once more per answer).
      res.writeHead(200, preparedHeaderList(hit).concat(H.regionCache, 'HIT', H.replica, deps.replica, H.regionHitRatio, region.hitRatio().toFixed(3), 'server-timing', `${timingHead}${proc.toFixed(1)}`));
      res.end(entry.body);
      metrics.bytesOut.inc(RENDER, bytes);
      if (deliversToUser(get)) deps.usage.count(hit.account.id, bytes);
      metrics.requests.inc(RENDER_HIT_200, 1);
      metrics.requestDuration.observe(RENDER, proc / 1000);
      log.info('request', { requestId: get(H.requestId), method: 'GET', path: pathOf(url), status: 200, cache: 'hit', ms: Math.round(proc * 10) / 10, hop: get(H.hop) });
    };
    // Refused calls (and anything that changed meanwhile) get the app's answer, with its reason.
    const authorised = (auth: InternalAuthResult) => {
      if (!auth.ok || auth.bodySha256 !== EMPTY_SHA256 || !cache.holds(hit.hash, entry)) return void next(req, res);
      const fresh = deps.nonces.remember(auth.nonce, 2 * DEFAULT_WINDOW_MS);
      if (typeof fresh === 'boolean') answer(fresh);
      else fresh.then(answer).catch(failed);
    };
    // With the origin's synchronous HMAC and a nonce this replica owns, all of it runs now: no promise, no await.
    try {
      const auth = verifyInternalRequestNow(config.internalSecret, { method: 'GET', pathAndQuery: url, headers: bag, region: config.region }, Date.now(), DEFAULT_WINDOW_MS);
      if (auth instanceof Promise) auth.then(authorised).catch(failed);
      else authorised(auth);
    } catch (e) {
      failed(e);
    }
  };
}
