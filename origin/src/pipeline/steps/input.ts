/**
 * Steps "limits" and "decode". Limits are checked from the header alone, BEFORE any pixel is
 * decoded: input bytes, input pixels (× frames when frames are read), and the pipeline is opened
 * with libvips' own pixel limit as a second guard.
 */
import sharp from 'sharp';
import { limitExceeded } from '../../../../shared/errors.js';
import type { Ctx } from '../context.js';
import { readSourceInfo } from '../source.js';

export async function checkLimits(ctx: Ctx): Promise<void> {
  const { config, input } = ctx;
  if (input.length > config.maxInputBytes)
    throw limitExceeded(`the original is ${input.length} bytes; at most ${config.maxInputBytes} bytes are allowed`, 413);
  ctx.source = await readSourceInfo(input);
  const frames = 1; // only the first frame/page is decoded
  const pixels = ctx.source.rawWidth * ctx.source.rawHeight * frames;
  if (pixels > config.maxInputPixels)
    throw limitExceeded(
      `the original is ${ctx.source.rawWidth}×${ctx.source.rawHeight}${frames > 1 ? `×${frames} frames` : ''} = ${Math.round(pixels / 1e6)} MP; at most ${config.maxInputPixels / 1e6} MP are allowed`,
    );
}

/** Open the pipeline: EXIF orientation applied first (account autoRotate, or rt-auto). */
export function decode(ctx: Ctx): void {
  const wantsAutoRotate =
    ctx.opts.defaults.autoRotate || ctx.plan.steps.some((s) => (s.type === 'if' ? s.then.rt === 'auto' || s.else?.rt === 'auto' : s.rt === 'auto'));
  ctx.img = sharp(ctx.input, {
    failOn: 'error',
    limitInputPixels: ctx.config.maxInputPixels,
    autoOrient: wantsAutoRotate,
    pages: 1,
  });
  const oriented = wantsAutoRotate;
  ctx.width = oriented ? ctx.source.width : ctx.source.rawWidth;
  ctx.height = oriented ? ctx.source.height : ctx.source.rawHeight;
  ctx.dimsKnown = true;
  ctx.hasAlpha = ctx.source.hasAlpha;
  ctx.phase = -1;
}
