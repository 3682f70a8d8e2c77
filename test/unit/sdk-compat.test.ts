/**
 * URLs built by the official ImageKit SDKs must parse to the intended plan: @imagekit/javascript
 * buildSrc and @imagekit/nodejs helper.buildSrc, path and query positions, chains, signed or not.
 */
import { buildSrc, getResponsiveImageAttributes, type Transformation } from '@imagekit/javascript';
import ImageKit from '@imagekit/nodejs';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { DEFAULT_ACCOUNT_DEFAULTS, type Account } from '../../shared/accounts.js';
import { parseImagePath } from '../../shared/request.js';
import { canonicalTransformation, negotiateFormat, parseTransformation, type TransformPlan } from '../../shared/transform/index.js';
import { renderImage } from '../../origin/src/pipeline/index.js';

const account: Account = {
  id: 'demo',
  homeRegion: 'eu-central-1',
  privateKey: 'private_test_key',
  publicKey: 'public_test_key',
  residency: 'flexible',
  signedUrls: 'optional',
  namedOnly: false,
  defaults: { ...DEFAULT_ACCOUNT_DEFAULTS },
  namedTransforms: { thumb: 'w-200,h-200,c-at_max', square: 'w-100,h-100:r-max' },
  customDomains: [],
  endpoints: [
    { prefix: '', origins: [{ type: 'media' }] },
    { prefix: 'products', origins: [{ type: 'media' }] },
  ],
};
const EDGE = 'https://edge.example.test';
const ENDPOINT = `${EDGE}/demo`;
const imagekit = new ImageKit({ privateKey: account.privateKey });
/** The two SDKs type their transformation objects separately (nodejs: dpr is a number only). */
type NodeTransformation = NonNullable<Parameters<typeof imagekit.helper.buildSrc>[0]['transformation']>;
const forNode = (t: Transformation[]) => t as unknown as NodeTransformation;

/** Split an SDK URL the way the edge does (account segment first) and parse its transformation. */
function parseUrl(url: string): { plan: TransformPlan; path: string; trPosition: string; signature?: string; endpoint: string } {
  const u = new URL(url);
  const m = /^\/demo(\/.*)$/.exec(u.pathname);
  if (!m) throw new Error(`not an account URL: ${url}`);
  const req = parseImagePath(account, m[1]!, u.search);
  return {
    plan: parseTransformation(req.tr, { namedTransforms: account.namedTransforms, namedOnly: account.namedOnly }),
    path: req.path,
    trPosition: req.trPosition,
    signature: req.signature,
    endpoint: req.endpoint.prefix,
  };
}

// [name, SDK transformation steps, canonical plan]
const CASES: [string, Transformation[], string][] = [
  ['width', [{ width: 300 }], 'w-300'],
  ['width+height', [{ width: 300, height: 200 }], 'h-200,w-300'],
  ['string sizes', [{ width: '400', height: '300' }], 'h-300,w-400'],
  ['fractional width', [{ width: 0.5 }], 'w-0.5'],
  ['expression width', [{ width: 'iw_div_2' }], 'w-iw_div_2'],
  ['aspect ratio', [{ width: 400, aspectRatio: '4-3' }], 'ar-4-3,w-400'],
  ['crop at_max', [{ width: 300, height: 300, crop: 'at_max' }], 'c-at_max,h-300,w-300'],
  ['crop maintain_ratio is the default', [{ width: 300, height: 300, crop: 'maintain_ratio' }], 'h-300,w-300'],
  ['force', [{ width: 300, height: 100, crop: 'force' }], 'c-force,h-100,w-300'],
  ['at_least', [{ width: 300, height: 100, crop: 'at_least' }], 'c-at_least,h-100,w-300'],
  ['pad_resize with bg', [{ width: 300, height: 300, cropMode: 'pad_resize', background: 'F3F3F3' }], 'bg-F3F3F3,cm-pad_resize,h-300,w-300'],
  ['blurred bg', [{ width: 300, height: 300, cropMode: 'pad_resize', background: 'blurred_25_N15' }], 'bg-blurred_25_N15,cm-pad_resize,h-300,w-300'],
  ['extract with x/y', [{ width: 100, height: 100, cropMode: 'extract', x: 10, y: 20 }], 'cm-extract,h-100,w-100,x-10,y-20'],
  ['extract with centre', [{ width: 100, height: 100, cropMode: 'extract', xCenter: 50, yCenter: 60 }], 'cm-extract,h-100,w-100,xc-50,yc-60'],
  ['focus auto', [{ width: 200, height: 200, focus: 'auto' }], 'fo-auto,h-200,w-200'],
  ['focus face + zoom', [{ width: 200, height: 200, focus: 'face', zoom: 0.8 }], 'fo-face,h-200,w-200,z-0.8'],
  ['focus direction', [{ width: 200, height: 200, focus: 'bottom_right' }], 'fo-bottom_right,h-200,w-200'],
  ['dpr', [{ width: 200, dpr: 2 }], 'dpr-2,w-200'],
  ['quality + format', [{ width: 200, quality: 60, format: 'webp' }], 'w-200:f-webp,q-60'],
  ['jpg spelling', [{ format: 'jpg' }], 'f-jpeg'],
  ['format auto', [{ width: 10, format: 'auto' }], 'w-10'],
  ['progressive + lossless', [{ progressive: true, lossless: true }], 'lo-true,pr-true'],
  ['blur', [{ blur: 10 }], 'bl-10'],
  ['grayscale', [{ grayscale: true }], 'e-grayscale'],
  ['contrast', [{ contrastStretch: true }], 'e-contrast'],
  ['sharpen bare', [{ sharpen: true }], 'e-sharpen'],
  ['sharpen amount', [{ sharpen: 10 }], 'e-sharpen-10'],
  ['unsharp mask', [{ unsharpMask: '2-2-0.8-0.024' }], 'e-usm-2-2-0.8-0.024'],
  ['shadow', [{ shadow: true }], 'e-shadow'],
  ['shadow with options', [{ shadow: 'bl-15_st-40_x-10_y-N5' }], 'e-shadow-bl-15_st-40_x-10_y-N5'],
  ['trim true', [{ trim: true }], 't-10'],
  ['trim threshold', [{ trim: 5 }], 't-5'],
  ['border', [{ border: '5_FFF000' }], 'b-5_FFF000'],
  ['radius max', [{ radius: 'max' }], 'r-max'],
  ['radius number', [{ radius: 20 }], 'r-20'],
  ['rotation', [{ rotation: 90 }], 'rt-90'],
  ['negative rotation', [{ rotation: 'N90' }], 'rt-270'],
  ['rotation auto', [{ rotation: 'auto' }], 'rt-auto'],
  ['flip', [{ flip: 'h_v' }], 'fl-h_v'],
  ['opacity', [{ opacity: 50 }], 'o-50'],
  ['colour profile + metadata', [{ colorProfile: true, metadata: true }], 'cp-true,md-true'],
  ['default image', [{ width: 100, defaultImage: '/folder/default-image.jpg' }], 'w-100:di-folder@@default-image.jpg'],
  ['named', [{ named: 'thumb' }], 'c-at_max,h-200,w-200'],
  ['named multi-step', [{ named: 'square' }], 'h-100,w-100:r-max'],
  ['original', [{ original: true }], 'orig-true'],
  ['page', [{ page: 2 }], 'pg-2'],
  ['page range', [{ page: '2-4' }], 'pg-2-4'],
  ['page list', [{ page: '1_3_5' }], 'pg-1_3_5'],
  ['arc distortion', [{ distort: 'a-45' }], 'e-distort-a-45'],
  ['arc distortion the other way', [{ distort: 'a-N45' }], 'e-distort-a-N45'],
  ['perspective distortion', [{ distort: 'p-0_0_100_N10_100_50_0_50' }], 'e-distort-p-0_0_100_N10_100_50_0_50'],
  ['gradient background from dominant colours', [{ width: 300, height: 300, cropMode: 'pad_resize', background: 'gradient_dominant_4' }], 'bg-gradient_dominant_4,cm-pad_resize,h-300,w-300'],
  ['extract around the custom focus, zoomed', [{ width: 100, height: 100, cropMode: 'extract', focus: 'custom', zoom: 2 }], 'cm-extract,fo-custom,h-100,w-100,z-2'],
  ['chain', [{ width: 400, height: 300 }, { rotation: 90 }], 'h-300,w-400:rt-90'],
  ['chain with crop then radius', [{ width: 200, height: 200, crop: 'maintain_ratio' }, { radius: 'max' }, { format: 'png' }], 'h-200,w-200:r-max:f-png'],
  ['raw conditional', [{ raw: 'if-w_gt_400,w-400,if-else,w-200,if-end' }, { quality: 50 }], 'if-w_gt_400,w-400,if-else,w-200,if-end:q-50'],
  ['raw expression', [{ raw: 'w-iw_mul_0.5,h-ih_div_2' }], 'h-ih_div_2,w-iw_mul_0.5'],
];

describe.each(['query', 'path'] as const)('@imagekit/javascript buildSrc, %s position', (position) => {
  it.each(CASES)('%s', (_name, transformation, canonical) => {
    const url = buildSrc({ src: '/folder/sample image.jpg', urlEndpoint: ENDPOINT, transformation, transformationPosition: position });
    const parsed = parseUrl(url);
    expect(parsed.path).toBe('folder/sample image.jpg');
    expect(parsed.trPosition).toBe(position);
    expect(canonicalTransformation(parsed.plan)).toBe(canonical);
  });

  it('works under an endpoint prefix', () => {
    const url = buildSrc({ src: '/shoe.png', urlEndpoint: `${ENDPOINT}/products`, transformation: [{ width: 120 }], transformationPosition: position });
    const parsed = parseUrl(url);
    expect(parsed.endpoint).toBe('products');
    expect(parsed.path).toBe('shoe.png');
    expect(canonicalTransformation(parsed.plan)).toBe('w-120');
  });

  it('keeps other query parameters out of the transformation', () => {
    const url = buildSrc({ src: '/a.jpg', urlEndpoint: ENDPOINT, transformation: [{ width: 120 }], transformationPosition: position, queryParameters: { v: '123' } });
    expect(canonicalTransformation(parseUrl(url).plan)).toBe('w-120');
  });
});

describe.each(['query', 'path'] as const)('@imagekit/nodejs helper.buildSrc, %s position', (position) => {
  it.each(CASES)('%s (signed)', (_name, transformation, canonical) => {
    const url = imagekit.helper.buildSrc({ src: '/folder/sample.jpg', urlEndpoint: ENDPOINT, transformation: forNode(transformation), transformationPosition: position, signed: true });
    const parsed = parseUrl(url);
    expect(parsed.signature).toMatch(/^[0-9a-f]{40}$/);
    expect(parsed.path).toBe('folder/sample.jpg');
    expect(canonicalTransformation(parsed.plan)).toBe(canonical);
  });

  it('unsigned and expiring URLs parse the same', () => {
    const plain = imagekit.helper.buildSrc({ src: '/a.jpg', urlEndpoint: ENDPOINT, transformation: [{ width: 300, height: 200 }], transformationPosition: position });
    const expiring = imagekit.helper.buildSrc({ src: '/a.jpg', urlEndpoint: ENDPOINT, transformation: [{ width: 300, height: 200 }], transformationPosition: position, expiresIn: 300 });
    expect(canonicalTransformation(parseUrl(plain).plan)).toBe('h-200,w-300');
    expect(canonicalTransformation(parseUrl(expiring).plan)).toBe('h-200,w-300');
    expect(new URL(expiring).searchParams.get('ik-t')).toMatch(/^\d+$/);
  });
});

describe('SDK URLs that must be rejected with a 400 naming the parameter', () => {
  it.each<[string, Transformation[], RegExp]>([
    ['unknown key passed through by the SDK', [{ width: 100, foo: 'bar' } as unknown as Transformation], /unknown parameter "foo"/],
    ['unknown named transform', [{ named: 'nope' }], /unknown named transformation "nope"/],
    ['quality out of range', [{ quality: 0 }], /q: .*1 to 100/],
    ['arc distortion of 0 degrees', [{ distort: 'a-0' }], /e-distort a: 0 degrees is no arc/],
    ['AI effect', [{ aiRemoveBackground: true }], /e-bgremove/],
    ['video overlay on an image', [{ overlay: { type: 'video', input: 'clip.mp4' } }], /l-video layers are for videos/],
    ['text overlay with an image-only parameter', [{ overlay: { type: 'text', text: 'Hello', transformation: [{ height: 10 } as never] } }], /"h" does not apply to text layers/],
  ])('%s', (_name, transformation, message) => {
    const url = buildSrc({ src: '/a.jpg', urlEndpoint: ENDPOINT, transformation, transformationPosition: 'query' });
    expect(() => parseUrl(url)).toThrow(message);
  });
});

describe('SDK URLs render the intended size and format', () => {
  it.each<[string, Transformation[], string, number, number, string]>([
    ['resize + webp', [{ width: 100, height: 50, format: 'webp' }], 'image/webp', 100, 50, 'webp'],
    ['at_max chain + rotate', [{ width: 100, height: 100, crop: 'at_max' }, { rotation: 90 }], '*/*', 75, 100, 'jpeg'],
    ['auto format + named', [{ named: 'thumb' }], 'image/avif,image/webp,*/*', 200, 150, 'webp'],
    ['pad + png', [{ width: 80, height: 80, cropMode: 'pad_resize', background: 'FFFFFF', format: 'png' }], '*/*', 80, 80, 'png'],
    ['radius via source', [{ width: 60, height: 60 }, { radius: 'max' }], '*/*', 60, 60, 'png'],
  ])('%s', async (_name, transformation, accept, w, h, format) => {
    const input = await sharp({ create: { width: 400, height: 300, channels: 3, background: '#336699' } }).jpeg().toBuffer();
    const url = imagekit.helper.buildSrc({ src: '/a.jpg', urlEndpoint: ENDPOINT, transformation: forNode(transformation), transformationPosition: 'path', signed: true });
    const { plan } = parseUrl(url);
    const negotiated = negotiateFormat(plan, accept, account.defaults);
    const out = await renderImage(input, plan, { format: negotiated.format, defaults: account.defaults });
    expect([out.width, out.height, out.format]).toEqual([w, h, format]);
    const m = await sharp(out.data).metadata();
    expect([m.width, m.height, m.format]).toEqual([w, h, format]);
  });
});

describe('@imagekit/javascript getResponsiveImageAttributes', () => {
  it('every srcset candidate parses to the intended at_max width (and keeps the user step)', () => {
    const attrs = getResponsiveImageAttributes({ src: '/a.jpg', urlEndpoint: ENDPOINT, sizes: '100vw', transformation: [{ quality: 60 }] });
    const candidates = (attrs.srcSet ?? '').split(', ').map((c) => c.split(' ') as [string, string]);
    expect(candidates.length).toBeGreaterThan(5);
    for (const [url, descriptor] of candidates) {
      const w = Number(descriptor.replace(/w$/, ''));
      expect(canonicalTransformation(parseUrl(url).plan)).toBe(`c-at_max,w-${w}:q-60`);
    }
  });
});
