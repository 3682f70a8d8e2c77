/**
 * The transformation grammar (ImageKit's `tr` dialect), shared by the edge and the origin. Pure
 * (runs in workerd and Node). Parsing and the parameter table live in parse.ts / params.ts; this
 * module adds the canonical cache-key form, format negotiation and client-hint needs.
 */
import { MAX_DIMENSION, PARAMS, type OutputSpec, type StepSpec } from './params.js';
import { allLayers, canonicalLayer } from './layers.js';
import { parseTransformation } from './parse.js';
import { isExtractMode, unreadFields, type AccountDefaults, type CondClause, type Condition, type ExprVar, type OutputFormat, type StepOps, type TransformPlan } from './types.js';
import { evalExpr, isExpr, scopeValue, type ExprScope } from './values.js';

export type {
  Background,
  Color,
  CondClause,
  CondOp,
  CondProp,
  Condition,
  CropMode,
  CropStrategy,
  Dimension,
  Expr,
  ExprOp,
  ExprVar,
  Focus,
  Gravity,
  IfStep,
  CanvasLayer,
  ImageLayer,
  Layer,
  LayerMode,
  LayerPosition,
  TextLayer,
  TextStyle,
  NumOrExpr,
  OpsStep,
  OutputFormat,
  ParseContext,
  Radius,
  Shadow,
  Gradient,
  ColorReplace,
  Distort,
  StepOps,
  TransformPlan,
  TransformStep,
  UnsharpMask,
} from './types.js';
export { parseTransformation, splitParam, MAX_STEPS, MAX_TR_LENGTH } from './parse.js';
export { PARAMS, SPECIAL_PARAMS, UNSUPPORTED_PARAMS, MAX_DIMENSION } from './params.js';
export { evalExpr, isExpr, type ExprScope } from './values.js';
export { isExtractMode, unreadFields, type UnreadField } from './types.js';
export {
  allLayers,
  BUILTIN_FONTS,
  DEFAULT_FONT,
  DEFAULT_FONT_SIZE,
  MAX_LAYER_DEPTH,
  MAX_LAYERS,
  MAX_TEXT_BASE64_CHARS,
  MAX_TEXT_CHARS,
  POSITION_PARAMS,
  TEXT_PARAMS,
} from './layers.js';

/**
 * Bump when the same canonical transformation would render differently (a semantics change), and
 * put it in result-cache keys, so caches filled by an older engine are not served.
 */
export const TRANSFORM_ENGINE_VERSION = 3; // 3: keys keep every parameter the renderer reads (entries poisoned under v2 keys are not served); 2: pad black by default

/** Problems with an account's named transformations (each must parse; none may use n-). For account validation. */
export function namedTransformProblems(named: Record<string, string>): string[] {
  const problems: string[] = [];
  for (const [name, tr] of Object.entries(named)) {
    try {
      parseTransformation(tr, { namedTransforms: {} });
    } catch (e) {
      problems.push(`namedTransforms.${name}: ${(e as Error).message}`);
    }
  }
  return problems;
}

const STEP_SPECS = PARAMS.filter((p): p is StepSpec => p.scope === 'step');
const OUTPUT_SPECS = PARAMS.filter((p): p is OutputSpec => p.scope === 'output' && p.field !== 'original');

/**
 * Drop parameters the pipeline ignores in this combination WHATEVER the image and the client
 * hints, so they cannot split the cache — and nothing else: a parameter the renderer may still
 * read must stay in the key, or two different renders share one entry (cache poisoning, #12).
 * The rule is `unreadFields` (types.ts), which the renderer applies too (origin/src/pipeline/steps/
 * resolve.ts `consumedOps`); test/unit/cache-key-property.test.ts checks key(a) = key(b) ⇒ the
 * renderer's input is the same, over generated plans. Here `w-auto` / `h-auto` count as a size
 * (they may resolve to one) but not as fixed: without Sec-CH-Width they resolve to "no size",
 * and then ar decides.
 */
function effectiveOps(ops: StepOps): StepOps {
  const e: StepOps = { ...ops };
  const fixed = (d: StepOps['w']) => d !== undefined && (isExpr(d) || d.kind !== 'auto');
  const sized = e.w !== undefined || e.h !== undefined || e.ar !== undefined;
  for (const k of unreadFields({ sized, bothFixed: fixed(e.w) && fixed(e.h), cm: e.cm, fo: e.fo })) delete e[k];
  return e;
}

function canonicalOps(raw: StepOps): string[] {
  const tokens: string[] = [];
  const ops = effectiveOps(raw);
  for (const spec of STEP_SPECS) {
    const v = (ops as Record<string, unknown>)[spec.field];
    if (v === undefined) continue;
    const text = (spec.format as (v: unknown) => string | null)(v);
    if (text === null) continue;
    tokens.push(text === '' ? spec.key : `${spec.key}-${text}`);
  }
  tokens.sort();
  // layers are composited in URL order: never sorted
  for (const layer of ops.layers ?? []) tokens.push(canonicalLayer(layer, (o) => canonicalOps(o).join(',')));
  return tokens;
}

function canonicalCondition(c: Condition): string {
  const value = (cl: CondClause) => (cl.fraction ? `${cl.fraction[0]}-${cl.fraction[1]}` : String(cl.value).replace(/^-/, 'N'));
  const fmt = (cl: CondClause) => `${cl.prop}_${cl.op}_${value(cl)}`;
  return c.clauses.map((cl, i) => (i === 0 ? fmt(cl) : `${c.joins[i - 1]}_${fmt(cl)}`)).join('_');
}

/**
 * A canonical string for cache keys: the same output ⇒ the same string (parameter order,
 * spellings such as jpg/jpeg and default values do not matter); a different output ⇒ a different
 * string. Pass the account defaults to also drop a `q-` equal to the account's quality.
 * The result parses back to an equivalent plan.
 */
export function canonicalTransformation(plan: TransformPlan, defaults?: Pick<AccountDefaults, 'quality'>): string {
  if (plan.original) return 'orig-true';
  const steps: string[] = [];
  for (const step of plan.steps) {
    if (step.type === 'if') {
      const chain = (branch: StepOps[]) =>
        branch
          .map((ops) => canonicalOps(ops).join(','))
          .filter(Boolean)
          .join(':');
      const thenText = chain(step.then);
      const elseText = step.else ? chain(step.else) : '';
      let text = `if-${canonicalCondition(step.cond)}`;
      if (thenText) text += `,${thenText}`;
      if (elseText) text += `,if-else,${elseText}`;
      steps.push(`${text},if-end`);
      continue;
    }
    const tokens = canonicalOps(step);
    if (tokens.length) steps.push(tokens.join(','));
  }
  const out: string[] = [];
  for (const spec of OUTPUT_SPECS) {
    const v = (plan as unknown as Record<string, unknown>)[spec.field];
    if (v === undefined) continue;
    if (spec.field === 'quality' && defaults && v === defaults.quality) continue;
    const text = (spec.format as (v: unknown) => string | null)(v);
    if (text !== null) out.push(`${spec.key}-${text}`);
  }
  if (out.length) steps.push(out.sort().join(','));
  return steps.join(':');
}

/** Every step's operations, both branches of if blocks included (not the layers' own chains: see planLayers). */
export function allOps(plan: TransformPlan): StepOps[] {
  return plan.steps.flatMap((s) => (s.type === 'if' ? [...s.then, ...(s.else ?? [])] : [s]));
}

/** Every layer of the plan, nested ones included. */
export function planLayers(plan: TransformPlan): ReturnType<typeof allLayers> {
  return allLayers(allOps(plan));
}

/** What the edge tells the origin to produce: a concrete format, or the source's own family. */
export type NegotiatedFormat = OutputFormat | 'source';

/** Media types from an Accept header with q > 0 (lower-cased). */
export function acceptedTypes(accept: string | null | undefined): Set<string> {
  const set = new Set<string>();
  for (const part of (accept ?? '').toLowerCase().split(',')) {
    const [type, ...params] = part.split(';').map((s) => s.trim());
    if (!type) continue;
    const q = params.find((p) => p.startsWith('q='));
    if (q !== undefined && !(Number(q.slice(2)) > 0)) continue;
    set.add(type);
  }
  return set;
}

/** Whether the plan can be AVIF under auto format (ImageKit skips AVIF for cp-true and e-usm). */
function avifAllowed(plan: TransformPlan): boolean {
  if (plan.colorProfile) return false;
  return !allOps(plan).some((ops) => ops.usm);
}

export function negotiateFormat(
  plan: TransformPlan,
  accept: string | null | undefined,
  defaults: AccountDefaults,
): { format: NegotiatedFormat; negotiated: boolean } {
  if (plan.original || plan.format === 'orig') return { format: 'source', negotiated: false };
  if (plan.format) return { format: plan.format, negotiated: false };
  if (!defaults.autoFormat) return { format: 'source', negotiated: false };
  const types = acceptedTypes(accept);
  if (defaults.avif && types.has('image/avif') && avifAllowed(plan)) return { format: 'avif', negotiated: true };
  if (types.has('image/webp')) return { format: 'webp', negotiated: true };
  return { format: 'source', negotiated: true };
}

/**
 * Which client hints the plan reads: `dpr` (dpr-auto → Sec-CH-DPR, forwarded as x-pixmesh-dpr)
 * and `width` (w-auto → Sec-CH-Width, forwarded as x-pixmesh-width). The edge puts a hint in its
 * cache key (and Vary) only when the plan uses it.
 */
export function clientHintsUsed(plan: TransformPlan): { dpr: boolean; width: boolean } {
  const res = { dpr: false, width: false };
  if (plan.original) return res;
  for (const ops of allOps(plan)) {
    if (ops.dpr === 'auto') res.dpr = true;
    if (ops.w && !isExpr(ops.w) && ops.w.kind === 'auto') res.width = true;
  }
  return res;
}

/**
 * Normalise client-hint header values for the cache key / the origin: DPR clamped to 0.1–5 and
 * rounded to 2 decimals, width an integer 1–MAX_DIMENSION; undefined when absent or invalid.
 */
export function normaliseHints(dpr: string | null | undefined, width: string | null | undefined): { dpr?: number; width?: number } {
  const out: { dpr?: number; width?: number } = {};
  const d = dpr == null ? NaN : Number(dpr);
  if (Number.isFinite(d) && d > 0) out.dpr = Math.min(5, Math.max(0.1, Math.round(d * 100) / 100));
  const w = width == null ? NaN : Number(width);
  if (Number.isFinite(w) && w >= 1) out.width = Math.min(MAX_DIMENSION, Math.round(w));
  return out;
}

/** Evaluate an if-condition against the current (w h) and input (iw ih) dimensions. */
export function evalCondition(c: Condition, s: ExprScope): boolean {
  // Condition properties w h ar name the current dimensions, like the expression variables cw ch car.
  const CURRENT = { w: 'cw', h: 'ch', ar: 'car' } as const;
  const value = (cl: CondClause): number => scopeValue(cl.prop in CURRENT ? CURRENT[cl.prop as keyof typeof CURRENT] : (cl.prop as ExprVar), s);
  const test = (cl: CondClause): boolean => {
    const v = value(cl);
    switch (cl.op) {
      case 'eq':
        return Math.abs(v - cl.value) < 1e-9;
      case 'ne':
        return Math.abs(v - cl.value) >= 1e-9;
      case 'gt':
        return v > cl.value;
      case 'gte':
        return v >= cl.value;
      case 'lt':
        return v < cl.value;
      case 'lte':
        return v <= cl.value;
    }
  };
  // and binds tighter than or: split into or-groups of and-ed clauses
  let any = false;
  let all = true;
  c.clauses.forEach((cl, i) => {
    all = all && test(cl);
    const join = c.joins[i];
    if (join !== 'and') {
      any = any || all;
      all = true;
    }
  });
  return any;
}

