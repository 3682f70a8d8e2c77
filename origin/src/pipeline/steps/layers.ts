/**
 * Step "layers" (`l-image|l-text,…,l-end`): each layer of the step is rendered on its own — an
 * image of the account through its own chain (trimmed by default), a solid `ik_canvas` block, or
 * a text box — then placed on the step's result (lx/ly/lxc/lyc from the anchor `lap`, else lfo)
 * and blended by its mode, in URL order. Layers nest: a layer's own chain runs this step too,
 * with bw/bh = the layer it sits on.
 */
import sharp, { type OverlayOptions } from 'sharp';
import { badTransformation, notFound } from '../../../../shared/errors.js';
import { evalExpr, isExpr, type Dimension, type Layer, type LayerPosition, type NumOrExpr, type StepOps } from '../../../../shared/transform/index.js';
import { budget, checkOutputSize, materialise, PHASE, type RenderState } from '../context.js';
import { renderSubImage, type RawImage } from '../sub-render.js';
import { renderTextBox } from './text.js';
import { gravityOffset, sharpColor } from './util.js';

export interface Base {
  bw: number;
  bh: number;
}

function evaluate(key: string, v: NumOrExpr, scope: Parameters<typeof evalExpr>[1]): number {
  const n = isExpr(v) ? evalExpr(v, scope) : v;
  if (!Number.isFinite(n)) throw badTransformation(`${key}: the expression evaluates to an invalid number`);
  return n;
}

/**
 * Top-left of a `lw`×`lh` layer on a `bw`×`bh` base. Pure.
 * - none of lx ly lxc lyc: `lfo` (default center) against the base's edges;
 * - otherwise offsets count from the anchor `lap` (default top_left), growing right/down; lx/ly
 *   place the layer's top-left, lxc/lyc its centre; an axis without an offset aligns the layer
 *   to the anchor on that axis. With the default anchor a negative lx/ly counts from the
 *   right/bottom edge (`lx-N10`: the layer's right edge 10 px inside the base's).
 * Expressions see bw bh bar (base) and cw ch iw ih (the layer).
 */
export function layerOffset(pos: LayerPosition, bw: number, bh: number, lw: number, lh: number): { left: number; top: number } {
  const scope = { iw: lw, ih: lh, cw: lw, ch: lh, bw, bh };
  const ev = (key: string, v: NumOrExpr | undefined) => (v === undefined ? undefined : evaluate(key, v, scope));
  const x = ev('lx', pos.x);
  const y = ev('ly', pos.y);
  const xc = ev('lxc', pos.xc);
  const yc = ev('lyc', pos.yc);
  if (x === undefined && y === undefined && xc === undefined && yc === undefined) return gravityOffset(pos.focus ?? 'center', bw - lw, bh - lh);
  const anchor = pos.anchor ?? 'top_left';
  const fx = anchor.includes('left') ? 0 : anchor.includes('right') ? 1 : 0.5;
  const fy = anchor.includes('top') ? 0 : anchor.includes('bottom') ? 1 : 0.5;
  const fromEdge = pos.anchor === undefined;
  const axis = (off: number | undefined, centre: number | undefined, f: number, space: number, size: number) => {
    if (off !== undefined) return fromEdge && (off < 0 || Object.is(off, -0)) ? space - size + off : f * space + off;
    if (centre !== undefined) return f * space + centre - size / 2;
    return f * (space - size);
  };
  return { left: Math.round(axis(x, xc, fx, bw, lw)), top: Math.round(axis(y, yc, fy, bh, lh)) };
}

/** The part of a layer inside the base (sharp composites only what fits); null when none is. */
async function clip(raw: RawImage, left: number, top: number, bw: number, bh: number): Promise<{ raw: RawImage; left: number; top: number } | null> {
  const l = Math.max(0, left);
  const t = Math.max(0, top);
  const r = Math.min(bw, left + raw.width);
  const b = Math.min(bh, top + raw.height);
  if (r <= l || b <= t) return null;
  if (l === left && t === top && r - l === raw.width && b - t === raw.height) return { raw, left, top };
  const { data, info } = await sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: 4 } })
    .extract({ left: l - left, top: t - top, width: r - l, height: b - t })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { raw: { data, width: info.width, height: info.height }, left: l, top: t };
}

function dim(key: string, d: Dimension | undefined, space: number, base: Base): number {
  if (d === undefined || (!isExpr(d) && d.kind === 'auto')) return space;
  if (isExpr(d)) return Math.round(evaluate(key, d, { iw: base.bw, ih: base.bh, cw: base.bw, ch: base.bh, ...base }));
  return d.kind === 'fraction' ? Math.max(1, Math.round(space * d.value)) : d.value;
}

/** Fetch a layer's file through the render's source (same account, same SSRF-safe cached path as originals). */
async function layerBytes(ctx: RenderState, path: string): Promise<Buffer> {
  if (!ctx.opts.fetchLayer) throw notFound(`layer image "${path}" not found`);
  return ctx.opts.fetchLayer(path, 'image');
}

const toPng = (raw: RawImage) => sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: 4 } }).png({ compressionLevel: 1 }).toBuffer();

const withoutKeys = (ops: StepOps, ...keys: (keyof StepOps)[]) => {
  const o = { ...ops };
  for (const k of keys) delete o[k];
  return o;
};

/** Render one layer to RGBA pixels. */
export async function renderLayer(ctx: RenderState, layer: Layer, base: Base): Promise<RawImage> {
  switch (layer.type) {
    case 'text': {
      const box = await renderTextBox(ctx, layer, base);
      const { r, rt, fl } = layer.style;
      if (r === undefined && !rt && !fl) return box;
      const ops: StepOps = { ...(r !== undefined ? { r } : {}), ...(rt ? { rt } : {}), ...(fl ? { fl } : {}) };
      return renderSubImage(ctx, await toPng(box), [ops], base);
    }
    case 'canvas': {
      const [first, ...rest] = layer.steps;
      const w = dim('w', first?.w, base.bw, base);
      const h = dim('h', first?.h, base.bh, base);
      if (w < 1 || h < 1) throw badTransformation(`l-image,i-ik_canvas: the block would be ${w}×${h}`);
      checkOutputSize(ctx.config, w, h, 'ik_canvas');
      const solid = sharp({ create: { width: w, height: h, channels: 4, background: sharpColor(layer.color) } });
      // size and colour are applied: the rest of the first step (r, o, rt, nested layers …) and the chain run as usual
      const steps = [withoutKeys(first ?? {}, 'w', 'h', 'ar', 'bg', 'c', 'cm', 'dpr'), ...rest].filter((o, i) => i === 0 || Object.keys(o).length);
      if (steps.length === 1 && !Object.keys(steps[0]!).length) return { data: await solid.raw().toBuffer(), width: w, height: h };
      return renderSubImage(ctx, await solid.png({ compressionLevel: 1 }).toBuffer(), steps, base);
    }
    case 'image': {
      const bytes = await layerBytes(ctx, layer.path);
      const [first = {}, ...rest] = layer.steps;
      const steps = layer.trim && first.t === undefined ? [{ ...first, t: 10 }, ...rest] : layer.steps;
      return renderSubImage(ctx, bytes, steps, base);
    }
  }
}

/** lm-displace: the layer's red/green shift the base's pixels by up to ±x / ±y px (nearest pixel). */
async function displace(ctx: RenderState, raw: RawImage, left: number, top: number, strength: { x: number; y: number }): Promise<void> {
  const { data, info } = await ctx.img.timeout(budget(ctx)).raw().toBuffer({ resolveWithObject: true });
  const { width: bw, height: bh, channels: ch } = info;
  const out = Buffer.from(data);
  const x0 = Math.max(0, left);
  const y0 = Math.max(0, top);
  const x1 = Math.min(bw, left + raw.width);
  const y1 = Math.min(bh, top + raw.height);
  for (let py = y0; py < y1; py++) {
    for (let px = x0; px < x1; px++) {
      const li = ((py - top) * raw.width + (px - left)) * 4;
      const a = raw.data[li + 3]! / 255;
      if (a === 0) continue;
      const dx = Math.round(((raw.data[li]! - 128) / 127) * strength.x * a);
      const dy = Math.round(((raw.data[li + 1]! - 128) / 127) * strength.y * a);
      const sx = Math.min(bw - 1, Math.max(0, px + dx));
      const sy = Math.min(bh - 1, Math.max(0, py + dy));
      const si = (sy * bw + sx) * ch;
      const di = (py * bw + px) * ch;
      for (let c = 0; c < ch; c++) out[di + c] = data[si + c]!;
    }
  }
  ctx.img = sharp(out, { raw: { width: bw, height: bh, channels: ch as 1 | 2 | 3 | 4 } });
}

export async function layers(ctx: RenderState): Promise<void> {
  const list = ctx.ops.layers;
  if (!list?.length) return;
  const t0 = performance.now();
  // Pixels first: libvips compositing in the same pass as a resize is ~2× slower than resizing to
  // memory and compositing on that (measured: 105 vs 67 ms for a 720-px JPEG with one 100-px overlay).
  await materialise(ctx);
  let { width: bw, height: bh } = ctx;
  let needsAlpha = ctx.hasAlpha;
  let pending: OverlayOptions[] = [];
  /** Queue the pending composites; `last`: leave them queued for the next pass (the encoder's, usually). */
  const flush = async (last = false) => {
    if (!pending.length) return;
    ctx.img = ctx.img.composite(pending);
    if (!needsAlpha) ctx.img = ctx.img.removeAlpha(); // an opaque base stays opaque (JPEG stays JPEG); sharp removes it after compositing
    pending = [];
    if (last) {
      ctx.phase = PHASE.normalise; // removeAlpha runs after everything sharp queues: anything later materialises first
      ctx.hasAlpha = needsAlpha;
    } else await materialise(ctx);
  };
  for (const layer of list) {
    const raw = await renderLayer(ctx, layer, { bw, bh });
    const { left, top } = layerOffset(layer.position, bw, bh, raw.width, raw.height);
    if (ctx.layerStats) ctx.layerStats.count++;
    if (layer.mode === 'displace') {
      await flush();
      await displace(ctx, raw, left, top, layer.displace ?? { x: 0, y: 0 });
      await materialise(ctx);
      continue;
    }
    const placed = await clip(raw, left, top, bw, bh);
    if (layer.mode === 'cutter') {
      if (!placed) throw badTransformation('lm-cutter: the layer lies outside the base image, nothing would be left');
      await flush();
      ctx.img = ctx.img
        .ensureAlpha()
        .composite([{ input: placed.raw.data, raw: { width: placed.raw.width, height: placed.raw.height, channels: 4 }, left: placed.left, top: placed.top, blend: 'dest-in' }]);
      await materialise(ctx);
      ctx.img = ctx.img.extract({ left: placed.left, top: placed.top, width: placed.raw.width, height: placed.raw.height });
      await materialise(ctx);
      needsAlpha = true;
      ({ width: bw, height: bh } = ctx);
      continue;
    }
    if (!placed) continue;
    if (layer.mode === 'cutout') needsAlpha = true;
    pending.push({
      input: placed.raw.data,
      raw: { width: placed.raw.width, height: placed.raw.height, channels: 4 },
      left: placed.left,
      top: placed.top,
      blend: layer.mode === 'multiply' ? 'multiply' : layer.mode === 'cutout' ? 'dest-out' : 'over',
    });
  }
  await flush(true);
  if (ctx.layerStats && !ctx.base) ctx.layerStats.ms += performance.now() - t0;
}
