/**
 * Steps "limits" and "decode". Limits are checked from the header alone, BEFORE any pixel is
 * decoded: input bytes, input pixels (× frames when frames are read), and the pipeline is opened
 * with libvips' own pixel limit as a second guard.
 */
import sharp from 'sharp';
import { badTransformation, limitExceeded } from '../../../../shared/errors.js';
import { assertInputPixels, keepsAnimationOf } from '../input-limits.js';
import { allOps } from '../../../../shared/transform/index.js';
import type { RenderState } from '../context.js';
import { readSourceInfo } from '../source.js';
import { checkSvg } from '../svg-guard.js';

export async function checkLimits(ctx: RenderState): Promise<void> {
  const { config, input } = ctx;
  if (input.length > config.maxInputBytes)
    throw limitExceeded(`the original is ${input.length} bytes; at most ${config.maxInputBytes} bytes are allowed`, 413);
  // The caller's facts when it read the header already (RenderOptions.source): one header read per render.
  ctx.source = ctx.opts.source ?? (await readSourceInfo(input));
  // embedded rasters, <use> expansion, filters and external references: measured before librsvg runs
  if (ctx.source.format === 'svg') await checkSvg(input, config.maxInputPixels);
  const selected = ctx.plan.page === undefined ? [] : Array.isArray(ctx.plan.page) ? ctx.plan.page : [ctx.plan.page];
  const missing = selected.find((p) => p > ctx.source.pages);
  if (missing !== undefined)
    throw badTransformation(`pg: page ${missing} does not exist, the original has ${ctx.source.pages} page${ctx.source.pages === 1 ? '' : 's'}`);
  const animate = keepsAnimation(ctx);
  // a pg- range or list kept as an animation: its pages (0-based) are the frames, in URL order
  if (animate && Array.isArray(ctx.plan.page)) ctx.pageList = ctx.plan.page.map((p) => p - 1);
  const first = selected[0];
  if (first !== undefined && first > 1) {
    // pages of a TIFF may differ in size: the (first) chosen page is "the input" from here on
    ctx.page = first - 1;
    const pageInfo = await readSourceInfo(input, ctx.page);
    ctx.source = { ...pageInfo, pages: ctx.source.pages, loop: ctx.source.loop, delay: ctx.source.delay };
  }
  const frames = animate ? (ctx.pageList?.length ?? ctx.source.pages) : 1;
  if (frames > config.maxFrames)
    throw limitExceeded(`the original has ${frames} frames; at most ${config.maxFrames} are allowed`);
  ctx.frames = frames;
  assertInputPixels(ctx.source.rawWidth, ctx.source.rawHeight, frames, config.maxInputPixels);
}

/** Whether this render keeps the original's animation (the rule: ../input-limits.ts). */
export function keepsAnimation(ctx: Pick<RenderState, 'source' | 'opts' | 'plan'>): boolean {
  return keepsAnimationOf(ctx.source, ctx.opts.format, ctx.plan);
}

/** Open the pipeline: EXIF orientation applied first (account autoRotate, or rt-auto). */
export function decode(ctx: RenderState): void {
  const wantsAutoRotate = ctx.opts.defaults.autoRotate || allOps(ctx.plan).some((ops) => ops.rt === 'auto');
  ctx.img = sharp(ctx.input, {
    failOn: 'error',
    limitInputPixels: ctx.config.maxInputPixels,
    autoOrient: wantsAutoRotate,
    pages: 1,
    page: ctx.page,
  });
  const oriented = wantsAutoRotate;
  ctx.autoOrient = wantsAutoRotate;
  ctx.pristine = true;
  ctx.width = oriented ? ctx.source.width : ctx.source.rawWidth;
  ctx.height = oriented ? ctx.source.height : ctx.source.rawHeight;
  ctx.dimsKnown = true;
  ctx.hasAlpha = ctx.source.hasAlpha;
  ctx.phase = -1;
}
