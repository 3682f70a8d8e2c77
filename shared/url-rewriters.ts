/**
 * URL rewriters of a URL endpoint (`urlRewriter` of accounts.urlEndpoints; docs/management-api.md
 * "URL rewriters"): a URL in another CDN's dialect → the ImageKit path and `tr` string, before
 * anything else reads the request (shared/request.ts), so the cache key (shared/cache-key.ts) is
 * computed from the rewritten request. Pure; a parameter with no mapping → 400 EBADTR naming it.
 *
 *   CLOUDINARY  /<prefix>/image/upload/w_300,h_200,c_fill/v12/path.jpg
 *   IMGIX       /<prefix>/path.jpg?w=300&h=200&fit=crop
 *   AKAMAI      /<prefix>/path.jpg?im=Resize,width=300,height=200;Quality=80
 */
import { badTransformation } from './errors.js';

export type UrlRewriter = { type: 'CLOUDINARY'; preserveAssetDeliveryTypes: boolean } | { type: 'IMGIX' } | { type: 'AKAMAI' };
export const URL_REWRITER_TYPES = ['CLOUDINARY', 'IMGIX', 'AKAMAI'] as const;

export interface Rewritten {
  /** Path segments (still percent-encoded) after the endpoint prefix. */
  segments: string[];
  /** The ImageKit transformation ("" when none). */
  tr: string;
  /** The query left over (delivery parameters such as ik-attachment, ik-s, ik-t). */
  search: string;
}

const num = (name: string, v: string, re = /^\d+(\.\d+)?$/): string => {
  if (!re.test(v)) throw badTransformation(`${name}: "${v}" is not a number`);
  return v;
};
/** Cloudinary / imgix blur 1–2000 → ImageKit bl 1–100. */
const blur = (name: string, v: string) => String(Math.min(100, Math.max(1, Math.ceil(Number(num(name, v)) / 20))));
const FORMATS = new Set(['jpg', 'jpeg', 'png', 'webp', 'avif', 'gif']);
const format = (name: string, v: string) => {
  const f = v.toLowerCase();
  if (f === 'auto') return 'f-auto';
  if (!FORMATS.has(f)) throw badTransformation(`${name}: format "${v}" is not supported (jpg, png, webp, avif, gif, auto)`);
  return `f-${f === 'jpeg' ? 'jpg' : f}`;
};
const ratio = (name: string, v: string) => {
  const m = /^(\d+(?:\.\d+)?)[:x](\d+(?:\.\d+)?)$/.exec(v);
  if (!m) throw badTransformation(`${name}: "${v}" must be a ratio such as 16:9`);
  return `ar-${m[1]}-${m[2]}`;
};
const GRAVITY: Record<string, string> = {
  face: 'face', faces: 'face', auto: 'auto', center: 'center',
  north: 'top', south: 'bottom', east: 'right', west: 'left',
  north_east: 'top_right', north_west: 'top_left', south_east: 'bottom_right', south_west: 'bottom_left',
};

// ---- Cloudinary --------------------------------------------------------------------------------

const CLD_CROP: Record<string, string> = {
  fill: 'c-maintain_ratio', lfill: 'c-maintain_ratio_no_enlarge', fill_pad: 'cm-pad_resize', thumb: 'c-maintain_ratio',
  scale: 'c-force', fit: 'c-at_max_enlarge', limit: 'c-at_max', mfit: 'c-at_least', pad: 'cm-pad_resize', lpad: 'cm-pad_resize_no_enlarge', crop: 'cm-extract',
};
const ASSET_TYPES = new Set(['image', 'video', 'raw']);
const DELIVERY_TYPES = new Set(['upload', 'private', 'authenticated', 'fetch']);

/** One Cloudinary component ("w_300") → ImageKit parameters. */
function cloudinaryParam(part: string): string[] {
  const us = part.indexOf('_');
  const key = part.slice(0, us);
  const value = part.slice(us + 1);
  const name = `Cloudinary parameter ${key}_`;
  switch (key) {
    case 'w':
      return [`w-${num(name, value)}`];
    case 'h':
      return [`h-${num(name, value)}`];
    case 'c': {
      const c = CLD_CROP[value];
      if (!c) throw badTransformation(`${name}: crop mode "${value}" is not supported (${Object.keys(CLD_CROP).join(', ')})`);
      return [c];
    }
    case 'g': {
      const g = GRAVITY[value];
      if (!g) throw badTransformation(`${name}: gravity "${value}" is not supported (${Object.keys(GRAVITY).join(', ')})`);
      return [`fo-${g}`];
    }
    case 'q':
      return value.startsWith('auto') ? [] : [`q-${num(name, value, /^\d{1,3}$/)}`];
    case 'f':
      return [format(name, value)];
    case 'e': {
      const [effect, arg] = value.split(':');
      if (effect === 'blur') return [`bl-${blur(name, arg ?? '100')}`];
      if (effect === 'grayscale') return ['e-grayscale'];
      if (effect === 'sharpen') return [arg ? `e-sharpen-${num(name, arg, /^\d+$/)}` : 'e-sharpen'];
      throw badTransformation(`${name}: effect "${effect}" is not supported (blur, grayscale, sharpen)`);
    }
    case 'a':
      return [`rt-${value === 'auto' ? 'auto' : num(name, value, /^-?\d+$/)}`];
    case 'r':
      return [`r-${value === 'max' ? 'max' : num(name, value, /^\d+$/)}`];
    case 'ar':
      return [ratio(name, value)];
    case 'dpr':
      return [`dpr-${value === 'auto' ? 'auto' : num(name, value)}`];
    case 'x':
      return [`x-${num(name, value, /^\d+$/)}`];
    case 'y':
      return [`y-${num(name, value, /^\d+$/)}`];
    case 'b': {
      const m = /^rgb:([0-9a-fA-F]{6}|[0-9a-fA-F]{8})$/.exec(value);
      if (m) return [`bg-${m[1]!.toUpperCase()}`];
      if (/^[a-z]+$/.test(value)) return [`bg-${value}`];
      throw badTransformation(`${name}: background "${value}" must be rgb:RRGGBB or a colour name`);
    }
    default:
      throw badTransformation(`${name} is not supported by the Cloudinary URL rewriter`);
  }
}

const decode = (seg: string) => {
  try {
    return decodeURIComponent(seg);
  } catch {
    throw badTransformation('the path is not valid percent-encoding');
  }
};
const isCloudinaryStep = (seg: string) => seg.split(',').every((p) => /^[a-z]{1,4}_./.test(p));

export function rewriteCloudinary(segments: string[], search: string, preserveAssetDeliveryTypes: boolean): Rewritten {
  let rest = [...segments];
  const kept: string[] = [];
  if (rest.length > 2 && ASSET_TYPES.has(rest[0]!) && DELIVERY_TYPES.has(rest[1]!)) {
    kept.push(rest[0]!, rest[1]!);
    rest = rest.slice(2);
  }
  const steps: string[] = [];
  // Transformation steps (chained by "/") come before the version and the public id; the last segment is always the file.
  while (rest.length > 1 && isCloudinaryStep(decode(rest[0]!))) {
    const params = decode(rest[0]!).split(',').flatMap(cloudinaryParam);
    if (params.length) steps.push(params.join(','));
    rest = rest.slice(1);
  }
  if (rest.length > 1 && /^v\d+$/.test(rest[0]!)) rest = rest.slice(1);
  return { segments: [...(preserveAssetDeliveryTypes ? kept : []), ...rest], tr: steps.join(':'), search };
}

// ---- imgix -------------------------------------------------------------------------------------

const IMGIX_FIT: Record<string, string> = { crop: 'c-maintain_ratio', clip: 'c-at_max_enlarge', max: 'c-at_max', min: 'c-at_least', scale: 'c-force', fill: 'cm-pad_resize' };
const IMGIX_CROP: Record<string, string> = { faces: 'face', entropy: 'auto', edges: 'auto', center: 'center', top: 'top', bottom: 'bottom', left: 'left', right: 'right' };
/** Query parameters that are not the foreign CDN's (delivery and pixmesh signing): passed through. */
const PASS = (k: string) => k === 'ik-s' || k === 'ik-t' || k.startsWith('ik-attachment');

function imgixParam(key: string, value: string): string[] {
  const name = `imgix parameter ${key}`;
  switch (key) {
    case 'w':
      return [`w-${num(name, value)}`];
    case 'h':
      return [`h-${num(name, value)}`];
    case 'fit': {
      const c = IMGIX_FIT[value];
      if (!c) throw badTransformation(`${name}: "${value}" is not supported (${Object.keys(IMGIX_FIT).join(', ')})`);
      return [c];
    }
    case 'crop': {
      const first = value.split(',').map((v) => IMGIX_CROP[v]).find(Boolean);
      if (!first) throw badTransformation(`${name}: "${value}" is not supported (${Object.keys(IMGIX_CROP).join(', ')})`);
      return [`fo-${first}`];
    }
    case 'q':
      return [`q-${num(name, value, /^\d{1,3}$/)}`];
    case 'fm':
      return [format(name, value === 'pjpg' ? 'jpg' : value)];
    case 'auto': {
      const tokens = value.split(',');
      for (const t of tokens) if (!['format', 'compress'].includes(t)) throw badTransformation(`${name}: "${t}" is not supported (format, compress)`);
      return tokens.includes('format') ? ['f-auto'] : [];
    }
    case 'blur':
      return Number(value) === 0 ? [] : [`bl-${blur(name, value)}`];
    case 'dpr':
      return [`dpr-${num(name, value)}`];
    case 'rot':
      return [`rt-${num(name, value, /^\d+$/)}`];
    case 'ar':
      return [ratio(name, value)];
    case 'monochrome':
    case 'grayscale':
      return ['e-grayscale'];
    case 'bg': {
      const v = value.replace(/^#/, '');
      if (/^[0-9a-fA-F]{6}$/.test(v)) return [`bg-${v.toUpperCase()}`];
      if (/^[0-9a-fA-F]{3}$/.test(v)) return [`bg-${[...v].map((ch) => ch + ch).join('').toUpperCase()}`];
      throw badTransformation(`${name}: "${value}" must be RGB or RRGGBB hex`);
    }
    case 'ixlib':
      return []; // the client library's name: no effect on the image
    default:
      throw badTransformation(`${name} is not supported by the imgix URL rewriter`);
  }
}

/** Foreign query → ImageKit parameters in a fixed order (so parameter order does not change the cache key). */
function fromQuery(search: string, map: (k: string, v: string) => string[]): { tr: string; search: string } {
  const params = new URLSearchParams(search);
  const out: string[] = [];
  const pass = new URLSearchParams();
  for (const [k, v] of params) {
    if (PASS(k)) pass.append(k, v);
    else out.push(...map(k, v));
  }
  const rest = pass.toString();
  return { tr: [...new Set(out)].sort().join(','), search: rest ? `?${rest}` : '' };
}

export function rewriteImgix(segments: string[], search: string): Rewritten {
  return { segments, ...fromQuery(search, imgixParam) };
}

// ---- Akamai Image Manager ----------------------------------------------------------------------

/** One `im=` command ("Resize,width=300,height=200", "Resize=(300,200)", "Quality=80") → ImageKit parameters. */
function akamaiCommand(cmd: string): string[] {
  const m = /^([A-Za-z]+)(?:=\((\d+),(\d+)\)|=(\w+))?(?:,(.*))?$/.exec(cmd.trim());
  if (!m) throw badTransformation(`Akamai im command "${cmd.slice(0, 60)}" is not valid`);
  const [, command, pw, ph, single, rest] = m;
  const args = new Map<string, string>();
  for (const kv of (rest ?? '').split(',').filter(Boolean)) {
    const [k, v] = kv.split('=');
    if (!k || v === undefined) throw badTransformation(`Akamai im ${command}: "${kv}" is not key=value`);
    args.set(k, v);
  }
  const name = `Akamai im ${command}`;
  const take = (keys: string[]) => {
    for (const k of args.keys()) if (!keys.includes(k)) throw badTransformation(`${name}: argument ${k} is not supported (${keys.join(', ')})`);
  };
  switch (command) {
    case 'Resize': {
      take(['width', 'height', 'aspect']);
      const w = pw ?? args.get('width');
      const h = ph ?? args.get('height');
      const aspect = args.get('aspect') ?? 'fit';
      const crop = { fit: 'c-at_max_enlarge', fill: 'c-maintain_ratio', ignore: 'c-force' }[aspect];
      if (!crop) throw badTransformation(`${name}: aspect "${aspect}" is not supported (fit, fill, ignore)`);
      if (!w && !h) throw badTransformation(`${name} needs width or height`);
      return [...(w ? [`w-${num(name, w, /^\d+$/)}`] : []), ...(h ? [`h-${num(name, h, /^\d+$/)}`] : []), ...(w && h ? [crop] : [])];
    }
    case 'Crop': {
      take(['width', 'height', 'x', 'y']);
      const w = pw ?? args.get('width');
      const h = ph ?? args.get('height');
      if (!w || !h) throw badTransformation(`${name} needs width and height`);
      const x = args.get('x');
      const y = args.get('y');
      return [`w-${num(name, w, /^\d+$/)}`, `h-${num(name, h, /^\d+$/)}`, 'cm-extract', ...(x ? [`x-${num(name, x, /^\d+$/)}`] : []), ...(y ? [`y-${num(name, y, /^\d+$/)}`] : [])];
    }
    case 'Quality':
      take(['quality']);
      return [`q-${num(name, single ?? args.get('quality') ?? '', /^\d{1,3}$/)}`];
    case 'Format':
      take(['format']);
      return [format(name, single ?? args.get('format') ?? '')];
    case 'Blur':
      take([]);
      return ['bl-5'];
    case 'Grayscale':
      take([]);
      return ['e-grayscale'];
    case 'Rotate':
      take(['degrees']);
      return [`rt-${num(name, single ?? args.get('degrees') ?? '', /^\d+$/)}`];
    default:
      throw badTransformation(`${name} is not supported by the Akamai URL rewriter (Resize, Crop, Quality, Format, Blur, Grayscale, Rotate)`);
  }
}

export function rewriteAkamai(segments: string[], search: string): Rewritten {
  const params = new URLSearchParams(search);
  const steps: string[] = [];
  const pass = new URLSearchParams();
  for (const [k, v] of params) {
    if (PASS(k)) pass.append(k, v);
    else if (k === 'im') steps.push(...v.split(';').filter((c) => c.trim()).map((c) => akamaiCommand(c).join(',')));
    else if (k === 'imwidth') steps.push(`w-${num('Akamai imwidth', v, /^\d+$/)}`);
    else if (k === 'imformat') steps.push(format('Akamai imformat', v));
    else throw badTransformation(`Akamai parameter ${k} is not supported by the Akamai URL rewriter (im, imwidth, imformat)`);
  }
  const rest = pass.toString();
  return { segments, tr: steps.join(':'), search: rest ? `?${rest}` : '' };
}

export function rewriteUrl(r: UrlRewriter, segments: string[], search: string): Rewritten {
  switch (r.type) {
    case 'CLOUDINARY':
      return rewriteCloudinary(segments, search, r.preserveAssetDeliveryTypes);
    case 'IMGIX':
      return rewriteImgix(segments, search);
    case 'AKAMAI':
      return rewriteAkamai(segments, search);
  }
}

/** A urlRewriter as the API / account file gives it → the stored one; a message naming the problem otherwise. */
export function parseUrlRewriter(v: unknown): UrlRewriter | string {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return 'urlRewriter must be an object {type}';
  const o = v as Record<string, unknown>;
  if (!URL_REWRITER_TYPES.includes(o.type as never)) return `urlRewriter.type must be one of ${URL_REWRITER_TYPES.join(', ')}`;
  for (const k of Object.keys(o)) if (k !== 'type' && !(o.type === 'CLOUDINARY' && k === 'preserveAssetDeliveryTypes')) return `urlRewriter.${k} is not a field of a ${String(o.type)} rewriter`;
  if (o.type === 'CLOUDINARY') {
    if (o.preserveAssetDeliveryTypes !== undefined && typeof o.preserveAssetDeliveryTypes !== 'boolean') return 'urlRewriter.preserveAssetDeliveryTypes must be a boolean';
    return { type: 'CLOUDINARY', preserveAssetDeliveryTypes: o.preserveAssetDeliveryTypes === true };
  }
  return { type: o.type as 'IMGIX' | 'AKAMAI' };
}
