/**
 * Config composed at boot: every module owns a spec, origin/src/config.ts reads them all from one
 * environment, and a bad environment is ONE error listing every bad variable — from loadConfig and
 * from the real origin process (exit 1, nothing listening). Importing the pipeline reads no env
 * and configures nothing.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, ORIGIN_CONFIG_SPECS } from '../../origin/src/config.js';
import { newDefaultConfig } from '../../origin/src/pipeline/config.js';
import { REGIONS } from '../../shared/regions.js';
import { ORIGIN_ARGV } from '../../scripts/cluster.js';
import { MAX_DIMENSION, normaliseHints } from '../../shared/transform/index.js';

const GOOD = { PIXMESH_REGION: 'eu-central-1', PIXMESH_INTERNAL_SECRET: 'a-secret-of-sixteen-chars' };
/** One bad value per module's spec: server, outbound fetch, shared state, pipeline, media, control plane, delivery. */
const BAD = {
  PIXMESH_TRANSFORM_QUEUE: '-1',
  PIXMESH_FETCH_MAX_REDIRECTS: 'five',
  PIXMESH_SHARED: 'maybe',
  PIXMESH_MAX_INPUT_PIXELS: '100MP',
  PIXMESH_RENDER_ISOLATION: 'sometimes',
  PIXMESH_WEBP_EFFORT: '9',
  PIXMESH_UPLOAD_CONCURRENCY: '0',
  PIXMESH_CONFIG_POLL_MS: '5',
  PIXMESH_SVG_SANITISE_MAX_BYTES: '8MB',
};

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

function runNode(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], { env: { PATH: process.env.PATH ?? '', PIXMESH_LOG: 'silent', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 80_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('origin config composed at boot', () => {
  it('a good environment gives every part its config (the pipeline limits come from the one pipeline spec)', () => {
    const c = loadConfig({ ...GOOD, PIXMESH_MAX_INPUT_PIXELS: '5000', PIXMESH_UPLOAD_CONCURRENCY: '3', PIXMESH_CONFIG_POLL_MS: '250', PIXMESH_SVG_SANITISE_MAX_BYTES: '4096', PIXMESH_SHARED: 'off' });
    expect(c.pipeline.maxInputPixels).toBe(5000);
    expect(c.media.maxConcurrentUploads).toBe(3);
    expect(c.controlPlane.pollMs).toBe(250);
    expect(c.delivery.svgSanitiseMaxBytes).toBe(4096);
    expect(c.shared.enabled).toBe(false);
    expect(c.port).toBe(REGIONS['eu-central-1'].port); // the region's port when PORT is unset
    expect('maxInputPixels' in c).toBe(false); // parsed once, in the pipeline spec only
  });

  it('a bad environment is one ConfigError with exactly one line per bad variable, across every module', () => {
    const problems = problemsOf({ ...GOOD, ...BAD });
    expect(problems).toHaveLength(Object.keys(BAD).length);
    for (const [name, value] of Object.entries(BAD)) {
      expect(problems.filter((p) => p.startsWith(`${name} `) && p.includes(`"${value}"`)), name).toHaveLength(1);
    }
  });

  it.each(Object.entries(BAD))('%s=%s alone is reported, naming the variable', (name, value) => {
    expect(problemsOf({ ...GOOD, [name]: value })).toEqual([expect.stringMatching(new RegExp(`^${name} must be .*\\(got "${value}"\\)$`))]);
  });

  it('every environment variable is owned by exactly one spec', () => {
    const names = Object.values(ORIGIN_CONFIG_SPECS).flatMap((spec) => Object.values(spec).map((v: { env: string }) => v.env));
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(expect.arrayContaining(Object.keys(BAD)));
  });

  it('the origin process refuses to boot on a bad environment: exit 1, one message listing every bad variable, nothing listening', async () => {
    const port = await freePort();
    const r = await runNode(ORIGIN_ARGV, { ...GOOD, ...BAD, PORT: String(port), PIXMESH_DATA_DIR: path.resolve('.pixmesh-test-config-boot') });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^invalid origin configuration:/);
    expect(r.stderr.match(/^invalid origin configuration:/gm)).toHaveLength(1);
    for (const name of Object.keys(BAD)) expect(r.stderr, name).toContain(`  - ${name} must be`);
    const connect = await new Promise<string>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve('connected')));
      s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
    expect(connect).toBe('ECONNREFUSED');
  }, 90_000);

  it('importing the pipeline (and the config composer, and render.ts) reads no environment and configures nothing', async () => {
    const r = await runNode([path.resolve('test/unit/fixtures/import-pipeline.ts')], { PIXMESH_MAX_INPUT_BYTES: 'forty megabytes', PIXMESH_VIPS_CONCURRENCY: '3', PIXMESH_VIPS_CACHE_MB: '64' });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as { before: unknown; after: unknown; imported: number; error?: string };
    expect(out.error).toBeUndefined();
    expect(out.imported).toBe(6);
    expect(out.after).toEqual(out.before);
  }, 90_000);

  it('the output-dimension limit and the client-hint width clamp are the one MAX_DIMENSION', () => {
    expect(newDefaultConfig().maxOutputDimension).toBe(MAX_DIMENSION);
    expect(normaliseHints(null, String(MAX_DIMENSION + 500)).width).toBe(MAX_DIMENSION);
  });
});
