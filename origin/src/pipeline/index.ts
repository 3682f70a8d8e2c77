/**
 * The sharp pipeline behind the origin's `renderImage` contract. Steps live one per module in
 * ./steps, their order is declared once in ./pipeline.ts. Any failure leaves as a PixmeshError:
 * ELIMIT for limits, EBADTR for transformations impossible on this image, EDECODE (422) for
 * originals libvips cannot read — never a raw sharp exception.
 */
import sharp from 'sharp';
import type { AccountDefaults } from '../../../shared/accounts.js';
import { busy, isPixmeshError, limitExceeded, undecodable } from '../../../shared/errors.js';
import type { NegotiatedFormat, OutputFormat, TransformPlan } from '../../../shared/transform/index.js';
import { loadConfigFromEnv, type PipelineConfig } from './config.js';
import { type Ctx } from './context.js';
import { FINALIZE, PREPARE, STEP_PIPELINE } from './pipeline.js';
import { readSourceInfo, type SourceInfo } from './source.js';
import { EMPTY_OPS, resolveStep } from './steps/resolve.js';
import { CONTENT_TYPES } from './steps/output.js';

export { newDefaultConfig, loadConfigFromEnv, validateConfig, configProblems, PipelineConfigError, type PipelineConfig } from './config.js';
export { readSourceInfo, type SourceInfo, type SourceFormat } from './source.js';
export { PREPARE, STEP_PIPELINE, FINALIZE } from './pipeline.js';
export { CONTENT_TYPES } from './steps/output.js';

export interface RenderOptions {
  /** From the edge: a concrete format or "source" (keep the source's family). */
  format: NegotiatedFormat;
  /** Client hints forwarded by the edge (Sec-CH-DPR, Sec-CH-Width). */
  dpr?: number;
  widthHint?: number;
  defaults: AccountDefaults;
  /** Checked between steps; an aborted render throws EBUSY (503). */
  signal?: AbortSignal;
  /** Override the process-wide configuration (tests). */
  config?: PipelineConfig;
}

export interface RenderResult {
  data: Buffer;
  format: OutputFormat;
  width: number;
  height: number;
  contentType: string;
  /** Whether the output carries an alpha channel. */
  hasAlpha?: boolean;
  /** Facts about the original. */
  source?: SourceInfo;
}

/** The process-wide configuration (env overrides applied and validated at load). */
export const pipelineConfig: PipelineConfig = loadConfigFromEnv(process.env);

/** Bound libvips: threads per operation and its operation cache (imgproxy: cache off, 1 thread). */
export function configureSharp(config: PipelineConfig): void {
  sharp.concurrency(config.vipsConcurrency);
  if (config.vipsCacheMb === 0) sharp.cache(false);
  else sharp.cache({ memory: config.vipsCacheMb, files: 0, items: 100 });
}
configureSharp(pipelineConfig);

/** Cheap source metadata (header only): format, width, height (oriented), hasAlpha, pages. */
export const getSourceMetadata = readSourceInfo;

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw busy('the render took too long and was abandoned', 1, 503);
}

function wrap(e: unknown): Error {
  if (isPixmeshError(e)) return e;
  const message = e instanceof Error ? e.message : String(e);
  if (/pixel limit/i.test(message)) return limitExceeded('the original exceeds the pixel limit');
  if (/timeout/i.test(message)) return busy('the render took too long', 1, 503);
  return undecodable('the original could not be processed (corrupt or unsupported image data)');
}

export async function renderImage(input: Buffer, plan: TransformPlan, opts: RenderOptions): Promise<RenderResult> {
  const config = opts.config ?? pipelineConfig;
  const ctx = {
    input,
    plan,
    opts,
    config,
    ops: { ...EMPTY_OPS },
    phase: -1,
    materialisations: 0,
    dimsKnown: false,
    hasAlpha: false,
    width: 0,
    height: 0,
  } as unknown as Ctx;
  try {
    for (const s of PREPARE) {
      checkAborted(opts.signal);
      await s.run(ctx);
    }
    for (const chainStep of plan.steps) {
      checkAborted(opts.signal);
      ctx.ops = await resolveStep(ctx, chainStep);
      for (const s of STEP_PIPELINE) await s.run(ctx);
    }
    ctx.ops = { ...EMPTY_OPS };
    for (const s of FINALIZE) {
      checkAborted(opts.signal);
      await s.run(ctx);
    }
    const { data, info } = await ctx.img.toBuffer({ resolveWithObject: true });
    return {
      data,
      format: ctx.format!,
      width: info.width,
      height: info.height,
      contentType: CONTENT_TYPES[ctx.format!],
      hasAlpha: info.channels === 2 || info.channels === 4,
      source: ctx.source,
    };
  } catch (e) {
    throw wrap(e);
  }
}
