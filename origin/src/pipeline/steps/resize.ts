/**
 * Step "resize": w / h / ar / dpr with the crop strategy (c) or crop mode (cm) and focus (fo).
 * Target sizes are computed here (not left to sharp) so the output limits are enforced before
 * any pixels are produced and later steps know the exact size.
 */
import sharp from 'sharp';
import { badTransformation } from '../../../../shared/errors.js';
import { budget, checkOutputSize, exactDims, materialise, PHASE, setDims, usePhase, type RenderState } from '../context.js';
import { isExtractMode, type Color } from '../../../../shared/transform/index.js';
import { focusRegion } from '../faces.js';
import { focusBox } from './focus.js';
import { startFromDecoded } from '../decoded-cache.js';
import { DEFAULT_PAD, gravityOffset, sharpColor, sharpPosition, stepColor } from './util.js';

/** ImageKit: dpr is ignored when the result would be under 1 px or over 5000 px. */
export function applyDpr(w: number | undefined, h: number | undefined, dpr: number): [number | undefined, number | undefined] {
  if (dpr === 1 || (w === undefined && h === undefined)) return [w, h];
  const dw = w === undefined ? undefined : Math.round(w * dpr);
  const dh = h === undefined ? undefined : Math.round(h * dpr);
  const bad = (v: number | undefined) => v !== undefined && (v < 1 || v > 5000);
  return bad(dw) || bad(dh) ? [w, h] : [dw, dh];
}

export async function resize(ctx: RenderState): Promise<void> {
  const o = ctx.ops;
  if (isExtractMode(o.cm)) return extract(ctx);
  let { w, h } = o;
  const pad = o.cm === 'pad_resize' || o.cm === 'pad_resize_no_enlarge';
  const focused = (o.fo === 'face' || o.fo === 'custom') && !pad;
  if (w === undefined && h === undefined && o.ar === undefined) {
    if (focused) await cropToFocus(ctx, undefined); // fo-face / fo-custom without a size: the focus box itself
    return;
  }
  const padColor = pad ? await stepColor(ctx) : undefined; // bg-dominant reads the pixels: before queuing anything
  const { width: cw, height: ch } = await exactDims(ctx);
  if (o.ar !== undefined) {
    if (w !== undefined && h === undefined) h = Math.max(1, Math.round(w / o.ar));
    else if (h !== undefined && w === undefined) w = Math.max(1, Math.round(h * o.ar));
    else if (w === undefined && h === undefined) {
      w = cw;
      h = Math.max(1, Math.round(cw / o.ar));
    }
  }
  [w, h] = applyDpr(w, h, o.dpr);

  type Fit = 'cover' | 'contain' | 'fill';
  let fit: Fit = 'fill';
  let tw: number;
  let th: number;
  if (w !== undefined && h !== undefined && o.cm === 'pad_resize_no_enlarge' && (cw > w || ch > h) === false) {
    // smaller than the box: padded at its own size (never upscaled)
    return padAtSize(ctx, cw, ch, w, h, padColor ?? DEFAULT_PAD);
  }
  if (focused && w !== undefined && h !== undefined && (o.c === 'maintain_ratio' || o.c === 'maintain_ratio_no_enlarge')) {
    // the region of the output's aspect around the faces / custom area; the resize below scales it
    if (await cropToFocus(ctx, w / h)) return resize(ctx);
  }
  if (w !== undefined && h !== undefined && o.c === 'maintain_ratio_no_enlarge' && !o.cm) {
    const s = Math.min(1, Math.max(w / cw, h / ch));
    [w, h] = [Math.min(w, Math.max(1, Math.round(cw * s))), Math.min(h, Math.max(1, Math.round(ch * s)))];
  }
  if (w !== undefined && h !== undefined) {
    if (pad) {
      fit = 'contain';
      [tw, th] = [w, h];
    } else if (o.c === 'maintain_ratio' || o.c === 'maintain_ratio_no_enlarge') {
      fit = 'cover';
      [tw, th] = [w, h];
    } else if (o.c === 'force') [tw, th] = [w, h];
    else {
      const s = o.c === 'at_least' ? Math.max(w / cw, h / ch) : o.c === 'at_max' ? Math.min(w / cw, h / ch, 1) : Math.min(w / cw, h / ch);
      [tw, th] = [Math.max(1, Math.round(cw * s)), Math.max(1, Math.round(ch * s))];
    }
  } else if (w !== undefined) {
    const s = o.c === 'at_max' ? Math.min(w / cw, 1) : w / cw;
    [tw, th] = [Math.max(1, Math.round(cw * s)), Math.max(1, Math.round(ch * s))];
  } else {
    const s = o.c === 'at_max' ? Math.min(h! / ch, 1) : h! / ch;
    [tw, th] = [Math.max(1, Math.round(cw * s)), Math.max(1, Math.round(ch * s))];
  }
  checkOutputSize(ctx.config, tw, th, 'resize');
  if (fit === 'fill' && tw === cw && th === ch) return;

  if (fit === 'contain' && o.bg?.kind === 'blurred') return padBlurred(ctx, cw, ch, tw, th);
  if (fit === 'contain' && o.bg?.kind === 'gradient') {
    // fitted inside, then placed on the gradient canvas
    const s = Math.min(tw / cw, th / ch);
    const [iw, ih] = [Math.max(1, Math.round(cw * s)), Math.max(1, Math.round(ch * s))];
    await usePhase(ctx, PHASE.resize);
    ctx.img = ctx.img.resize({ width: iw, height: ih, fit: 'fill' });
    setDims(ctx, iw, ih, 'resize');
    const { left, top } = gravityOffset(o.fo, tw - iw, th - ih);
    return padGradient(ctx, tw, th, left, top, o.bg.colors);
  }
  const bg = padColor ?? DEFAULT_PAD;
  // the first operation after the decode: the original's pixels may come from the decoded cache
  if (ctx.pristine) await startFromDecoded(ctx, tw, th, fit);
  await usePhase(ctx, fit === 'fill' ? PHASE.resize : PHASE.cropEmbed);
  if (fit === 'contain' && bg.alpha < 1) {
    ctx.img = ctx.img.ensureAlpha();
    ctx.hasAlpha = true;
  }
  ctx.img = ctx.img.resize({
    width: tw,
    height: th,
    fit,
    position: sharpPosition(o.fo, fit === 'cover'),
    background: sharpColor(bg),
  });
  setDims(ctx, tw, th, 'resize'); // after usePhase: a materialisation resets the dims to the pixels it made
}

/** cm-pad_resize_no_enlarge on an image no larger than the box: the image as it is, padded to w×h around fo. */
async function padAtSize(ctx: RenderState, cw: number, ch: number, w: number, h: number, bg: Color): Promise<void> {
  checkOutputSize(ctx.config, w, h, 'cm-pad_resize_no_enlarge');
  if (cw === w && ch === h) return;
  const { left, top } = gravityOffset(ctx.ops.fo, w - cw, h - ch);
  if (ctx.ops.bg?.kind === 'gradient') return padGradient(ctx, w, h, left, top, ctx.ops.bg.colors);
  await usePhase(ctx, PHASE.extend);
  if (bg.alpha < 1) {
    ctx.img = ctx.img.ensureAlpha();
    ctx.hasAlpha = true;
  }
  ctx.img = ctx.img.extend({ left, top, right: w - cw - left, bottom: h - ch - top, background: sharpColor(bg) });
  setDims(ctx, w, h, 'cm-pad_resize_no_enlarge');
}

/**
 * The colours a bg-gradient_dominant canvas is pinned with: the dominant colour of each region of
 * a `w`×`h` image — for 2 colours the halves facing the padded sides (top/bottom when `vertical`,
 * else left/right), for 4 the quarters (top-left, top-right, bottom-left, bottom-right). Pure.
 */
export function gradientRegions(w: number, h: number, colors: 2 | 4, vertical: boolean): { left: number; top: number; width: number; height: number }[] {
  const hw = Math.max(1, Math.floor(w / 2));
  const hh = Math.max(1, Math.floor(h / 2));
  const right = { left: w - hw, width: hw };
  const bottom = { top: h - hh, height: hh };
  if (colors === 4)
    return [
      { left: 0, top: 0, width: hw, height: hh },
      { ...right, top: 0, height: hh },
      { left: 0, width: hw, ...bottom },
      { ...right, ...bottom },
    ];
  return vertical
    ? [
        { left: 0, top: 0, width: w, height: hh },
        { left: 0, width: w, ...bottom },
      ]
    : [
        { left: 0, top: 0, width: hw, height: h },
        { ...right, top: 0, height: h },
      ];
}

/** The current image (its exact size) placed at (left, top) on a tw×th canvas painted with the gradient of its dominant colours. */
async function padGradient(ctx: RenderState, tw: number, th: number, left: number, top: number, colors: 2 | 4): Promise<void> {
  checkOutputSize(ctx.config, tw, th, 'bg-gradient_dominant');
  await materialise(ctx);
  const { width: iw, height: ih } = ctx;
  const pixels = await ctx.img.ensureAlpha().timeout(budget(ctx)).raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  const open = () => sharp(pixels.data, { raw: { width: iw, height: ih, channels: 4 } });
  // the axis with more padding decides which halves face the padded sides
  const vertical = th - ih >= tw - iw;
  // (stats() reads its input, not the queued extract: each region is cut to pixels first)
  const palette = await Promise.all(
    gradientRegions(iw, ih, colors, vertical).map(async (r) => {
      const part = await open().extract(r).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      return (await sharp(part.data, { raw: { width: part.info.width, height: part.info.height, channels: 3 } }).stats()).dominant;
    }),
  );
  const canvas = Buffer.alloc(tw * th * 3);
  const mix = (a: number, b: number, t: number) => a + (b - a) * t;
  for (let y = 0; y < th; y++) {
    const v = th > 1 ? y / (th - 1) : 0;
    for (let x = 0; x < tw; x++) {
      const u = tw > 1 ? x / (tw - 1) : 0;
      const o = (y * tw + x) * 3;
      for (const [k, ch] of (['r', 'g', 'b'] as const).entries()) {
        const c =
          colors === 4
            ? mix(mix(palette[0]![ch], palette[1]![ch], u), mix(palette[2]![ch], palette[3]![ch], u), v)
            : mix(palette[0]![ch], palette[1]![ch], vertical ? v : u);
        canvas[o + k] = Math.round(c);
      }
    }
  }
  const fore = await open().timeout(budget(ctx)).png({ compressionLevel: 0 }).toBuffer();
  const out = await sharp(canvas, { raw: { width: tw, height: th, channels: 3 } })
    .composite([{ input: fore, left, top }])
    .removeAlpha()
    .timeout(budget(ctx))
    .raw()
    .toBuffer({ resolveWithObject: true });
  ctx.img = sharp(out.data, { raw: { width: tw, height: th, channels: 3 } });
  ctx.width = tw;
  ctx.height = th;
  ctx.dimsKnown = true;
  ctx.hasAlpha = false;
  ctx.phase = -1;
}

/** pad_resize with bg-blurred: the image fitted inside, over a blurred cover-scaled copy of itself. */
async function padBlurred(ctx: RenderState, cw: number, ch: number, tw: number, th: number): Promise<void> {
  const o = ctx.ops;
  const bg = o.bg?.kind === 'blurred' ? o.bg : { intensity: 'auto' as const, brightness: 0 };
  await materialise(ctx);
  const pixels = await ctx.img.timeout(budget(ctx)).raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  const open = () => sharp(pixels.data, { raw: { width: pixels.info.width, height: pixels.info.height, channels: pixels.info.channels as 1 | 2 | 3 | 4 } });
  const s = Math.min(tw / cw, th / ch);
  const iw = Math.max(1, Math.round(cw * s));
  const ih = Math.max(1, Math.round(ch * s));
  const sigma = bg.intensity === 'auto' ? Math.max(2, Math.min(tw, th) / 20) : Math.max(0.3, bg.intensity / 2);
  let back = open().resize({ width: tw, height: th, fit: 'cover' }).blur(sigma);
  if (bg.brightness) back = back.linear(1, bg.brightness);
  const backRaw = await back.removeAlpha().timeout(budget(ctx)).raw().toBuffer({ resolveWithObject: true });
  const fore = await open().resize({ width: iw, height: ih, fit: 'fill' }).timeout(budget(ctx)).png({ compressionLevel: 0 }).toBuffer();
  const { left, top } = gravityOffset(o.fo, tw - iw, th - ih);
  const out = await sharp(backRaw.data, { raw: { width: tw, height: th, channels: backRaw.info.channels as 3 } })
    .composite([{ input: fore, left, top }])
    .removeAlpha()
    .timeout(budget(ctx))
    .raw()
    .toBuffer({ resolveWithObject: true });
  ctx.img = sharp(out.data, { raw: { width: out.info.width, height: out.info.height, channels: out.info.channels as 3 | 4 } });
  ctx.width = out.info.width;
  ctx.height = out.info.height;
  ctx.dimsKnown = true;
  ctx.hasAlpha = out.info.channels === 4;
  ctx.phase = -1;
}

/**
 * cm-extract / cm-pad_extract: cut a region without scaling; pad_extract pads where it
 * overhangs; pad_extract_no_shrink never cuts (an axis smaller than the image keeps the image's size).
 */
async function extract(ctx: RenderState): Promise<void> {
  const o = ctx.ops;
  const pads = o.cm === 'pad_extract' || o.cm === 'pad_extract_no_shrink';
  const padColor = pads ? await stepColor(ctx) : undefined;
  const { width: cw, height: ch } = await exactDims(ctx);
  let w = o.w ?? cw;
  let h = o.h ?? ch;
  if (o.ar !== undefined) {
    if (o.w !== undefined && o.h === undefined) h = Math.max(1, Math.round(w / o.ar));
    else if (o.h !== undefined && o.w === undefined) w = Math.max(1, Math.round(h * o.ar));
  }
  const [dw, dh] = applyDpr(w, h, o.dpr);
  w = dw!;
  h = dh!;
  if (o.cm === 'pad_extract_no_shrink') [w, h] = [Math.max(w, cw), Math.max(h, ch)];
  const free = o.x === undefined && o.y === undefined && o.xc === undefined && o.yc === undefined;
  const box = free && (o.fo === 'face' || o.fo === 'custom') ? await focusBox(ctx) : undefined;
  // z around the focus point: a (w÷z)×(h÷z) region is cut there and scaled to w×h (zoomRegion)
  const out = { w, h };
  if (box && o.z !== 1) [w, h] = zoomRegion(w, h, o.z, cw, ch, o.cm === 'extract');
  const g = box
    ? { left: centredAxis(box.x + box.w / 2, w, cw), top: centredAxis(box.y + box.h / 2, h, ch) }
    : free && o.fo === 'auto'
      ? await attentionOffset(ctx, w, h)
      : gravityOffset(o.fo, cw - w, ch - h);
  const left = o.x ?? (o.xc !== undefined ? Math.round(o.xc - w / 2) : g.left);
  const top = o.y ?? (o.yc !== undefined ? Math.round(o.yc - h / 2) : g.top);
  checkOutputSize(ctx.config, w, h, `cm-${o.cm}`);
  const inside = left >= 0 && top >= 0 && left + w <= cw && top + h <= ch;
  if (o.cm === 'extract') {
    if (!inside)
      throw badTransformation(`cm-extract: the ${w}×${h} region at (${left},${top}) lies outside the ${cw}×${ch} image`);
    if (left === 0 && top === 0 && w === cw && h === ch) return scaleTo(ctx, out.w, out.h);
    await usePhase(ctx, PHASE.preExtract);
    ctx.img = ctx.img.extract({ left, top, width: w, height: h });
    setDims(ctx, w, h, 'cm-extract');
    return scaleTo(ctx, out.w, out.h);
  }
  // pad_extract: the part of the region inside the image, then padding around it
  const il = Math.max(0, left);
  const it = Math.max(0, top);
  const ir = Math.min(cw, left + w);
  const ib = Math.min(ch, top + h);
  if (ir <= il || ib <= it) throw badTransformation(`cm-${o.cm}: the ${w}×${h} region at (${left},${top}) does not overlap the ${cw}×${ch} image`);
  await usePhase(ctx, PHASE.preExtract);
  if (il !== 0 || it !== 0 || ir !== cw || ib !== ch) ctx.img = ctx.img.extract({ left: il, top: it, width: ir - il, height: ib - it });
  const pad = { top: it - top, left: il - left, right: left + w - ir, bottom: top + h - ib };
  if ((pad.top || pad.left || pad.right || pad.bottom) && o.bg?.kind === 'gradient') {
    setDims(ctx, ir - il, ib - it, `cm-${o.cm}`);
    await padGradient(ctx, w, h, pad.left, pad.top, o.bg.colors);
  } else if (pad.top || pad.left || pad.right || pad.bottom) {
    const bg = padColor ?? DEFAULT_PAD;
    await usePhase(ctx, PHASE.extend);
    if (bg.alpha < 1) {
      ctx.img = ctx.img.ensureAlpha();
      ctx.hasAlpha = true;
    }
    ctx.img = ctx.img.extend({ ...pad, background: sharpColor(bg) });
  }
  setDims(ctx, w, h, `cm-${o.cm}`);
  await scaleTo(ctx, out.w, out.h);
}

/**
 * The region an extract mode cuts for zoom `z` (fo-face / fo-custom): the output's size divided by
 * z (z-2: half the size, shown twice as large; z-0.5: twice the size, shown half as large). For
 * cm-extract (`inside`) it is kept inside the image: shrunk, keeping its aspect, where it would not fit. Pure.
 */
export function zoomRegion(w: number, h: number, z: number, cw: number, ch: number, inside: boolean): [number, number] {
  let rw = w / z;
  let rh = h / z;
  if (inside) {
    const fit = Math.min(1, cw / rw, ch / rh);
    [rw, rh] = [rw * fit, rh * fit];
  }
  return [Math.max(1, Math.round(rw)), Math.max(1, Math.round(rh))];
}

/** The zoomed region to the output's size (nothing to do without zoom). */
async function scaleTo(ctx: RenderState, w: number, h: number): Promise<void> {
  if (ctx.width === w && ctx.height === h) return;
  checkOutputSize(ctx.config, w, h, 'z');
  await usePhase(ctx, PHASE.resize);
  ctx.img = ctx.img.resize({ width: w, height: h, fit: 'fill' });
  setDims(ctx, w, h, 'z');
}

/** Offset of a `size` region centred on `focal` in `space`: kept inside where it fits, centred where it does not. */
const centredAxis = (focal: number, size: number, space: number) =>
  size <= space ? Math.min(space - size, Math.max(0, Math.round(focal - size / 2))) : Math.floor((space - size) / 2);

/**
 * fo-face / fo-custom: cut the region around the focus box (faces, or the saved custom area;
 * `aspect` = the output's w÷h, undefined = the box's own) divided by z. False when there is no
 * focus box (no face found, no custom coordinates): the caller goes on as fo-center.
 */
async function cropToFocus(ctx: RenderState, aspect: number | undefined): Promise<boolean> {
  const box = await focusBox(ctx);
  const what = `fo-${ctx.ops.fo}`;
  ctx.ops = { ...ctx.ops, fo: 'center' }; // decided: the rest of the step sees a plain centre focus
  if (!box) return false;
  const { width: cw, height: ch } = await exactDims(ctx);
  const r = focusRegion(box, cw, ch, aspect, ctx.ops.z);
  if (r.x === 0 && r.y === 0 && r.w === cw && r.h === ch) return true;
  await usePhase(ctx, PHASE.preExtract);
  ctx.img = ctx.img.extract({ left: r.x, top: r.y, width: r.w, height: r.h });
  setDims(ctx, r.w, r.h, what);
  return true;
}

/**
 * fo-auto for extract modes: libvips' attention strategy finds the focal point on a small probe,
 * and the region is centred on it (kept inside the image on axes where it fits).
 */
async function attentionOffset(ctx: RenderState, w: number, h: number): Promise<{ left: number; top: number }> {
  await materialise(ctx);
  const { width: cw, height: ch } = ctx;
  const f = Math.min(1, 256 / Math.max(w, h));
  const bw = Math.max(1, Math.round(w * f));
  const bh = Math.max(1, Math.round(h * f));
  const s = Math.max(bw / cw, bh / ch);
  const { info } = await ctx.img
    .clone()
    .resize({ width: bw, height: bh, fit: 'cover', position: 'attention' })
    .timeout(budget(ctx))
    .raw()
    .toBuffer({ resolveWithObject: true });
  const fx = (info.attentionX ?? (cw * s) / 2) / s;
  const fy = (info.attentionY ?? (ch * s) / 2) / s;
  return { left: centredAxis(fx, w, cw), top: centredAxis(fy, h, ch) };
}
