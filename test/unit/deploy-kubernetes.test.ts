/**
 * deploy/kubernetes: every manifest is validated against the Kubernetes API schema
 * (kubernetes-models, generated from the Kubernetes OpenAPI spec), and each region's objects are
 * checked against each other and against the origin: selectors match pod labels, probes hit
 * routes and ports the origin serves, every environment variable is one the origin reads and
 * boots with (its own config loaders run on the ConfigMap), resources fit the sharp bounds, the
 * tunnel routes the Worker's production hostname to the Service. Each region is checked as
 * assembled from base + overlay here, and, where kubectl is installed, as `kubectl kustomize`
 * renders it.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { loadConfig } from '../../origin/src/config.js';
import { loadConfigFromEnv } from '../../origin/src/pipeline/config.js';
import { MEMBER_PREFIX } from '../../origin/src/region/members.js';
import { SHARED_PREFIX } from '../../origin/src/region/shared-cache.js';
import { REGION_IDS } from '../../shared/regions.js';
import { originEnvNames, originGetRoutes, originMetrics, productionRegionUrls, ROOT, RUNTIME_ENV } from '../helpers/deploy.js';

const K8S = path.join(ROOT, 'deploy/kubernetes');
const BASE = path.join(K8S, 'base');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;

const readDocs = (file: string): Obj[] =>
  YAML.parseAllDocuments(fs.readFileSync(file, 'utf8')).map((d) => {
    if (d.errors.length) throw new Error(`${path.relative(ROOT, file)}: ${d.errors.map((e) => e.message).join('; ')}`);
    return d.toJS() as Obj;
  });

function yamlFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return yamlFiles(p);
    return /\.ya?ml$/.test(e.name) ? [p] : [];
  });
}
const manifestFiles = yamlFiles(K8S).filter((f) => path.basename(f) !== 'kustomization.yaml');
const kustomizations = yamlFiles(K8S).filter((f) => path.basename(f) === 'kustomization.yaml');

/** The kubernetes-models class for an object's apiVersion and kind, and its schema validation. */
async function validateObject(o: Obj): Promise<void> {
  const [group, version] = String(o.apiVersion).includes('/') ? String(o.apiVersion).split('/') : ['', String(o.apiVersion)];
  const mod = (await import(/* @vite-ignore */ `kubernetes-models/${group ? `${group}/` : ''}${version}/${o.kind}`)) as Record<string, new (x: Obj) => { validate(): void }>;
  const Model = mod[o.kind as string];
  if (!Model) throw new Error(`no schema for ${o.apiVersion} ${o.kind}`);
  new Model(o).validate();
}

const secretsExample = readDocs(path.join(BASE, 'secrets.example.yaml'));

/** One region as kustomize assembles it: base resources, generated ConfigMaps, ConfigMap patches merged, the namespace set. */
function assemble(region: string): Obj[] {
  const overlayDir = path.join(K8S, 'regions', region);
  const overlay = readDocs(path.join(overlayDir, 'kustomization.yaml'))[0]!;
  const base = readDocs(path.join(BASE, 'kustomization.yaml'))[0]!;
  const docs: Obj[] = (base.resources as string[]).flatMap((f) => readDocs(path.join(BASE, f)));
  for (const g of base.configMapGenerator ?? []) {
    const data = Object.fromEntries((g.files as string[]).map((f) => [path.basename(f), fs.readFileSync(path.join(BASE, f), 'utf8')]));
    docs.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: g.name }, data });
  }
  for (const r of overlay.resources as string[]) if (r !== '../../base') docs.push(...readDocs(path.join(overlayDir, r)));
  for (const p of overlay.patches ?? []) {
    for (const patch of readDocs(path.join(overlayDir, p.path))) {
      if (patch.kind !== 'ConfigMap') throw new Error(`${region}: only ConfigMap patches are assembled here (got ${patch.kind})`);
      const target = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === patch.metadata.name);
      if (!target) throw new Error(`${region}: patch ${p.path} targets no ConfigMap ${patch.metadata.name}`);
      target.data = { ...target.data, ...patch.data };
    }
  }
  const clone = structuredClone(docs);
  for (const d of clone) if (d.kind !== 'Namespace') d.metadata.namespace = overlay.namespace;
  return clone;
}

const workloads = (docs: Obj[]) => docs.filter((d) => ['StatefulSet', 'Deployment', 'Job'].includes(d.kind));
const matches = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) =>
  !!selector && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v);
const byKind = (docs: Obj[], kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata?.name === name);
const quantity = (q: string | number): number => {
  const m = /^([0-9.]+)(m|Ki|Mi|Gi|Ti)?$/.exec(String(q));
  if (!m) throw new Error(`unreadable quantity ${q}`);
  const unit = { m: 1e-3, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 }[m[2] as string] ?? 1;
  return Number(m[1]) * unit;
};

/** Every inconsistency between a region's objects, and between them and the origin. */
function checkRegion(docs: Obj[], region: string): string[] {
  const problems: string[] = [];
  const ns = docs.find((d) => d.kind === 'Namespace');
  if (!ns) problems.push('no Namespace');
  for (const d of docs) if (d.kind !== 'Namespace' && d.metadata.namespace !== ns?.metadata.name) problems.push(`${d.kind}/${d.metadata.name} outside the region's namespace`);
  const configMaps = new Map(docs.filter((d) => d.kind === 'ConfigMap').map((d) => [d.metadata.name as string, d]));
  const secretKeys = new Map(secretsExample.map((s) => [s.metadata.name as string, new Set(Object.keys(s.stringData ?? {}))]));

  // Selectors ↔ labels.
  for (const w of workloads(docs)) {
    if (w.spec.selector && !matches(w.spec.selector.matchLabels, w.spec.template.metadata.labels)) problems.push(`${w.kind}/${w.metadata.name}: selector does not match its pod labels`);
  }
  const podsOf = (selector: Record<string, string>) => workloads(docs).filter((w) => matches(selector, w.spec.template.metadata?.labels));
  for (const s of docs.filter((d) => d.kind === 'Service')) {
    const pods = podsOf(s.spec.selector);
    if (!pods.length) problems.push(`Service/${s.metadata.name}: selector matches no pods`);
    for (const p of s.spec.ports) {
      const named = pods.flatMap((w) => w.spec.template.spec.containers).flatMap((c: Obj) => c.ports ?? []);
      if (typeof p.targetPort === 'string' && !named.some((cp: Obj) => cp.name === p.targetPort)) problems.push(`Service/${s.metadata.name}: targetPort ${p.targetPort} is no container port`);
    }
  }
  for (const p of docs.filter((d) => d.kind === 'PodDisruptionBudget' || d.kind === 'NetworkPolicy')) {
    const sel = p.kind === 'NetworkPolicy' ? p.spec.podSelector.matchLabels : p.spec.selector.matchLabels;
    if (!podsOf(sel).length) problems.push(`${p.kind}/${p.metadata.name}: selector matches no pods`);
  }
  for (const np of docs.filter((d) => d.kind === 'NetworkPolicy')) {
    for (const rule of np.spec.ingress ?? []) for (const from of rule.from ?? []) if (from.podSelector && !podsOf(from.podSelector.matchLabels).length) problems.push(`NetworkPolicy/${np.metadata.name}: a from-podSelector matches no pods`);
  }
  for (const h of docs.filter((d) => d.kind === 'HorizontalPodAutoscaler')) {
    const t = byKind(docs, h.spec.scaleTargetRef.kind, h.spec.scaleTargetRef.name);
    if (!t) problems.push(`HPA/${h.metadata.name}: no ${h.spec.scaleTargetRef.kind}/${h.spec.scaleTargetRef.name}`);
    for (const m of h.spec.metrics) if (m.type === 'Pods' && originMetrics().get(m.pods.metric.name) !== 'Gauge') problems.push(`HPA/${h.metadata.name}: the origin exports no gauge ${m.pods.metric.name}`);
    const pdb = docs.find((d) => d.kind === 'PodDisruptionBudget' && t && matches(d.spec.selector.matchLabels, t.spec.template.metadata.labels));
    if (pdb?.spec.maxUnavailable !== undefined && h.spec.minReplicas <= pdb.spec.maxUnavailable) problems.push(`HPA/${h.metadata.name}: minReplicas ${h.spec.minReplicas} lets the PDB take every replica`);
  }

  // References to ConfigMaps, Secrets and keys.
  for (const w of workloads(docs)) {
    const spec = w.spec.template.spec;
    for (const c of spec.containers) {
      for (const f of c.envFrom ?? []) if (f.configMapRef && !configMaps.has(f.configMapRef.name)) problems.push(`${w.metadata.name}/${c.name}: no ConfigMap ${f.configMapRef.name}`);
      for (const e of c.env ?? []) {
        const ref = e.valueFrom?.secretKeyRef;
        if (ref && !secretKeys.get(ref.name)?.has(ref.key)) problems.push(`${w.metadata.name}/${c.name}: Secret ${ref.name} has no key ${ref.key} (secrets.example.yaml)`);
      }
    }
    for (const v of spec.volumes ?? []) {
      if (v.configMap && !configMaps.has(v.configMap.name)) problems.push(`${w.metadata.name}: volume ${v.name}: no ConfigMap ${v.configMap.name}`);
      if (v.secret) for (const it of v.secret.items ?? []) if (!secretKeys.get(v.secret.secretName)?.has(it.key)) problems.push(`${w.metadata.name}: volume ${v.name}: Secret ${v.secret.secretName} has no key ${it.key}`);
    }
  }

  // The origin replicas.
  const sts = byKind(docs, 'StatefulSet', 'pixmesh-origin');
  if (!sts) return [...problems, 'no StatefulSet/pixmesh-origin'];
  const pod = sts.spec.template.spec;
  const origin = pod.containers.find((c: Obj) => c.name === 'origin');
  const config = configMaps.get('pixmesh-origin-config')?.data ?? {};
  const known = originEnvNames();
  const envNames = [...(origin.env ?? []).map((e: Obj) => e.name as string), ...Object.keys(config)];
  const expanded = new Set((origin.env ?? []).flatMap((e: Obj) => [...String(e.value ?? '').matchAll(/\$\(([A-Z_][A-Z0-9_]*)\)/g)].map((m) => m[1])));
  for (const n of envNames) if (!known.has(n) && !(n in RUNTIME_ENV) && !expanded.has(n)) problems.push(`origin env ${n}: the origin never reads it`);
  const headless = byKind(docs, 'Service', sts.spec.serviceName);
  if (headless?.spec.clusterIP !== 'None') problems.push(`StatefulSet serviceName ${sts.spec.serviceName} is not a headless Service`);
  else if (!headless.spec.publishNotReadyAddresses) problems.push('the peers Service must publish not-ready replicas (peers call a replica while it starts and drains)');
  const port = Number(config.PORT);
  const httpPort = origin.ports.find((p: Obj) => p.containerPort === port);
  if (!httpPort) problems.push(`no container port is PORT ${config.PORT}`);
  const replicaUrl = origin.env.find((e: Obj) => e.name === 'PIXMESH_REPLICA_URL')?.value as string | undefined;
  const wantUrl = `http://$(POD_NAME).${sts.spec.serviceName}.$(POD_NAMESPACE).svc.cluster.local:${port}`;
  if (replicaUrl !== wantUrl) problems.push(`PIXMESH_REPLICA_URL ${replicaUrl} is not the pod's DNS name under ${sts.spec.serviceName} (${wantUrl})`);
  const routes = originGetRoutes();
  for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
    const g = origin[probe]?.httpGet;
    if (!g) {
      problems.push(`origin has no ${probe}`);
      continue;
    }
    if (!routes.has(g.path)) problems.push(`${probe}: the origin serves no GET ${g.path}`);
    if (g.port !== httpPort?.name && g.port !== port) problems.push(`${probe}: port ${g.port} is not the origin's`);
  }
  if (origin.readinessProbe?.httpGet.path !== '/readyz') problems.push('readiness must be /readyz (it turns 503 on SIGTERM: the drain)');
  if (origin.livenessProbe?.httpGet.path !== '/healthz') problems.push('liveness must be /healthz (it does not depend on S3: a bucket outage must not restart every replica)');

  // The origin's own config loaders accept the ConfigMap (with the Secrets' values filled in).
  const env: Record<string, string> = { ...config, PIXMESH_INTERNAL_SECRET: 'x'.repeat(32), PIXMESH_S3_ACCESS_KEY_ID: 'k', PIXMESH_S3_SECRET_ACCESS_KEY: 's', PIXMESH_REPLICA_URL: 'http://pixmesh-origin-0:8080' };
  let server: ReturnType<typeof loadConfig> | undefined;
  try {
    server = loadConfig(env);
    if (server.region !== region) problems.push(`PIXMESH_REGION is ${server.region}, not ${region}`);
    if (server.s3.region !== region) problems.push(`PIXMESH_S3_REGION ${server.s3.region}: the buckets must be in the region (residency)`);
  } catch (e) {
    problems.push(`origin config refuses the ConfigMap: ${(e as Error).message}`);
  }
  let pipeline: ReturnType<typeof loadConfigFromEnv> | undefined;
  try {
    pipeline = loadConfigFromEnv(env);
  } catch (e) {
    problems.push(`pipeline config refuses the ConfigMap: ${(e as Error).message}`);
  }
  if (JSON.stringify(server?.regionUrls) !== JSON.stringify(productionRegionUrls())) problems.push('PIXMESH_REGION_URLS differs from the Worker\'s (wrangler.toml [env.production.vars])');
  // The home region's purge fan-out reaches the edge (crash replays have no API answer to carry it).
  const edgeUrl = server?.media.edgeUrl ?? '';
  if (!/^https:\/\/[^/]+/.test(edgeUrl)) problems.push(`PIXMESH_EDGE_URL "${edgeUrl}" is not the Worker's https URL: purges would not reach the edge`);
  else if (Object.values(productionRegionUrls()).some((u) => new URL(u).host === new URL(edgeUrl).host)) problems.push('PIXMESH_EDGE_URL names a region, not the Worker');

  // Resources sized from the sharp bounds (docs/deploy.md, "Sizing").
  if (server && pipeline) {
    const { requests, limits } = origin.resources;
    const cpu = quantity(limits.cpu);
    if (quantity(requests.cpu) !== cpu) problems.push('CPU request ≠ limit (Guaranteed QoS)');
    if (cpu < server.transformConcurrency * pipeline.vipsConcurrency) problems.push(`CPU ${cpu} < transform slots ${server.transformConcurrency} × libvips threads ${pipeline.vipsConcurrency}`);
    if (Number(config.UV_THREADPOOL_SIZE ?? 4) < server.transformConcurrency + 2) problems.push('UV_THREADPOOL_SIZE leaves no thread beside the transform slots');
    const memNeed = 256 * 1024 ** 2 + server.originalsCacheBytes + server.transformConcurrency * server.pipeline.maxInputPixels * 4;
    if (quantity(limits.memory) < memNeed) problems.push(`memory limit ${limits.memory} < ${Math.ceil(memNeed / 1024 ** 2)} Mi (baseline + originals cache + slots × largest decoded RGBA input)`);
    const data = pod.volumes.find((v: Obj) => v.name === origin.volumeMounts.find((m: Obj) => m.mountPath === server!.dataDir)?.name);
    if (!data?.emptyDir?.sizeLimit || quantity(data.emptyDir.sizeLimit) < server.cacheMaxBytes) problems.push(`the data volume does not hold PIXMESH_CACHE_MAX_BYTES (${server.cacheMaxBytes})`);
    const scratch = pod.volumes.filter((v: Obj) => v.emptyDir).reduce((s: number, v: Obj) => s + quantity(v.emptyDir.sizeLimit ?? '0'), 0);
    if (quantity(limits['ephemeral-storage'] ?? '0') < scratch) problems.push('ephemeral-storage limit below the emptyDirs');
    const preStop = Number(origin.lifecycle?.preStop?.exec?.command?.[1] ?? 0);
    if (pod.terminationGracePeriodSeconds < preStop + server.shutdownGraceMs / 1000) problems.push(`terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} < preStop ${preStop} s + drain ${server.shutdownGraceMs / 1000} s`);
  }

  // The tunnel: the Worker's production hostname for this region → the origin Service.
  const tunnel = YAML.parse(configMaps.get('pixmesh-tunnel-config')?.data['config.yaml'] ?? '{}') as Obj;
  const rules = (tunnel.ingress ?? []) as Obj[];
  const wantHost = new URL(productionRegionUrls()[region] ?? 'http://missing').hostname;
  const rule = rules.find((r) => r.hostname === wantHost);
  if (!rule) problems.push(`the tunnel does not route ${wantHost} (the Worker's URL for ${region})`);
  else {
    const svcUrl = new URL(rule.service);
    const svc = byKind(docs, 'Service', svcUrl.hostname);
    if (!svc || svc.spec.clusterIP === 'None' || !svc.spec.ports.some((p: Obj) => p.port === Number(svcUrl.port))) problems.push(`the tunnel's service ${rule.service} is not the origin Service`);
    const re = new RegExp(rule.path);
    for (const p of ['/internal/render/demo/tr:w-10/a.jpg', '/internal/media/demo/files', '/healthz']) if (!re.test(p)) problems.push(`the tunnel does not carry ${p}`);
    for (const p of ['/metrics', '/readyz', '/', '/healthz/x']) if (re.test(p)) problems.push(`the tunnel exposes ${p}`);
  }
  if (rules.at(-1)?.service !== 'http_status:404' || rules.at(-1)?.hostname) problems.push('the tunnel needs a final catch-all 404');

  // The bucket lifecycle touches only prefixes the region bucket uses.
  const lifecycle = JSON.parse(configMaps.get('pixmesh-bucket-lifecycle')?.data['cache-lifecycle.json'] ?? '{"Rules":[]}') as { Rules: { Filter: { Prefix: string } }[] };
  const prefixes = lifecycle.Rules.map((r) => r.Filter.Prefix);
  if (!prefixes.includes(SHARED_PREFIX)) problems.push(`the lifecycle does not bound the shared tier (${SHARED_PREFIX})`);
  for (const p of prefixes) if (![SHARED_PREFIX, MEMBER_PREFIX].includes(p)) problems.push(`the lifecycle expires ${p}, which holds state the region needs`);
  return problems;
}

describe('deploy/kubernetes manifests', () => {
  it('covers every region with an overlay', () => {
    expect(fs.readdirSync(path.join(K8S, 'regions')).sort()).toEqual([...REGION_IDS].sort());
  });

  it.each(manifestFiles.map((f) => [path.relative(K8S, f), f]))('%s validates against the Kubernetes schema', async (_name, file) => {
    const docs = readDocs(file);
    expect(docs.length).toBeGreaterThan(0);
    for (const d of docs) await validateObject(d);
  });

  it.each(kustomizations.map((f) => [path.relative(K8S, f), f]))('%s names files that exist', (_name, file) => {
    const k = readDocs(file)[0]!;
    const dir = path.dirname(file);
    const named = [...(k.resources ?? []), ...(k.patches ?? []).map((p: Obj) => p.path), ...(k.configMapGenerator ?? []).flatMap((g: Obj) => g.files)];
    expect(named.length).toBeGreaterThan(0);
    for (const n of named) expect(fs.existsSync(path.join(dir, n)), n).toBe(true);
  });

  it.each(REGION_IDS)('region %s: objects agree with each other and with the origin', async (region) => {
    const docs = assemble(region);
    for (const d of docs) await validateObject(d);
    expect(checkRegion(docs, region)).toEqual([]);
  });

  // The checks can fail: each mutation breaks one cross-reference.
  const mutations: [string, (docs: Obj[]) => void, RegExp][] = [
    ['a Service selector that matches nothing', (d) => (byKind(d, 'Service', 'pixmesh-origin')!.spec.selector = { app: 'nope' }), /Service\/pixmesh-origin: selector matches no pods/],
    ['a readiness probe on a route the origin lacks', (d) => (byKind(d, 'StatefulSet', 'pixmesh-origin')!.spec.template.spec.containers[0].readinessProbe.httpGet.path = '/ready'), /serves no GET \/ready\b/],
    ['a variable the origin never reads', (d) => (byKind(d, 'ConfigMap', 'pixmesh-origin-config')!.data.PIXMESH_TRANSFORM_SLOTS = '2'), /PIXMESH_TRANSFORM_SLOTS: the origin never reads it/],
    ['a bad value the origin refuses', (d) => (byKind(d, 'ConfigMap', 'pixmesh-origin-config')!.data.PIXMESH_TRANSFORM_CONCURRENCY = 'two'), /origin config refuses/],
    ['more slots than CPUs', (d) => (byKind(d, 'ConfigMap', 'pixmesh-origin-config')!.data.PIXMESH_TRANSFORM_CONCURRENCY = '4'), /CPU 2 < transform slots 4/],
    ['a secret key that does not exist', (d) => (byKind(d, 'StatefulSet', 'pixmesh-origin')!.spec.template.spec.containers[0].env.find((e: Obj) => e.name === 'PIXMESH_INTERNAL_SECRET').valueFrom.secretKeyRef.key = 'secret'), /has no key secret/],
    ['a tunnel that exposes /metrics', (d) => { const c = byKind(d, 'ConfigMap', 'pixmesh-tunnel-config')!; c.data['config.yaml'] = c.data['config.yaml'].replace('^/(internal/.*|healthz)$', '^/.*$'); }, /the tunnel exposes \/metrics/],
    ['no edge URL (purges not told to the edge)', (d) => delete byKind(d, 'ConfigMap', 'pixmesh-origin-config')!.data.PIXMESH_EDGE_URL, /PIXMESH_EDGE_URL "" is not the Worker's https URL/],
    ['an edge URL that names a region', (d) => (byKind(d, 'ConfigMap', 'pixmesh-origin-config')!.data.PIXMESH_EDGE_URL = 'https://eu-central-1.origin.pixmesh.example'), /PIXMESH_EDGE_URL names a region/],
    ['an HPA metric the origin does not export', (d) => (byKind(d, 'HorizontalPodAutoscaler', 'pixmesh-origin')!.spec.metrics[1].pods.metric.name = 'queue_depth'), /exports no gauge queue_depth/],
  ];
  it.each(mutations)('the check reports %s', (_what, mutate, problem) => {
    const docs = assemble('eu-central-1');
    mutate(docs);
    expect(checkRegion(docs, 'eu-central-1').join('\n')).toMatch(problem);
  });

  it('the schema validation rejects a malformed object', async () => {
    const sts = structuredClone(byKind(assemble('eu-central-1'), 'StatefulSet', 'pixmesh-origin')!);
    sts.spec.template.spec.containers[0].ports[0].containerPort = 'http';
    await expect(validateObject(sts)).rejects.toThrow(/containerPort/);
  });

  const kubectl = (() => {
    try {
      execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();
  if (!kubectl) console.warn('deploy-kubernetes: kubectl is not installed; the `kubectl kustomize` render of each region is not checked (the assembled view above is)');
  it.skipIf(!kubectl).each(REGION_IDS)('region %s: `kubectl kustomize` renders objects that validate and agree', async (region) => {
    const out = execFileSync('kubectl', ['kustomize', path.join(K8S, 'regions', region)], { encoding: 'utf8' });
    const docs = YAML.parseAllDocuments(out).map((d) => d.toJS() as Obj);
    expect(docs.map((d) => `${d.kind}/${d.metadata.name}`).sort()).toEqual(assemble(region).map((d) => `${d.kind}/${d.metadata.name}`).sort());
    for (const d of docs) await validateObject(d);
    expect(checkRegion(docs, region)).toEqual([]);
    const image = byKind(docs, 'StatefulSet', 'pixmesh-origin')!.spec.template.spec.containers[0].image as string;
    expect(image).not.toBe('pixmesh-origin');
  });
});
