/**
 * Origin configuration: defaults, environment, validation at boot (every problem reported at once).
 */
import os from 'node:os';
import path from 'node:path';
import { isRegionId, localRegionUrls, parseRegionUrls, REGION_IDS, REGIONS, type RegionId, type RegionUrls } from '../../shared/regions.js';

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
  /** Largest original accepted from any origin (bytes; shared with the pipeline's PIXMESH_MAX_INPUT_BYTES). */
  maxInputBytes: number;
  /** Largest original in pixels (w × h × frames), checked from the header before a transform is queued. */
  maxInputPixels: number;
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
  /** Per-account budget of pixel-operations per minute in this region; beyond it 429 EBUSY. */
  accountRenderBudget: number;
  /** Originals kept in memory so several variants of one original fetch it once (bytes). */
  originalsCacheBytes: number;
  originalsCacheTtlMs: number;
  /** Bound on finishing in-flight requests after SIGTERM. */
  shutdownGraceMs: number;
  /** The region's shared state (origin/src/region/): replicas of one region coordinate through its bucket. */
  shared: SharedConfig;
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
  /** How peers reach this replica (its id in the region). */
  replicaUrl: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid origin configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

export const sharedBucketFor = (region: RegionId, env: NodeJS.ProcessEnv = process.env) =>
  (env.PIXMESH_SHARED_BUCKET_TEMPLATE ?? 'pixmesh-cache-{region}').replace('{region}', region);

export const mediaBucketFor = (region: RegionId, env: NodeJS.ProcessEnv = process.env) =>
  (env.PIXMESH_MEDIA_BUCKET_TEMPLATE ?? 'pixmesh-media-{region}').replace('{region}', region);

function intVar(env: NodeJS.ProcessEnv, name: string, fallback: number, problems: string[], min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) {
    problems.push(`${name} must be an integer ≥ ${min} (got "${raw}")`);
    return fallback;
  }
  return n;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const problems: string[] = [];
  const region = env.PIXMESH_REGION;
  if (!isRegionId(region)) {
    problems.push(`PIXMESH_REGION must be one of ${REGION_IDS.join(', ')} (got "${region ?? ''}")`);
  }
  const regionId = (isRegionId(region) ? region : 'us-east-1') as RegionId;
  const internalSecret = env.PIXMESH_INTERNAL_SECRET ?? '';
  if (internalSecret.length < 16) problems.push('PIXMESH_INTERNAL_SECRET must be set (at least 16 characters); it signs every internal call');
  let regionUrls: RegionUrls = {};
  try {
    regionUrls = env.PIXMESH_REGION_URLS ? parseRegionUrls(env.PIXMESH_REGION_URLS) : localRegionUrls();
  } catch (e) {
    problems.push((e as Error).message);
  }
  const dataDir = path.resolve(env.PIXMESH_DATA_DIR ?? '.pixmesh');
  const config: ServerConfig = {
    region: regionId,
    host: env.PIXMESH_HOST ?? '127.0.0.1',
    port: intVar(env, 'PORT', REGIONS[regionId].port, problems, 1),
    accountsFile: path.resolve(env.PIXMESH_ACCOUNTS ?? 'config/accounts.json'),
    internalSecret,
    regionUrls,
    dataDir,
    cacheDir: path.resolve(env.PIXMESH_CACHE_DIR ?? path.join(dataDir, 'cache', regionId)),
    cacheMaxBytes: intVar(env, 'PIXMESH_CACHE_MAX_BYTES', 512 * 1024 * 1024, problems, 1024),
    cacheMemoryBytes: intVar(env, 'PIXMESH_CACHE_MEMORY_BYTES', 32 * 1024 * 1024, problems, 0),
    s3: {
      endpoint: env.PIXMESH_S3_ENDPOINT || undefined,
      region: env.PIXMESH_S3_REGION ?? 'us-east-1',
      accessKeyId: env.PIXMESH_S3_ACCESS_KEY_ID || undefined,
      secretAccessKey: env.PIXMESH_S3_SECRET_ACCESS_KEY || undefined,
      forcePathStyle: (env.PIXMESH_S3_FORCE_PATH_STYLE ?? (env.PIXMESH_S3_ENDPOINT ? 'true' : 'false')) === 'true',
    },
    mediaBucket: mediaBucketFor(regionId, env),
    forwardTimeoutMs: intVar(env, 'PIXMESH_FORWARD_TIMEOUT_MS', 10_000, problems, 1),
    homeBreakerCoolDownMs: intVar(env, 'PIXMESH_HOME_BREAKER_COOLDOWN_MS', 1_000, problems, 1),
    maxInputBytes: intVar(env, 'PIXMESH_MAX_INPUT_BYTES', 40 * 1024 * 1024, problems, 1),
    maxInputPixels: intVar(env, 'PIXMESH_MAX_INPUT_PIXELS', 100_000_000, problems, 1),
    fetch: {
      connectTimeoutMs: intVar(env, 'PIXMESH_FETCH_CONNECT_TIMEOUT_MS', 5_000, problems, 1),
      headerTimeoutMs: intVar(env, 'PIXMESH_FETCH_HEADER_TIMEOUT_MS', 10_000, problems, 1),
      bodyTimeoutMs: intVar(env, 'PIXMESH_FETCH_BODY_TIMEOUT_MS', 20_000, problems, 1),
      maxRedirects: intVar(env, 'PIXMESH_FETCH_MAX_REDIRECTS', 5, problems, 0),
    },
    transformConcurrency: intVar(env, 'PIXMESH_TRANSFORM_CONCURRENCY', Math.max(1, os.availableParallelism()), problems, 1),
    transformQueue: intVar(env, 'PIXMESH_TRANSFORM_QUEUE', 64, problems, 0),
    transformQueueTimeoutMs: intVar(env, 'PIXMESH_TRANSFORM_QUEUE_TIMEOUT_MS', 10_000, problems, 1),
    maxInflight: intVar(env, 'PIXMESH_MAX_INFLIGHT', 512, problems, 1),
    maxRenderCost: intVar(env, 'PIXMESH_MAX_RENDER_COST', 200_000_000, problems, 1),
    accountRenderBudget: intVar(env, 'PIXMESH_ACCOUNT_RENDER_BUDGET', 3_000_000_000, problems, 1),
    originalsCacheBytes: intVar(env, 'PIXMESH_ORIGINALS_CACHE_BYTES', 128 * 1024 * 1024, problems, 0),
    originalsCacheTtlMs: intVar(env, 'PIXMESH_ORIGINALS_CACHE_TTL_MS', 5 * 60_000, problems, 0),
    shutdownGraceMs: intVar(env, 'PIXMESH_SHUTDOWN_GRACE_MS', 10_000, problems, 0),
    shared: {
      enabled: (env.PIXMESH_SHARED ?? 'on') !== 'off',
      bucket: sharedBucketFor(regionId, env),
      maxBytes: intVar(env, 'PIXMESH_SHARED_CACHE_MAX_BYTES', 10 * 1024 * 1024 * 1024, problems, 1024),
      sweepMs: intVar(env, 'PIXMESH_SHARED_CACHE_SWEEP_MS', 60_000, problems, 100),
      heartbeatMs: intVar(env, 'PIXMESH_HEARTBEAT_MS', 2_000, problems, 50),
      purgePollMs: intVar(env, 'PIXMESH_PURGE_POLL_MS', 1_000, problems, 50),
      purgeRetentionMs: intVar(env, 'PIXMESH_PURGE_RETENTION_MS', 30 * 24 * 3600_000, problems, 1000),
      peerTimeoutMs: intVar(env, 'PIXMESH_PEER_TIMEOUT_MS', 5_000, problems, 1),
      replicaUrl: '',
    },
  };
  if (env.PIXMESH_SHARED !== undefined && !['on', 'off'].includes(env.PIXMESH_SHARED)) problems.push(`PIXMESH_SHARED must be "on" or "off" (got "${env.PIXMESH_SHARED}")`);
  config.shared.replicaUrl = env.PIXMESH_REPLICA_URL ?? `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${config.port}`;
  if (problems.length) throw new ConfigError(problems);
  return config;
}
