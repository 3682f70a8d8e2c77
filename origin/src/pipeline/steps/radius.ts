/** Step "radius" (`r`): rounded corners through an SVG mask (dest-in), leaving transparency. */
import { exactDims, PHASE, usePhase, type RenderState } from '../context.js';

export function cornerPath(w: number, h: number, radii: [number, number, number, number]): string {
  const max = Math.min(w, h) / 2;
  const [tl, tr, br, bl] = radii.map((r) => Math.min(r, max)) as [number, number, number, number];
  return (
    `M${tl},0 H${w - tr} A${tr},${tr} 0 0 1 ${w},${tr} V${h - br} A${br},${br} 0 0 1 ${w - br},${h} ` +
    `H${bl} A${bl},${bl} 0 0 1 0,${h - bl} V${tl} A${tl},${tl} 0 0 1 ${tl},0 Z`
  );
}

export async function radius(ctx: RenderState): Promise<void> {
  const r = ctx.ops.r;
  if (r === undefined) return;
  const { width: w, height: h } = await exactDims(ctx);
  const radii: [number, number, number, number] =
    r === 'max' ? [w, w, w, w].map(() => Math.min(w, h) / 2) as [number, number, number, number] : Array.isArray(r) ? r : [r, r, r, r];
  if (radii.every((v) => v === 0)) return;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}"><path d="${cornerPath(w, h, radii)}" fill="#fff"/></svg>`;
  await usePhase(ctx, PHASE.composite);
  ctx.img = ctx.img.ensureAlpha().composite([{ input: Buffer.from(svg), blend: 'dest-in' }]);
  ctx.hasAlpha = true;
}
