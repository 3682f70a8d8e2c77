/**
 * THE parameter table: one declarative record per ImageKit parameter (ipx-style modifier records).
 * The parser, the canonical cache-key form and docs/transformations.md are all derived from it,
 * so a parameter cannot be parsed without being documented or keyed. Ranges mirror what the
 * sharp pipeline accepts, so a bad value is a 400 here rather than a 500 inside sharp.
 */
import { badTransformation } from '../errors.js';
import type { CropMode, CropStrategy, Dimension, Focus, Radius, StepOps, TransformPlan } from './types.js';
import {
  bool,
  formatExpr,
  formatNumber,
  formatNumOrExpr,
  isExpr,
  isExprLike,
  num,
  numOrExpr,
  oneOf,
  parseColor,
  parseExpr,
  parseNumber,
  quote,
} from './values.js';

/** Largest width/height accepted in a URL and produced by the pipeline (WebP's limit, ImageKit's too). */
export const MAX_DIMENSION = 16383;
/** Most pages one `pg-` range or list selects (the pipeline's frame limit applies too). */
export const MAX_PAGE_SELECTION = 1000;

export const CROP_STRATEGIES: readonly CropStrategy[] = ['maintain_ratio', 'maintain_ratio_no_enlarge', 'force', 'at_max', 'at_max_enlarge', 'at_least'];
export const CROP_MODES: readonly CropMode[] = ['pad_resize', 'pad_resize_no_enlarge', 'extract', 'pad_extract', 'pad_extract_no_shrink'];
const GRADIENT_DIRECTIONS: Record<string, number> = { top: 0, top_right: 45, right: 90, bottom_right: 135, bottom: 180, bottom_left: 225, left: 270, top_left: 315 };
const WHITE = parseColor('e-gradient', 'FFFFFF');
const TRANSPARENT_BLACK = parseColor('e-gradient', '00000000');
const GREY = parseColor('e-colorize', '808080');

/** `_`-joined `key-value` parts where values may contain `_` themselves (`ld-top_right`, `sp-ih_div_2`). */
function keyedParts(key: string, raw: string, keys: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  let last: string | undefined;
  for (const part of raw.split('_')) {
    const m = /^([a-z]+)-(.*)$/.exec(part);
    if (m && keys.includes(m[1]!)) {
      if (out.has(m[1]!)) throw badTransformation(`${key}: ${m[1]} given twice`);
      out.set(m[1]!, m[2]!);
      last = m[1];
    } else if (last) out.set(last, `${out.get(last)}_${part}`);
    else throw badTransformation(`${key}: expected ${keys.map((k) => `${k}-…`).join(', ')} joined by "_", got ${quote(part)}`);
  }
  return out;
}
export const FOCUS_VALUES: readonly Focus[] = [
  'center',
  'top',
  'left',
  'bottom',
  'right',
  'top_left',
  'top_right',
  'bottom_left',
  'bottom_right',
  'auto',
  'face',
  'custom',
];
export const FORMAT_VALUES = ['auto', 'jpg', 'jpeg', 'png', 'webp', 'avif', 'gif', 'orig'] as const;

export type PlanOutput = Pick<
  TransformPlan,
  'format' | 'defaultImage' | 'quality' | 'progressive' | 'lossless' | 'colorProfile' | 'metadata' | 'original' | 'page'
>;

interface SpecBase {
  /** URL key, e.g. `w`, `e-grayscale`. */
  key: string;
  /** The name in the official SDKs' transformation objects. */
  sdk?: string;
  group: 'Resize and crop' | 'Effects' | 'Geometry and colour' | 'Output' | 'Other';
  syntax: string;
  description: string;
  /** A `tr` value that parses. */
  example: string;
  /** Bare key allowed (`e-grayscale`, `e-sharpen`). */
  flag?: boolean;
}

export interface StepSpec<K extends keyof StepOps = keyof StepOps> extends SpecBase {
  scope: 'step';
  field: K;
  parse(raw: string | null): NonNullable<StepOps[K]>;
  /** Canonical value text; null = the default (dropped from the key); '' = bare key. */
  format(v: NonNullable<StepOps[K]>): string | null;
}

export interface OutputSpec<K extends keyof PlanOutput = keyof PlanOutput> extends SpecBase {
  scope: 'output';
  field: K;
  parse(raw: string | null): PlanOutput[K];
  format(v: NonNullable<PlanOutput[K]>): string | null;
}

export type ParamSpec = StepSpec | OutputSpec;

const step = <K extends keyof StepOps>(s: Omit<StepSpec<K>, 'scope'>): ParamSpec => ({ ...s, scope: 'step' }) as unknown as ParamSpec;
const output = <K extends keyof PlanOutput>(s: Omit<OutputSpec<K>, 'scope'>): ParamSpec => ({ ...s, scope: 'output' }) as unknown as ParamSpec;

const DIM_TEXT = `integer pixels 1–${MAX_DIMENSION}, a fraction greater than 0 and below 1, auto, or an expression`;

function dimension(key: string, raw: string | null): Dimension {
  if (raw === 'auto') return { kind: 'auto' };
  if (raw !== null && isExprLike(raw)) return parseExpr(key, raw);
  const n = num(key, raw, { min: 0, max: MAX_DIMENSION, exclusiveMin: true }, DIM_TEXT);
  if (n < 1) return { kind: 'fraction', value: n };
  return { kind: 'px', value: Math.round(n) };
}
function formatDimension(d: Dimension): string {
  if (isExpr(d)) return formatExpr(d);
  if (d.kind === 'auto') return 'auto';
  return formatNumber(d.value);
}

const flag = (key: string, raw: string | null): true => {
  if (raw === null || raw === 'true') return true;
  throw badTransformation(`${key}: takes no value (or "true"), got ${quote(raw)}`);
};

export const PARAMS: readonly ParamSpec[] = [
  // ── Resize and crop ────────────────────────────────────────────────────────────────────
  step({
    key: 'w',
    sdk: 'width',
    group: 'Resize and crop',
    field: 'w',
    syntax: DIM_TEXT,
    description:
      'Output width. A value between 0 and 1 is a fraction of the image entering the step. `auto` uses the Sec-CH-Width client hint (no hint: no width). Non-integer pixel values are rounded.',
    example: 'w-300',
    parse: (raw) => dimension('w', raw),
    format: formatDimension,
  }),
  step({
    key: 'h',
    sdk: 'height',
    group: 'Resize and crop',
    field: 'h',
    syntax: DIM_TEXT,
    description: 'Output height; same forms as `w` (`auto` is not a height hint and is treated as no height).',
    example: 'h-200',
    parse: (raw) => dimension('h', raw),
    format: formatDimension,
  }),
  step({
    key: 'ar',
    sdk: 'aspectRatio',
    group: 'Resize and crop',
    field: 'ar',
    syntax: '`<w>-<h>` (positive numbers) or an expression giving width÷height (e.g. `iar_div_2`)',
    description: 'Aspect ratio, used with exactly one of `w`/`h` (with neither, the current width is kept); ignored when both are given.',
    example: 'w-400,ar-16-9',
    parse: (raw) => {
      if (raw !== null && isExprLike(raw)) return parseExpr('ar', raw);
      const m = raw === null ? null : /^([^-]+)-([^-]+)$/.exec(raw);
      const a = m ? parseNumber(m[1]!) : undefined;
      const b = m ? parseNumber(m[2]!) : undefined;
      if (a === undefined || b === undefined || a <= 0 || b <= 0 || a > 1000 || b > 1000)
        throw badTransformation(`ar: expected <w>-<h> with positive numbers up to 1000 (e.g. ar-4-3) or an expression, got ${raw === null ? 'no value' : quote(raw)}`);
      return { w: a, h: b };
    },
    format: (v) => (isExpr(v) ? formatExpr(v) : `${formatNumber(v.w)}-${formatNumber(v.h)}`),
  }),
  step({
    key: 'c',
    sdk: 'crop',
    group: 'Resize and crop',
    field: 'c',
    syntax: CROP_STRATEGIES.join(' | '),
    description:
      'Crop strategy when both `w` and `h` are given. maintain_ratio (default): fill the box and crop the overflow around `fo`. maintain_ratio_no_enlarge: the same without upscaling (a smaller image gives a smaller box of the same crop). force: stretch. at_max: fit inside, never upscale. at_max_enlarge: fit inside, upscaling allowed. at_least: cover the box without cropping.',
    example: 'w-300,h-300,c-at_max',
    parse: (raw) => oneOf('c', raw, CROP_STRATEGIES),
    format: (v) => (v === 'maintain_ratio' ? null : v),
  }),
  step({
    key: 'cm',
    sdk: 'cropMode',
    group: 'Resize and crop',
    field: 'cm',
    syntax: CROP_MODES.join(' | '),
    description:
      'pad_resize: fit inside the box and pad with `bg` (default black, as ImageKit; position by `fo`). pad_resize_no_enlarge: the same, but an image smaller than the box is padded at its own size, never upscaled. extract: cut a `w`×`h` region out of the image without scaling (position by `fo`, `x`/`y` or `xc`/`yc`; out of bounds is a 400). pad_extract: like extract, padding with `bg` where the region is larger than the image. pad_extract_no_shrink: pad_extract that never cuts the image: on an axis where `w`/`h` is smaller than the image, the image\'s own size is kept (so it only ever pads).',
    example: 'w-300,h-300,cm-pad_resize,bg-F3F3F3',
    parse: (raw) => oneOf('cm', raw, CROP_MODES),
    format: (v) => v,
  }),
  step({
    key: 'fo',
    sdk: 'focus',
    group: 'Resize and crop',
    field: 'fo',
    syntax: FOCUS_VALUES.join(' | '),
    description:
      'Focus for crops and padding. `auto` is saliency-based (libvips attention). `face` crops around the faces a detector finds (all of them; see "Face focus" below): with `w` and `h`, the smallest box of the output\'s aspect ratio holding the faces, divided by `z`; without a size, the faces\' box itself (divided by `z`). No face found: the centre, as ImageKit. `custom` does the same with the file\'s saved `customCoordinates` (media library; none: the centre). With `cm-extract` / `cm-pad_extract` the region is centred on the focal point (faces, custom area, or attention for `auto`). Object names (`fo-car`) are not supported.',
    example: 'w-300,h-300,fo-top_left',
    parse: (raw) => {
      if (raw !== null && /^[a-z]+$/.test(raw) && !(FOCUS_VALUES as readonly string[]).includes(raw))
        throw badTransformation(`fo: object focus (fo-${raw}) is not supported; expected one of ${FOCUS_VALUES.join(', ')}`);
      return oneOf('fo', raw, FOCUS_VALUES);
    },
    format: (v) => (v === 'center' ? null : v),
  }),
  ...(['x', 'y', 'xc', 'yc'] as const).map((k) =>
    step({
      key: k,
      sdk: { x: 'x', y: 'y', xc: 'xCenter', yc: 'yCenter' }[k],
      group: 'Resize and crop',
      field: k,
      syntax: `pixels 0–${MAX_DIMENSION * 4} (rounded) or an expression`,
      description:
        k.length === 1
          ? `Top-left ${k === 'x' ? 'horizontal' : 'vertical'} offset of the region for cm-extract / cm-pad_extract.`
          : `Centre ${k === 'xc' ? 'horizontal' : 'vertical'} position of the region for cm-extract / cm-pad_extract.`,
      example: `w-200,h-200,cm-extract,${k}-100`,
      parse: (raw: string | null) => numOrExpr(k, raw, { min: 0, max: MAX_DIMENSION * 4 }),
      format: formatNumOrExpr,
    }),
  ),
  step({
    key: 'z',
    sdk: 'zoom',
    group: 'Resize and crop',
    field: 'z',
    syntax: 'a number from 0.1 to 10',
    description:
      'Zoom for `fo-face` / `fo-custom`: the crop region around the focus box is divided by z (z-0.5 keeps twice the area around the face, z-2 crops into it); the region is kept inside the image. With `cm-extract` / `cm-pad_extract` the region cut around the focal point is the output size divided by z, then scaled to `w`×`h` (z-2: half the area, shown twice as large; cm-extract keeps the region inside the image, pad_extract pads where it overhangs). Without fo-face/fo-custom it has no effect.',
    example: 'w-200,h-200,fo-face,z-0.8',
    parse: (raw) => num('z', raw, { min: 0.1, max: 10 }),
    format: (v) => (v === 1 ? null : formatNumber(v)),
  }),
  step({
    key: 'dpr',
    sdk: 'dpr',
    group: 'Resize and crop',
    field: 'dpr',
    syntax: 'a number from 0.1 to 5, or auto',
    description: 'Device pixel ratio: multiplies `w`/`h`. `auto` uses the Sec-CH-DPR client hint (no hint: 1). Ignored when there is no w/h or the result would be under 1 px or over 5000 px.',
    example: 'w-300,dpr-2',
    parse: (raw) => (raw === 'auto' ? 'auto' : num('dpr', raw, { min: 0.1, max: 5 }, 'a number from 0.1 to 5, or auto')),
    format: (v) => (v === 1 ? null : v === 'auto' ? 'auto' : formatNumber(v)),
  }),
  // ── Effects ────────────────────────────────────────────────────────────────────────────
  step({
    key: 'bl',
    sdk: 'blur',
    group: 'Effects',
    field: 'bl',
    syntax: 'an integer from 1 to 100',
    description: 'Gaussian blur; the radius maps to sigma = radius ÷ 2. Also the LQIP technique (`w-20,bl-10,q-30`).',
    example: 'bl-10',
    parse: (raw) => num('bl', raw, { min: 1, max: 100, integer: true }),
    format: formatNumber,
  }),
  step({
    key: 'e-grayscale',
    sdk: 'grayscale',
    group: 'Effects',
    field: 'grayscale',
    flag: true,
    syntax: 'flag',
    description: 'Convert to grayscale. It applies to the whole output of the step, including padding, borders and background fill.',
    example: 'e-grayscale',
    parse: (raw) => flag('e-grayscale', raw),
    format: () => '',
  }),
  step({
    key: 'e-contrast',
    sdk: 'contrastStretch',
    group: 'Effects',
    field: 'contrast',
    flag: true,
    syntax: 'flag',
    description: 'Contrast stretch: the luminance is stretched to the full range.',
    example: 'e-contrast',
    parse: (raw) => flag('e-contrast', raw),
    format: () => '',
  }),
  step({
    key: 'e-sharpen',
    sdk: 'sharpen',
    group: 'Effects',
    field: 'sharpen',
    flag: true,
    syntax: 'flag, or an integer from 1 to 100 (bare = 50)',
    description: 'Sharpen; the amount maps to a Gaussian sigma of 0.5 + amount ÷ 50.',
    example: 'e-sharpen-30',
    parse: (raw) => (raw === null || raw === 'true' ? 50 : num('e-sharpen', raw, { min: 1, max: 100, integer: true })),
    format: (v) => (v === 50 ? '' : formatNumber(v)),
  }),
  step({
    key: 'e-usm',
    sdk: 'unsharpMask',
    group: 'Effects',
    field: 'usm',
    syntax: '`<radius>-<sigma>-<amount>-<threshold>`: radius 0–100, sigma 0.01–10, amount 0–100, threshold 0–1',
    description: 'Unsharp mask (libvips sharpen: sigma = sigma, flat/jagged gain = amount, threshold scaled to the L range). Disables AVIF in auto format.',
    example: 'e-usm-2-2-0.8-0.024',
    parse: (raw) => {
      const parts = raw === null ? [] : raw.split('-');
      if (parts.length !== 4) throw badTransformation(`e-usm: expected <radius>-<sigma>-<amount>-<threshold>, got ${raw === null ? 'no value' : quote(raw)}`);
      return {
        radius: num('e-usm radius', parts[0]!, { min: 0, max: 100 }),
        sigma: num('e-usm sigma', parts[1]!, { min: 0.01, max: 10 }),
        amount: num('e-usm amount', parts[2]!, { min: 0, max: 100 }),
        threshold: num('e-usm threshold', parts[3]!, { min: 0, max: 1 }),
      };
    },
    format: (v) => [v.radius, v.sigma, v.amount, v.threshold].map(formatNumber).join('-'),
  }),
  step({
    key: 'e-gradient',
    sdk: 'gradient',
    group: 'Effects',
    field: 'gradient',
    flag: true,
    syntax:
      'flag, or `_`-joined `ld-<0–359 | top | top_right | right | bottom_right | bottom | bottom_left | left | top_left>` `from-<colour>` `to-<colour>` `sp-<0.01–0.99, ≥ 1 px, or an expression>` (defaults ld-180, from-FFFFFF, to-00000000, sp-1)',
    description:
      'A linear gradient drawn over the image: from `from` at the start of the line to `to` at the stop point `sp` (a fraction of the line, or pixels; `sp-1` = the whole line), `to` beyond it. `ld` is the direction in CSS degrees (180 = top to bottom).',
    example: 'e-gradient-ld-top_right_from-FF000080_to-00000000_sp-0.7',
    parse: (raw) => {
      const g = { angle: 180, from: WHITE, to: TRANSPARENT_BLACK, stop: 1 as number | ReturnType<typeof numOrExpr> };
      if (raw === null || raw === 'true') return g;
      const parts = keyedParts('e-gradient', raw, ['ld', 'from', 'to', 'sp']);
      const ld = parts.get('ld');
      if (ld !== undefined) g.angle = GRADIENT_DIRECTIONS[ld] ?? num('e-gradient ld', ld, { min: 0, max: 359 }, `degrees 0–359 or one of ${Object.keys(GRADIENT_DIRECTIONS).join(', ')}`);
      if (parts.has('from')) g.from = parseColor('e-gradient from', parts.get('from')!);
      if (parts.has('to')) g.to = parseColor('e-gradient to', parts.get('to')!);
      if (parts.has('sp')) {
        g.stop = numOrExpr('e-gradient sp', parts.get('sp')!, { min: 0.01, max: MAX_DIMENSION });
        if (typeof g.stop === 'number' && g.stop > 0.99 && g.stop < 1) throw badTransformation('e-gradient sp: a fraction is 0.01–0.99, pixels are 1 or more');
      }
      return g;
    },
    format: (v) =>
      v.angle === 180 && v.from.hex === 'FFFFFF' && v.to.hex === '00000000' && v.stop === 1
        ? ''
        : `ld-${formatNumber(v.angle)}_from-${v.from.hex}_to-${v.to.hex}_sp-${formatNumOrExpr(v.stop)}`,
  }),
  step({
    key: 'cr',
    sdk: 'colorReplace',
    group: 'Effects',
    field: 'cr',
    syntax: '`<to colour>[_<tolerance 0–100>[_<from colour>]]` (default tolerance 35; no `from`: the dominant colour)',
    description:
      'Colour replace: pixels within `tolerance` % (of the RGB cube diagonal) of `from` are moved to `to`, keeping their shading (their difference from `from`).',
    example: 'cr-FF0000_40_0000FF',
    parse: (raw) => {
      const parts = (raw ?? '').split('_');
      if (!raw || parts.length > 3) throw badTransformation(`cr: expected <to>[_<tolerance>[_<from>]], got ${raw ? quote(raw) : 'no value'}`);
      return {
        to: parseColor('cr', parts[0]!),
        tolerance: parts[1] === undefined ? 35 : num('cr tolerance', parts[1], { min: 0, max: 100 }),
        ...(parts[2] !== undefined ? { from: parseColor('cr from', parts[2]) } : {}),
      };
    },
    format: (v) => [v.to.hex, formatNumber(v.tolerance), ...(v.from ? [v.from.hex] : [])].join('_'),
  }),
  step({
    key: 'e-distort',
    sdk: 'distort',
    group: 'Effects',
    field: 'distort',
    syntax:
      '`p-<x1>_<y1>_<x2>_<y2>_<x3>_<y3>_<x4>_<y4>`: integer pixels −16383 to 16383 (`N` negatives); or `a-<degrees>`: 1 to 360, `N` for the other way (e.g. `a-N45`)',
    description:
      "Perspective (`p-…`): the four corners of the image (clockwise from the top-left) move to the given points of a canvas of the image's own size; the image is mapped onto that quadrilateral (bilinear sampling) and the rest of the canvas is transparent. Arc (`a-…`): the image is bent around a circle over that many degrees — positive curves it upwards (the middle highest), negative downwards; the horizontal centre line keeps its length, and the output is the bent shape's bounding box (its size changes), transparent around the shape. Images up to 25 MP at that step (resize first).",
    example: 'e-distort-p-20_0_180_30_200_150_0_120',
    parse: (raw) => {
      const arc = raw === null ? null : /^a-(.*)$/.exec(raw);
      if (arc) {
        const deg = num('e-distort a', arc[1]!, { min: -360, max: 360 }, 'degrees from 1 to 360, N for the other way (e.g. a-45, a-N45)');
        if (deg === 0) throw badTransformation('e-distort a: 0 degrees is no arc; expected 1 to 360, N for the other way (e.g. a-45, a-N45)');
        return { arc: deg };
      }
      const m = raw === null ? null : /^p-(.*)$/.exec(raw);
      const parts = m ? m[1]!.split('_') : [];
      if (parts.length !== 8)
        throw badTransformation(`e-distort: expected p-<x1>_<y1>_<x2>_<y2>_<x3>_<y3>_<x4>_<y4> or a-<degrees>, got ${raw === null ? 'no value' : quote(raw)}`);
      return { corners: parts.map((p) => num('e-distort p', p, { min: -MAX_DIMENSION, max: MAX_DIMENSION, integer: true })) as [number, number, number, number, number, number, number, number] };
    },
    format: (v) => ('arc' in v ? `a-${formatNumber(v.arc)}` : `p-${v.corners.map(formatNumber).join('_')}`),
  }),
  step({
    key: 'e-colorize',
    sdk: 'colorize',
    group: 'Effects',
    field: 'colorize',
    flag: true,
    syntax: 'flag, or `_`-joined `co-<colour>` `in-<0–100>` (defaults co-808080 (grey), in-100)',
    description:
      'Colour tint: the image keeps its lightness and takes the hue and saturation of `co` (libvips tint in Lab; grey gives a greyscale), mixed with the original at `in` % (in-100: fully tinted). Transparency is kept.',
    example: 'e-colorize-co-FF6600_in-60',
    parse: (raw) => {
      const c = { color: GREY, intensity: 100 };
      if (raw === null || raw === 'true') return c;
      const parts = keyedParts('e-colorize', raw, ['co', 'in']);
      if (parts.has('co')) c.color = parseColor('e-colorize co', parts.get('co')!);
      if (parts.has('in')) c.intensity = num('e-colorize in', parts.get('in')!, { min: 0, max: 100 });
      return c;
    },
    format: (v) => (v.color.hex === '808080' && v.intensity === 100 ? '' : `co-${v.color.hex}_in-${formatNumber(v.intensity)}`),
  }),
  step({
    key: 'e-shadow',
    sdk: 'shadow',
    group: 'Effects',
    field: 'shadow',
    flag: true,
    syntax: 'flag, or `_`-joined `bl-<0–15>` `st-<0–100>` `x-<N100–100>` `y-<N100–100>` (defaults bl-10, st-30, x-2, y-2)',
    description:
      'A shadow under the non-transparent pixels (meant for images with a transparent background): blurred by `bl`, `st` % dark, offset by `x`/`y` % of the image width. Only for images up to 2 MP at that step (a 400 otherwise; resize first, e.g. `w-500,e-shadow`).',
    example: 'e-shadow-bl-15_st-40_x-10_y-N5',
    parse: (raw) => {
      const s = { blur: 10, saturation: 30, x: 2, y: 2 };
      if (raw === null || raw === 'true') return s;
      const seen = new Set<string>();
      for (const part of raw.split('_')) {
        const m = /^(bl|st|x|y)-(.+)$/.exec(part);
        if (!m || seen.has(m[1]!))
          throw badTransformation(`e-shadow: expected bl-<0–15>, st-<0–100>, x-<N100–100>, y-<N100–100> joined by "_", got ${quote(part)}`);
        seen.add(m[1]!);
        if (m[1] === 'bl') s.blur = num('e-shadow bl', m[2]!, { min: 0, max: 15 });
        else if (m[1] === 'st') s.saturation = num('e-shadow st', m[2]!, { min: 0, max: 100 });
        else s[m[1] as 'x' | 'y'] = num(`e-shadow ${m[1]}`, m[2]!, { min: -100, max: 100 });
      }
      return s;
    },
    format: (v) =>
      v.blur === 10 && v.saturation === 30 && v.x === 2 && v.y === 2
        ? ''
        : `bl-${formatNumber(v.blur)}_st-${formatNumber(v.saturation)}_x-${formatNumber(v.x)}_y-${formatNumber(v.y)}`,
  }),
  step({
    key: 't',
    sdk: 'trim',
    group: 'Effects',
    field: 't',
    syntax: 'true, or a threshold integer from 1 to 99',
    description: 'Trim a solid border (colour of the top-left pixel); `true` uses threshold 10. `t-false` is accepted and does nothing.',
    example: 't-true',
    parse: (raw) => (raw === 'true' ? 10 : raw === 'false' ? 0 : num('t', raw, { min: 1, max: 99, integer: true }, 'true, false or an integer from 1 to 99')),
    format: (v) => (v === 0 ? null : formatNumber(v)),
  }),
  step({
    key: 'b',
    sdk: 'border',
    group: 'Geometry and colour',
    field: 'b',
    syntax: '`<width>_<colour>`: width 1–1000 px or an expression, colour as for `bg`',
    description: 'Add a border of the given width and colour on every side.',
    example: 'b-5_FFF000',
    parse: (raw) => {
      const at = raw === null ? -1 : raw.lastIndexOf('_');
      if (raw === null || at <= 0) throw badTransformation(`b: expected <width>_<colour> (e.g. b-5_FFF000), got ${raw === null ? 'no value' : quote(raw)}`);
      return { width: numOrExpr('b', raw.slice(0, at), { min: 1, max: 1000, integer: true }), color: parseColor('b', raw.slice(at + 1)) };
    },
    format: (v) => `${formatNumOrExpr(v.width)}_${v.color.hex}`,
  }),
  step({
    key: 'r',
    sdk: 'radius',
    group: 'Geometry and colour',
    field: 'r',
    syntax: '`<px>` 1–5000, `max`, or per corner `<tl>_<tr>_<br>_<bl>` (0–5000 each)',
    description: 'Rounded corners (transparent; filled with `bg` or white when the output format has no alpha). `max` makes a circle/pill.',
    example: 'w-200,h-200:r-max',
    parse: (raw): Radius => {
      if (raw === 'max') return 'max';
      if (raw !== null && raw.includes('_')) {
        const parts = raw.split('_');
        if (parts.length !== 4) throw badTransformation(`r: per-corner radius needs 4 values <tl>_<tr>_<br>_<bl>, got ${quote(raw)}`);
        return parts.map((p) => num('r', p, { min: 0, max: 5000, integer: true })) as [number, number, number, number];
      }
      return num('r', raw, { min: 1, max: 5000, integer: true }, 'an integer 1–5000, max, or <tl>_<tr>_<br>_<bl>');
    },
    format: (v) => (Array.isArray(v) ? v.map(formatNumber).join('_') : v === 'max' ? 'max' : formatNumber(v)),
  }),
  step({
    key: 'rt',
    sdk: 'rotation',
    group: 'Geometry and colour',
    field: 'rt',
    syntax: 'degrees −360 to 360 (negative as `N90`), or auto',
    description: 'Rotate clockwise (`N` = counter-clockwise). Other angles than multiples of 90 fill the corners with `bg` (default transparent, or white in formats without alpha). `auto` applies the EXIF orientation.',
    example: 'rt-90',
    parse: (raw) => {
      if (raw === 'auto') return 'auto';
      const v = num('rt', raw, { min: -360, max: 360 }, 'degrees from -360 to 360 (N90 for -90) or auto');
      return ((v % 360) + 360) % 360; // normalised clockwise 0 ≤ rt < 360
    },
    format: (v) => (v === 'auto' ? 'auto' : v === 0 ? null : formatNumber(v)),
  }),
  step({
    key: 'fl',
    sdk: 'flip',
    group: 'Geometry and colour',
    field: 'fl',
    syntax: 'h | v | h_v | v_h',
    description: 'Flip horizontally (mirror), vertically, or both.',
    example: 'fl-h',
    parse: (raw) => {
      const v = oneOf('fl', raw, ['h', 'v', 'h_v', 'v_h'] as const);
      return v === 'v_h' ? 'h_v' : v;
    },
    format: (v) => v,
  }),
  step({
    key: 'bg',
    sdk: 'background',
    group: 'Geometry and colour',
    field: 'bg',
    syntax:
      'RRGGBB, RRGGBBAA (AA = opacity 00–99), a colour name, `dominant`, `blurred[_<intensity 1–100>|_auto][_<brightness N255–255>]` (pad_resize), or `gradient_dominant[_2|_4]` (pad modes)',
    description:
      'Background: padding colour for cm-pad_resize / pad_extract (default black, as ImageKit documents), fill for free rotation and rounded corners, and the colour transparent images are flattened onto (JPEG output without `bg`: white). `blurred` pads with a blurred, darkened/brightened copy of the image. `gradient_dominant` (= `_2`) pads with a linear gradient between the dominant colours of the two halves of the image facing the padded sides (top and bottom halves when the padding is above and below, left and right halves when it is beside), each colour at its own edge of the canvas; `gradient_dominant_4` blends the dominant colours of the four quarters, each at its corner of the canvas (bilinear). In every pad mode (pad_resize, pad_resize_no_enlarge, pad_extract, pad_extract_no_shrink); without padding it has no effect.',
    example: 'w-300,h-300,cm-pad_resize,bg-blurred_25_N15',
    parse: (raw) => {
      if (raw === null) throw badTransformation('bg: missing value, expected a colour, dominant or blurred');
      if (raw === 'dominant') return { kind: 'dominant' };
      if (raw === 'blurred' || raw.startsWith('blurred_')) {
        const parts = raw.split('_').slice(1);
        if (parts.length > 2) throw badTransformation(`bg: expected blurred[_<intensity>|_auto][_<brightness>], got ${quote(raw)}`);
        const intensity = parts[0] === undefined || parts[0] === 'auto' ? 'auto' : num('bg blurred intensity', parts[0], { min: 1, max: 100, integer: true });
        const brightness = parts[1] === undefined ? 0 : num('bg blurred brightness', parts[1], { min: -255, max: 255, integer: true });
        return { kind: 'blurred', intensity, brightness };
      }
      if (raw === 'gradient_dominant' || raw === 'gradient_dominant_2') return { kind: 'gradient', colors: 2 };
      if (raw === 'gradient_dominant_4') return { kind: 'gradient', colors: 4 };
      if (raw.startsWith('gradient')) throw badTransformation(`bg: expected gradient_dominant, gradient_dominant_2 or gradient_dominant_4, got ${quote(raw)}`);
      return { kind: 'color', color: parseColor('bg', raw) };
    },
    format: (v) =>
      v.kind === 'color'
        ? v.color.hex
        : v.kind === 'dominant'
          ? 'dominant'
          : v.kind === 'gradient'
            ? v.colors === 2
              ? 'gradient_dominant'
              : 'gradient_dominant_4'
            : `blurred_${v.intensity === 'auto' ? 'auto' : formatNumber(v.intensity)}_${formatNumber(v.brightness)}`,
  }),
  step({
    key: 'o',
    sdk: 'opacity',
    group: 'Geometry and colour',
    field: 'o',
    syntax: 'an integer from 0 to 100',
    description: 'Opacity of the image in percent (adds an alpha channel).',
    example: 'o-50',
    parse: (raw) => num('o', raw, { min: 0, max: 100, integer: true }),
    format: (v) => (v === 100 ? null : formatNumber(v)),
  }),
  // ── Output ─────────────────────────────────────────────────────────────────────────────
  output({
    key: 'q',
    sdk: 'quality',
    group: 'Output',
    field: 'quality',
    syntax: 'an integer from 1 to 100',
    description: 'Output quality (account default, normally 80). For AVIF the value is mapped to the AVIF scale (q × 0.625, so 80 → 50).',
    example: 'q-60',
    parse: (raw) => num('q', raw, { min: 1, max: 100, integer: true }),
    format: formatNumber,
  }),
  output({
    key: 'f',
    sdk: 'format',
    group: 'Output',
    field: 'format',
    syntax: FORMAT_VALUES.join(' | '),
    description:
      'Output format. `auto` (default when the account has auto format on): AVIF if the account enables it and Accept allows, else WebP if accepted, else the source family (PNG for PNG and transparent images, GIF for GIF, JPEG otherwise). `orig` keeps the source format. `jpg` = `jpeg`.',
    example: 'f-webp',
    parse: (raw) => {
      const v = oneOf('f', raw, FORMAT_VALUES);
      return v === 'auto' ? undefined : v === 'jpg' ? 'jpeg' : v;
    },
    format: (v) => v,
  }),
  output({
    key: 'pr',
    sdk: 'progressive',
    group: 'Output',
    field: 'progressive',
    syntax: 'true | false',
    description: 'Progressive JPEG (interlaced PNG/GIF).',
    example: 'pr-true',
    parse: (raw) => bool('pr', raw),
    format: (v) => (v ? 'true' : null),
  }),
  output({
    key: 'lo',
    sdk: 'lossless',
    group: 'Output',
    field: 'lossless',
    syntax: 'true | false',
    description: 'Lossless WebP/AVIF output (PNG is always lossless; JPEG ignores it).',
    example: 'f-webp,lo-true',
    parse: (raw) => bool('lo', raw),
    format: (v) => (v ? 'true' : null),
  }),
  output({
    key: 'cp',
    sdk: 'colorProfile',
    group: 'Output',
    field: 'colorProfile',
    syntax: 'true | false',
    description: 'Keep the ICC colour profile (default: converted to sRGB and stripped). Disables AVIF in auto format.',
    example: 'cp-true',
    parse: (raw) => bool('cp', raw),
    format: (v) => (v ? 'true' : null),
  }),
  output({
    key: 'md',
    sdk: 'metadata',
    group: 'Output',
    field: 'metadata',
    syntax: 'true | false',
    description: 'Keep the metadata (EXIF, XMP, IPTC). Default: stripped, after EXIF orientation is applied.',
    example: 'md-true',
    parse: (raw) => bool('md', raw),
    format: (v) => (v ? 'true' : null),
  }),
  output({
    key: 'pg',
    sdk: 'page',
    group: 'Other',
    field: 'page',
    syntax: `a page/frame number 1–10000; a range \`<first>-<last>\` (e.g. \`pg-2-4\`); or a list \`<n>_<m>_…\` (e.g. \`pg-1_3_5\`), at most ${MAX_PAGE_SELECTION} pages`,
    description:
      'Pages or frames of a multi-page or animated original (GIF, animated WebP, multi-page TIFF). One number: that page as a still image. A range or a list: those pages, in that order, through the same chain — an animation when the output can animate (`f-gif`, `f-webp`, a WebP-accepting client with auto format, or the GIF/WebP original\'s own format), otherwise the first of them as a still. A page beyond the original\'s count is a 400. PSD layer names (`pg-name-…`) and PDF originals are not supported.',
    example: 'pg-2',
    parse: (raw) => {
      if (raw !== null && raw.startsWith('name-')) throw badTransformation(`pg: named layers (${quote(raw)}) are PSD layers, which are not supported; give page numbers`);
      const page = (p: string) => num('pg', p, { min: 1, max: 10000, integer: true }, 'a page number from 1 to 10000, a range <first>-<last> or a list <n>_<m>_…');
      const range = raw === null ? null : /^([^-_]+)-([^-_]+)$/.exec(raw);
      let pages: number[];
      if (range) {
        const [first, last] = [page(range[1]!), page(range[2]!)];
        if (last < first) throw badTransformation(`pg: the range ${quote(raw!)} ends before it starts (expected <first>-<last> with first ≤ last)`);
        if (last - first + 1 > MAX_PAGE_SELECTION) throw badTransformation(`pg: the range ${quote(raw!)} selects ${last - first + 1} pages; at most ${MAX_PAGE_SELECTION}`);
        pages = Array.from({ length: last - first + 1 }, (_, i) => first + i);
      } else if (raw !== null && raw.includes('_')) {
        const parts = raw.split('_');
        if (parts.length > MAX_PAGE_SELECTION) throw badTransformation(`pg: the list selects ${parts.length} pages; at most ${MAX_PAGE_SELECTION}`);
        pages = parts.map(page);
      } else return page(raw ?? '');
      return pages.length === 1 ? pages[0]! : pages;
    },
    format: (v) => {
      if (!Array.isArray(v)) return formatNumber(v);
      const run = v.every((p, i) => i === 0 || p === v[i - 1]! + 1);
      return run ? `${v[0]}-${v[v.length - 1]}` : v.join('_');
    },
  }),
  output({
    key: 'di',
    sdk: 'defaultImage',
    group: 'Other',
    field: 'defaultImage',
    syntax: 'a media-library path with `/` written as `@@` (no `..`)',
    description: 'Default image served (with the same transformation) when the original is missing from every origin.',
    example: 'w-300,di-defaults@@missing.jpg',
    parse: (raw) => {
      if (!raw) throw badTransformation('di: expected a path with "/" written as "@@"');
      const path = raw.replace(/@@/g, '/').replace(/^\/+|\/+$/g, '');
      if (!path || path.split('/').some((s) => s === '..' || s === '.' || s === '') || /[\0\\]/.test(path))
        throw badTransformation(`di: ${quote(raw)} is not a valid path`);
      return path;
    },
    format: (v) => v.replace(/\//g, '@@'),
  }),
  output({
    key: 'orig',
    sdk: 'original',
    group: 'Other',
    field: 'original',
    syntax: 'true',
    description: 'Serve the original file untouched; every other parameter is ignored.',
    example: 'orig-true',
    parse: (raw) => bool('orig', raw),
    format: (v) => (v ? 'true' : null),
  }),
];

/** Parameters with special grammar (handled by the parser, documented from here). */
export const SPECIAL_PARAMS = [
  {
    key: 'n',
    sdk: 'named',
    syntax: '`n-<name>`',
    description: 'Named transformation from the account (expanded in place). An unknown name is a 400. Accounts with namedOnly accept nothing else.',
    example: 'n-thumb',
  },
  {
    key: 'if',
    sdk: '(raw)',
    syntax: '`if-<prop>_<op>_<value>[_and|_or_…],<tr>[,if-else,<tr>],if-end`; props w h ar iw ih iar; ops eq ne gt gte lt lte; ar/iar values may be ratios (`4-3`)',
    description: 'Conditional step, evaluated at render time against the current (w h ar) or input (iw ih iar) dimensions. The block is a chain step of its own, and each branch may itself be a chain (`w-200:rt-90`); `and` binds tighter than `or`. Output parameters (f q pr lo cp md di pg) and nested if blocks are not allowed inside.',
    example: 'if-w_gt_400,w-400,if-else,w-200,if-end',
  },
  {
    key: 'l',
    sdk: 'overlay',
    syntax: '`l-image,i-<path, / as @@>|ie-<base64 path>,…,l-end`, `l-text,i-<url-encoded text>|ie-<base64 text>,…,l-end`, `l-image,i-ik_canvas,bg-<colour>,…,l-end`',
    description:
      'Overlays (layers), placed on the result of their step in URL order; several per step, nested up to 3 levels. Image layers take the image parameters (their own chain, `:` inside the block) and are trimmed unless `t-false`; text layers take the text parameters below. See "Layers" and "Text layers".',
    example: 'w-400:l-image,i-logo.png,w-80,lfo-bottom_right,l-end',
  },
] as const;

/** Known ImageKit parameters pixmesh does not implement (a clear 400 instead of "unknown"). */
const LEGACY_OVERLAY_KEYS = ['oi', 'oie', 'ot', 'ote', 'ox', 'oy', 'ow', 'oh', 'oa', 'obg', 'ofo', 'oit', 'oib', 'oiar', 'oic', 'oicm', 'oifo', 'otc', 'otf', 'ots', 'otw', 'oth', 'otbg', 'otp', 'otia', 'otr', 'otlh'];

export const UNSUPPORTED_PARAMS: Readonly<Record<string, string>> = {
  ...Object.fromEntries(LEGACY_OVERLAY_KEYS.map((k) => [k, `legacy overlay parameter (${k}) is not supported (ImageKit retired it in 2023): use layers, l-image|l-text,…,l-end`])),
  'e-bgremove': 'AI effects (e-bgremove) are not supported',
  'e-removedotbg': 'AI effects (e-removedotbg) are not supported',
  'e-upscale': 'AI effects (e-upscale) are not supported',
  'e-retouch': 'AI effects (e-retouch) are not supported',
  'e-genvar': 'AI effects (e-genvar) are not supported',
  'e-dropshadow': 'AI effects (e-dropshadow) are not supported',
  'e-changebg': 'AI effects (e-changebg) are not supported',
  'e-edit': 'AI effects (e-edit) are not supported',
  vc: 'video parameters (vc) are not supported',
  ac: 'video parameters (ac) are not supported',
  so: 'video parameters (so) are not supported',
  eo: 'video parameters (eo) are not supported',
  du: 'video parameters (du) are not supported',
  sr: 'video parameters (sr) are not supported',
};

export const PARAM_BY_KEY: ReadonlyMap<string, ParamSpec> = new Map(PARAMS.map((p) => [p.key, p]));

