/**
 * Origin configuration: defaults, environment, validation at boot (every problem reported at once).
 */
import path from 'node:path';
import { isRegionId, localRegionUrls, parseRegionUrls, REGION_IDS, REGIONS, type RegionId, type RegionUrls } from '../../shared/regions.js';

export interface OriginConfig {
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
  s3: { endpoint?: string; region: string; accessKeyId?: string; secretAccessKey?: string; forcePathStyle: boolean };
  /** This region's media-library bucket. */
  mediaBucket: string;
  /** Time allowed for the region → home forward before failing over. */
  forwardTimeoutMs: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid origin configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

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

export function loadConfig(env: NodeJS.ProcessEnv = process.env): OriginConfig {
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
  const config: OriginConfig = {
    region: regionId,
    host: env.PIXMESH_HOST ?? '127.0.0.1',
    port: intVar(env, 'PORT', REGIONS[regionId].port, problems, 1),
    accountsFile: path.resolve(env.PIXMESH_ACCOUNTS ?? 'config/accounts.json'),
    internalSecret,
    regionUrls,
    dataDir,
    cacheDir: path.resolve(env.PIXMESH_CACHE_DIR ?? path.join(dataDir, 'cache', regionId)),
    cacheMaxBytes: intVar(env, 'PIXMESH_CACHE_MAX_BYTES', 512 * 1024 * 1024, problems, 1024),
    s3: {
      endpoint: env.PIXMESH_S3_ENDPOINT || undefined,
      region: env.PIXMESH_S3_REGION ?? 'us-east-1',
      accessKeyId: env.PIXMESH_S3_ACCESS_KEY_ID || undefined,
      secretAccessKey: env.PIXMESH_S3_SECRET_ACCESS_KEY || undefined,
      forcePathStyle: (env.PIXMESH_S3_FORCE_PATH_STYLE ?? (env.PIXMESH_S3_ENDPOINT ? 'true' : 'false')) === 'true',
    },
    mediaBucket: mediaBucketFor(regionId, env),
    forwardTimeoutMs: intVar(env, 'PIXMESH_FORWARD_TIMEOUT_MS', 10_000, problems, 1),
  };
  if (problems.length) throw new ConfigError(problems);
  return config;
}
