/**
 * Origin configuration, composed at boot: this module's own spec (server, outbound fetch, the
 * region's shared state) and every other module's spec (pipeline, media, control plane,
 * delivery), read from one environment and validated together — every bad variable is reported
 * at once, in one ConfigError, before anything starts. No module reads process.env at import.
 */
import os from 'node:os';
import path from 'node:path';
import { isRegionId, localRegionUrls, parseRegionUrls, REGION_IDS, REGIONS, type RegionId, type RegionUrls } from '../../shared/regions.js';
import { CONTROL_PLANE_SPEC, type ControlPlaneConfig } from './account-config.js';
import { int, oneOf, readSpec, text, type ConfigSpec, type Env } from './config-spec.js';
import { DELIVERY_CONFIG_SPEC, type DeliveryConfig } from './delivery/svg.js';
import { MEDIA_CONFIG_SPEC, type MediaConfig } from './media/config.js';
import { PIPELINE_CONFIG_SPEC, type PipelineConfig } from './pipeline/config.js';

export interface ServerConfig {
  region: RegionId;
  host: string;
  port: number;
  accountsFile: string;
  internalSecret: string;
  regionUrls: RegionUrls;
  dataDir: string;
  cacheDir: string;
  /** Result cache bound in bytes (LRU beyond it). */
  cacheMaxBytes: number;
  /** The result cache's memory tier in front of the disk (bytes; hits there read no file). */
  cacheMemoryBytes: number;
  s3: { endpoint?: string; region: string; accessKeyId?: string; secretAccessKey?: string; forcePathStyle: boolean };
  /** This region's media-library bucket. */
  mediaBucket: string;
  /** Time allowed for the region → home forward before failing over. */
  forwardTimeoutMs: number;
  /** First cool-down of the breaker in front of a home region that stopped answering (doubles per failed trial, up to 30 s). */
  homeBreakerCoolDownMs: number;
  /** Outbound HTTP (web / web-proxy origins). */
  fetch: { connectTimeoutMs: number; headerTimeoutMs: number; bodyTimeoutMs: number; maxRedirects: number };
  /** Transforms running at once (default: CPU cores). */
  transformConcurrency: number;
  /** Transforms waiting for a slot; beyond it requests get 503 EBUSY with Retry-After. */
  transformQueue: number;
  /** Longest wait for a transform slot before 503 EBUSY (the edge gives up on an attempt after 12 s). */
  transformQueueTimeoutMs: number;
  /** Render requests handled at once (forwards and cache hits included); beyond it 503 EBUSY. */
  maxInflight: number;
  /** Ceiling on one render's estimated cost, pixel-operations (origin/src/budget.ts); beyond it 400 ELIMIT. */
  maxRenderCost: number;
  /** Renders estimated at this cost or more are heavy: their own queue lane, a low-priority child (origin/src/queue.ts). */
  heavyRenderCost: number;
  /** Per-account budget of pixel-operations per minute in this region; beyond it 429 EBUSY. */
  accountRenderBudget: number;
  /** Originals kept in memory so several variants of one original fetch it once (bytes). */
  originalsCacheBytes: number;
  originalsCacheTtlMs: number;
  /** Bound on finishing in-flight requests after SIGTERM. */
  shutdownGraceMs: number;
  /** The region's shared state (origin/src/region/): replicas of one region coordinate through its bucket. */
  shared: SharedConfig;
  /** The render pipeline's own config (its limits — input bytes and pixels included — effort, libvips bounds). */
  pipeline: PipelineConfig;
  /** The media library's limits and rates. */
  media: MediaConfig;
  /** Per-account settings every region reads (account-config.ts). */
  controlPlane: ControlPlaneConfig;
  /** Files served as they are (delivery/). */
  delivery: DeliveryConfig;
}

export interface SharedConfig {
  /** off: this process acts alone (no shared tier, no peers) — the single-process behaviour, for comparison. */
  enabled: boolean;
  /** The region's own bucket: shared result tier, purge records, heartbeats, used upload tokens. */
  bucket: string;
  /** Bound of the shared result tier (enforced by the sweep). */
  maxBytes: number;
  sweepMs: number;
  heartbeatMs: number;
  purgePollMs: number;
  purgeRetentionMs: number;
  /** One attempt at a peer replica (coalesced render, media call, nonce claim) before doing it here. */
  peerTimeoutMs: number;
  /** Shared-tier entries this replica's key index holds at most; beyond it every lookup asks S3. */
  indexMaxKeys: number;
  /** Shared-tier copies a replica alone in its region holds for an idle moment, bytes (beyond: the oldest are not copied). */
  deferredBytes: number;
  /** How peers reach this replica (its id in the region). */
  replicaUrl: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid origin configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

export const sharedBucketFor = (region: RegionId, env: Env = process.env) =>
  (env.PIXMESH_SHARED_BUCKET_TEMPLATE ?? 'pixmesh-cache-{region}').replace('{region}', region);

export const mediaBucketFor = (region: RegionId, env: Env = process.env) =>
  (env.PIXMESH_MEDIA_BUCKET_TEMPLATE ?? 'pixmesh-media-{region}').replace('{region}', region);

const regionOf = (env: Env): RegionId => (isRegionId(env.PIXMESH_REGION) ? env.PIXMESH_REGION : 'us-east-1');

/** The server's own numeric settings. */
const SERVER_SPEC = {
  port: int('PORT', (env) => REGIONS[regionOf(env)].port, "listening port (default: the region's port)", 1, 65535),
  host: text('PIXMESH_HOST', '127.0.0.1', 'listening address'),
  cacheMaxBytes: int('PIXMESH_CACHE_MAX_BYTES', 512 * 1024 * 1024, 'result cache bound, bytes (LRU beyond it)', 1024),
  cacheMemoryBytes: int('PIXMESH_CACHE_MEMORY_BYTES', 32 * 1024 * 1024, "the result cache's memory tier in front of the disk, bytes", 0),
  forwardTimeoutMs: int('PIXMESH_FORWARD_TIMEOUT_MS', 10_000, 'region → home forward, before failing over', 1),
  homeBreakerCoolDownMs: int('PIXMESH_HOME_BREAKER_COOLDOWN_MS', 1_000, "first cool-down of the breaker in front of a home region", 1),
  transformConcurrency: int('PIXMESH_TRANSFORM_CONCURRENCY', () => Math.max(1, os.availableParallelism()), 'transforms at once (default: CPU cores)', 1),
  transformQueue: int('PIXMESH_TRANSFORM_QUEUE', 64, 'transforms waiting for a slot; beyond it 503 EBUSY', 0),
  transformQueueTimeoutMs: int('PIXMESH_TRANSFORM_QUEUE_TIMEOUT_MS', 10_000, 'longest wait for a transform slot', 1),
  maxInflight: int('PIXMESH_MAX_INFLIGHT', 512, 'render requests handled at once; beyond it 503 EBUSY', 1),
  maxRenderCost: int('PIXMESH_MAX_RENDER_COST', 200_000_000, "ceiling on one render's estimated cost, pixel-operations", 1),
  heavyRenderCost: int('PIXMESH_HEAVY_RENDER_COST', 20_000_000, 'renders estimated at this many pixel-operations or more run in the heavy lane, in a low-priority child', 1),
  accountRenderBudget: int('PIXMESH_ACCOUNT_RENDER_BUDGET', 3_000_000_000, 'per-account pixel-operations per minute in this region', 1),
  originalsCacheBytes: int('PIXMESH_ORIGINALS_CACHE_BYTES', 128 * 1024 * 1024, 'originals kept in memory, bytes', 0),
  originalsCacheTtlMs: int('PIXMESH_ORIGINALS_CACHE_TTL_MS', 5 * 60_000, 'how long an original stays in memory', 0),
  shutdownGraceMs: int('PIXMESH_SHUTDOWN_GRACE_MS', 10_000, 'bound on finishing in-flight requests after SIGTERM', 0),
} satisfies ConfigSpec<unknown>;

const FETCH_SPEC: ConfigSpec<ServerConfig['fetch']> = {
  connectTimeoutMs: int('PIXMESH_FETCH_CONNECT_TIMEOUT_MS', 5_000, 'web origins: connect timeout', 1),
  headerTimeoutMs: int('PIXMESH_FETCH_HEADER_TIMEOUT_MS', 10_000, 'web origins: time to response headers', 1),
  bodyTimeoutMs: int('PIXMESH_FETCH_BODY_TIMEOUT_MS', 20_000, 'web origins: time to the whole body', 1),
  maxRedirects: int('PIXMESH_FETCH_MAX_REDIRECTS', 5, 'web origins: redirects followed', 0),
};

const SHARED_SPEC = {
  mode: oneOf('PIXMESH_SHARED', ['on', 'off'], 'on', 'off: this process acts alone (no shared tier, no peers)'),
  maxBytes: int('PIXMESH_SHARED_CACHE_MAX_BYTES', 10 * 1024 * 1024 * 1024, 'bound of the shared result tier, bytes', 1024),
  sweepMs: int('PIXMESH_SHARED_CACHE_SWEEP_MS', 60_000, 'shared tier sweep interval', 100),
  heartbeatMs: int('PIXMESH_HEARTBEAT_MS', 2_000, 'replica heartbeat interval', 50),
  purgePollMs: int('PIXMESH_PURGE_POLL_MS', 1_000, 'purge-record poll interval', 50),
  purgeRetentionMs: int('PIXMESH_PURGE_RETENTION_MS', 30 * 24 * 3600_000, 'how long purge records are kept', 1000),
  peerTimeoutMs: int('PIXMESH_PEER_TIMEOUT_MS', 5_000, 'one attempt at a peer replica', 1),
  indexMaxKeys: int('PIXMESH_SHARED_INDEX_MAX_KEYS', 250_000, "shared-tier keys a replica's index holds (listed at boot and every sweep interval); beyond it every lookup asks S3", 0),
  deferredBytes: int('PIXMESH_SHARED_DEFERRED_BYTES', 16 * 1024 * 1024, 'a replica alone in its region copies results to the shared tier when idle; bytes held meanwhile', 0),
} satisfies ConfigSpec<unknown>;

/** Every spec the origin reads, by part (docs and the boot check list them from here). */
export const ORIGIN_CONFIG_SPECS = {
  server: SERVER_SPEC,
  fetch: FETCH_SPEC,
  shared: SHARED_SPEC,
  pipeline: PIPELINE_CONFIG_SPEC,
  media: MEDIA_CONFIG_SPEC,
  controlPlane: CONTROL_PLANE_SPEC,
  delivery: DELIVERY_CONFIG_SPEC,
} as const;

/** Compose and validate the whole origin configuration; throws one ConfigError listing every problem. */
export function loadConfig(env: Env = process.env): ServerConfig {
  const problems: string[] = [];
  const region = env.PIXMESH_REGION;
  if (!isRegionId(region)) {
    problems.push(`PIXMESH_REGION must be one of ${REGION_IDS.join(', ')} (got "${region ?? ''}")`);
  }
  const regionId = regionOf(env);
  const internalSecret = env.PIXMESH_INTERNAL_SECRET ?? '';
  if (internalSecret.length < 16) problems.push('PIXMESH_INTERNAL_SECRET must be set (at least 16 characters); it signs every internal call');
  let regionUrls: RegionUrls = {};
  try {
    regionUrls = env.PIXMESH_REGION_URLS ? parseRegionUrls(env.PIXMESH_REGION_URLS) : localRegionUrls();
  } catch (e) {
    problems.push((e as Error).message);
  }
  const server = readSpec(SERVER_SPEC, env, problems);
  const { mode, ...shared } = readSpec(SHARED_SPEC, env, problems);
  const dataDir = path.resolve(env.PIXMESH_DATA_DIR ?? '.pixmesh');
  const config: ServerConfig = {
    ...server,
    region: regionId,
    accountsFile: path.resolve(env.PIXMESH_ACCOUNTS ?? 'config/accounts.json'),
    internalSecret,
    regionUrls,
    dataDir,
    cacheDir: path.resolve(env.PIXMESH_CACHE_DIR ?? path.join(dataDir, 'cache', regionId)),
    s3: {
      endpoint: env.PIXMESH_S3_ENDPOINT || undefined,
      region: env.PIXMESH_S3_REGION ?? 'us-east-1',
      accessKeyId: env.PIXMESH_S3_ACCESS_KEY_ID || undefined,
      secretAccessKey: env.PIXMESH_S3_SECRET_ACCESS_KEY || undefined,
      forcePathStyle: (env.PIXMESH_S3_FORCE_PATH_STYLE ?? (env.PIXMESH_S3_ENDPOINT ? 'true' : 'false')) === 'true',
    },
    mediaBucket: mediaBucketFor(regionId, env),
    fetch: readSpec(FETCH_SPEC, env, problems),
    shared: {
      ...shared,
      enabled: mode !== 'off',
      bucket: sharedBucketFor(regionId, env),
      replicaUrl: env.PIXMESH_REPLICA_URL ?? `http://${server.host === '0.0.0.0' ? '127.0.0.1' : server.host}:${server.port}`,
    },
    pipeline: readSpec(PIPELINE_CONFIG_SPEC, env, problems),
    media: readSpec(MEDIA_CONFIG_SPEC, env, problems),
    controlPlane: readSpec(CONTROL_PLANE_SPEC, env, problems),
    delivery: readSpec(DELIVERY_CONFIG_SPEC, env, problems),
  };
  if (problems.length) throw new ConfigError(problems);
  return config;
}
