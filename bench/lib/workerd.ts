/**
 * The edge worker in workerd via Miniflare (the runtime `wrangler dev` uses), bundled exactly as
 * `wrangler deploy` would bundle it. The benchmarks run it directly so they can switch the Cache
 * API off (`cache: false`): wrangler dev has one cache for every simulated colo, while
 * Cloudflare's Cache API is per colo, so the geo suite emulates per-colo edge caches in the
 * client and sends only per-colo misses to the worker.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Miniflare } from 'miniflare';
import { ROOT } from './results.js';

/** Bundle edge/src with wrangler (`deploy --dry-run`); returns the path of the ESM entry. */
export function buildEdgeBundle(outDir: string): string {
  fs.mkdirSync(outDir, { recursive: true });
  const r = spawnSync(
    process.execPath,
    [path.join(ROOT, 'node_modules/wrangler/bin/wrangler.js'), 'deploy', '--dry-run', '--outdir', outDir, '--config', path.join(ROOT, 'wrangler.toml')],
    { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' }, encoding: 'utf8' },
  );
  const entry = path.join(outDir, 'index.js');
  if (r.status !== 0 || !fs.existsSync(entry)) throw new Error(`wrangler bundle failed:\n${r.stdout}\n${r.stderr}`);
  return entry;
}

export function compatibilityDate(): string {
  const m = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(fs.readFileSync(path.join(ROOT, 'wrangler.toml'), 'utf8'));
  return m?.[1] ?? '2026-04-20';
}

export interface RunningWorker {
  url: string;
  dispose(): Promise<void>;
}

export async function startEdgeWorker(opts: {
  scriptPath: string;
  host: string;
  port: number;
  bindings: Record<string, string>;
  /** false: the Cache API is a no-op (every request is an edge miss). */
  cache: boolean;
}): Promise<RunningWorker> {
  const mf = new Miniflare({
    modules: true,
    scriptPath: opts.scriptPath,
    modulesRoot: path.dirname(opts.scriptPath),
    compatibilityDate: compatibilityDate(),
    host: opts.host,
    port: opts.port,
    bindings: opts.bindings,
    durableObjects: { ROUTING_STATE: 'RoutingStateDO' },
    cache: opts.cache,
  });
  const url = await mf.ready;
  return { url: url.origin, dispose: () => mf.dispose() };
}

/** A worker from inline ESM source (the bare cached-body baseline of the edge suite). */
export async function startInlineWorker(opts: { script: string; host: string; port: number }): Promise<RunningWorker> {
  const mf = new Miniflare({ modules: true, script: opts.script, compatibilityDate: compatibilityDate(), host: opts.host, port: opts.port });
  const url = await mf.ready;
  return { url: url.origin, dispose: () => mf.dispose() };
}

/**
 * A minimal pass-through worker: forwards the request to the URL in `x-bench-target` (no parsing,
 * no routing, no signing). The geo suite's baseline policies use it as their edge, so every policy
 * pays a workerd hop on a miss; the edge suite times it against the pixmesh worker's MISS path.
 * An unreachable target answers 599 (the caller treats it as a network error).
 */
export const PASS_THROUGH_WORKER = `
export default {
  async fetch(request) {
    const target = request.headers.get('x-bench-target');
    if (!target) return new Response('x-bench-target missing', { status: 400 });
    const headers = new Headers(request.headers);
    headers.delete('x-bench-target');
    headers.delete('host');
    try {
      return await fetch(target, { headers });
    } catch (e) {
      return new Response('unreachable: ' + e, { status: 599 });
    }
  },
};
`;
