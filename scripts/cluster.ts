/**
 * The local cluster as a library: embedded S3 (s3rver), one origin process per region, the edge
 * in workerd (`wrangler dev`). `npm start` and the end-to-end tests both use it, so the tests
 * exercise exactly what a newcomer runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { buildOrigin, originArgv } from './origin-build.mjs';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { REGION_IDS, REGIONS, type RegionId } from '../shared/regions.js';
import { s3Client } from '../origin/src/sources/s3.js';
import { mediaBucketFor, sharedBucketFor } from '../origin/src/config.js';
import { startBalancer, type Balancer } from './balancer.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** How every region origin is started, after `node` (the compiled build and its flags; scripts/origin-build.mjs). */
export const ORIGIN_ARGV = originArgv();

export interface ClusterOptions {
  dataDir: string;
  accountsFile: string;
  host?: string;
  s3Port?: number;
  edgePort?: number;
  /** Region → port; defaults to 8101–8106 (docs/architecture.md "Regions and local ports"). */
  regionPorts?: Partial<Record<RegionId, number>>;
  /** Regions to start (default all six). */
  regions?: RegionId[];
  trustGeoHeaders?: boolean;
  /**
   * Where child output goes: "inherit" (the terminal), or a folder with one `<name>.log` per child
   * (npm start, tests); `tee` also receives every line (npm start --pretty-logs).
   */
  logs?: 'inherit' | { dir: string; tee?: (name: string, line: string) => void };
  /** Called when a child exits that nobody asked to stop (npm start reports it). */
  onChildExit?: (exit: ChildExit) => void;
  /** Extra environment for origin processes. */
  originEnv?: Record<string, string>;
  /** Buckets to create besides the media buckets. */
  buckets?: string[];
  /** Start the edge (wrangler dev)? Default true; origin tests start only s3rver + regions. */
  edge?: boolean;
  /** Extra environment for one region's origin process, after originEnv (benchmarks: per-region peer URLs and S3 endpoint). */
  originEnvByRegion?: Partial<Record<RegionId, Record<string, string>>>;
  /** Region URLs given to the edge instead of the origins' own (benchmarks point them at delay proxies). */
  edgeRegionUrls?: Partial<Record<RegionId, string>>;
  /** Extra variables for the edge's env file (e.g. PIXMESH_OPERATOR_ACCOUNTS for the dashboard's network view). */
  edgeEnv?: Record<string, string>;
  /**
   * Origin processes per region (default 1: one process on the region's port). With n > 1 the
   * region's port is a load balancer (scripts/balancer.ts) and replica k (1…n) listens on the
   * region's port + replicaPortStep·k (default 100: 8201, 8301, … for us-east-1).
   */
  replicas?: number;
  replicaPortStep?: number;
  /** The balancer's policy (default hash: owner of the variant / account; round-robin for comparisons). */
  balancerPolicy?: 'hash' | 'round-robin';
}

export interface ChildExit {
  /** "edge", a region id, or "<region>#<k>" for a replica. */
  name: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Its log file, when logs go to a folder. */
  logFile?: string;
}

/** PIXMESH_REPLICAS for `npm start` (default 1), validated. */
export function replicasFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.PIXMESH_REPLICAS;
  if (raw === undefined || raw === '') return 1;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 8) throw new Error(`PIXMESH_REPLICAS must be an integer from 1 to 8 (got "${raw}")`);
  return n;
}

export interface Cluster {
  s3Url: string;
  edgeUrl: string;
  regionUrls: Record<RegionId, string>;
  internalSecret: string;
  stopRegion(id: RegionId, signal?: NodeJS.Signals): Promise<void>;
  startRegion(id: RegionId): Promise<void>;
  stop(): Promise<void>;
  /** Process ids of the running children, by name: each region id (replica k > 1 of a region: "<id>#<k>") and "edge" (wrangler). */
  pids(): Record<string, number>;
  /** Each region's replica URLs (one entry, the region URL itself, when replicas = 1). */
  replicaUrls: Record<RegionId, string[]>;
  /** Stop / start one replica (k from 1) of a region. */
  stopReplica(id: RegionId, k: number, signal?: NodeJS.Signals): Promise<void>;
  startReplica(id: RegionId, k: number): Promise<void>;
  /** The region balancers (replicas > 1). */
  balancers: Partial<Record<RegionId, Balancer>>;
}

const S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/** The internal secret is made once per data folder and reused, unless the environment sets one. */
function internalSecretFor(dataDir: string): string {
  if (process.env.PIXMESH_INTERNAL_SECRET) return process.env.PIXMESH_INTERNAL_SECRET;
  const file = path.join(dataDir, 'internal-secret');
  if (!fs.existsSync(file)) fs.writeFileSync(file, crypto.randomBytes(32).toString('hex'), { mode: 0o600 });
  return fs.readFileSync(file, 'utf8').trim();
}

async function waitForHttp(
  url: string,
  what: string,
  child: ChildProcess | undefined,
  timeoutMs = 60_000,
  /** Checks the answer is really ours (a busy port may belong to another process on the machine). */
  isOurs: (body: string) => boolean = () => true,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`${what} exited with code ${child.exitCode} before it was ready`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.ok && isOurs(await res.text())) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`${what} did not answer ${url} within ${timeoutMs} ms`);
}

/** Refuses to start when a port is taken, naming the port and what needed it (instead of a child dying later). */
async function assertPortsFree(host: string, ports: { port: number; what: string }[]): Promise<void> {
  const busy: string[] = [];
  let firstBusy = 0;
  await Promise.all(
    ports.map(
      ({ port, what }) =>
        new Promise<void>((resolve) => {
          const server = net.createServer();
          server.once('error', (e: NodeJS.ErrnoException) => {
            busy.push(`${host}:${port} (${what})${e.code === 'EADDRINUSE' ? '' : `: ${e.code ?? e.message}`}`);
            firstBusy ||= port;
            resolve();
          });
          server.listen({ port, host, exclusive: true }, () => server.close(() => resolve()));
        }),
    ),
  );
  if (busy.length) throw new Error(`port${busy.length > 1 ? 's' : ''} already in use: ${busy.sort().join(', ')} — another pixmesh (or another program) is running; stop it first ("lsof -i :${firstBusy}" shows who listens)`);
}

function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 8000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    child.once('exit', done);
    const kill = (sig: NodeJS.Signals) => {
      try {
        // Children run in their own process group: signal the whole group (wrangler → workerd).
        process.kill(-child.pid!, sig);
      } catch {
        child.kill(sig);
      }
    };
    const timer = setTimeout(() => kill('SIGKILL'), graceMs);
    kill(signal);
  });
}

export async function startCluster(opts: ClusterOptions): Promise<Cluster> {
  // The origins run the compiled build (origin/start.mjs); built once here, not by every replica at once.
  await buildOrigin();
  const host = opts.host ?? '127.0.0.1';
  const dataDir = path.resolve(opts.dataDir);
  fs.mkdirSync(dataDir, { recursive: true });
  const s3Port = opts.s3Port ?? 9000;
  const edgePort = opts.edgePort ?? 8787;
  const regions = opts.regions ?? [...REGION_IDS];
  const regionUrls = Object.fromEntries(
    REGION_IDS.map((id) => [id, `http://${host}:${opts.regionPorts?.[id] ?? REGIONS[id].port}`]),
  ) as Record<RegionId, string>;
  const internalSecret = internalSecretFor(dataDir);
  const s3Url = `http://${host}:${s3Port}`;
  const children = new Map<string, ChildProcess>();
  /** Children being stopped on purpose (their exit is no news). */
  const stopping = new WeakSet<ChildProcess>();
  const logs = opts.logs === undefined || opts.logs === 'inherit' ? undefined : opts.logs;
  /** Spawns a child in its own process group with its output in `<logName>.log` (or the terminal). */
  const spawnChild = (name: string, logName: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess => {
    let stdio: ['ignore', 'inherit' | 'pipe' | number, 'inherit' | 'pipe' | number] = ['ignore', 'inherit', 'inherit'];
    const logFile = logs ? path.join(logs.dir, `${logName}.log`) : undefined;
    if (logs && logFile) {
      fs.mkdirSync(logs.dir, { recursive: true });
      const fd = fs.openSync(logFile, 'a');
      stdio = logs.tee ? ['ignore', 'pipe', 'pipe'] : ['ignore', fd, fd];
      if (!logs.tee) setImmediate(() => fs.closeSync(fd));
    }
    const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio, detached: true });
    if (logs?.tee && logFile) {
      const file = fs.createWriteStream(logFile, { flags: 'a' });
      for (const stream of [child.stdout, child.stderr]) {
        let rest = '';
        stream?.on('data', (chunk: Buffer) => {
          file.write(chunk);
          const lines = (rest + chunk.toString('utf8')).split('\n');
          rest = lines.pop() ?? '';
          for (const line of lines) if (line) logs.tee!(name, line);
        });
      }
      child.once('exit', () => file.end());
    }
    child.once('exit', (code, signal) => {
      if (!stopping.has(child)) opts.onChildExit?.({ name, code, signal, logFile });
    });
    children.set(name, child);
    return child;
  };
  const stopOnPurpose = (c: ChildProcess, signal?: NodeJS.Signals) => {
    stopping.add(c);
    return stopChild(c, signal);
  };
  await assertPortsFree(host, [
    { port: s3Port, what: 'S3, s3rver' },
    ...(opts.edge === false ? [] : [{ port: edgePort, what: 'the edge, wrangler dev' }]),
    ...regions.map((id) => ({ port: Number(new URL(regionUrls[id]).port), what: `region ${id}` })),
  ]);

  // 1. S3-protocol server, data kept between runs.
  const buckets = [...new Set([...REGION_IDS.map((r) => mediaBucketFor(r)), ...REGION_IDS.map((r) => sharedBucketFor(r)), ...(opts.buckets ?? [])])];
  const replicas = opts.replicas ?? 1;
  const step = opts.replicaPortStep ?? 100;
  const replicaUrls = Object.fromEntries(
    REGION_IDS.map((id) => {
      const port = Number(new URL(regionUrls[id]).port);
      return [id, replicas === 1 ? [regionUrls[id]] : Array.from({ length: replicas }, (_, i) => `http://${host}:${port + step * (i + 1)}`)];
    }),
  ) as Record<RegionId, string[]>;
  const balancers: Partial<Record<RegionId, Balancer>> = {};
  const childName = (id: RegionId, k: number) => (k === 1 ? id : `${id}#${k}`);
  const s3 = new S3rver({
    address: host,
    port: s3Port,
    directory: path.join(dataDir, 's3'),
    silent: true,
    configureBuckets: buckets.map((name) => ({ name, configs: [] })),
    allowMismatchedSignatures: false,
  } as ConstructorParameters<typeof S3rver>[0]);
  faithfulS3rver(s3);
  await s3.run();

  const stopAll = async () => {
    await Promise.all(Object.values(balancers).map((b) => b.close()));
    await Promise.all([...children.values()].map((c) => stopOnPurpose(c)));
    await s3.close().catch(() => undefined);
  };

  try {
    // 2. One origin process per region.
    const originEnv = (id: RegionId, k: number): NodeJS.ProcessEnv => ({
      ...process.env,
      PIXMESH_REGION: id,
      PORT: new URL(replicaUrls[id][k - 1]!).port,
      PIXMESH_HOST: host,
      PIXMESH_REPLICA_URL: replicaUrls[id][k - 1]!,
      PIXMESH_ACCOUNTS: path.resolve(opts.accountsFile),
      PIXMESH_DATA_DIR: dataDir,
      // Each replica has its own disk L1; what they share lives in the region's bucket.
      PIXMESH_CACHE_DIR: k === 1 ? path.join(dataDir, 'cache', id) : path.join(dataDir, 'cache', `${id}#${k}`),
      PIXMESH_INTERNAL_SECRET: internalSecret,
      PIXMESH_REGION_URLS: JSON.stringify(regionUrls),
      PIXMESH_S3_ENDPOINT: s3Url,
      PIXMESH_S3_REGION: 'us-east-1',
      PIXMESH_S3_ACCESS_KEY_ID: S3_CREDENTIALS.accessKeyId,
      PIXMESH_S3_SECRET_ACCESS_KEY: S3_CREDENTIALS.secretAccessKey,
      UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE ?? '4',
      MALLOC_ARENA_MAX: '2',
      // the home regions tell the edge of every purge they take (crash replays included)
      ...(opts.edge === false ? {} : { PIXMESH_EDGE_URL: `http://${host}:${edgePort}` }),
      ...opts.originEnv,
      ...opts.originEnvByRegion?.[id],
    });
    const startReplica = async (id: RegionId, k: number) => {
      const name = childName(id, k);
      const child = spawnChild(name, `origin-${name}`, ORIGIN_ARGV, originEnv(id, k));
      await waitForHttp(`${replicaUrls[id][k - 1]}/healthz`, `origin ${name}`, child, 60_000, (body) => body.includes(`"region":"${id}"`) && body.includes(`"pid":${child.pid}`));
    };
    const stopReplica = async (id: RegionId, k: number, signal: NodeJS.Signals = 'SIGTERM') => {
      const name = childName(id, k);
      const c = children.get(name);
      if (c) await stopOnPurpose(c, signal);
      children.delete(name);
    };
    const startRegion = async (id: RegionId) => {
      await Promise.all(replicaUrls[id].map((_, i) => startReplica(id, i + 1)));
      if (replicas > 1 && !balancers[id]) {
        balancers[id] = await startBalancer({ host, port: Number(new URL(regionUrls[id]).port), backends: replicaUrls[id], policy: opts.balancerPolicy });
      }
    };
    await Promise.all(regions.map(startRegion));

    const edgeUrl = `http://${host}:${edgePort}`;
    const cluster: Cluster = {
      s3Url,
      edgeUrl: opts.edge === false ? '' : edgeUrl,
      regionUrls,
      internalSecret,
      stopRegion: async (id, signal = 'SIGTERM') => {
        await balancers[id]?.close();
        delete balancers[id];
        await Promise.all(replicaUrls[id].map((_, i) => stopReplica(id, i + 1, signal)));
      },
      replicaUrls,
      stopReplica,
      startReplica,
      balancers,
      startRegion,
      stop: stopAll,
      pids: () => {
        const out: Record<string, number> = {};
        for (const [name, c] of children) if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) out[name] = c.pid;
        return out;
      },
    };
    if (opts.edge === false) return cluster;

    // 3. The edge in workerd.
    const edgeEnvFile = path.join(dataDir, 'edge.env');
    fs.writeFileSync(
      edgeEnvFile,
      [
        `PIXMESH_INTERNAL_SECRET=${internalSecret}`,
        `PIXMESH_TRUST_GEO_HEADERS=${opts.trustGeoHeaders === false ? 'false' : 'true'}`,
        `PIXMESH_REGION_URLS=${JSON.stringify({ ...regionUrls, ...opts.edgeRegionUrls })}`,
        ...Object.entries(opts.edgeEnv ?? {}).map(([k, v]) => `${k}=${v}`),
      ].join('\n') + '\n',
      { mode: 0o600 },
    );
    const edge = spawnChild(
      'edge',
      'edge',
      [
        path.join(ROOT, 'node_modules/wrangler/bin/wrangler.js'),
        'dev',
        '--config', path.join(ROOT, 'wrangler.toml'),
        '--ip', host,
        '--port', String(edgePort),
        '--env-file', edgeEnvFile,
        '--persist-to', path.join(dataDir, 'wrangler-state'),
        '--show-interactive-dev-session=false',
        '--log-level', 'warn',
        '--inspector-port', '0',
      ],
      {
        ...process.env,
        WRANGLER_SEND_METRICS: 'false',
        CLOUDFLARE_CF_FETCH_ENABLED: 'false',
        NO_D1_WARNING: 'true',
        CI: 'true',
        // No DevTools inspector proxy (PIXMESH_EDGE_DEVTOOLS=1 keeps it). wrangler dev has no flag
        // for it and turns it off only in a VS Code debug terminal, which it detects by this
        // variable (nothing else reads it without VS Code's bootloader in NODE_OPTIONS). The proxy
        // enables the Network domain, so workerd reports every chunk of every subrequest body and
        // wrangler's Node process logs each one to a debug file: ≈ 1 s of CPU at normal priority
        // per 1.5 MB image the edge fetches from a region — work Cloudflare's edge does not do,
        // which made tests and benchmarks measure the local stand-in (docs/security.md).
        ...(process.env.PIXMESH_EDGE_DEVTOOLS === '1' ? {} : { VSCODE_INSPECTOR_OPTIONS: ':::' }),
      },
    );
    await waitForHttp(`${edgeUrl}/_health`, 'edge (wrangler dev)', edge, 90_000);
    return cluster;
  } catch (e) {
    await stopAll();
    throw e;
  }
}

/** Upload objects into a bucket of the cluster's S3 server (skips keys that exist unless force). */
export async function putObjects(
  s3Url: string,
  bucket: string,
  objects: { key: string; body: Buffer; contentType: string; metadata?: Record<string, string> }[],
  force = false,
): Promise<number> {
  const client = s3Client({ endpoint: s3Url, region: 'us-east-1', ...S3_CREDENTIALS, forcePathStyle: true });
  await client.send(new CreateBucketCommand({ Bucket: bucket })).catch(() => undefined);
  let written = 0;
  for (const o of objects) {
    if (!force) {
      const exists = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: o.key })).then(
        () => true,
        () => false,
      );
      if (exists) continue;
    }
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: o.key, Body: o.body, ContentType: o.contentType, Metadata: o.metadata }));
    written++;
  }
  return written;
}

/**
 * Two fixes that make s3rver behave as S3 does (real S3 and MinIO need neither), for every embedded
 * s3rver of the cluster, the tests and the benches:
 *
 * - **Deletes keep directories.** s3rver 3.7 prunes a key's empty parent directories on delete,
 *   which races with a concurrent put into the same directory: its put creates the directory, then
 *   opens the file with no error listener, so the open's ENOENT is an uncaught exception in the
 *   process running s3rver (seen with webhook pending records written and deleted under one prefix
 *   at once). Here deletes remove the object's files and keep the directories (listings walk files
 *   only, so an empty directory lists nothing).
 * - **A PUT is answered after its bytes are on disk.** s3rver's putObject resolves when its MD5
 *   transform has seen the last chunk, not when the file stream has flushed, and the file stream
 *   has no error listener: a GET right after the 200 can read a short file (read-after-write, which
 *   S3 guarantees), and a put cut off at teardown (a replica's heartbeat when the cluster stops and
 *   the data directory is removed) threw ENOENT as an uncaught exception in the bench's process.
 *   Here the put is one `pipeline` (request → MD5/size → file) awaited to the file's close; an error
 *   rejects the request instead of crashing the process.
 */
export function faithfulS3rver(s3: S3rver): void {
  type Obj = { bucket: string; key: string; content: NodeJS.ReadableStream | Buffer; metadata: Record<string, string> };
  const store = (s3 as unknown as {
    store: {
      deleteObject(bucket: string, key: string): Promise<void>;
      putObject(object: Obj): Promise<{ size: number; md5: string }>;
      putMetadata(bucket: string, key: string, metadata: Record<string, string>, md5: string): Promise<void>;
      getResourcePath(bucket: string, key: string, resource: string): string;
    };
  }).store;
  store.deleteObject = async (bucket, key) => {
    await Promise.all(
      ['object', 'object.md5', 'metadata.json'].map((resource) =>
        fs.promises.unlink(store.getResourcePath(bucket, key, resource)).catch((e: NodeJS.ErrnoException) => {
          if (e.code !== 'ENOENT') throw e;
        }),
      ),
    );
  };
  store.putObject = async (object) => {
    const objectPath = store.getResourcePath(object.bucket, object.key, 'object');
    await fs.promises.mkdir(path.dirname(objectPath), { recursive: true });
    const hash = crypto.createHash('md5');
    let size = 0;
    const source = Buffer.isBuffer(object.content) ? Readable.from([object.content]) : object.content;
    const count = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        size += chunk.length;
        done(null, chunk);
      },
    });
    await pipeline(source, count, fs.createWriteStream(objectPath));
    const md5 = hash.digest('hex');
    await store.putMetadata(object.bucket, object.key, object.metadata, md5);
    return { size, md5 };
  };
}
