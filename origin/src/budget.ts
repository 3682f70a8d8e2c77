/**
 * What a render may cost, decided before it takes a transform slot (#12 point 7):
 *
 * - `estimateRenderCost`: output pixels × operations, from the plan and the original's header
 *   (sizes as the plan states them; fractions, expressions and hints at the original's size).
 *   Heavy operations weigh more (blurred padding, blur, shadow, free rotation, trim, AVIF and
 *   lossless encodes). Over PIXMESH_MAX_RENDER_COST (default 200 M pixel-operations) the render
 *   is refused with 400 ELIMIT naming the estimate: `w-10000,h-10000,cm-pad_resize,bg-blurred`
 *   (≈ 20 s, 1.5 GB) is ≈ 600 M; a plain 8000×8000 resize ≈ 130 M.
 * - `AccountBudgets`: a token bucket per account of pixel-operations per minute
 *   (PIXMESH_ACCOUNT_RENDER_BUDGET, default 3000 M/min, burst = one minute); an account over it
 *   gets 429 EBUSY with Retry-After, other accounts are not affected. Cheap renders (under 1 M)
 *   are never refused by the budget.
 */
import { limitExceeded } from '../../shared/errors.js';
import { TokenBuckets } from '../../shared/token-buckets.js';
import { allOps, isExpr, type NegotiatedFormat, type StepOps, type TransformPlan } from '../../shared/transform/index.js';

export const DEFAULT_MAX_RENDER_COST = 200_000_000;
export const DEFAULT_ACCOUNT_BUDGET_PER_MIN = 3_000_000_000;
/** Purge requests per account per minute at its home region (PIXMESH_PURGES_PER_MINUTE: media/config.ts). */
export { DEFAULT_PURGES_PER_MIN } from './media/config.js';
import { DEFAULT_PURGES_PER_MIN } from './media/config.js';

/** The per-account purge rate limit: a token bucket of purge requests. */
export const purgeLimiter = (perMinute = DEFAULT_PURGES_PER_MIN) =>
  new AccountBudgets(perMinute, 0, (n) => `too many purge requests: at most ${n} per minute per account`);

function opsWeight(o: StepOps): number {
  let w = 1; // the resize / copy pass
  if (o.bg?.kind === 'blurred') w += 4;
  if (o.bl) w += 2;
  if (o.shadow) w += 2;
  if (typeof o.rt === 'number' && o.rt % 90 !== 0) w += 2;
  if (o.t) w += 1;
  if (o.usm || o.sharpen) w += 1;
  if (o.r || o.b) w += 1;
  return w;
}

/** Pixel-operations a render of `plan` on a `srcW`×`srcH` original is expected to cost. */
export function estimateRenderCost(plan: TransformPlan, srcW: number, srcH: number, format: NegotiatedFormat): number {
  if (plan.original) return 0;
  let cost = srcW * srcH; // decode
  let cw = srcW;
  let ch = srcH;
  const px = (d: StepOps['w'], current: number): number | undefined => {
    if (d === undefined) return undefined;
    if (isExpr(d)) return current;
    return d.kind === 'px' ? d.value : d.kind === 'fraction' ? Math.max(1, Math.round(current * d.value)) : current;
  };
  for (const o of allOps(plan)) {
    let w = px(o.w, cw);
    let h = px(o.h, ch);
    const ar = o.ar && !isExpr(o.ar) ? o.ar.w / o.ar.h : undefined;
    if (ar && w !== undefined && h === undefined) h = Math.round(w / ar);
    if (ar && h !== undefined && w === undefined) w = Math.round(h * ar);
    const dpr = typeof o.dpr === 'number' ? o.dpr : o.dpr === 'auto' ? 2 : 1;
    if (w === undefined && h !== undefined) w = Math.round((cw * h) / ch);
    if (h === undefined && w !== undefined) h = Math.round((ch * w) / cw);
    cw = Math.max(1, Math.round((w ?? cw) * dpr));
    ch = Math.max(1, Math.round((h ?? ch) * dpr));
    cost += cw * ch * opsWeight(o);
  }
  const encodeWeight = format === 'avif' ? 4 : plan.lossless ? 3 : format === 'webp' ? 2 : 1;
  return cost + cw * ch * encodeWeight;
}

export function checkRenderCost(cost: number, max: number): void {
  if (cost > max)
    throw limitExceeded(`this render is estimated at ${Math.round(cost / 1e6)} M pixel-operations (output pixels × operations); at most ${Math.round(max / 1e6)} M are allowed per render`);
}

/** Token buckets of pixel-operations per account (shared/token-buckets.ts; burst = one minute's worth). */
export class AccountBudgets extends TokenBuckets {
  constructor(
    perMinute = DEFAULT_ACCOUNT_BUDGET_PER_MIN,
    /** Costs under this are never refused (cheap renders). */
    free = 1_000_000,
    what = (n: number) => `this account's render budget (${Math.round(n / 1e6)} M pixel-operations per minute in this region) is used up`,
  ) {
    super(perMinute, free, what);
  }
}
