/**
 * Everything one region origin holds (types only: the modules that use the services import this
 * without importing what builds them, so no import cycle): account directory, result cache,
 * originals store, transform queue, singleflight groups, metrics and purge. Built once by
 * ./build-services.ts, which `createOriginApp` calls with the boot-time dependencies.
 */
import type { BreakerSet } from '../../shared/breaker.js';
import type { RegionId } from '../../shared/regions.js';
import type { AccountDirectory } from './accounts.js';
import type { AccountBudgets } from './budget.js';
import type { CacheEntry, ResultCache } from './cache/result-cache.js';
import type { WriteBehind } from './cache/write-behind.js';
import type { SingleFlight } from './coalesce.js';
import type { ServerConfig } from './config.js';
import type { HitAnswers } from './cache/hit-answers.js';
import type { NonceStore } from './internal-auth.js';
import type { OriginMetrics } from './metrics.js';
import type { TransformQueue } from './queue.js';
import type { RegionState } from './region/index.js';
import type { OriginalStore } from './sources/index.js';

/** What main.ts (or a test) provides. */
export interface OriginDeps {
  config: ServerConfig;
  accounts: AccountDirectory;
  cache: ResultCache;
  /** Seen internal-call nonces; per process unless a shared store is given (replicas of one region). */
  nonces?: NonceStore;
}

export interface RegionServices extends OriginDeps {
  /** Per-account render budgets (pixel-operations per minute). */
  budgets: AccountBudgets;
  nonces: NonceStore;
  metrics: OriginMetrics;
  originals: OriginalStore;
  queue: TransformQueue;
  variantFlights: SingleFlight<Produced>;
  /** Region-cache hits answered before the framework (hit-path.ts), prepared by render.ts. */
  hitAnswers: HitAnswers;
  /** Result-cache writes done after their response (flushed at shutdown). */
  writes: WriteBehind;
  /** Render requests being handled right now (bounded by config.maxInflight). */
  inflight: { count: number };
  /** Skips a home region that stopped answering (fail over / refuse at once during a cool-down). */
  homeBreaker: BreakerSet;
  /** Bumped by every purge: work started before a purge neither stores its result nor is joined after it. */
  purgeEpoch: { value: number };
  /** Set on SIGTERM: /readyz answers 503 so load balancers stop sending work. */
  lifecycle: { draining: boolean };
  /** What the region's replicas share (shared result tier, purge records, peers); origin/src/region/. */
  region: RegionState;
  /** Remove a path's (or a prefix's) variants and originals in THIS region. */
  purgeLocal(account: string, pathOrPrefix: string, isPrefix: boolean): Promise<LocalPurgeResult>;
  /** Remove them in EVERY region (signed internal calls; this region directly). */
  purgeVariants(account: string, pathOrPrefix: string, isPrefix: boolean): Promise<PurgeReport>;
  /** A media-library file's saved customCoordinates ("x,y,w,h"), for fo-custom (set by app.ts once the media store exists). */
  customCoordinates?: (account: string, path: string) => Promise<string | null | undefined>;
}

export interface Produced {
  entry: CacheEntry;
  failover: boolean;
  defaultImage?: string;
  /** The variant's owner replica had it cached: a hit of the region. */
  regionHit?: boolean;
  /** Set when another process (home, the owner replica) produced it under another account revision than ours: not stored here, passed on. */
  accountRev?: string;
}

export interface LocalPurgeResult {
  region: RegionId;
  /** Result-cache entries removed. */
  results: number;
  /** Originals-cache entries removed. */
  originals: number;
  /** Entries removed from the region's shared tier (origin/src/region/). */
  shared?: number;
}

export type RegionPurge = { ok: true; results: number; originals: number } | { ok: false; error: string };

export interface PurgeReport {
  ok: boolean;
  regions: Partial<Record<RegionId, RegionPurge>>;
}
