/**
 * Overlays (layers): `l-image|l-text,…,l-end` blocks. The parameter records for layer position,
 * layer mode and text style live here (the same declarative shape as params.ts: parser, docs and
 * canonical cache-key form all come from them); image layers take the ordinary step parameters of
 * params.ts for their own chain. Pure (edge and origin).
 */
import { badTransformation } from '../errors.js';
import { FOCUS_VALUES, MAX_DIMENSION, PARAM_BY_KEY, type StepSpec } from './params.js';
import type { CanvasLayer, Color, Gravity, ImageLayer, Layer, LayerMode, LayerPosition, NumOrExpr, StepOps, TextLayer, TextStyle } from './types.js';
import { formatNumber, formatNumOrExpr, insideLayer, num, numOrExpr, oneOf, parseColor, quote } from './values.js';

/** Layers nest at most this deep (ImageKit: 3). */
export const MAX_LAYER_DEPTH = 3;
/** Layers in one transformation, nested ones included. */
export const MAX_LAYERS = 20;
/** ImageKit cuts plain text after 2000 characters and base64 text after 2500. */
export const MAX_TEXT_CHARS = 2000;
export const MAX_TEXT_BASE64_CHARS = 2500;
/** Offsets and sizes inside layers: generous, the pipeline's output limits bound the real pixels. */
const MAX_OFFSET = MAX_DIMENSION * 4;

export const GRAVITIES = FOCUS_VALUES.filter((f): f is Gravity => f !== 'auto' && f !== 'face');
export const LAYER_MODES: readonly LayerMode[] = ['multiply', 'displace', 'cutout', 'cutter'];
export const TEXT_ALIGNMENTS = ['left', 'center', 'right'] as const;

/** Built-in fonts shipped with pixmesh (origin/src/pipeline/fonts.ts maps them to files). */
export const BUILTIN_FONTS: Readonly<Record<string, string>> = {
  opensans: 'Open Sans',
  dejavusans: 'DejaVu Sans',
  dejavuserif: 'DejaVu Serif',
  dejavusansmono: 'DejaVu Sans Mono',
};
export const DEFAULT_FONT = 'opensans';
export const DEFAULT_FONT_SIZE = 14;

/** `Open Sans`, `open_sans`, `OpenSans`, `open-sans` → `opensans`. */
export const fontId = (name: string) => name.toLowerCase().replace(/[\s_-]+/g, '');

interface LayerSpecBase {
  key: string;
  sdk: string;
  syntax: string;
  description: string;
  /** A whole `tr` that parses. */
  example: string;
}
export interface PositionSpec extends LayerSpecBase {
  group: 'Layers';
  field: keyof LayerPosition | 'mode';
  parse(raw: string | null): NumOrExpr | Gravity | LayerMode;
  format(v: never): string;
}
export interface TextSpec extends LayerSpecBase {
  group: 'Text layers';
  field: keyof TextStyle;
  parse(raw: string | null): TextStyle[keyof TextStyle];
  /** Canonical value; null = the default (dropped). */
  format(v: never): string | null;
}

const offset = (key: string) => (raw: string | null) => numOrExpr(key, raw, { min: -MAX_OFFSET, max: MAX_OFFSET });
const stepParse = (key: string) => (PARAM_BY_KEY.get(key) as StepSpec).parse;
const stepFormat = (key: string) => (PARAM_BY_KEY.get(key) as StepSpec).format as (v: unknown) => string | null;

export const POSITION_PARAMS: readonly PositionSpec[] = [
  {
    key: 'lx',
    sdk: 'position.x',
    group: 'Layers',
    field: 'x',
    syntax: 'pixels (`N` negative) or an expression with `bw bh bar` (base) and `cw ch` (the layer)',
    description:
      "Horizontal position of the layer's left edge, from the anchor (`lap`, default top_left). With the default anchor a negative value counts from the right edge: `lx-N10` puts the layer's right edge 10 px inside the base's.",
    example: 'l-image,i-logo.png,lx-10,ly-N10,l-end',
    parse: offset('lx'),
    format: formatNumOrExpr as (v: never) => string,
  },
  {
    key: 'ly',
    sdk: 'position.y',
    group: 'Layers',
    field: 'y',
    syntax: 'as `lx`',
    description: "Vertical position of the layer's top edge; with the default anchor a negative value counts from the bottom edge.",
    example: 'l-image,i-logo.png,lx-bw_sub_cw_sub_10,ly-10,l-end',
    parse: offset('ly'),
    format: formatNumOrExpr as (v: never) => string,
  },
  {
    key: 'lxc',
    sdk: 'position.xCenter',
    group: 'Layers',
    field: 'xc',
    syntax: 'as `lx`',
    description: "Horizontal position of the layer's centre, from the anchor. Not together with `lx`.",
    example: 'l-text,i-Hello,lxc-bw_div_2,lyc-bh_div_2,l-end',
    parse: offset('lxc'),
    format: formatNumOrExpr as (v: never) => string,
  },
  {
    key: 'lyc',
    sdk: 'position.yCenter',
    group: 'Layers',
    field: 'yc',
    syntax: 'as `lx`',
    description: "Vertical position of the layer's centre, from the anchor. Not together with `ly`.",
    example: 'l-text,i-Hello,lxc-100,lyc-50,l-end',
    parse: offset('lyc'),
    format: formatNumOrExpr as (v: never) => string,
  },
  {
    key: 'lap',
    sdk: 'position.anchorPoint',
    group: 'Layers',
    field: 'anchor',
    syntax: GRAVITIES.join(' | '),
    description: 'The point of the base that `lx ly lxc lyc` count from (offsets grow right and down). Only with one of them.',
    example: 'l-image,i-logo.png,lap-bottom_right,lx-N110,ly-N60,l-end',
    parse: (raw) => oneOf('lap', raw, GRAVITIES),
    format: ((v: Gravity) => v) as (v: never) => string,
  },
  {
    key: 'lfo',
    sdk: 'position.focus',
    group: 'Layers',
    field: 'focus',
    syntax: GRAVITIES.join(' | '),
    description: 'Place the layer against an edge or corner of the base (default center). Ignored when `lx ly lxc lyc` are given.',
    example: 'l-image,i-logo.png,lfo-bottom_right,l-end',
    parse: (raw) => oneOf('lfo', raw, GRAVITIES),
    format: ((v: Gravity) => v) as (v: never) => string,
  },
  {
    key: 'lm',
    sdk: 'layerMode',
    group: 'Layers',
    field: 'mode',
    syntax: LAYER_MODES.join(' | '),
    description:
      "How the layer blends. multiply: multiplies the colours (darker). cutout: the layer's opaque pixels make the base transparent. cutter: only the base under the layer's opaque pixels is kept, cropped to the layer. displace: the layer's red/green channels shift the base's pixels horizontally/vertically by up to the layer's `x`/`y` pixels.",
    example: 'l-image,i-logo.png,lm-multiply,l-end',
    parse: (raw) => oneOf('lm', raw, LAYER_MODES),
    format: ((v: LayerMode) => v) as (v: never) => string,
  },
];

const typographies = ['b', 'i', 'strikethrough'] as const;

export const TEXT_PARAMS: readonly TextSpec[] = [
  {
    key: 'w',
    sdk: 'width',
    group: 'Text layers',
    field: 'w',
    syntax: `pixels 1–${MAX_DIMENSION} or an expression (\`bw_mul_0.5\`)`,
    description: 'Width of the text box: the text wraps at word (then character) boundaries to fit, aligned by `ia`.',
    example: 'l-text,i-A%20long%20caption%20that%20wraps,w-120,l-end',
    parse: (raw) => numOrExpr('text w', raw, { min: 1, max: MAX_DIMENSION }),
    format: formatNumOrExpr as (v: never) => string,
  },
  {
    key: 'fs',
    sdk: 'fontSize',
    group: 'Text layers',
    field: 'fs',
    syntax: 'pixels 1–2000 or an expression (`bh_div_10`)',
    description: `Font size in pixels (default ${DEFAULT_FONT_SIZE}).`,
    example: 'l-text,i-Hello,fs-40,l-end',
    parse: (raw) => numOrExpr('fs', raw, { min: 1, max: 2000 }),
    format: ((v: NumOrExpr) => (v === DEFAULT_FONT_SIZE ? null : formatNumOrExpr(v))) as (v: never) => string | null,
  },
  {
    key: 'ff',
    sdk: 'fontFamily',
    group: 'Text layers',
    field: 'ff',
    syntax: `a built-in font (${Object.values(BUILTIN_FONTS).join(', ')}; case, spaces, \`-\` and \`_\` ignored) or a TTF/OTF file in the media library, \`/\` written as \`@@\``,
    description: `Font. Default ${BUILTIN_FONTS[DEFAULT_FONT]}. A value with a dot (\`fonts@@Brand.ttf\`) is a font file of the account, fetched like an image layer.`,
    example: 'l-text,i-Hello,ff-DejaVu%20Serif,l-end',
    parse: (raw) => {
      if (!raw) throw badTransformation('ff: expected a font name or a font file path');
      if (raw.includes('.')) return { path: layerPath('ff', raw) };
      const id = fontId(raw);
      if (!BUILTIN_FONTS[id])
        throw badTransformation(`ff: unknown font ${quote(raw)}; built-in fonts are ${Object.values(BUILTIN_FONTS).join(', ')}, or give a .ttf/.otf path from the media library`);
      return { builtin: id };
    },
    format: ((v: NonNullable<TextStyle['ff']>) =>
      'builtin' in v ? (v.builtin === DEFAULT_FONT ? null : v.builtin) : v.path.replace(/\//g, '@@')) as (v: never) => string | null,
  },
  {
    key: 'co',
    sdk: 'fontColor',
    group: 'Text layers',
    field: 'co',
    syntax: 'RRGGBB, RRGGBBAA (AA = opacity 00–99) or a colour name',
    description: 'Text colour (default black).',
    example: 'l-text,i-Hello,co-FF0000,l-end',
    parse: (raw) => parseColor('co', raw ?? ''),
    format: ((v: Color) => (v.hex === '000000' ? null : v.hex)) as (v: never) => string | null,
  },
  {
    key: 'ia',
    sdk: 'innerAlignment',
    group: 'Text layers',
    field: 'ia',
    syntax: TEXT_ALIGNMENTS.join(' | '),
    description: 'Alignment of the lines inside the text box (default center).',
    example: 'l-text,i-Hello,w-200,ia-left,l-end',
    parse: (raw) => oneOf('ia', raw, TEXT_ALIGNMENTS),
    format: ((v: string) => (v === 'center' ? null : v)) as (v: never) => string | null,
  },
  {
    key: 'pa',
    sdk: 'padding',
    group: 'Text layers',
    field: 'pa',
    syntax: '1 to 4 values joined by `_` in CSS order (all; vertical_horizontal; top_horizontal_bottom; top_right_bottom_left), each 0–2000 px',
    description: 'Padding between the text and the edge of its box (the box shows with `bg`).',
    example: 'l-text,i-Hello,pa-10_20,bg-FFFFFF,l-end',
    parse: (raw) => {
      const parts = (raw ?? '').split('_');
      if (!raw || parts.length > 4) throw badTransformation(`pa: expected 1 to 4 values joined by "_", got ${raw ? quote(raw) : 'no value'}`);
      const v = parts.map((p) => num('pa', p, { min: 0, max: 2000 }));
      const [t, r = t, b = t, l = r] = v as [number, number?, number?, number?];
      return [t, r, b, l] as [number, number, number, number];
    },
    format: ((v: [number, number, number, number]) => (v.every((x) => x === 0) ? null : v.map((x) => formatNumOrExpr(x)).join('_'))) as (v: never) => string | null,
  },
  {
    key: 'al',
    sdk: 'alpha',
    group: 'Text layers',
    field: 'al',
    syntax: 'an integer from 1 to 9',
    description: 'Opacity of the text in tenths (`al-5` = 50 %).',
    example: 'l-text,i-Hello,al-5,l-end',
    parse: (raw) => num('al', raw, { min: 1, max: 9, integer: true }),
    format: formatNumber as (v: never) => string,
  },
  {
    key: 'tg',
    sdk: 'typography',
    group: 'Text layers',
    field: 'tg',
    syntax: '`b`, `i`, `strikethrough`, combined with `_` (`b_i`)',
    description: 'Bold, italic, strikethrough.',
    example: 'l-text,i-Hello,tg-b_i,l-end',
    parse: (raw) => {
      const out: NonNullable<TextStyle['tg']> = {};
      for (const p of (raw ?? '').split('_')) {
        if (!(typographies as readonly string[]).includes(p)) throw badTransformation(`tg: expected b, i or strikethrough joined by "_", got ${quote(raw ?? '')}`);
        out[p as (typeof typographies)[number]] = true;
      }
      return out;
    },
    format: ((v: NonNullable<TextStyle['tg']>) => typographies.filter((t) => v[t]).join('_')) as (v: never) => string,
  },
  {
    key: 'lh',
    sdk: 'lineHeight',
    group: 'Text layers',
    field: 'lh',
    syntax: 'pixels 1–2000 or an expression',
    description: 'Distance between the baselines of wrapped lines (default: the font’s own).',
    example: 'l-text,i-Hello%20world,w-60,lh-30,l-end',
    parse: (raw) => numOrExpr('lh', raw, { min: 1, max: 2000 }),
    format: formatNumOrExpr as (v: never) => string,
  },
  {
    key: 'bg',
    sdk: 'background',
    group: 'Text layers',
    field: 'bg',
    syntax: 'RRGGBB, RRGGBBAA or a colour name',
    description: 'Background of the text box (default transparent).',
    example: 'l-text,i-Hello,bg-FFFFFF80,pa-8,l-end',
    parse: (raw) => parseColor('bg', raw ?? ''),
    format: ((v: Color) => v.hex) as (v: never) => string,
  },
  {
    key: 'r',
    sdk: 'radius',
    group: 'Text layers',
    field: 'r',
    syntax: 'as the image `r`',
    description: 'Rounded corners of the text box.',
    example: 'l-text,i-Hello,bg-red,pa-10,r-8,l-end',
    parse: stepParse('r') as TextSpec['parse'],
    format: stepFormat('r') as (v: never) => string,
  },
  {
    key: 'rt',
    sdk: 'rotation',
    group: 'Text layers',
    field: 'rt',
    syntax: 'degrees −360 to 360 (`N` negative)',
    description: 'Rotate the text box clockwise.',
    example: 'l-text,i-Hello,rt-N45,l-end',
    parse: (raw) => {
      if (raw === 'auto') throw badTransformation('rt: auto is for images; a text layer takes degrees');
      return stepParse('rt')(raw) as number;
    },
    format: stepFormat('rt') as (v: never) => string | null,
  },
  {
    key: 'fl',
    sdk: 'flip',
    group: 'Text layers',
    field: 'fl',
    syntax: 'h | v | h_v | v_h',
    description: 'Mirror the text box.',
    example: 'l-text,i-Hello,fl-h,l-end',
    parse: stepParse('fl') as TextSpec['parse'],
    format: stepFormat('fl') as (v: never) => string,
  },
];

const POSITION_BY_KEY = new Map(POSITION_PARAMS.map((p) => [p.key, p]));
const TEXT_BY_KEY = new Map(TEXT_PARAMS.map((p) => [p.key, p]));
const IMAGE_LAYER_REFUSED = new Set(['f', 'pr', 'lo', 'cp', 'md', 'di', 'orig', 'pg']);

/** A media-library path written with `@@` for `/` (as `di-` and `ff-` take it). */
export function layerPath(key: string, raw: string): string {
  const path = raw.replace(/@@/g, '/').replace(/^\/+|\/+$/g, '');
  if (!path || path.split('/').some((s) => s === '..' || s === '.' || s === '') || /[\0\\]/.test(path))
    throw badTransformation(`${key}: ${quote(raw)} is not a valid path`);
  return path;
}

function percentDecode(raw: string): string {
  if (!/%[0-9A-Fa-f]{2}/.test(raw)) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw; // a literal % (the query form was decoded once already)
  }
}

/** `ie-` values: URL-encoded base64 of UTF-8. */
function decodeBase64(key: string, raw: string, maxChars?: number): string {
  // url-safe alphabet accepted; a space is a "+" that went through form decoding
  let b64 = percentDecode(raw).replace(/[- ]/g, '+').replace(/_/g, '/');
  if (maxChars !== undefined && b64.length > maxChars) b64 = b64.slice(0, maxChars - (maxChars % 4));
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length === 0) throw badTransformation(`${key}: ${quote(raw)} is not base64`);
  let bin: string;
  try {
    bin = atob(b64.padEnd(Math.ceil(b64.length / 4) * 4, '='));
  } catch {
    throw badTransformation(`${key}: ${quote(raw)} is not base64`);
  }
  const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  // a cut may split a UTF-8 sequence at the end: drop it rather than refusing the whole text
  const text = new TextDecoder().decode(bytes);
  return maxChars !== undefined ? text.replace(/\uFFFD+$/, '') : text;
}

export function encodeBase64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** Tokens of a layer block: strings, ':' (a chain-step boundary inside the layer) or already-parsed nested layers. */
export type LayerToken = string | Layer;

/** Turns one step's tokens into StepOps (parse.ts's parseOps, passed in to keep the modules acyclic). */
export type OpsParser = (tokens: LayerToken[]) => StepOps;

/**
 * Parse `tokens[start]` = `l-<type>` … matching `l-end`. `:` inside the block separates the
 * layer's own chain steps (the SDK joins an overlay's `transformation` array with `:`).
 */
export function parseLayerBlock(
  tokens: readonly string[],
  start: number,
  depth: number,
  parseOps: OpsParser,
  counter: { layers: number },
): { layer: Layer; next: number } {
  const head = tokens[start]!;
  const type = head.slice(2);
  if (depth > MAX_LAYER_DEPTH) throw badTransformation(`l: layers nest at most ${MAX_LAYER_DEPTH} levels`);
  if (++counter.layers > MAX_LAYERS) throw badTransformation(`l: at most ${MAX_LAYERS} layers in one transformation`);
  if (type === 'video' || type === 'subtitles') throw badTransformation(`l: ${head} layers are for videos; images take l-image and l-text`);
  if (type !== 'image' && type !== 'text') throw badTransformation(`l: unknown layer type ${quote(head)} (expected l-image or l-text)`);
  const steps: LayerToken[][] = [[]];
  let i = start + 1;
  let closed = false;
  while (i < tokens.length) {
    const t = tokens[i]!;
    if (t === 'l-end') {
      closed = true;
      i++;
      break;
    }
    if (t === ':') {
      steps.push([]);
      i++;
      continue;
    }
    if (t.startsWith('l-')) {
      const child = parseLayerBlock(tokens, i, depth + 1, parseOps, counter);
      steps[steps.length - 1]!.push(child.layer);
      i = child.next;
      continue;
    }
    steps[steps.length - 1]!.push(t);
    i++;
  }
  if (!closed) throw badTransformation(`l: ${quote(head)} has no matching l-end`);

  // layer-level tokens: input, position, mode (anywhere in the block)
  let input: { key: 'i' | 'ie'; raw: string } | undefined;
  const position: LayerPosition = {};
  let mode: LayerMode | undefined;
  const rest = steps.map((stepTokens) =>
    stepTokens.filter((t) => {
      if (typeof t !== 'string') return true;
      const dash = t.indexOf('-');
      const key = dash < 0 ? t : t.slice(0, dash);
      const raw = dash < 0 ? null : t.slice(dash + 1);
      if (key === 'i' || key === 'ie') {
        if (input) throw badTransformation(`l: ${head} has more than one input (i- / ie-)`);
        if (!raw) throw badTransformation(`${key}: missing value`);
        input = { key, raw };
        return false;
      }
      const spec = POSITION_BY_KEY.get(key);
      if (!spec) return true;
      const v = insideLayer(() => spec.parse(raw));
      if (spec.field === 'mode') mode = v as LayerMode;
      else (position as Record<string, unknown>)[spec.field] = v;
      return false;
    }),
  );
  if (!input) throw badTransformation(`l: ${head} needs an input (i-<${type === 'text' ? 'text' : 'path'}> or ie-<base64>)`);
  if (position.x !== undefined && position.xc !== undefined) throw badTransformation('l: lx and lxc cannot be used together');
  if (position.y !== undefined && position.yc !== undefined) throw badTransformation('l: ly and lyc cannot be used together');
  if (position.anchor && position.x === undefined && position.y === undefined && position.xc === undefined && position.yc === undefined)
    throw badTransformation('lap: the anchor point needs lx, ly, lxc or lyc');
  const { key: inKey, raw: inRaw } = input;
  const base = { position, ...(mode ? { mode } : {}) };

  let layer: Layer;
  if (type === 'text') {
    let text = inKey === 'ie' ? decodeBase64('ie', inRaw, MAX_TEXT_BASE64_CHARS) : percentDecode(inRaw);
    if (inKey === 'i') text = [...text].slice(0, MAX_TEXT_CHARS).join('');
    if (!text) throw badTransformation('l-text: the text is empty');
    const style: TextStyle = {};
    for (const stepTokens of rest)
      for (const t of stepTokens) {
        if (typeof t !== 'string') throw badTransformation('l-text: a text layer cannot hold other layers');
        const dash = t.indexOf('-');
        const key = dash < 0 ? t : t.slice(0, dash);
        const spec = TEXT_BY_KEY.get(key);
        if (!spec) throw badTransformation(`l-text: ${quote(key)} does not apply to text layers (they take ${TEXT_PARAMS.map((p) => p.key).join(' ')} and the layer position)`);
        (style as Record<string, unknown>)[spec.field] = insideLayer(() => spec.parse(dash < 0 ? null : percentDecode(t.slice(dash + 1))));
      }
    if (mode === 'displace') throw badTransformation('lm-displace: a displacement map must be an image layer');
    layer = { type: 'text', text, style, ...base } satisfies TextLayer;
  } else {
    const path = inKey === 'ie' ? layerPath('ie', decodeBase64('ie', inRaw)) : layerPath('i', percentDecode(inRaw));
    let trim = true;
    let displace: { x: number; y: number } | undefined;
    const parsed = rest.map((stepTokens, s) => {
      for (const t of stepTokens) {
        if (typeof t !== 'string') continue;
        const key = t.split('-')[0]!;
        if (IMAGE_LAYER_REFUSED.has(key)) throw badTransformation(`l-image: ${key}- is an output parameter and cannot be used inside a layer`);
        if (s === 0 && (t === 't-false' || t === 't-0')) trim = false;
      }
      // q is accepted in image layers (ImageKit lists it) but the output's quality decides: validated, then dropped
      stepTokens = stepTokens.filter((t) => typeof t !== 'string' || !t.startsWith('q-') || (num('q', t.slice(2), { min: 1, max: 100, integer: true }), false));
      if (mode === 'displace' && s === 0) {
        // the layer's x / y are the displacement strength, not an extract offset
        displace = { x: 0, y: 0 };
        stepTokens = stepTokens.filter((t) => {
          if (typeof t !== 'string' || !/^[xy]-/.test(t)) return true;
          displace![t[0] as 'x' | 'y'] = num(`lm-displace ${t[0]}`, t.slice(2), { min: -1000, max: 1000 });
          return false;
        });
        if (!displace.x && !displace.y) throw badTransformation('lm-displace: needs x-<px> and/or y-<px> inside the layer (the displacement strength)');
      }
      return insideLayer(() => parseOps(stepTokens));
    });
    const steps = parsed.filter((ops, s) => s === 0 || Object.keys(ops).length > 0);
    if (!steps.length) steps.push({});
    if (path === 'ik_canvas') {
      const bg = steps[0]!.bg;
      if (bg?.kind !== 'color') throw badTransformation('l-image,i-ik_canvas: a solid block needs bg-<colour>');
      layer = { type: 'canvas', color: bg.color, steps, ...base, ...(displace ? { displace } : {}) } satisfies CanvasLayer;
    } else layer = { type: 'image', path, steps, trim, ...base, ...(displace ? { displace } : {}) } satisfies ImageLayer;
  }
  return { layer, next: i };
}

/** The canonical `l-…,l-end` text of a layer; `ops` is the canonical form of one step (index.ts). */
export function canonicalLayer(layer: Layer, ops: (o: StepOps) => string): string {
  const parts: string[] = [];
  if (layer.type === 'text') parts.push('l-text', `ie-${encodeBase64(layer.text)}`);
  else if (layer.type === 'canvas') parts.push('l-image', 'i-ik_canvas');
  else parts.push('l-image', /^[a-zA-Z0-9._/ -]*$/.test(layer.path) ? `i-${layer.path.replace(/\//g, '@@')}` : `ie-${encodeBase64(layer.path)}`);
  for (const spec of POSITION_PARAMS) {
    const v = spec.field === 'mode' ? layer.mode : layer.position[spec.field];
    if (v !== undefined) parts.push(`${spec.key}-${spec.format(v as never)}`);
  }
  if (layer.displace) {
    if (layer.displace.x) parts.push(`x-${formatNumber(layer.displace.x)}`);
    if (layer.displace.y) parts.push(`y-${formatNumber(layer.displace.y)}`);
  }
  if (layer.type === 'text') {
    for (const spec of TEXT_PARAMS) {
      const v = layer.style[spec.field];
      if (v === undefined) continue;
      const text = spec.format(v as never);
      if (text !== null) parts.push(`${spec.key}-${text}`);
    }
  } else {
    if (layer.type === 'image' && !layer.trim && layer.steps[0]?.t === undefined) parts.push('t-false');
    const chain = layer.steps.map(ops);
    while (chain.length > 1 && chain[chain.length - 1] === '') chain.pop();
    const text = chain.join(':');
    if (text) parts.push(text);
  }
  parts.push('l-end');
  return parts.join(',');
}

/** Every layer of a step list, nested ones included (depth first). */
export function allLayers(steps: readonly StepOps[]): Layer[] {
  const out: Layer[] = [];
  const walk = (list: readonly StepOps[]) => {
    for (const s of list)
      for (const l of s.layers ?? []) {
        out.push(l);
        if (l.type !== 'text') walk(l.steps);
      }
  };
  walk(steps);
  return out;
}
