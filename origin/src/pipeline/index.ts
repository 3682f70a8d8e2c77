/**
 * The sharp pipeline behind the origin's `renderImage` contract. Steps live one per module in
 * ./steps, their order is declared once in ./pipeline.ts. Any failure leaves as a PixmeshError:
 * ELIMIT for limits, EBADTR for transformations impossible on this image, EDECODE (422) for
 * originals libvips cannot read — never a raw sharp exception.
 */
import sharp from 'sharp';
import { busy, isPixmeshError, limitExceeded, PixmeshError } from '../../../shared/errors.js';
import type { StepOps, TransformPlan } from '../../../shared/transform/index.js';
import { newDefaultConfig, type PipelineConfig } from './config.js';
import { budget, checkDeadline, materialise, type RawImage, type RenderState } from './context.js';
import { DECODE, FINALIZE, PREPARE, STEP_PIPELINE, type NamedStep } from './pipeline.js';
import { readSourceInfo } from './source.js';
import type { RenderOptions, RenderResult } from './types.js';
import { EMPTY_OPS, expandStep, resolveStep } from './steps/resolve.js';
import { CONTENT_TYPES } from './steps/output.js';

export { newDefaultConfig, loadConfigFromEnv, validateConfig, configProblems, PipelineConfigError, PIPELINE_CONFIG_SPEC, type PipelineConfig } from './config.js';
export type { RenderOptions, RenderResult } from './types.js';
export { readSourceInfo, type SourceInfo, type SourceFormat } from './source.js';
export { PREPARE, DECODE, STEP_PIPELINE, FINALIZE } from './pipeline.js';
export { CONTENT_TYPES } from './steps/output.js';

/** The libvips settings applied to this process (undefined until the first configureSharp). */
let sharpConfiguredWith: Pick<PipelineConfig, 'vipsConcurrency' | 'vipsCacheMb'> | undefined;

/**
 * Bound libvips: threads per operation and its operation cache (imgproxy: cache off, 1 thread),
 * and block libvips' own .v loader. The origin's main calls it once at boot with the validated
 * config; a render in a process that did not (tests, the isolate child) applies its own config
 * first. Importing the pipeline changes nothing.
 */
export function configureSharp(config: Pick<PipelineConfig, 'vipsConcurrency' | 'vipsCacheMb'>): void {
  sharp.concurrency(config.vipsConcurrency);
  // never parse libvips' own .v format from untrusted bytes (docs/security.md: loader CVEs)
  sharp.block({ operation: ['VipsForeignLoadVips', 'VipsForeignLoadVipsFile', 'VipsForeignLoadVipsSource'] });
  if (config.vipsCacheMb === 0) sharp.cache(false);
  else sharp.cache({ memory: config.vipsCacheMb, files: 0, items: 100 });
  sharpConfiguredWith = { vipsConcurrency: config.vipsConcurrency, vipsCacheMb: config.vipsCacheMb };
}

function ensureSharpConfigured(config: PipelineConfig): void {
  if (!sharpConfiguredWith) configureSharp(config);
}

/** Cheap source metadata (header only): format, width, height (oriented), hasAlpha, pages. */
export const getSourceMetadata = readSourceInfo;

function wrap(e: unknown, config: PipelineConfig): Error {
  if (isPixmeshError(e)) return e;
  const message = e instanceof Error ? e.message : String(e);
  if (/pixel limit/i.test(message)) return limitExceeded('the original exceeds the pixel limit');
  if (/timeout/i.test(message)) return busy(`the render took longer than ${config.renderTimeoutSeconds} s`, 1, 503); // libvips stopped the pass
  // keep libvips' text as the cause (for logs), never in the public message
  return new PixmeshError(422, 'EDECODE', 'the original could not be processed (corrupt or unsupported image data)', { cause: e });
}

function newContext(input: Buffer, plan: TransformPlan, opts: RenderOptions, config: PipelineConfig, page = 0, deadline?: number): RenderState {
  return {
    deadline: deadline ?? Date.now() + config.renderTimeoutSeconds * 1000,
    input,
    plan,
    opts,
    config,
    ops: { ...EMPTY_OPS },
    phase: -1,
    materialisations: 0,
    pristine: false,
    autoOrient: false,
    dimsKnown: false,
    hasAlpha: false,
    width: 0,
    height: 0,
    frames: 1,
    page,
    renderSub,
  } as unknown as RenderState;
}

/** A layer's own chain, rendered to RGBA pixels inside the parent render (same deadline, same limits). */
async function renderSub(parent: RenderState, input: Buffer, steps: StepOps[], base: { bw: number; bh: number }): Promise<RawImage> {
  const plan: TransformPlan = { steps: steps.map((s) => ({ type: 'ops' as const, ...s })), original: false };
  const ctx = newContext(input, plan, { ...parent.opts, format: 'png', focusArea: undefined, source: undefined }, parent.config, 0, parent.deadline);
  ctx.base = base;
  ctx.layerStats = parent.layerStats;
  await run(ctx, PREPARE);
  await renderFrame(ctx);
  const { data, info } = await ctx.img.ensureAlpha().timeout(budget(ctx)).raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  parent.materialisations += ctx.materialisations + 1;
  return { data, width: info.width, height: info.height };
}

async function run(ctx: RenderState, steps: readonly NamedStep[]): Promise<void> {
  for (const s of steps) {
    checkDeadline(ctx);
    await s.run(ctx);
  }
}

/** Decode one frame and run every chain step on it. */
async function renderFrame(ctx: RenderState): Promise<void> {
  await run(ctx, DECODE);
  for (const chainStep of ctx.plan.steps) {
    for (const ops of await expandStep(ctx, chainStep)) {
      checkDeadline(ctx);
      ctx.ops = await resolveStep(ctx, ops);
      await run(ctx, STEP_PIPELINE);
    }
  }
  ctx.ops = { ...EMPTY_OPS };
}

/** Animated originals: every frame through the same chain, then joined back into an animation. */
async function renderAnimation(ctx: RenderState): Promise<void> {
  const frames: Buffer[] = [];
  let hasAlpha = false;
  for (let i = 0; i < ctx.frames; i++) {
    const page = ctx.pageList?.[i] ?? i;
    const f = newContext(ctx.input, ctx.plan, ctx.opts, ctx.config, page, ctx.deadline);
    // pages of a TIFF may differ in size: each selected page is decoded with its own header facts
    f.source = ctx.pageList && page !== ctx.page ? { ...(await readSourceInfo(ctx.input, page)), pages: ctx.source.pages } : ctx.source;
    f.frames = ctx.frames;
    await renderFrame(f);
    await materialise(f);
    if (i === 0) {
      ctx.width = f.width;
      ctx.height = f.height;
    } else if (f.width !== ctx.width || f.height !== ctx.height) {
      f.img = f.img.resize({ width: ctx.width, height: ctx.height, fit: 'fill' }); // e.g. trim found different borders
    }
    hasAlpha ||= f.hasAlpha;
    frames.push(await f.img.ensureAlpha().timeout(budget(f)).png({ compressionLevel: 0 }).toBuffer());
  }
  ctx.img = sharp(frames, { join: { animated: true } });
  ctx.hasAlpha = hasAlpha;
  ctx.dimsKnown = true;
  ctx.phase = -1;
  const delay = ctx.pageList ? ctx.pageList.map((p) => ctx.source.delay?.[p]) : ctx.source.delay?.slice(0, ctx.frames);
  ctx.animation = { loop: ctx.source.loop ?? 0, delay: delay?.length === ctx.frames && delay.every((d) => d !== undefined) ? (delay as number[]) : Array(ctx.frames).fill(100) };
}

export async function renderImage(input: Buffer, plan: TransformPlan, opts: RenderOptions): Promise<RenderResult> {
  const config = opts.config ?? newDefaultConfig();
  ensureSharpConfigured(config);
  const ctx = newContext(input, plan, opts, config);
  ctx.layerStats = { count: 0, ms: 0, faceDetections: 0, faceMs: 0 };
  try {
    await run(ctx, PREPARE);
    if (ctx.frames > 1) await renderAnimation(ctx);
    else await renderFrame(ctx);
    await run(ctx, FINALIZE);
    const { data, info } = await ctx.img.toBuffer({ resolveWithObject: true });
    return {
      data,
      format: ctx.format!,
      width: info.width,
      height: ctx.frames > 1 ? ctx.height : info.height,
      contentType: CONTENT_TYPES[ctx.format!],
      hasAlpha: info.channels === 2 || info.channels === 4,
      frames: ctx.frames,
      passes: ctx.materialisations,
      ...(ctx.decoded ? { decoded: ctx.decoded } : {}),
      source: ctx.source,
      layers: ctx.layerStats,
    };
  } catch (e) {
    throw wrap(e, config);
  }
}
