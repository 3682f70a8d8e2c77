/**
 * The layer grammar (shared/transform/layers.ts): what parses into which layer, what is refused
 * with a 400 naming the part, canonical forms, and the URLs the official SDK builds from its
 * `overlay` objects.
 */
import { buildSrc, type Transformation } from '@imagekit/javascript';
import { describe, expect, it } from 'vitest';
import { canonicalTransformation, parseTransformation, type Layer } from '../../shared/transform/index.js';
import { parseImagePath } from '../../shared/request.js';
import { DEFAULT_ACCOUNT_DEFAULTS, type Account } from '../../shared/accounts.js';

const DEMO: Account = {
  id: 'demo',
  homeRegion: 'eu-central-1',
  privateKey: 'private_test_key',
  publicKey: 'public_test_key',
  residency: 'flexible',
  signedUrls: 'optional',
  namedOnly: false,
  defaults: { ...DEFAULT_ACCOUNT_DEFAULTS },
  namedTransforms: {},
  customDomains: [],
  endpoints: [{ prefix: '', origins: [{ type: 'media' }] }],
};

const firstLayer = (tr: string): Layer => {
  const step = parseTransformation(tr).steps[0]!;
  if (step.type !== 'ops' || !step.layers?.[0]) throw new Error('no layer');
  return step.layers[0];
};

describe('layer blocks parse into layers', () => {
  it.each<[string, string, Record<string, unknown>]>([
    ['image path with @@', 'l-image,i-brand@@logo.png,l-end', { type: 'image', path: 'brand/logo.png', trim: true }],
    ['image path as base64', `l-image,ie-${encodeURIComponent(btoa('dir/ü.png'.replace('ü', 'u')))},l-end`, { type: 'image', path: 'dir/u.png' }],
    ['t-false turns the default trim off', 'l-image,i-a.png,t-false,l-end', { type: 'image', trim: false }],
    ['position lx ly with N negatives', 'l-image,i-a.png,lx-10,ly-N20,l-end', { position: { x: 10, y: -20 } }],
    ['lxc lyc lap', 'l-image,i-a.png,lap-bottom_right,lxc-N5,lyc-N5,l-end', { position: { xc: -5, yc: -5, anchor: 'bottom_right' } }],
    ['lfo', 'l-image,i-a.png,lfo-top_left,l-end', { position: { focus: 'top_left' } }],
    ['lm mode', 'l-image,i-a.png,lm-multiply,l-end', { mode: 'multiply' }],
    ['displace strength from x/y', 'l-image,i-map.png,lm-displace,x-10,y-N4,l-end', { mode: 'displace', displace: { x: 10, y: -4 } }],
    ['text, url-encoded', 'l-text,i-Hello%2C%20W%C3%B6rld%3A%20ok,l-end', { type: 'text', text: 'Hello, Wörld: ok' }],
    ['text, base64 (emoji)', `l-text,ie-${encodeURIComponent(Buffer.from('Hi 😀', 'utf8').toString('base64'))},l-end`, { type: 'text', text: 'Hi 😀' }],
    ['solid block', 'l-image,i-ik_canvas,bg-FF000080,w-100,h-20,l-end', { type: 'canvas', color: { r: 255, g: 0, b: 0, alpha: 0.8, hex: 'FF000080' } }],
  ])('%s: %s', (_name, tr, expected) => {
    expect(firstLayer(tr)).toMatchObject(expected);
  });

  it.each<[string, Record<string, unknown>]>([
    ['fs-40', { fs: 40 }],
    ['fs-bh_div_10', { fs: { kind: 'expr', tokens: ['bh', 'div', 10] } }],
    ['ff-Open_Sans', { ff: { builtin: 'opensans' } }],
    ['ff-dejavu-serif', { ff: { builtin: 'dejavuserif' } }],
    ['ff-fonts@@Brand.ttf', { ff: { path: 'fonts/Brand.ttf' } }],
    ['co-red', { co: { hex: 'FF0000' } }],
    ['ia-right', { ia: 'right' }],
    ['pa-5', { pa: [5, 5, 5, 5] }],
    ['pa-5_10', { pa: [5, 10, 5, 10] }],
    ['pa-1_2_3', { pa: [1, 2, 3, 2] }],
    ['pa-1_2_3_4', { pa: [1, 2, 3, 4] }],
    ['al-3', { al: 3 }],
    ['tg-b_i_strikethrough', { tg: { b: true, i: true, strikethrough: true } }],
    ['lh-30', { lh: 30 }],
    ['bg-FFFFFF50', { bg: { hex: 'FFFFFF50' } }],
    ['r-max', { r: 'max' }],
    ['rt-N90', { rt: 270 }],
    ['fl-v_h', { fl: 'h_v' }],
    ['w-bw_mul_0.8', { w: { kind: 'expr', tokens: ['bw', 'mul', 0.8] } }],
  ])('text style %s', (param, style) => {
    expect(firstLayer(`l-text,i-Hi,${param},l-end`)).toMatchObject({ type: 'text', style });
  });

  it('an image layer keeps its own chain (":" inside the block) and nested layers', () => {
    const layer = firstLayer('l-image,i-a.png,w-100:rt-90,l-text,i-x,l-end,l-end');
    expect(layer).toMatchObject({ type: 'image', steps: [{ w: { kind: 'px', value: 100 } }, { rt: 90 }] });
    expect(layer.type === 'image' && layer.steps[1]!.layers?.[0]).toMatchObject({ type: 'text', text: 'x' });
  });

  it('a layer sits in the step it is written in; ":" after l-end chains the main transformation', () => {
    const plan = parseTransformation('w-300,l-text,i-a,l-end:rt-90');
    expect(plan.steps).toHaveLength(2);
    expect(plan.steps[0]).toMatchObject({ w: { value: 300 }, layers: [{ type: 'text' }] });
    expect(plan.steps[1]).toMatchObject({ rt: 90 });
  });

  it("cuts plain text at 2000 characters and base64 text at 2500 base64 characters (ImageKit's limits)", () => {
    const plain = firstLayer(`l-text,i-${'a'.repeat(2100)},l-end`);
    expect(plain.type === 'text' && plain.text.length).toBe(2000);
    const b64 = firstLayer(`l-text,ie-${btoa('b'.repeat(1950))},l-end`); // 2600 base64 characters
    expect(b64.type === 'text' && b64.text.length).toBe(1875); // 2500 base64 characters = 1875 bytes
  });
});

describe('layer errors are 400s naming the part', () => {
  it.each<[string, RegExp]>([
    ['l-image,i-a.png', /"l-image" has no matching l-end/],
    ['l-image,l-end', /needs an input/],
    ['l-image,i-a.png,i-b.png,l-end', /more than one input/],
    ['l-video,i-a.mp4,l-end', /l-video layers are for videos/],
    ['l-subtitles,i-a.srt,l-end', /l-subtitles layers are for videos/],
    ['l-foo,i-a,l-end', /unknown layer type "l-foo"/],
    ['l-image,i-..@@etc@@passwd,l-end', /i: .* is not a valid path/],
    ['l-image,ie-!!!,l-end', /ie: .* is not base64/],
    ['l-image,i-a.png,lx-10,lxc-10,l-end', /lx and lxc cannot be used together/],
    ['l-image,i-a.png,lap-top,l-end', /lap: the anchor point needs lx, ly, lxc or lyc/],
    ['l-image,i-a.png,lfo-middle,l-end', /lfo: expected one of/],
    ['l-image,i-a.png,lm-screen,l-end', /lm: expected one of multiply, displace, cutout, cutter/],
    ['l-image,i-a.png,lm-displace,l-end', /lm-displace: needs x-<px>/],
    ['l-text,i-x,lm-displace,l-end', /displacement map must be an image layer/],
    ['l-image,i-a.png,f-png,l-end', /f- is an output parameter/],
    ['l-image,i-a.png,q-0,l-end', /q: .*1 to 100/],
    ['l-image,i-ik_canvas,w-10,l-end', /solid block needs bg-<colour>/],
    ['l-text,i-x,h-10,l-end', /"h" does not apply to text layers/],
    ['l-text,i-x,l-image,i-a.png,l-end,l-end', /text layer cannot hold other layers/],
    ['l-text,i-x,ff-Comic%20Sans,l-end', /ff: unknown font "Comic Sans"/],
    ['l-text,i-x,fs-0,l-end', /fs: .*out of range/],
    ['l-text,i-x,al-10,l-end', /al: .*1 to 9/],
    ['l-text,i-x,tg-u,l-end', /tg: expected b, i or strikethrough/],
    ['l-text,i-x,pa-1_2_3_4_5,l-end', /pa: expected 1 to 4 values/],
    ['l-text,i-x,ia-justify,l-end', /ia: expected one of left, center, right/],
    ['l-text,i-x,rt-auto,l-end', /rt: auto is for images/],
    ['l-text,ie-,l-end', /ie: missing value/],
    ['lx-bw', /unknown parameter "lx"/],
    ['w-bw_div_2', /w: bw is only allowed inside layers/],
    ['l-image,i-a,l-image,i-b,l-image,i-c,l-image,i-d,l-end,l-end,l-end,l-end', /layers nest at most 3 levels/],
    [Array.from({ length: 21 }, (_, i) => `l-image,i-a${i},l-end`).join(','), /at most 20 layers/],
  ])('%s', (tr, message) => {
    expect(() => parseTransformation(tr)).toThrow(message);
    expect(() => parseTransformation(tr)).toThrow(expect.objectContaining({ status: 400, code: 'EBADTR' }));
  });
});

describe('canonical forms of layers (cache keys)', () => {
  it.each<[string, string, string]>([
    ['i- and ie- text share a key', 'l-text,i-Hi%20there,l-end', `l-text,ie-${btoa('Hi there')},l-end`],
    ['parameter order inside the layer does not matter', 'l-text,i-a,fs-20,co-red,l-end', 'l-text,co-FF0000,i-a,fs-20,l-end'],
    ['defaults are dropped (fs-14, co-000000, ia-center, ff-Open Sans)', 'l-text,i-a,fs-14,co-black,ia-center,ff-Open%20Sans,l-end', 'l-text,i-a,l-end'],
    ['path with / or @@', 'l-image,i-a@@b.png,l-end', `l-image,ie-${btoa('a/b.png')},l-end`],
    ['trim default vs explicit t-10', 'l-image,i-a.png,l-end', 'l-image,i-a.png,l-end'],
  ])('%s', (_name, a, b) => {
    expect(canonicalTransformation(parseTransformation(a))).toBe(canonicalTransformation(parseTransformation(b)));
  });

  it.each<[string, string, string]>([
    ['layer order matters', 'l-text,i-a,l-end,l-text,i-b,l-end', 'l-text,i-b,l-end,l-text,i-a,l-end'],
    ['lx-N0 (right edge) is not lx-0', 'l-text,i-a,lx-N0,l-end', 'l-text,i-a,lx-0,l-end'],
    ['t-false is kept', 'l-image,i-a.png,t-false,l-end', 'l-image,i-a.png,l-end'],
    ['the step a layer is in matters', 'w-100,l-text,i-a,l-end', 'l-text,i-a,l-end:w-100'],
    ['the text matters', 'l-text,i-a,l-end', 'l-text,i-b,l-end'],
  ])('%s', (_name, a, b) => {
    expect(canonicalTransformation(parseTransformation(a))).not.toBe(canonicalTransformation(parseTransformation(b)));
  });

  it.each([
    'w-300,l-image,i-logo.png,w-100:rt-90,lx-10,ly-N10,l-end',
    'l-text,i-Hello%2C%20World,fs-40,co-FF0000,lfo-bottom_right,tg-b_i,pa-10_20,bg-FFFFFF80,r-5,rt-N45,fl-h,al-5,lh-20,w-200,ia-left,l-end',
    'l-image,i-ik_canvas,bg-FF0000,w-bw_div_2,h-50,l-image,i-a@@b.png,lm-cutout,l-end,lm-cutter,l-end',
    'l-image,i-map.png,lm-displace,x-10,l-end',
  ])('re-parses to the same canonical form: %s', (tr) => {
    const c = canonicalTransformation(parseTransformation(tr));
    expect(canonicalTransformation(parseTransformation(c))).toBe(c);
  });
});

describe('URLs that @imagekit/javascript buildSrc makes from overlay objects parse', () => {
  const urlEndpoint = 'https://edge.example/demo';
  const trOf = (transformation: Transformation[], position: 'path' | 'query') => {
    const url = new URL(buildSrc({ src: '/base.jpg', urlEndpoint, transformation, transformationPosition: position }));
    // what the edge hands to the parser (shared/request.ts): the raw tr: segment or the raw query value
    return parseImagePath(DEMO, url.pathname.replace(/^\/demo/, ''), url.search).tr;
  };
  it.each<[string, Transformation[], Record<string, unknown>]>([
    ['text', [{ overlay: { type: 'text', text: 'Hello', transformation: [{ fontSize: 30, fontColor: 'FF0000' }] } }], { type: 'text', text: 'Hello', style: { fs: 30, co: { hex: 'FF0000' } } }],
    ['text with punctuation (auto base64)', [{ overlay: { type: 'text', text: 'Price: 5€, today!' } }], { type: 'text', text: 'Price: 5€, today!' }],
    ['text, base64 forced', [{ overlay: { type: 'text', text: 'b64 text', encoding: 'base64' } }], { type: 'text', text: 'b64 text' }],
    ['text, plain forced with a comma', [{ overlay: { type: 'text', text: 'a, b: c', encoding: 'plain' } }], { type: 'text', text: 'a, b: c' }],
    [
      'image with its own chained transformation',
      [{ overlay: { type: 'image', input: '/brand/logo.png', transformation: [{ width: 100 }, { rotation: 90 }], position: { focus: 'bottom_right' } } }],
      { type: 'image', path: 'brand/logo.png', steps: [{ w: { value: 100 } }, { rt: 90 }], position: { focus: 'bottom_right' } },
    ],
    ['image path, base64 forced', [{ overlay: { type: 'image', input: 'brand/logo.png', encoding: 'base64' } }], { type: 'image', path: 'brand/logo.png' }],
    ['solid colour', [{ overlay: { type: 'solidColor', color: 'FF0000', transformation: [{ width: 'bw_div_2', height: 40, radius: 10 }] } }], { type: 'canvas', color: { hex: 'FF0000' } }],
    [
      'position x/y, anchor, layer mode',
      [{ overlay: { type: 'image', input: 'a.png', layerMode: 'multiply', position: { x: 'bw_sub_cw', y: 'N10', anchorPoint: 'top_left' } } }],
      { mode: 'multiply', position: { x: { kind: 'expr' }, y: -10, anchor: 'top_left' } },
    ],
  ])('%s', (_name, transformation, expected) => {
    for (const position of ['path', 'query'] as const) expect(firstLayer(trOf(transformation, position))).toMatchObject(expected);
  });
});
