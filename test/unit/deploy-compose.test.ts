/**
 * docker-compose.yml: Debian's `docker-compose config -q` accepts it (skipped only where the
 * binary is missing, saying so; .ci/run installs it), haproxy accepts its balancer config
 * (`haproxy -c`, likewise), and the services agree with each other and with the origin: every
 * region has two replicas with their own ids and L1s behind its haproxy frontend on the region's
 * port, health checks hit a route the origin serves, every variable set is one the origin reads
 * and its config loader accepts, the region URLs lead to the balancer, and minio-init creates
 * every bucket the origins will use.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { loadConfig, mediaBucketFor, sharedBucketFor } from '../../origin/src/config.js';
import { REGION_IDS, REGIONS } from '../../shared/regions.js';
import { originEnvNames, originGetRoutes, ROOT, RUNTIME_ENV } from '../helpers/deploy.js';
import { ORIGIN_NODE_ARGS, originArgv } from '../../scripts/origin-build.mjs';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;
const COMPOSE = path.join(ROOT, 'docker-compose.yml');
const HAPROXY = path.join(ROOT, 'deploy/compose/haproxy.cfg');

/** The compose file with anchors merged and ${VAR:-default} / ${VAR:?error} filled in (a dummy for required ones). */
function loadCompose(text = fs.readFileSync(COMPOSE, 'utf8')): Obj {
  const filled = text.replace(/\$\{([A-Z_]+)(?::-([^}]*)|:\?[^}]*)?\}/g, (_m, name: string, dflt?: string) => dflt ?? `dummy-${name.toLowerCase()}-for-the-test`);
  return YAML.parse(filled, { merge: true }) as Obj;
}

interface Haproxy {
  frontends: Map<string, { bind: string[]; lines: string[] }>;
  backends: Map<string, { servers: string[]; lines: string[] }>;
  defaults: string[];
}
function parseHaproxy(text: string): Haproxy {
  const h: Haproxy = { frontends: new Map(), backends: new Map(), defaults: [] };
  let cur: { lines: string[]; bind?: string[]; servers?: string[] } | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const [word, name] = line.split(/\s+/);
    if (!/^\s/.test(raw)) {
      if (word === 'frontend') h.frontends.set(name!, (cur = { bind: [], lines: [] }) as never);
      else if (word === 'backend') h.backends.set(name!, (cur = { servers: [], lines: [] }) as never);
      else if (word === 'defaults') cur = { lines: h.defaults };
      else cur = { lines: [] };
      continue;
    }
    cur?.lines.push(line);
    if (word === 'bind') cur?.bind?.push(line.split(/\s+/)[1]!);
    if (word === 'server') cur?.servers?.push(line.split(/\s+/)[2]!);
  }
  return h;
}

/** Every inconsistency between the compose services, the balancer and the origin. */
function checkCompose(compose: Obj, haproxy: Haproxy): string[] {
  const problems: string[] = [];
  const services = compose.services as Record<string, Obj>;
  const known = originEnvNames();
  const lb = services.lb;
  if (!lb) return ['no lb service'];
  const lbMounts = (lb.volumes ?? []) as string[];
  if (!lbMounts.some((v) => v.startsWith('./deploy/compose/haproxy.cfg:'))) problems.push('lb does not mount deploy/compose/haproxy.cfg');
  const routes = originGetRoutes();
  const check = haproxy.defaults.find((l) => l.startsWith('option httpchk'));
  const checkPath = check?.split(/\s+/)[3];
  if (checkPath !== '/readyz' || !routes.has(checkPath)) problems.push(`haproxy health check ${check ?? '(none)'} is not the origin's GET /readyz`);

  const origins = Object.entries(services).filter(([, s]) => s.environment?.PIXMESH_REGION);
  const accountsFile = JSON.parse(fs.readFileSync(path.join(ROOT, 'config/accounts.compose.json'), 'utf8')) as Obj;
  const buckets = new Set<string>();
  const init = services['minio-init'];
  const initScript = String(init?.entrypoint ?? '');
  for (const m of initScript.matchAll(/for b in ([^;]+); do mc mb/g)) for (const b of m[1]!.trim().split(/\s+/)) buckets.add(b);
  for (const v of (init?.volumes ?? []) as string[]) if (!fs.existsSync(path.join(ROOT, v.split(':')[0]!))) problems.push(`minio-init mounts a missing file ${v}`);
  const wantBuckets = new Set<string>((accountsFile.accounts as Obj[]).flatMap((a) => (a.endpoints as Obj[]).flatMap((e) => (e.origins as Obj[]).filter((o) => o.bucket).map((o) => o.bucket as string))));

  for (const region of REGION_IDS) {
    const replicas = origins.filter(([, s]) => s.environment.PIXMESH_REGION === region);
    if (replicas.length < 2) problems.push(`${region}: ${replicas.length} replica(s), want ≥ 2`);
    const volumes = new Set<string>();
    for (const [name, s] of replicas) {
      const env = s.environment as Record<string, string>;
      for (const n of Object.keys(env)) if (!known.has(n) && !(n in RUNTIME_ENV)) problems.push(`${name}: ${n}: the origin never reads it`);
      if (env.PIXMESH_REPLICA_URL !== `http://${name}:${env.PORT}`) problems.push(`${name}: PIXMESH_REPLICA_URL ${env.PIXMESH_REPLICA_URL} is not how peers reach it (http://${name}:${env.PORT})`);
      const data = ((s.volumes ?? []) as string[]).find((v) => v.split(':')[1] === env.PIXMESH_DATA_DIR);
      if (!data) problems.push(`${name}: no volume at PIXMESH_DATA_DIR`);
      else if (volumes.has(data)) problems.push(`${name}: shares its L1 volume ${data} with another replica`);
      else volumes.add(data);
      try {
        const cfg = loadConfig(env);
        buckets.has(mediaBucketFor(region, env)) || problems.push(`${region}: minio-init does not create ${mediaBucketFor(region, env)}`);
        buckets.has(sharedBucketFor(region, env)) || problems.push(`${region}: minio-init does not create ${sharedBucketFor(region, env)}`);
        for (const [r, url] of Object.entries(cfg.regionUrls)) if (url !== `http://lb:${REGIONS[r as keyof typeof REGIONS].port}`) problems.push(`${name}: region URL of ${r} ${url} is not its balancer frontend`);
      } catch (e) {
        problems.push(`${name}: origin config refuses its environment: ${(e as Error).message}`);
      }
    }
    const fe = haproxy.frontends.get(region);
    const port = REGIONS[region].port;
    if (!fe?.bind.includes(`:${port}`)) problems.push(`${region}: no haproxy frontend on :${port}`);
    if (!((lb.ports ?? []) as string[]).some((p) => p.endsWith(`:${port}:${port}`))) problems.push(`${region}: lb does not publish ${port}`);
    const used = (fe?.lines ?? []).filter((l) => /^(use_backend|default_backend)\s/.test(l)).map((l) => l.split(/\s+/)[1]!);
    if (!used.length) problems.push(`${region}: its frontend routes to no backend`);
    const want = replicas.map(([name, s]) => `${name}:${s.environment.PORT}`).sort();
    for (const b of used) {
      const servers = [...(haproxy.backends.get(b)?.servers ?? [])].sort();
      if (JSON.stringify(servers) !== JSON.stringify(want)) problems.push(`${region}: backend ${b} has ${servers.join(', ') || 'no servers'}, not the region's replicas ${want.join(', ')}`);
    }
  }
  for (const b of wantBuckets) if (!buckets.has(b)) problems.push(`minio-init does not create the demo origin bucket ${b}`);
  const edgeUrls = JSON.parse(services.edge?.environment?.PIXMESH_REGION_URLS ?? '{}') as Record<string, string>;
  for (const region of REGION_IDS) if (edgeUrls[region] !== `http://lb:${REGIONS[region].port}`) problems.push(`edge: ${region} is not reached through its balancer frontend`);
  return problems;
}

const has = (bin: string, args: string[]) => spawnSync(bin, args, { stdio: 'ignore' }).status === 0;
const dockerCompose = has('docker-compose', ['version']);
const haproxyBin = has('haproxy', ['-v']);
if (!dockerCompose) console.warn('deploy-compose: docker-compose is not installed (Debian: apt-get install docker-compose); `docker-compose config -q` is not run');
if (!haproxyBin) console.warn('deploy-compose: haproxy is not installed (Debian: apt-get install haproxy); `haproxy -c` is not run');

describe('docker-compose.yml', () => {
  it.skipIf(!dockerCompose)('`docker-compose config -q` accepts it', () => {
    const r = spawnSync('docker-compose', ['-f', COMPOSE, 'config', '-q'], { env: { ...process.env, PIXMESH_INTERNAL_SECRET: 'compose-validation-only-secret' }, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it.skipIf(!dockerCompose)('`docker-compose config -q` refuses it without PIXMESH_INTERNAL_SECRET, naming it', () => {
    const env = { ...process.env };
    delete env.PIXMESH_INTERNAL_SECRET;
    const r = spawnSync('docker-compose', ['-f', COMPOSE, 'config', '-q'], { env, encoding: 'utf8', cwd: path.join(ROOT, 'deploy') });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/PIXMESH_INTERNAL_SECRET/);
  });

  it.skipIf(!dockerCompose)('the file docker-compose resolves is the one checked below', () => {
    const out = execFileSync('docker-compose', ['-f', COMPOSE, 'config'], { env: { ...process.env, PIXMESH_INTERNAL_SECRET: 'compose-validation-only-secret' }, encoding: 'utf8' });
    const resolved = YAML.parse(out) as Obj;
    expect(Object.keys(resolved.services).sort()).toEqual(Object.keys(loadCompose().services).sort());
    expect(resolved.services['origin-eu-central-1-1'].environment.PIXMESH_REPLICA_URL).toBe('http://origin-eu-central-1-1:8080');
  });

  // haproxy -c resolves every server's name (24 compose service names, none of which exists
  // outside compose): with a slow resolver that alone took 5 s on these machines (2026-12-03),
  // so the check gets the time to finish; its verdict does not depend on it.
  it.skipIf(!haproxyBin)('`haproxy -c` accepts the balancer config', () => {
    const r = spawnSync('haproxy', ['-c', '-q', '-f', HAPROXY], { encoding: 'utf8' });
    expect(r.stderr.split('\n').filter((l) => /ALERT/.test(l))).toEqual([]);
    expect(r.status).toBe(0);
  }, 60_000);

  it.skipIf(!haproxyBin)('`haproxy -c` refuses a broken copy (the check can fail)', () => {
    const broken = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pixmesh-haproxy-')), 'haproxy.cfg');
    fs.writeFileSync(broken, fs.readFileSync(HAPROXY, 'utf8').replace('balance uri whole', 'balance by-magic'));
    const r = spawnSync('haproxy', ['-c', '-q', '-f', broken], { encoding: 'utf8' });
    fs.rmSync(path.dirname(broken), { recursive: true, force: true });
    expect(r.status).not.toBe(0);
  }, 60_000);

  it('services, balancer, buckets and the origin agree', () => {
    expect(checkCompose(loadCompose(), parseHaproxy(fs.readFileSync(HAPROXY, 'utf8')))).toEqual([]);
  });

  const mutations: [string, (c: Obj, h: Haproxy) => void, RegExp][] = [
    ['a replica that claims the other one\'s id', (c) => (c.services['origin-eu-central-1-1'].environment.PIXMESH_REPLICA_URL = 'http://origin-eu-central-1-0:8080'), /origin-eu-central-1-1: PIXMESH_REPLICA_URL/],
    ['two replicas on one L1 volume', (c) => (c.services['origin-us-east-1-1'].volumes = c.services['origin-us-east-1-0'].volumes), /shares its L1 volume/],
    ['a backend missing a replica', (_c, h) => h.backends.get('ap-south-1-render')!.servers.pop(), /ap-south-1: backend ap-south-1-render has/],
    ['a variable the origin never reads', (c) => (c.services['origin-us-west-1-0'].environment.PIXMESH_REPLICAS_PER_REGION = '2'), /PIXMESH_REPLICAS_PER_REGION: the origin never reads it/],
    ['a region without its bucket', (c) => (c.services['minio-init'].entrypoint = String(c.services['minio-init'].entrypoint).replace(' pixmesh-cache-ap-southeast-1 ', ' ')), /does not create pixmesh-cache-ap-southeast-1/],
    ['a health check on a route the origin lacks', (_c, h) => h.defaults.splice(h.defaults.findIndex((l) => l.startsWith('option httpchk')), 1, 'option httpchk GET /ready'), /health check/],
  ];
  it.each(mutations)('the check reports %s', (_what, mutate, problem) => {
    const c = loadCompose();
    const h = parseHaproxy(fs.readFileSync(HAPROXY, 'utf8'));
    mutate(c, h);
    expect(checkCompose(c, h).join('\n')).toMatch(problem);
  });
});

describe('how a region origin is started', () => {
  // The cluster and the tests spawn node with originArgv(); the image and `npm run origin` spell it out.
  const expected = ['node', ...ORIGIN_NODE_ARGS, 'origin/start.mjs'];
  it("the Docker image's CMD runs the compiled origin with the same node flags as the cluster", () => {
    const cmd = /^CMD (\[.*\])$/m.exec(fs.readFileSync(path.join(ROOT, 'origin/Dockerfile'), 'utf8'));
    expect(cmd && (JSON.parse(cmd[1]!) as string[])).toEqual(expected);
  });
  it('npm run origin runs the same command', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.origin?.split(' ')).toEqual(expected);
  });
  it('the cluster spawns the same flags and the start script', () => {
    expect(originArgv()).toEqual([...ORIGIN_NODE_ARGS, path.join(ROOT, 'origin/start.mjs')]);
  });
});
