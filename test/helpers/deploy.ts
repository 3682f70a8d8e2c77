/**
 * What the deployment checks (test/unit/deploy-*.test.ts) compare manifests against: the
 * environment variables the origin really reads, the routes it really serves, the production
 * region URLs of wrangler.toml. Read from the sources, so a renamed variable or route fails the
 * deploy tests instead of silently shipping a manifest that sets nothing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...tsFiles(p));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/**
 * Variables read by the runtime under the origin rather than its code: each with who reads it.
 * Nothing else may be set on an origin container unless the origin's code reads it.
 */
export const RUNTIME_ENV: Record<string, string> = {
  NODE_ENV: 'Node libraries (production mode)',
  UV_THREADPOOL_SIZE: 'libuv: the thread pool sharp and the file system share',
  MALLOC_ARENA_MAX: 'glibc malloc: fewer arenas, less fragmentation under libvips',
  HOME: 'the shell and tools run in the container',
};

let envCache: Set<string> | undefined;
/** Every environment variable name the origin's code (origin/src, shared) reads. */
export function originEnvNames(): Set<string> {
  if (envCache) return envCache;
  const names = new Set<string>();
  const patterns = [/\benv\.([A-Z][A-Z0-9_]+)/g, /\benv\[['"]([A-Z][A-Z0-9_]+)['"]\]/g, /['"`](PIXMESH_[A-Z0-9_]+|PORT)['"`]/g];
  for (const file of [...tsFiles(path.join(ROOT, 'origin/src')), ...tsFiles(path.join(ROOT, 'shared'))]) {
    const text = fs.readFileSync(file, 'utf8');
    for (const re of patterns) for (const m of text.matchAll(re)) names.add(m[1]!);
  }
  envCache = names;
  return names;
}

/** GET routes the origin app registers at its top level (origin/src/app.ts): `app.get('/x', …)`. */
export function originGetRoutes(): Set<string> {
  const text = fs.readFileSync(path.join(ROOT, 'origin/src/app.ts'), 'utf8');
  return new Set([...text.matchAll(/\bapp\.get\('([^']+)'/g)].map((m) => m[1]!));
}

/** Prometheus metric names the origin registers, with their type (origin/src/metrics.ts). */
export function originMetrics(): Map<string, string> {
  const text = fs.readFileSync(path.join(ROOT, 'origin/src/metrics.ts'), 'utf8');
  return new Map([...text.matchAll(/new (Counter|Gauge|Histogram)\(\{\s*name: '([a-z0-9_]+)'/g)].map((m) => [m[2]!, m[1]!]));
}

/** PIXMESH_REGION_URLS of wrangler.toml's [env.production.vars]: the URLs the deployed Worker calls. */
export function productionRegionUrls(): Record<string, string> {
  const text = fs.readFileSync(path.join(ROOT, 'wrangler.toml'), 'utf8');
  const section = text.split(/^\[env\.production\.vars\]\s*$/m)[1] ?? '';
  const m = /^PIXMESH_REGION_URLS\s*=\s*'([^']+)'/m.exec(section.split(/^\[/m)[0] ?? '');
  if (!m) throw new Error('wrangler.toml: no PIXMESH_REGION_URLS in [env.production.vars]');
  return JSON.parse(m[1]!) as Record<string, string>;
}
