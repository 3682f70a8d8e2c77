/**
 * Step "resolve": turn one chain step of the plan into concrete numbers for the current image —
 * if-conditions decided, expressions evaluated (iw ih = the original, cw ch = the image entering
 * this step), fractions and client hints applied.
 */
import { badTransformation } from '../../../../shared/errors.js';
import {
  evalCondition,
  evalExpr,
  isExpr,
  normaliseHints,
  unreadFields,
  type Dimension,
  type NumOrExpr,
  type StepOps,
  type TransformStep,
} from '../../../../shared/transform/index.js';
import { exactDims, type RenderState } from '../context.js';
import type { ResolvedOps } from '../types.js';

export type { ResolvedOps } from '../types.js';

export const EMPTY_OPS: ResolvedOps = { c: 'maintain_ratio', fo: 'center', z: 1, dpr: 1, rt: 0 };

function evaluate(key: string, v: NumOrExpr, scope: Parameters<typeof evalExpr>[1]): number {
  if (!isExpr(v)) return v;
  const n = evalExpr(v, scope);
  if (!Number.isFinite(n)) throw badTransformation(`${key}: the expression evaluates to an invalid number (division by zero?)`);
  return n;
}

/** The chain steps a plan step stands for on the current image: an if block picks its branch. */
export async function expandStep(ctx: RenderState, step: TransformStep): Promise<StepOps[]> {
  if (step.type === 'ops') return [step];
  const { width: cw, height: ch } = await exactDims(ctx);
  return evalCondition(step.cond, { iw: ctx.source.width, ih: ctx.source.height, cw, ch, ...ctx.base }) ? step.then : (step.else ?? []);
}

/**
 * The operations as the steps read them: fields no step reads in this combination are reset to
 * their defaults (resize does nothing without a size outside extract modes; x y xc yc belong to
 * extract modes; ar is moot when w and h are both known). The cache key drops the same fields
 * statically (shared/transform canonicalTransformation); the property test compares the two.
 */
export function consumedOps(r: ResolvedOps): ResolvedOps {
  const out: ResolvedOps = { ...r };
  // Resolved: w-auto without a hint is already undefined, so "given" and "fixed" are the same here.
  const sized = out.w !== undefined || out.h !== undefined || out.ar !== undefined;
  for (const k of unreadFields({ sized, bothFixed: out.w !== undefined && out.h !== undefined, cm: out.cm, fo: out.fo })) {
    if (k in EMPTY_OPS) (out as unknown as Record<string, unknown>)[k] = EMPTY_OPS[k as keyof ResolvedOps];
    else delete out[k as keyof ResolvedOps];
  }
  // values the steps treat as "nothing to do"
  if (out.o === 100) delete out.o;
  if (out.t === 0) delete out.t;
  for (const k of Object.keys(out) as (keyof ResolvedOps)[]) if (out[k] === undefined) delete out[k];
  return out;
}

export async function resolveStep(ctx: RenderState, ops: StepOps): Promise<ResolvedOps> {
  const { width: cw, height: ch } = await exactDims(ctx);
  const scope = { iw: ctx.source.width, ih: ctx.source.height, cw, ch, ...ctx.base };
  // client hints come from headers: clamp them like the edge does (garbage → absent)
  const hints = normaliseHints(ctx.opts.dpr === undefined ? null : String(ctx.opts.dpr), ctx.opts.widthHint === undefined ? null : String(ctx.opts.widthHint));

  const dim = (key: 'w' | 'h', d: Dimension | undefined, current: number): number | undefined => {
    if (d === undefined) return undefined;
    if (isExpr(d)) {
      const n = Math.round(evaluate(key, d, scope));
      if (n < 1) throw badTransformation(`${key}: the expression evaluates to ${n}, below 1 px`);
      return n;
    }
    switch (d.kind) {
      case 'px':
        return d.value;
      case 'fraction':
        return Math.max(1, Math.round(current * d.value));
      case 'auto':
        return key === 'w' ? hints.width : undefined;
    }
  };
  const pos = (key: string, v: NumOrExpr | undefined) => (v === undefined ? undefined : Math.round(evaluate(key, v, scope)));

  const r: ResolvedOps = {
    w: dim('w', ops.w, cw),
    h: dim('h', ops.h, ch),
    c: ops.c ?? 'maintain_ratio',
    cm: ops.cm,
    fo: ops.fo ?? 'center',
    x: pos('x', ops.x),
    y: pos('y', ops.y),
    xc: pos('xc', ops.xc),
    yc: pos('yc', ops.yc),
    z: ops.z ?? 1,
    dpr: ops.dpr === 'auto' ? (hints.dpr ?? 1) : (ops.dpr ?? 1),
    bl: ops.bl,
    grayscale: ops.grayscale,
    contrast: ops.contrast,
    sharpen: ops.sharpen,
    usm: ops.usm,
    t: ops.t,
    r: ops.r,
    rt: typeof ops.rt === 'number' ? ((Math.round(ops.rt) % 360) + 360) % 360 : 0,
    fl: ops.fl,
    bg: ops.bg,
    o: ops.o,
    shadow: ops.shadow,
    layers: ops.layers,
    cr: ops.cr,
    colorize: ops.colorize,
    distort: ops.distort,
  };
  if (ops.gradient) {
    const stop = evaluate('e-gradient sp', ops.gradient.stop, scope);
    if (!(stop > 0)) throw badTransformation(`e-gradient sp: the stop point evaluates to ${stop}, it must be positive`);
    r.gradient = { ...ops.gradient, stop };
  }
  if (ops.ar !== undefined) {
    const ar = isExpr(ops.ar) ? evaluate('ar', ops.ar, scope) : ops.ar.w / ops.ar.h;
    if (!(ar > 0)) throw badTransformation(`ar: the aspect ratio evaluates to ${ar}, it must be positive`);
    r.ar = ar;
  }
  if (ops.b) {
    const width = Math.round(evaluate('b', ops.b.width, scope));
    if (width < 0) throw badTransformation(`b: the border width evaluates to ${width}, below 0`);
    if (width > 0) r.border = { width, color: ops.b.color };
  }
  return consumedOps(r);
}
