/**
 * The typed, validated transformation plan (what `parseTransformation` returns). Pure data:
 * the edge serialises it for cache keys, the origin executes it.
 */

export type OutputFormat = 'jpeg' | 'png' | 'webp' | 'avif' | 'gif';

/**
 * Variables of an arithmetic expression: input (i*) and current (c*) width, height, aspect ratio,
 * and inside layers the base (b*: the image the layer is placed on).
 */
export type ExprVar = 'iw' | 'ih' | 'iar' | 'cw' | 'ch' | 'car' | 'bw' | 'bh' | 'bar';
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

export type CropStrategy = 'maintain_ratio' | 'maintain_ratio_no_enlarge' | 'force' | 'at_max' | 'at_max_enlarge' | 'at_least';
export type CropMode = 'pad_resize' | 'pad_resize_no_enlarge' | 'extract' | 'pad_extract' | 'pad_extract_no_shrink';
/** The crop modes that cut a region without scaling (x y xc yc apply; c does not). */
export const isExtractMode = (cm: CropMode | undefined): boolean => cm === 'extract' || cm === 'pad_extract' || cm === 'pad_extract_no_shrink';
/** The step fields a render may leave unread (unreadFields). */
export type UnreadField = 'dpr' | 'c' | 'fo' | 'cm' | 'x' | 'y' | 'xc' | 'yc' | 'ar';
/**
 * The one rule for which fields of a chain step the renderer does not read in this combination,
 * whatever the image and the client hints: the cache key drops them (shared/transform
 * canonicalTransformation), the renderer resets them (origin/src/pipeline/steps/resolve.ts
 * consumedOps). `sized`: w, h or ar given; `bothFixed`: w and h both known (not `auto`).
 *   - without a size and outside extract modes, resize does nothing but the fo-face / fo-custom
 *     crop: dpr, c, other fo values and cm-pad_resize are not read (dpr IS read by cm-extract);
 *   - x y xc yc are read only by the extract modes; c never is by those;
 *   - ar is moot when w and h are both fixed.
 */
export function unreadFields(s: { sized: boolean; bothFixed: boolean; cm?: CropMode; fo?: Focus }): UnreadField[] {
  const out: UnreadField[] = [];
  const extract = isExtractMode(s.cm);
  if (!s.sized && !extract) {
    out.push('dpr', 'c');
    if (s.fo !== 'face' && s.fo !== 'custom') out.push('fo');
    if (s.cm === 'pad_resize') out.push('cm');
  }
  if (!extract) out.push('x', 'y', 'xc', 'yc');
  else out.push('c');
  if (s.bothFixed) out.push('ar');
  return out;
}
export type Gravity = 'center' | 'top' | 'left' | 'bottom' | 'right' | 'top_left' | 'top_right' | 'bottom_left' | 'bottom_right';
/** `auto`: saliency; `face`: the detected faces; `custom`: the file's saved customCoordinates. */
export type Focus = Gravity | 'auto' | 'face' | 'custom';

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
  | { kind: 'dominant' }
  /** `bg-gradient_dominant[_2|_4]` (pad modes): a gradient of the image's dominant colours, 2 along the padded axis or 4 corners. */
  | { kind: 'gradient'; colors: 2 | 4 };

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
  /** `e-gradient`: a linear gradient drawn over the image. */
  gradient?: Gradient;
  /** `cr-<to>[_<tolerance>[_<from>]]`: colour replace. */
  cr?: ColorReplace;
  /** `e-distort-p-…` (perspective: where the corners, clockwise from top-left, move, in px) or `e-distort-a-<deg>` (arc). */
  distort?: Distort;
  /** `e-colorize[-co-<colour>][_in-<0–100>]`: a tint of that colour, mixed in at `in` %. */
  colorize?: { color: Color; intensity: number };
  /** Overlays placed on the step's result, in URL order (`l-…,l-end` blocks). */
  layers?: Layer[];
}

/** `e-distort-p-x1_y1_x2_y2_x3_y3_x4_y4` (corners clockwise from the top-left) or `e-distort-a-<degrees>` (arc: positive bends upwards, ∩). */
export type Distort = { corners: [number, number, number, number, number, number, number, number] } | { arc: number };

/** `e-gradient[-ld-<deg|direction>][_from-<colour>][_to-<colour>][_sp-<stop>]` (CSS angles: 180 = top to bottom). */
export interface Gradient {
  /** Degrees, CSS convention: 0 = towards the top, 90 = towards the right. */
  angle: number;
  from: Color;
  to: Color;
  /** Where `to` is reached: a fraction 0.01–0.99 of the gradient line, pixels ≥ 1 (1 = the whole line), or an expression. */
  stop: NumOrExpr;
}

export interface ColorReplace {
  to: Color;
  /** 0–100: how far (in % of the RGB cube's diagonal) a pixel may be from `from`. */
  tolerance: number;
  /** Undefined: the image's dominant colour. */
  from?: Color;
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

export type LayerMode = 'multiply' | 'displace' | 'cutout' | 'cutter';

/**
 * Where a layer goes on its base: `lx`/`ly` (top-left; negative = from the right/bottom edge),
 * `lxc`/`lyc` (centre), measured from the anchor `lap` (default top_left); without any of
 * those, `lfo` (default center) places it relative to the base's edges.
 */
export interface LayerPosition {
  x?: NumOrExpr;
  y?: NumOrExpr;
  xc?: NumOrExpr;
  yc?: NumOrExpr;
  anchor?: Gravity;
  focus?: Gravity;
}

interface LayerBase {
  position: LayerPosition;
  mode?: LayerMode;
  /** `lm-displace` strength in px (the layer's `x` / `y`). */
  displace?: { x: number; y: number };
}

/** `l-image,i-<path>`: another file of the account, with its own chain of transformations. */
export interface ImageLayer extends LayerBase {
  type: 'image';
  /** The path as the media library / origins know it (`@@` already turned into `/`). */
  path: string;
  /** The layer image's own chain (each step may hold layers: nesting). */
  steps: StepOps[];
  /** Layer images are trimmed by default (threshold 10); `t-false` turns it off. */
  trim: boolean;
}

/** `l-image,i-ik_canvas,bg-<colour>`: a solid block (size from w/h, default the base's size). */
export interface CanvasLayer extends LayerBase {
  type: 'canvas';
  color: Color;
  steps: StepOps[];
}

export interface TextStyle {
  /** Wrap width in px (the text box is this wide, plus padding). */
  w?: NumOrExpr;
  /** Font size in px (default 14). */
  fs?: NumOrExpr;
  /** A built-in font id, or a font file in the media library (`{ path }`). */
  ff?: { builtin: string } | { path: string };
  co?: Color;
  ia?: 'left' | 'center' | 'right';
  /** Padding top, right, bottom, left. */
  pa?: [NumOrExpr, NumOrExpr, NumOrExpr, NumOrExpr];
  /** `al-1`…`al-9`: text opacity in tenths. */
  al?: number;
  tg?: { b?: true; i?: true; strikethrough?: true };
  /** Line height in px. */
  lh?: NumOrExpr;
  bg?: Color;
  r?: Radius;
  /** Clockwise degrees in [0, 360). */
  rt?: number;
  fl?: 'h' | 'v' | 'h_v';
}

/** `l-text,i-<text>` / `ie-<base64>`. */
export interface TextLayer extends LayerBase {
  type: 'text';
  text: string;
  style: TextStyle;
}

export type Layer = ImageLayer | CanvasLayer | TextLayer;

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
  /**
   * `pg-<n>`: page/frame n (1-based) of a multi-page or animated original, as a still; `pg-<a>-<b>`
   * (a range) or `pg-<n>_<m>_…` (a list): those pages in that order, as an animation when the
   * output can animate (else the first of them).
   */
  page?: number | number[];
}

export interface ParseContext {
  namedTransforms?: Record<string, string>;
  namedOnly?: boolean;
}

/** An account's delivery defaults (its `defaults` object in the account file: shared/accounts.ts). */
export interface AccountDefaults {
  quality: number;
  autoFormat: boolean;
  avif: boolean;
  autoRotate: boolean;
}
