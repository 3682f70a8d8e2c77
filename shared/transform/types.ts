/**
 * The typed, validated transformation plan (what `parseTransformation` returns). Pure data:
 * the edge serialises it for cache keys, the origin executes it.
 */

export type OutputFormat = 'jpeg' | 'png' | 'webp' | 'avif' | 'gif';

/** Variables of an arithmetic expression: input (i*) and current (c*) width, height, aspect ratio. */
export type ExprVar = 'iw' | 'ih' | 'iar' | 'cw' | 'ch' | 'car';
export type ExprOp = 'add' | 'sub' | 'mul' | 'div' | 'mod' | 'pow';

/** `iw_div_2`: operands and operators alternate; evaluated with the usual precedence at render time. */
export interface Expr {
  kind: 'expr';
  /** operand, op, operand, op, operand … */
  tokens: (number | ExprVar | ExprOp)[];
}

export type NumOrExpr = number | Expr;

/** w / h: pixels (≥ 1), a fraction of the current image (0 < f < 1), `auto` (client hint) or an expression. */
export type Dimension = { kind: 'px'; value: number } | { kind: 'fraction'; value: number } | { kind: 'auto' } | Expr;

export type CropStrategy = 'maintain_ratio' | 'force' | 'at_max' | 'at_max_enlarge' | 'at_least';
export type CropMode = 'pad_resize' | 'extract' | 'pad_extract';
export type Gravity = 'center' | 'top' | 'left' | 'bottom' | 'right' | 'top_left' | 'top_right' | 'bottom_left' | 'bottom_right';
export type Focus = Gravity | 'auto' | 'face';

/** sRGB colour; `alpha` 0–1. `hex` is the canonical RRGGBB or RRGGBBAA (AA = 00–99 per ImageKit). */
export interface Color {
  r: number;
  g: number;
  b: number;
  alpha: number;
  hex: string;
}

export type Background =
  | { kind: 'color'; color: Color }
  /** `bg-blurred[_<intensity>|_auto][_<brightness -255..255>]`, pad_resize only. */
  | { kind: 'blurred'; intensity: number | 'auto'; brightness: number }
  | { kind: 'dominant' };

export interface UnsharpMask {
  radius: number;
  sigma: number;
  amount: number;
  threshold: number;
}

/** Per-corner radii (tl, tr, br, bl) or one radius for all, or `max` (a circle/pill). */
export type Radius = number | 'max' | [number, number, number, number];

/** The operations of one chain step. Within a step they run in the pipeline's fixed order, never URL order. */
export interface StepOps {
  w?: Dimension;
  h?: Dimension;
  /** `ar-4-3` → {w:4,h:3}; or an expression giving width/height. */
  ar?: { w: number; h: number } | Expr;
  c?: CropStrategy;
  cm?: CropMode;
  fo?: Focus;
  x?: NumOrExpr;
  y?: NumOrExpr;
  xc?: NumOrExpr;
  yc?: NumOrExpr;
  z?: number;
  dpr?: number | 'auto';
  /** Gaussian blur radius 1–100. */
  bl?: number;
  grayscale?: true;
  contrast?: true;
  /** e-sharpen[-n]: 1–100, bare = 50. */
  sharpen?: number;
  usm?: UnsharpMask;
  /** Trim threshold 1–99 (`t-true` = 10). */
  t?: number;
  b?: { width: NumOrExpr; color: Color };
  r?: Radius;
  /** Degrees clockwise (negative = counter-clockwise), or `auto` (EXIF). */
  rt?: number | 'auto';
  fl?: 'h' | 'v' | 'h_v';
  bg?: Background;
  /** Opacity 0–100. */
  o?: number;
  /** e-shadow: a shadow under the non-transparent pixels. */
  shadow?: Shadow;
}

/** `e-shadow[-bl-<0..15>_st-<0..100>_x-<N100..100>_y-<N100..100>]`; offsets in % of the image width. */
export interface Shadow {
  blur: number;
  saturation: number;
  x: number;
  y: number;
}

export type CondProp = 'w' | 'h' | 'ar' | 'iw' | 'ih' | 'iar';
export type CondOp = 'eq' | 'ne' | 'gt' | 'gte' | 'lt' | 'lte';
export interface CondClause {
  prop: CondProp;
  op: CondOp;
  value: number;
  /** The value as written when it was an aspect-ratio fraction (`4-3`), kept for the canonical form. */
  fraction?: [number, number];
}
/** Clauses joined by and/or; `and` binds tighter than `or`. */
export interface Condition {
  clauses: CondClause[];
  joins: ('and' | 'or')[];
}

export interface OpsStep extends StepOps {
  type: 'ops';
}
/**
 * `if-<cond>,<tr>[,if-else,<tr>],if-end`: its own chain step, decided at render time. Each
 * branch is itself a chain (`if-ar_gt_1,w-200:rt-90,if-else,w-300,if-end`): one StepOps per step.
 */
export interface IfStep {
  type: 'if';
  cond: Condition;
  then: StepOps[];
  else?: StepOps[];
}
export type TransformStep = OpsStep | IfStep;

/** A nested overlay block (`l-image,…,l-end`); parsed for structure, not rendered yet. */
export interface LayerBlock {
  layer: string;
  params: string[];
  children: LayerBlock[];
}

export interface TransformPlan {
  steps: TransformStep[];
  /** `orig-true`: the original bytes, untransformed. */
  original: boolean;
  /** An explicit `f-` other than auto; undefined means the format is negotiated. */
  format?: OutputFormat | 'orig';
  /** `di-`: default image path when the original is missing (`@@` already turned into `/`). */
  defaultImage?: string;
  /** `q-` 1–100 (undefined: the account default). */
  quality?: number;
  /** `pr-true`: progressive JPEG / interlaced PNG. */
  progressive?: boolean;
  /** `lo-true`: lossless WebP / AVIF (PNG is always lossless). */
  lossless?: boolean;
  /** `cp-true`: keep the colour profile. */
  colorProfile?: boolean;
  /** `md-true`: keep the metadata. */
  metadata?: boolean;
  /** `pg-<n>`: render page/frame n (1-based) of a multi-page or animated original, as a still. */
  page?: number;
}

export interface ParseContext {
  namedTransforms?: Record<string, string>;
  namedOnly?: boolean;
}
