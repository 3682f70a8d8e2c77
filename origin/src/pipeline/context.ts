/**
 * The state a render carries from step to step (imgproxy's processing Context). Every field the
 * steps share is declared and documented here.
 *
 * sharp applies the operations queued on one instance in ITS fixed internal order (trim, resize,
 * flip, rotate, crop/embed, extend, blur, sharpen, composite, linear, normalise, …), not in call
 * order. Each step declares the sharp phase it uses; when a step's phase is not after the phases
 * already queued, the queued work is materialised to raw pixels first, so the result always
 * follows OUR declared order.
 */
import sharp, { type Sharp } from 'sharp';
import { busy, limitExceeded } from '../../../shared/errors.js';
import type { OutputFormat, StepOps, TransformPlan } from '../../../shared/transform/index.js';
import type { PipelineConfig } from './config.js';
import type { RenderOptions } from './types.js';
import type { SourceInfo } from './source.js';
import type { LayerStats, ResolvedOps } from './types.js';

/** sharp's internal operation order (lib pipeline.cc), as numbers. */
export const PHASE = {
  trim: 1,
  preExtract: 2,
  flatten: 2.5,
  greyscale: 3,
  resize: 4,
  flip: 5,
  rotate90: 6,
  cropEmbed: 7,
  rotateAny: 8,
  postExtract: 9,
  extend: 11,
  blur: 12,
  sharpen: 13,
  composite: 14,
  linear: 15,
  normalise: 16,
} as const;

export interface RenderState {
  readonly input: Buffer;
  readonly plan: TransformPlan;
  readonly opts: RenderOptions;
  readonly config: PipelineConfig;
  /** Header facts about the original (set by the limits step). */
  source: SourceInfo;
  /** The pipeline being built. */
  img: Sharp;
  /** Current width/height; valid only when dimsKnown. */
  width: number;
  height: number;
  /** False after an operation whose output size sharp decides (trim, free rotation). */
  dimsKnown: boolean;
  /** Whether the current image may carry transparency. */
  hasAlpha: boolean;
  /** Highest sharp phase queued on `img` since the last materialisation (-1: none). */
  phase: number;
  /** The concrete operations of the chain step being run (set by the resolve step). */
  ops: ResolvedOps;
  /** Chosen output format (set by the format step). */
  format?: OutputFormat;
  /** True from the decode until the first materialisation: `img` is the original's decode pipeline (the decoded cache may replace it, ./decoded-cache.ts). */
  pristine: boolean;
  /** EXIF orientation applied on load (set by the decode step). */
  autoOrient: boolean;
  /** Set when the render started from the decoded cache: the JPEG shrink its pixels were decoded at. */
  decoded?: 1 | 2 | 4 | 8;
  /** How many times pixels were materialised (for tests and server-timing). */
  materialisations: number;
  /** Frames to render (1 = still; >1 = an animated original kept animated). */
  frames: number;
  /** The frame (page) this context decodes. */
  page: number;
  /** A `pg-` range or list kept animated: the 0-based page of each output frame (else frame i is page i). */
  pageList?: number[];
  /** Animation timing of the original, for the encoder. */
  animation?: { loop: number; delay: number[] };
  /** When the whole render must be over (ms since the epoch): PIXMESH_RENDER_TIMEOUT_SECONDS from its start. */
  deadline: number;
  /** Inside a layer: the size of the image it is placed on (the bw bh of expressions). */
  base?: { bw: number; bh: number };
  /** Time spent producing layers (fetch + render + composite), for Server-Timing (set on the top context). */
  layerStats?: LayerStats;
  /** Renders a layer's own chain inside this render (index.ts sets it; steps call it via ./sub-render.ts). */
  readonly renderSub: SubRenderer;
}

/** Unpremultiplied RGBA pixels. */
export interface RawImage {
  data: Buffer;
  width: number;
  height: number;
}

export type SubRenderer = (parent: RenderState, input: Buffer, steps: StepOps[], base: { bw: number; bh: number }) => Promise<RawImage>;

export type { LayerStats } from './types.js';

/** Throw 503 EBUSY when the caller gave up or the render's deadline passed. */
export function checkDeadline(ctx: Pick<RenderState, 'deadline' | 'opts' | 'config'>): void {
  if (ctx.opts.signal?.aborted) throw busy('the render took too long and was abandoned', 1, 503);
  if (Date.now() > ctx.deadline) throw busy(`the render took longer than ${ctx.config.renderTimeoutSeconds} s`, 1, 503);
}

/**
 * sharp's timeout for the next libvips pass: what is left of the deadline, rounded up to whole
 * seconds (libvips' granularity; 0 would mean "no limit", so at least 1).
 */
export function budget(ctx: Pick<RenderState, 'deadline' | 'opts' | 'config'>): { seconds: number } {
  checkDeadline(ctx);
  return { seconds: Math.max(1, Math.ceil((ctx.deadline - Date.now()) / 1000)) };
}

/** Run the queued operations into raw pixels and start a fresh pipeline from them. */
export async function materialise(ctx: RenderState): Promise<void> {
  const { data, info } = await ctx.img
    .timeout(budget(ctx))
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  ctx.img = sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels as 1 | 2 | 3 | 4 } });
  ctx.width = info.width;
  ctx.height = info.height;
  ctx.dimsKnown = true;
  ctx.hasAlpha = info.channels === 2 || info.channels === 4;
  ctx.phase = -1;
  ctx.pristine = false;
  ctx.materialisations++;
}

/** Declare that the next operation runs at `phase`; materialises first when sharp would reorder it. */
export async function usePhase(ctx: RenderState, phase: number): Promise<void> {
  if (phase <= ctx.phase) await materialise(ctx);
  ctx.phase = Math.max(ctx.phase, phase);
}

/** Make width/height exact (materialising when sharp alone knows them). */
export async function exactDims(ctx: RenderState): Promise<{ width: number; height: number }> {
  if (!ctx.dimsKnown) await materialise(ctx);
  return { width: ctx.width, height: ctx.height };
}

/** Record new dimensions, enforcing the output limits before any pixels are produced. */
export function setDims(ctx: RenderState, width: number, height: number, what: string): void {
  checkOutputSize(ctx.config, width, height, what);
  ctx.width = width;
  ctx.height = height;
  ctx.dimsKnown = true;
}

export function checkOutputSize(config: PipelineConfig, width: number, height: number, what: string): void {
  if (width > config.maxOutputDimension || height > config.maxOutputDimension)
    throw limitExceeded(`${what}: the output would be ${width}×${height}; the largest side allowed is ${config.maxOutputDimension} px`);
  if (width * height > config.maxOutputPixels)
    throw limitExceeded(`${what}: the output would be ${width}×${height} (${Math.round((width * height) / 1e6)} MP); at most ${config.maxOutputPixels / 1e6} MP allowed`);
}
