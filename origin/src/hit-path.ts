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
 * Round 7: the request headers it reads come from req.rawHeaders in one pass (readHeaders, as
 * req.headers would have them), one HitCall object carries a call through its steps (no closure
 * per step), the three metrics are added in batches (OriginMetrics.recordHit) and the access-log
 * line is serialised with its batch (log.infoLater) — the same counts and characters.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { H } from '../../shared/headers.js';
import { AUTH_HEADER, CONTENT_SHA256_HEADER, DEFAULT_WINDOW_MS, EMPTY_SHA256, SIGNED_HEADERS, verifyInternalRequestNow, type InternalAuthResult } from '../../shared/internal-auth.js';
import { hitIdentityOf, type PreparedHit } from './cache/hit-answers.js';
import type { NonceStore } from './internal-auth.js';
import { log } from './log.js';
import { deliversToUser, type UsageMeter } from './media/usage.js';
import { PEER_HEADER } from './region/peers.js';
import type { RegionServices } from './services.js';

/** The per-request headers (set after the prepared ones: a prepared header of the same name is left out, as a record spread would override it). */
const PER_REQUEST = new Set<string>([H.regionCache, H.replica, H.regionHitRatio, 'server-timing']);

/** The path of a request target: everything before the first '?' (url.split('?')[0], without the array). */
export function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/**
 * Every request header the hit path reads (its checks, the call's identity, the signature, usage,
 * the access log), each at a fixed slot of what readHeaders returns.
 */
export const READ_HEADERS: readonly string[] = [
  ...new Set<string>(['if-none-match', H.format, H.signed, H.encoding, H.dpr, H.width, H.hop, H.fill, H.requestId, PEER_HEADER, AUTH_HEADER, CONTENT_SHA256_HEADER, ...SIGNED_HEADERS]),
];
const SLOT = new Map<string, number>(READ_HEADERS.map((name, i) => [name, i]));
const slot = (name: string): number => SLOT.get(name)!;
const IF_NONE_MATCH = slot('if-none-match');
const FORMAT = slot(H.format);
const SIGNED = slot(H.signed);
const ENCODING = slot(H.encoding);
const DPR = slot(H.dpr);
const WIDTH = slot(H.width);
const PEER = slot(PEER_HEADER);
/** Longer raw header lists go to the app (Node reads at most its maxHeaderPairs entries into req.headers; this bound keeps the two equal). */
export const MAX_RAW_HEADERS = 128;

/**
 * READ_HEADERS' values in a request's raw `[name, value, …]` list (req.rawHeaders), as req.headers
 * has them: names compared case-insensitively, a repeated header's values joined with ', ' in
 * order (Node's rule for each of these names: none is one whose duplicates it drops or an array),
 * undefined where absent. One pass, without the object req.headers builds on first read (a
 * lowercased and re-sliced name string and a keyed store per header: ≈ 1 µs of a hit).
 */
export function readHeaders(raw: readonly string[]): (string | undefined)[] {
  const out = new Array<string | undefined>(READ_HEADERS.length);
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    let k = SLOT.get(name);
    if (k === undefined) {
      const lower = name.toLowerCase();
      if (lower === name) continue;
      k = SLOT.get(lower);
      if (k === undefined) continue;
    }
    const prev = out[k];
    out[k] = prev === undefined ? raw[i + 1]! : `${prev}, ${raw[i + 1]!}`;
  }
  return out;
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

/** x-pixmesh-region-hit-ratio's text (3 decimals), formatted again only when the ratio changed (it stays put across a run of hits once the window is all hits). */
let lastRatio = NaN;
let lastRatioText = '';
function ratioText(r: number): string {
  if (r !== lastRatio) {
    lastRatio = r;
    lastRatioText = r.toFixed(3);
  }
  return lastRatioText;
}

interface HitDeps {
  services: RegionServices;
  nonces: NonceStore;
  usage: UsageMeter;
  replica: string;
  next: (req: IncomingMessage, res: ServerResponse) => unknown;
  /** `region;desc="…", cache;desc="memory", tier;desc="L1", proc;dur=` */
  timingHead: string;
}

/**
 * One call the hit path may answer: its request, its headers (readHeaders; also the header bag the
 * signature check reads) and its prepared answer. One object per call instead of a closure per step.
 */
class HitCall {
  constructor(
    readonly d: HitDeps,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly t0: number,
    readonly url: string,
    readonly headers: (string | undefined)[],
    readonly hit: PreparedHit,
  ) {}

  /** A request header the hit path reads (READ_HEADERS; any other name is a bug, refused loudly). */
  get(name: string): string | undefined {
    const k = SLOT.get(name);
    if (k === undefined) throw new Error(`hit path: header ${name} is not read from the raw request`);
    return this.headers[k];
  }

  toApp(): void {
    this.d.next(this.req, this.res);
  }

  failed(e: unknown): void {
    log.warn('hit path failed; answered by the app', { err: String(e) });
    if (!this.res.headersSent) this.toApp();
  }

  // Refused calls (and anything that changed meanwhile) get the app's answer, with its reason.
  // `now`: checked in the listener's own tick, just after it saw the memory tier hold the entry
  // (nothing can have replaced it since); after an await it is looked at again.
  authorised(auth: InternalAuthResult, now: boolean): void {
    const { services, nonces } = this.d;
    if (!auth.ok || auth.bodySha256 !== EMPTY_SHA256 || (!now && !services.cache.holds(this.hit.hash, this.hit.entry))) return this.toApp();
    const fresh = nonces.remember(auth.nonce, 2 * DEFAULT_WINDOW_MS);
    if (typeof fresh === 'boolean') this.answer(fresh);
    else fresh.then((f) => this.answer(f)).catch((e: unknown) => this.failed(e));
  }

  answer(fresh: boolean): void {
    if (!fresh) return this.toApp();
    const { services, usage, replica, timingHead } = this.d;
    const { metrics, region } = services;
    const { hit, res } = this;
    const body = hit.entry.body;
    services.cache.countMemoryHit(hit.hash);
    if (this.headers[PEER] === undefined) metrics.hitRatio.record(true);
    const bytes = body.length;
    const proc = performance.now() - this.t0;
    // One array of the exact size (a copy then pushes grew it once more per answer).
    res.writeHead(200, preparedHeaderList(hit).concat(H.regionCache, 'HIT', H.replica, replica, H.regionHitRatio, ratioText(region.hitRatio()), 'server-timing', `${timingHead}${proc.toFixed(1)}`));
    res.end(body);
    metrics.recordHit(bytes, proc / 1000);
    if (deliversToUser((n) => this.get(n))) usage.count(hit.account.id, bytes);
    log.infoLater('request', { requestId: this.get(H.requestId), method: 'GET', path: pathOf(this.url), status: 200, cache: 'hit', ms: Math.round(proc * 10) / 10, hop: this.get(H.hop) });
  }
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
  const { config, cache, region } = services;
  const answers = services.hitAnswers;
  const d: HitDeps = { services, nonces: deps.nonces, usage: deps.usage, replica: deps.replica, next, timingHead: `region;desc="${config.region}", cache;desc="memory", tier;desc="L1", proc;dur=` };
  return (req, res) => {
    const t0 = performance.now();
    const url = req.url ?? '';
    const raw = req.rawHeaders;
    if (req.method !== 'GET' || !url.startsWith('/internal/render/') || raw.length > MAX_RAW_HEADERS || services.inflight.count >= config.maxInflight) return void next(req, res);
    const v = readHeaders(raw);
    if (v[IF_NONE_MATCH] !== undefined) return void next(req, res);
    const identity = hitIdentityOf(url, v[FORMAT], v[SIGNED], v[ENCODING], v[DPR], v[WIDTH]);
    const hit = answers.get(identity);
    if (!hit) return void next(req, res);
    const { entry } = hit;
    if (services.accounts.get(hit.account.id) !== hit.account || !cache.holds(hit.hash, entry) || !region.isValid(entry.meta) || (entry.meta.isPrivate && v[SIGNED] !== 'true')) {
      answers.forget(identity);
      return void next(req, res);
    }
    const call = new HitCall(d, req, res, t0, url, v, hit);
    // With the origin's synchronous HMAC and a nonce this replica owns, all of it runs now: no promise, no await.
    try {
      const auth = verifyInternalRequestNow(config.internalSecret, { method: 'GET', pathAndQuery: url, headers: call, region: config.region }, Date.now(), DEFAULT_WINDOW_MS);
      if (auth instanceof Promise) auth.then((a) => call.authorised(a, false)).catch((e: unknown) => call.failed(e));
      else call.authorised(auth, true);
    } catch (e) {
      call.failed(e);
    }
  };
}
