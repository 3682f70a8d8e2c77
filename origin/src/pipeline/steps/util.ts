/** Small helpers shared by the step modules. */
import type { Background, Color, Focus, Gravity } from '../../../../shared/transform/index.js';
import { materialise, type RenderState } from '../context.js';

/** Padding colour when no `bg` is given: ImageKit documents bg's default as black (000000). */
export const DEFAULT_PAD: Color = { r: 0, g: 0, b: 0, alpha: 1, hex: '000000' };
/** What transparency is flattened onto for JPEG output when no `bg` is given. */
export const DEFAULT_FLATTEN: Color = { r: 255, g: 255, b: 255, alpha: 1, hex: 'FFFFFF' };
export const TRANSPARENT: Color = { r: 0, g: 0, b: 0, alpha: 0, hex: '00000000' };

export const sharpColor = (c: Color) => ({ r: c.r, g: c.g, b: c.b, alpha: c.alpha });

export function solid(bg: Background | undefined): Color | undefined {
  return bg?.kind === 'color' ? bg.color : undefined;
}

const GRAVITY: Record<Gravity, string> = {
  center: 'centre',
  top: 'north',
  bottom: 'south',
  left: 'west',
  right: 'east',
  top_left: 'northwest',
  top_right: 'northeast',
  bottom_left: 'southwest',
  bottom_right: 'southeast',
};

/** sharp `position` for a focus: a gravity name, or the attention strategy for auto (face/custom crop before this, else centre). */
export function sharpPosition(fo: Focus, smart: boolean): string | number {
  if (fo === 'auto') return smart ? 16 /* sharp.strategy.attention */ : 'centre';
  if (fo === 'face' || fo === 'custom') return 'centre';
  return GRAVITY[fo];
}

/** Offset of a `size` box inside `space` (may be negative when the box is larger) for a gravity. */
export function gravityOffset(fo: Focus, spaceW: number, spaceH: number): { left: number; top: number } {
  const g = fo === 'auto' || fo === 'face' || fo === 'custom' ? 'center' : fo;
  const left = g.includes('left') ? 0 : g.includes('right') ? spaceW : Math.floor(spaceW / 2);
  const top = g.includes('top') ? 0 : g.includes('bottom') ? spaceH : Math.floor(spaceH / 2);
  return { left, top };
}

/**
 * The step's solid background colour: `bg-<colour>`, or `bg-dominant` computed once from the
 * current pixels (then remembered as a colour for the rest of the step); undefined otherwise.
 */
export async function stepColor(ctx: RenderState): Promise<Color | undefined> {
  const bg = ctx.ops.bg;
  if (bg?.kind === 'color') return bg.color;
  if (bg?.kind !== 'dominant') return undefined;
  await materialise(ctx);
  const { dominant } = await ctx.img.stats();
  const hex = [dominant.r, dominant.g, dominant.b].map((v) => v.toString(16).padStart(2, '0')).join('').toUpperCase();
  const color: Color = { r: dominant.r, g: dominant.g, b: dominant.b, alpha: 1, hex };
  ctx.ops.bg = { kind: 'color', color };
  return color;
}
