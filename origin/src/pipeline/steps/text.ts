/**
 * Text layers: the text is laid out by libvips/pango (sharp's `text` input) with a font shipped
 * with pixmesh or one from the account's media library, then boxed (padding, background) — the
 * box's radius, rotation and flip run through the ordinary steps afterwards (layers.ts).
 */
import sharp from 'sharp';
import { badTransformation, limitExceeded } from '../../../../shared/errors.js';
import { DEFAULT_FONT, DEFAULT_FONT_SIZE, evalExpr, isExpr, type NumOrExpr, type TextLayer } from '../../../../shared/transform/index.js';
import { budget, checkOutputSize, type RenderState } from '../context.js';
import { builtinFont, customFont, type FontChoice } from '../fonts.js';
import type { RawImage } from '../sub-render.js';

/** Pixels a text layer may take before it is laid out (a bound on libvips' allocation). */
export const MAX_TEXT_PIXELS = 40_000_000;

const escapeMarkup = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

export function textMarkup(layer: TextLayer): string {
  const { co, al, tg } = layer.style;
  const hex = co ? co.hex.slice(0, 6) : '000000';
  const alpha = (co?.alpha ?? 1) * (al !== undefined ? al / 10 : 1);
  let inner = escapeMarkup(layer.text);
  if (tg?.strikethrough) inner = `<s>${inner}</s>`;
  if (tg?.i) inner = `<i>${inner}</i>`;
  if (tg?.b) inner = `<b>${inner}</b>`;
  const fgalpha = alpha < 1 ? ` fgalpha="${Math.max(1, Math.round(alpha * 100))}%"` : '';
  return `<span foreground="#${hex}"${fgalpha}>${inner}</span>`;
}

function value(key: string, v: NumOrExpr, base: { bw: number; bh: number }): number {
  const n = isExpr(v) ? evalExpr(v, { iw: base.bw, ih: base.bh, cw: base.bw, ch: base.bh, ...base }) : v;
  if (!Number.isFinite(n)) throw badTransformation(`${key}: the expression evaluates to an invalid number`);
  return Math.round(n);
}

async function chooseFont(ctx: RenderState, layer: TextLayer): Promise<FontChoice> {
  const ff = layer.style.ff;
  const bold = Boolean(layer.style.tg?.b);
  const italic = Boolean(layer.style.tg?.i);
  if (!ff || 'builtin' in ff) return builtinFont(ff?.builtin ?? DEFAULT_FONT, bold, italic);
  if (!ctx.opts.fetchLayer) throw badTransformation(`ff: custom fonts need the media library ("${ff.path}")`);
  return customFont(ff.path, await ctx.opts.fetchLayer(ff.path, 'font'));
}

/** The text box as RGBA pixels, before radius / rotation / flip. */
export async function renderTextBox(ctx: RenderState, layer: TextLayer, base: { bw: number; bh: number }): Promise<RawImage> {
  const s = layer.style;
  const fs = value('fs', s.fs ?? DEFAULT_FONT_SIZE, base);
  if (fs < 1) throw badTransformation(`fs: the font size evaluates to ${fs}, below 1 px`);
  const width = s.w === undefined ? undefined : value('w', s.w, base);
  if (width !== undefined && width < 1) throw badTransformation(`w: the text width evaluates to ${width}, below 1 px`);
  const lh = s.lh === undefined ? undefined : value('lh', s.lh, base);
  const [pt, pr, pb, pl] = (s.pa ?? [0, 0, 0, 0]).map((p, i) => value(`pa[${i}]`, p, base));
  const chars = [...layer.text].length;
  if (chars * fs * fs * 1.3 > MAX_TEXT_PIXELS)
    throw limitExceeded(`l-text: ${chars} characters at fs-${fs} would exceed the ${MAX_TEXT_PIXELS / 1e6} MP text-layer limit`);
  const font = await chooseFont(ctx, layer);
  const align = s.ia === 'left' ? 'left' : s.ia === 'right' ? 'right' : 'centre';
  const rendered = await sharp({
    text: {
      text: textMarkup(layer),
      font: `${font.family} ${fs}`,
      fontfile: font.file,
      dpi: 72, // 1 pt = 1 px
      rgba: true,
      align,
      ...(width !== undefined ? { width, wrap: 'word-char' as const } : {}),
      ...(lh !== undefined ? { spacing: lh } : {}),
    },
  })
    .timeout(budget(ctx))
    .raw()
    .toBuffer({ resolveWithObject: true });
  const tw = rendered.info.width;
  const th = rendered.info.height;
  const contentW = Math.max(width ?? tw, tw);
  const boxW = contentW + pl! + pr!;
  const boxH = th + pt! + pb!;
  checkOutputSize(ctx.config, boxW, boxH, 'l-text');
  const dx = align === 'left' ? 0 : align === 'right' ? contentW - tw : Math.floor((contentW - tw) / 2);
  const bg = s.bg ? { r: s.bg.r, g: s.bg.g, b: s.bg.b, alpha: s.bg.alpha } : { r: 0, g: 0, b: 0, alpha: 0 };
  if (boxW === tw && boxH === th && bg.alpha === 0) return { data: rendered.data, width: tw, height: th };
  const { data } = await sharp({ create: { width: boxW, height: boxH, channels: 4, background: bg } })
    .composite([{ input: rendered.data, raw: { width: tw, height: th, channels: 4 }, left: pl! + dx, top: pt! }])
    .timeout(budget(ctx))
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: boxW, height: boxH };
}
