/**
 * The render deadline, in process (no cluster): PIXMESH_RENDER_TIMEOUT_SECONDS must bound a
 * whole render, not each libvips materialisation. A tiny original with a long chain of steps is
 * the cheapest way to ask for a lot of work (MAX_STEPS = 20, each step up to the output limit).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { DEFAULT_ACCOUNT_DEFAULTS } from '../../shared/accounts.js';
import { isPixmeshError } from '../../shared/errors.js';
import { parseTransformation } from '../../shared/transform/index.js';
import { newDefaultConfig, renderImage } from '../../origin/src/pipeline/index.js';
import { recordFigures } from './harness.js';

describe('render deadline', () => {
  it('a 20-step chain (upscale + rotate each step) on a 64×48 original, under a deadline shorter than one step, is stopped between steps: 503 EBUSY, no hang', async () => {
    // 1 ms: the first 1500-px pass alone takes longer on any machine, so the whole-render deadline
    // (not a per-pass libvips timeout, whose floor is 1 s) must stop the chain at the next step.
    const tiny = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#808080' } }).jpeg().toBuffer();
    const tr = Array.from({ length: 20 }, (_, i) => `w-${1500 + i},rt-90`).join(':');
    const t0 = performance.now();
    const outcome = await renderImage(tiny, parseTransformation(tr, {}), {
      format: 'jpeg',
      defaults: DEFAULT_ACCOUNT_DEFAULTS,
      config: { ...newDefaultConfig(), renderTimeoutSeconds: 0.001 },
    }).then(
      (r) => `200 ${r.width}x${r.height}`,
      (e: unknown) => (isPixmeshError(e) ? `${e.status} ${e.code}` : `crash ${String(e)}`),
    );
    const ms = Math.round(performance.now() - t0);
    recordFigures('renderDeadline', { deadlineMs: 1, tookMs: ms, outcome });
    expect(outcome).toBe('503 EBUSY');
    expect(ms).toBeLessThan(10_000); // a generous hang bound, not a speed claim
  });
});

/** ≈ 20 s of librsvg work on this machine in one rasterisation step, which libvips' timeout cannot interrupt (#12 point 2). */
export const HEAVY_FILTER_SVG = Buffer.from(
  '<svg xmlns="http://www.w3.org/2000/svg" width="2000" height="2000"><filter id="f" x="0" y="0" width="100%" height="100%">' +
    '<feTurbulence baseFrequency="0.05" numOctaves="8"/><feGaussianBlur stdDeviation="100"/><feMorphology operator="dilate" radius="200"/>' +
    '</filter><rect width="100%" height="100%" fill="red" filter="url(#f)"/></svg>',
);

describe('render deadline for SVG (killable render process)', () => {
  it('a heavy-filter SVG under a 1 s deadline is stopped by killing its render process: 503 EBUSY within 1 s + grace, and the next render works', async () => {
    const { isolates, renderBounded } = await import('../../origin/src/pipeline/isolate.js');
    const config = { ...newDefaultConfig(), renderTimeoutSeconds: 1 };
    const opts = { format: 'png' as const, defaults: DEFAULT_ACCOUNT_DEFAULTS, config };
    const small = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="40" height="30"><rect width="40" height="30" fill="blue"/></svg>');
    // warm a render process (its start-up is not part of the deadline)
    const warm = await renderBounded(small, parseTransformation('w-20', {}), opts, 'svg');
    expect([warm.width, warm.format]).toEqual([20, 'png']);
    const killedBefore = isolates.killed;
    const t0 = performance.now();
    const outcome = await renderBounded(HEAVY_FILTER_SVG, parseTransformation('e-grayscale', {}), opts, 'svg').then(
      (r) => `200 ${r.width}x${r.height}`,
      (e: unknown) => (isPixmeshError(e) ? `${e.status} ${e.code}` : `crash ${String(e)}`),
    );
    const ms = Math.round(performance.now() - t0);
    recordFigures('svgDeadline', { deadlineMs: 1000, tookMs: ms, outcome });
    expect(outcome).toBe('503 EBUSY');
    expect(ms).toBeLessThan(3000);
    expect(isolates.killed).toBe(killedBefore + 1);
    // a fresh process takes the next job
    const after = await renderBounded(small, parseTransformation('w-10', {}), opts, 'svg');
    expect(after.width).toBe(10);
    isolates.close();
  }, 60_000);
});

/** A field of every thread's stat (Linux /proc; `n` counted from 1 as in proc(5): 19 niceness, 41 scheduling policy). */
function threadStat(pid: number, n: number): number[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[n - 3]);
  });
}
const threadNiceness = (pid: number) => threadStat(pid, 19);
const SCHED_OTHER = 0;
const SCHED_IDLE = 5;
const hasChrt = process.platform === 'linux' && (process.env.PATH ?? '').split(':').some((d) => existsSync(`${d}/chrt`));

describe('heavy renders at a lower OS priority (#12 point 7)', () => {
  it.runIf(process.platform === 'linux')('a heavy render runs in a child whose every thread (libvips\' included) has the configured niceness; a normal child keeps the parent\'s', async () => {
    const { heavyIsolates, isolates, renderBounded } = await import('../../origin/src/pipeline/isolate.js');
    const config = { ...newDefaultConfig(), heavyRenderNice: 7, heavyRenderPolicy: 'nice' as const, vipsConcurrency: 2 };
    const opts = { format: 'jpeg' as const, defaults: DEFAULT_ACCOUNT_DEFAULTS, config };
    const photo = await sharp({ create: { width: 800, height: 600, channels: 3, background: '#446688', noise: { type: 'gaussian', mean: 128, sigma: 30 } } }).jpeg().toBuffer();
    const heavy = await renderBounded(photo, parseTransformation('w-1200,h-1200,cm-pad_resize,bg-blurred_20', {}), opts, 'svg', true);
    expect([heavy.width, heavy.height]).toEqual([1200, 1200]);
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="40" height="30"><rect width="40" height="30" fill="blue"/></svg>');
    expect((await renderBounded(svg, parseTransformation('w-20', {}), opts, 'svg')).width).toBe(20);
    const [low] = heavyIsolates.childPids();
    const [normal] = isolates.childPids();
    const parent = os.getPriority();
    const lowNice = threadNiceness(low!);
    // node's threads plus the libuv pool and libvips' workers started by the render
    expect(lowNice.length).toBeGreaterThan(4);
    expect(new Set(lowNice)).toEqual(new Set([Math.max(parent, 7)]));
    expect(new Set(threadNiceness(normal!))).toEqual(new Set([parent]));
    // the default policy `idle` was not asked for here: the niceness alone
    expect(new Set(threadStat(low!, 41))).toEqual(new Set([SCHED_OTHER]));
    heavyIsolates.close();
    isolates.close();
  }, 60_000);

  it.runIf(hasChrt)('with the policy `idle` (the default) every thread of a heavy child is SCHED_IDLE, started so by chrt; a normal child stays SCHED_OTHER', async () => {
    const { heavyIsolates, isolates, renderBounded } = await import('../../origin/src/pipeline/isolate.js');
    const config = { ...newDefaultConfig(), vipsConcurrency: 2 };
    expect(config.heavyRenderPolicy).toBe('idle');
    const opts = { format: 'jpeg' as const, defaults: DEFAULT_ACCOUNT_DEFAULTS, config };
    const photo = await sharp({ create: { width: 800, height: 600, channels: 3, background: '#446688' } }).jpeg().toBuffer();
    expect((await renderBounded(photo, parseTransformation('w-1200,h-1200,cm-pad_resize,bg-blurred_20', {}), opts, 'all', true)).width).toBe(1200);
    expect((await renderBounded(photo, parseTransformation('w-20', {}), opts, 'all')).width).toBe(20);
    const [low] = heavyIsolates.childPids();
    const [normal] = isolates.childPids();
    const policies = threadStat(low!, 41);
    expect(policies.length).toBeGreaterThan(4);
    expect(new Set(policies)).toEqual(new Set([SCHED_IDLE]));
    expect(new Set(threadStat(normal!, 41))).toEqual(new Set([SCHED_OTHER]));
    heavyIsolates.close();
    isolates.close();
  }, 60_000);
});
