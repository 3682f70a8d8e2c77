/**
 * The state one image request carries through the phases in ../images.ts. Each phase fills in the
 * fields it owns (named beside them) and may answer the request early; a later phase reads only
 * fields an earlier phase set.
 */
import type { Context } from 'hono';
import type { Account } from '../../../shared/accounts.js';
import type { Encoding } from '../../../shared/delivery.js';
import type { PixmeshError } from '../../../shared/errors.js';
import type { RegionId, RegionUrls } from '../../../shared/regions.js';
import type { ImageRequest } from '../../../shared/request.js';
import type { SignatureCheck } from '../../../shared/signing.js';
import type { NegotiatedFormat, TransformPlan } from '../../../shared/transform/index.js';
import type { DeliveryOptions } from '../delivery.js';
import type { CachedLookup } from '../edge-cache.js';
import type { Env } from '../env.js';
import type { Geo } from '../geo.js';
import type { RouteDecision } from '../routing/model.js';

export type ImageContext = Context<{ Bindings: Env }>;

/** What the region that answered sent back (set by fetch-failover when a region answered). */
export interface Upstream {
  res: Response;
  region: RegionId;
  ttfbMs: number;
}

export interface ImageJob {
  readonly c: ImageContext;
  readonly started: number;
  readonly head: boolean;
  readonly url: URL;
  readonly geo: Geo;
  readonly urls: RegionUrls;
  readonly regions: RegionId[];
  // recall (recall.ts): the request's identity when its phase results may be kept; set when they were restored
  recallId?: string;
  recalled?: boolean;
  // parse
  account: Account;
  pathAfterAccount: string;
  urlEndpoint: string;
  viaCustomDomain: boolean;
  request: ImageRequest;
  plan: TransformPlan;
  // verify
  signature: SignatureCheck;
  // negotiate
  format: NegotiatedFormat;
  encoding: Encoding;
  delivery: DeliveryOptions;
  hints: { dpr?: number; width?: number };
  varyOn: string[];
  // edge-cache
  key: Request;
  cached: CachedLookup;
  // client-budget
  client: string;
  // route
  decision: RouteDecision;
  // fetch-failover
  tried: string[];
  lastError?: PixmeshError;
  upstream?: Upstream;
}

/**
 * One phase: it reads and fills the job, and returns a Response to answer the request there
 * (a cache HIT, the region's answer), or nothing to go on to the next phase.
 */
export interface ImagePhase {
  readonly name: string;
  /** Its results are restored by the recall phase for a repeat of the same request (recall.ts): skipped then. */
  readonly memoised?: boolean;
  run(job: ImageJob): Promise<Response | void> | Response | void;
}
