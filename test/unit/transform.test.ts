import { describe, expect, it } from 'vitest';
import { DEFAULT_ACCOUNT_DEFAULTS } from '../../shared/accounts.js';
import {
  acceptedTypes,
  canonicalTransformation,
  clientHintsUsed,
  evalCondition,
  evalExpr,
  negotiateFormat,
  normaliseHints,
  parseTransformation,
  type OpsStep,
  type TransformPlan,
} from '../../shared/transform/index.js';

const firstOps = (plan: TransformPlan): OpsStep => {
  const s = plan.steps[0];
  if (!s || s.type !== 'ops') throw new Error('expected an ops step first');
  return s;
};

describe('parseTransformation: valid parameters', () => {
  it.each<[string, Record<string, unknown>]>([
    ['w-300', { w: { kind: 'px', value: 300 } }],
    ['h-200', { h: { kind: 'px', value: 200 } }],
    ['w-300.4', { w: { kind: 'px', value: 300 } }],
    ['w-0.5', { w: { kind: 'fraction', value: 0.5 } }],
    ['w-auto', { w: { kind: 'auto' } }],
    ['w-iw_div_2', { w: { kind: 'expr', tokens: ['iw', 'div', 2] } }],
    ['h-ih_mul_0.5_sub_N10', { h: { kind: 'expr', tokens: ['ih', 'mul', 0.5, 'sub', -10] } }],
    ['ar-4-3', { ar: { w: 4, h: 3 } }],
    ['ar-iar_div_2', { ar: { kind: 'expr', tokens: ['iar', 'div', 2] } }],
    ['c-at_max', { c: 'at_max' }],
    ['c-at_least', { c: 'at_least' }],
    ['c-force', { c: 'force' }],
    ['c-at_max_enlarge', { c: 'at_max_enlarge' }],
    ['cm-pad_resize', { cm: 'pad_resize' }],
    ['cm-extract', { cm: 'extract' }],
    ['cm-pad_extract', { cm: 'pad_extract' }],
    ['fo-top_left', { fo: 'top_left' }],
    ['fo-auto', { fo: 'auto' }],
    ['fo-face', { fo: 'face' }],
    ['fo-custom', { fo: 'custom' }],
    ['x-10,y-N0', { x: 10, y: -0 }],
    ['xc-cw_div_2', { xc: { kind: 'expr', tokens: ['cw', 'div', 2] } }],
    ['z-0.8', { z: 0.8 }],
    ['dpr-2', { dpr: 2 }],
    ['dpr-auto', { dpr: 'auto' }],
    ['bl-10', { bl: 10 }],
    ['e-grayscale', { grayscale: true }],
    ['e-contrast', { contrast: true }],
    ['e-sharpen', { sharpen: 50 }],
    ['e-sharpen-10', { sharpen: 10 }],
    ['e-usm-2-2-0.8-0.024', { usm: { radius: 2, sigma: 2, amount: 0.8, threshold: 0.024 } }],
    ['t-true', { t: 10 }],
    ['t-5', { t: 5 }],
    ['b-5_FFF000', { b: { width: 5, color: { r: 255, g: 240, b: 0, alpha: 1, hex: 'FFF000' } } }],
    ['b-ch_mod_5_yellow', { b: { width: { kind: 'expr', tokens: ['ch', 'mod', 5] }, color: expect.objectContaining({ hex: 'FFFF00' }) } }],
    ['r-20', { r: 20 }],
    ['r-max', { r: 'max' }],
    ['r-10_20_30_40', { r: [10, 20, 30, 40] }],
    ['rt-90', { rt: 90 }],
    ['rt-N45', { rt: 315 }],
    ['rt-auto', { rt: 'auto' }],
    ['fl-h', { fl: 'h' }],
    ['fl-v_h', { fl: 'h_v' }],
    ['bg-FF0000', { bg: { kind: 'color', color: { r: 255, g: 0, b: 0, alpha: 1, hex: 'FF0000' } } }],
    ['bg-FF000050', { bg: { kind: 'color', color: { r: 255, g: 0, b: 0, alpha: 0.5, hex: 'FF000050' } } }],
    ['bg-red', { bg: { kind: 'color', color: expect.objectContaining({ hex: 'FF0000' }) } }],
    ['bg-blurred', { bg: { kind: 'blurred', intensity: 'auto', brightness: 0 } }],
    ['bg-blurred_25_N15', { bg: { kind: 'blurred', intensity: 25, brightness: -15 } }],
    ['bg-dominant', { bg: { kind: 'dominant' } }],
    ['o-50', { o: 50 }],
    ['e-shadow', { shadow: { blur: 10, saturation: 30, x: 2, y: 2 } }],
    ['e-shadow-bl-15_st-40_x-10_y-N5', { shadow: { blur: 15, saturation: 40, x: 10, y: -5 } }],
    ['e-shadow-y-3', { shadow: { blur: 10, saturation: 30, x: 2, y: 3 } }],
  ])('%s', (tr, expected) => {
    expect(firstOps(parseTransformation(tr))).toMatchObject({ type: 'ops', ...expected });
  });

  it.each<[string, Partial<TransformPlan>]>([
    ['q-60', { quality: 60 }],
    ['f-jpg', { format: 'jpeg' }],
    ['f-jpeg', { format: 'jpeg' }],
    ['f-avif', { format: 'avif' }],
    ['f-orig', { format: 'orig' }],
    ['pr-true', { progressive: true }],
    ['lo-true', { lossless: true }],
    ['cp-true', { colorProfile: true }],
    ['md-false', { metadata: false }],
    ['pg-3', { page: 3 }],
    ['orig-true', { original: true }],
    ['di-folder@@default.jpg', { defaultImage: 'folder/default.jpg' }],
    ['w-100,f-webp:q-20', { quality: 20, format: 'webp' }],
  ])('output parameter %s', (tr, expected) => {
    expect(parseTransformation(tr)).toMatchObject(expected);
  });

  it('f-auto leaves the format to negotiation', () => {
    expect(parseTransformation('f-png:f-auto').format).toBeUndefined();
  });

  it('chains steps with ":" and keeps their order', () => {
    const plan = parseTransformation('w-400,h-300:rt-90');
    expect(plan.steps).toEqual([
      { type: 'ops', w: { kind: 'px', value: 400 }, h: { kind: 'px', value: 300 } },
      { type: 'ops', rt: 90 },
    ]);
  });

  it('parses a conditional step with else', () => {
    const plan = parseTransformation('if-w_gt_400_and_ar_lt_1,w-400,if-else,w-200,e-grayscale,if-end:rt-90');
    expect(plan.steps[0]).toEqual({
      type: 'if',
      cond: { clauses: [{ prop: 'w', op: 'gt', value: 400 }, { prop: 'ar', op: 'lt', value: 1 }], joins: ['and'] },
      then: [{ w: { kind: 'px', value: 400 } }],
      else: [{ w: { kind: 'px', value: 200 }, grayscale: true }],
    });
    expect(plan.steps[1]).toEqual({ type: 'ops', rt: 90 });
  });

  it('parses chains inside if branches and aspect-ratio fractions in conditions', () => {
    const plan = parseTransformation('w-500:if-h_gte_100_and_h_lte_400_or_ar_lt_4-3,w-200:rt-90,if-else,w-300,if-end:bl-2');
    expect(plan.steps).toHaveLength(3);
    expect(plan.steps[1]).toEqual({
      type: 'if',
      cond: {
        clauses: [
          { prop: 'h', op: 'gte', value: 100 },
          { prop: 'h', op: 'lte', value: 400 },
          { prop: 'ar', op: 'lt', value: 4 / 3, fraction: [4, 3] },
        ],
        joins: ['and', 'or'],
      },
      then: [{ w: { kind: 'px', value: 200 } }, { rt: 90 }],
      else: [{ w: { kind: 'px', value: 300 } }],
    });
    expect(canonicalTransformation(plan)).toBe('w-500:if-h_gte_100_and_h_lte_400_or_ar_lt_4-3,w-200:rt-90,if-else,w-300,if-end:bl-2');
  });

  it('accepts percent-encoded text and empty steps', () => {
    expect(canonicalTransformation(parseTransformation('w-300%2Ch-200::'))).toBe('h-200,w-300');
  });

  it('empty/none gives an empty plan', () => {
    expect(parseTransformation('')).toEqual({ steps: [], original: false });
    expect(parseTransformation(undefined)).toEqual({ steps: [], original: false });
  });
});

describe('parseTransformation: invalid input is a 400 EBADTR naming the problem', () => {
  it.each<[string, RegExp]>([
    ['foo-1', /unknown parameter "foo"/],
    ['e-foo', /unknown parameter "e-foo"/],
    ['w-0', /w: .*out of range.*1–16383/],
    ['w-16384', /w: .*out of range/],
    ['w-abc', /w: expected integer pixels 1–16383/],
    ['w-', /w: missing value/],
    ['w-iw_div', /w: the expression "iw_div" is incomplete/],
    ['w-iw_xor_2', /w: unknown operator "xor"/],
    ['w-bw_div_2', /w: bw is only allowed inside layers/],
    ['h-N5', /h: .*out of range/],
    ['q-0', /q: "0" is out of range, expected an integer from 1 to 100/],
    ['q-101', /q: .*1 to 100/],
    ['q-50.5', /q: expected an integer/],
    ['f-bmp', /f: expected one of auto, jpg, jpeg, png, webp, avif, gif, orig/],
    ['c-crop', /c: expected one of maintain_ratio/],
    ['cm-fit', /cm: expected one of pad_resize, pad_resize_no_enlarge, extract, pad_extract/],
    ['fo-car', /fo: object focus \(fo-car\) is not supported; expected one of center/],
    ['fo-Top', /fo: expected one of center/],
    ['bl-0', /bl: .*1 to 100/],
    ['bl-101', /bl: .*1 to 100/],
    ['dpr-6', /dpr: .*0.1 to 5/],
    ['dpr-0', /dpr: .*0.1 to 5/],
    ['rt-400', /rt: .*-360 to 360/],
    ['rt-left', /rt: expected degrees/],
    ['fl-x', /fl: expected one of h, v, h_v, v_h/],
    ['o-101', /o: .*0 to 100/],
    ['t-100', /t: .*1 to 99/],
    ['b-5', /b: expected <width>_<colour>/],
    ['b-5_GGGGGG', /b: "GGGGGG" is not a colour/],
    ['bg-FF0000AB', /bg: the alpha part of "FF0000AB" must be 00–99/],
    ['bg-notacolour', /bg: "notacolour" is not a colour/],
    ['bg-gradient_radial', /bg: expected gradient_dominant, gradient_dominant_2 or gradient_dominant_4/],
    ['r-10_20', /r: per-corner radius needs 4 values/],
    ['r-0', /r: .*1–5000/],
    ['ar-4', /ar: expected <w>-<h>/],
    ['ar-0-3', /ar: expected <w>-<h>/],
    ['e-sharpen-0', /e-sharpen: .*1 to 100/],
    ['e-usm-1-2-3', /e-usm: expected <radius>-<sigma>-<amount>-<threshold>/],
    ['e-usm-1-20-3-0', /e-usm sigma: .*0.01 to 10/],
    ['e-grayscale-5', /e-grayscale: takes no value/],
    ['pr-yes', /pr: expected true or false/],
    ['orig-1', /orig: expected true or false/],
    ['di-..@@etc@@passwd', /di: .* is not a valid path/],
    ['pg-0', /pg: .*1 to 10000/],
    ['pg-name-"Layer 1"', /pg: named layers .* are PSD layers, which are not supported/],
    ['cr-FF0000_200', /cr tolerance: .*out of range/],
    ['e-gradient-ld-999', /e-gradient ld: .*out of range/],
    ['e-shadow-bl-20', /e-shadow bl: .*0 to 15/],
    ['e-shadow-x-N101', /e-shadow x: .*-100 to 100/],
    ['e-shadow-bl-1_bl-2', /e-shadow: expected bl-/],
    ['e-shadow-foo-1', /e-shadow: expected bl-/],
    ['oi-logo.png,ox-10', /legacy overlay parameter \(oi\) is not supported \(ImageKit retired it in 2023\): use layers/],
    ['e-bgremove', /AI effects \(e-bgremove\) are not supported/],
    ['n-nope', /n: unknown named transformation "nope"/],
    ['w-100,if-w_gt_1,w-1,if-end', /if: a conditional block must be its own chain step/],
    ['if-w_gt_1,w-1', /if: the conditional block must end with if-end/],
    ['if-w_gt_1,w-1:rt-90', /if: the conditional block must end with if-end/],
    ['h-400:if-h_eq_200,w-100,if-end,bl-10:rt-90', /if: if-end must close the step/],
    ['h-400:rt-90,if-h_eq_200,w-100,if-end:rt-90', /if: a conditional block must be its own chain step/],
    ['if-w_gt_1,w-1:if-w_gt_2,w-1,if-end', /if: conditional blocks cannot be nested/],
    ['if-ar_gt_4-0,w-1,if-end', /if: "4-0" is not a valid aspect ratio/],
    ['if-w_gt_4-3,w-1,if-end', /if: "4-3" is not a number in/],
    ['if-foo_gt_1,w-1,if-end', /if: unknown property "foo"/],
    ['if-w_like_1,w-1,if-end', /if: unknown operator "like"/],
    ['if-w_gt_x,w-1,if-end', /if: "x" is not a number/],
    ['if-w_gt_1_and,w-1,if-end', /if: a condition is missing after and/],
    ['if-w_gt_1,q-50,if-end', /q: output parameters are not allowed inside an if block/],
    ['if-w_gt_1,w-1,if-else,w-2,if-else,w-3,if-end', /only one if-else/],
    ['l-image,i-logo.png,f-png,l-end', /l-image: f- is an output parameter and cannot be used inside a layer/],
    ['l-image,i-a.png,l-text,i-hi,w-a,l-end,l-end', /text w: expected/],
    ['l-image,i-logo.png,w-100', /l: "l-image" has no matching l-end/],
    ['w-100,l-end', /l-end without a matching/],
    [`${'w-1:'.repeat(21)}`, /at most 20 chained steps/],
    ['w-%ZZ', /w: expected/],
  ])('%s', (tr, message) => {
    expect(() => parseTransformation(tr)).toThrow(message);
    expect(() => parseTransformation(tr)).toThrow(expect.objectContaining({ status: 400, code: 'EBADTR' }));
  });
});

describe('named transformations', () => {
  const namedTransforms = { thumb: 'w-200,h-200,c-at_max', twostep: 'w-100:rt-90', loop: 'n-thumb' };
  it('expands in place', () => {
    const plan = parseTransformation('n-thumb,q-50', { namedTransforms });
    expect(canonicalTransformation(plan)).toBe('c-at_max,h-200,w-200:q-50');
  });
  it('expands multi-step names', () => {
    expect(canonicalTransformation(parseTransformation('n-twostep', { namedTransforms }))).toBe('w-100:rt-90');
  });
  it('does not recurse', () => {
    expect(() => parseTransformation('n-loop', { namedTransforms })).toThrow(/may not reference another named transformation/);
  });
  it('does not resolve prototype properties as names', () => {
    expect(() => parseTransformation('n-constructor', { namedTransforms })).toThrow(/unknown named transformation "constructor"/);
  });
  it('namedOnly accounts accept n- only', () => {
    expect(canonicalTransformation(parseTransformation('n-thumb', { namedTransforms, namedOnly: true }))).toBe('c-at_max,h-200,w-200');
    expect(() => parseTransformation('n-thumb,w-10', { namedTransforms, namedOnly: true })).toThrow(/accepts only named transformations.*"w-10"/);
    expect(() => parseTransformation('orig-true', { namedTransforms, namedOnly: true })).toThrow(expect.objectContaining({ code: 'EBADTR' }));
  });
});

describe('canonicalTransformation', () => {
  it.each<[string, string]>([
    ['w-300,h-200', 'h-200,w-300'],
    ['f-jpg', 'f-jpeg'],
    ['w-300,c-maintain_ratio,fo-center,dpr-1,z-1,o-100,rt-0,rt-360', 'w-300'],
    ['rt-N90', 'rt-270'],
    ['fl-v_h', 'fl-h_v'],
    ['w-300.0', 'w-300'],
    ['bg-red', 'bg-FF0000'],
    ['bg-ff0000', 'bg-FF0000'],
    ['bg-F00', 'bg-FF0000'],
    ['e-sharpen-50', 'e-sharpen'],
    ['e-shadow-bl-10_st-30', 'e-shadow'],
    ['e-shadow-y-N5_bl-1', 'e-shadow-bl-1_st-30_x-2_y-N5'],
    ['t-false,w-1', 'w-1'],
    ['t-true', 't-10'],
    ['pr-false,lo-false,cp-false,md-false,w-1', 'w-1'],
    ['q-50,f-auto', 'q-50'],
    ['w-10:h-10', 'w-10:h-10'],
    ['orig-true,w-100', 'orig-true'],
    ['di-@@a@@b.jpg@@', 'di-a@@b.jpg'],
    ['if-w_gt_N1_or_iw_lte_2,w-1,if-end', 'if-w_gt_N1_or_iw_lte_2,w-1,if-end'],
    ['', ''],
    ['dpr-2,c-at_max,fo-top', ''],
    ['dpr-2,w-10', 'dpr-2,w-10'],
    ['x-10,y-5,w-100', 'w-100'],
    ['w-10,h-10,ar-4-3', 'h-10,w-10'],
    ['w-10,ar-4-3', 'ar-4-3,w-10'],
    ['cm-extract,c-at_max,w-10,x-3', 'cm-extract,w-10,x-3'],
    ['cm-pad_extract,fo-left', 'cm-pad_extract,fo-left'],
    ['if-w_gt_1,dpr-2,if-else,fo-top,w-5,if-end', 'if-w_gt_1,if-else,fo-top,w-5,if-end'],
  ])('%s → %s', (tr, canonical) => {
    expect(canonicalTransformation(parseTransformation(tr))).toBe(canonical);
  });

  it.each<[string, string]>([
    ['h-200,w-300,q-60,f-webp', 'f-webp,q-60,w-300,h-200'],
    ['w-300,h-200:rt-90', 'h-200,w-300:rt-N270'],
    ['e-grayscale,bl-5', 'bl-5,e-grayscale-true'],
    ['f-jpeg,pr-true', 'pr-true,f-jpg'],
    ['w-300,q-60', 'w-300:q-60'],
  ])('same output, same key: %s ≡ %s', (a, b) => {
    expect(canonicalTransformation(parseTransformation(a))).toBe(canonicalTransformation(parseTransformation(b)));
  });

  it.each<[string, string]>([
    ['w-300', 'h-300'],
    ['w-300:rt-90', 'rt-90:w-300'],
    ['w-300,h-200', 'w-300,h-200,c-force'],
    ['q-60', 'q-61'],
    ['f-webp', 'f-png'],
    ['bg-FF0000', 'bg-FF000050'],
    ['w-0.5', 'w-iw_div_2'],
    ['if-w_gt_1,w-1,if-end', 'if-w_gt_1,w-2,if-end'],
    ['w-100', 'w-100,di-a.jpg'],
  ])('different output, different key: %s ≠ %s', (a, b) => {
    expect(canonicalTransformation(parseTransformation(a))).not.toBe(canonicalTransformation(parseTransformation(b)));
  });

  it('drops q equal to the account default when defaults are given', () => {
    const plan = parseTransformation('w-100,q-80');
    expect(canonicalTransformation(plan, { quality: 80 })).toBe('w-100');
    expect(canonicalTransformation(plan)).toBe('w-100:q-80');
  });

  it.each([
    'w-300,h-200,c-at_max,fo-auto,q-60,f-avif,pr-true',
    'w-iw_div_2,h-ih_mul_0.5_sub_N10,b-ch_mod_5_yellow',
    'if-ar_gt_1_and_w_lte_500,w-200,if-else,h-200,if-end:r-10_20_30_40:bg-blurred_25_N15,cm-pad_resize,w-10,h-10',
    'e-usm-2-2-0.8-0.024,e-sharpen-10,t-5,o-20,fl-h,rt-N45,bg-FF000050,di-a@@b.png',
  ])('round-trips: parse(canonical(%s)) has the same canonical form', (tr) => {
    const c = canonicalTransformation(parseTransformation(tr));
    expect(canonicalTransformation(parseTransformation(c))).toBe(c);
    expect(parseTransformation(c)).toEqual(parseTransformation(tr));
  });
});

describe('negotiateFormat', () => {
  const d = DEFAULT_ACCOUNT_DEFAULTS;
  const avifOn = { ...d, avif: true };
  const manual = { ...d, autoFormat: false };
  const chrome = 'image/avif,image/webp,image/apng,image/*,*/*;q=0.8';
  it.each<[string, string, typeof d, { format: string; negotiated: boolean }]>([
    ['w-100', chrome, d, { format: 'webp', negotiated: true }],
    ['w-100', chrome, avifOn, { format: 'avif', negotiated: true }],
    ['w-100', 'image/webp', avifOn, { format: 'webp', negotiated: true }],
    ['w-100', '*/*', d, { format: 'source', negotiated: true }],
    ['w-100', '', d, { format: 'source', negotiated: true }],
    ['w-100', 'image/webp;q=0, */*', d, { format: 'source', negotiated: true }],
    ['w-100', chrome, manual, { format: 'source', negotiated: false }],
    ['f-png', chrome, avifOn, { format: 'png', negotiated: false }],
    ['f-jpg', chrome, d, { format: 'jpeg', negotiated: false }],
    ['f-orig', chrome, d, { format: 'source', negotiated: false }],
    ['orig-true', chrome, d, { format: 'source', negotiated: false }],
    ['cp-true', chrome, avifOn, { format: 'webp', negotiated: true }],
    ['e-usm-2-2-0.8-0.024', chrome, avifOn, { format: 'webp', negotiated: true }],
    ['f-auto', 'IMAGE/WEBP', d, { format: 'webp', negotiated: true }],
  ])('%s with Accept "%s"', (tr, accept, defaults, expected) => {
    expect(negotiateFormat(parseTransformation(tr), accept, defaults)).toEqual(expected);
  });

  it('parses Accept with q values', () => {
    expect([...acceptedTypes('image/avif;q=0.5, image/webp;q=0 ,text/html')]).toEqual(['image/avif', 'text/html']);
  });
});

describe('client hints', () => {
  it.each<[string, { dpr: boolean; width: boolean }]>([
    ['w-100', { dpr: false, width: false }],
    ['w-auto', { dpr: false, width: true }],
    ['w-100,dpr-auto', { dpr: true, width: false }],
    ['if-w_gt_1,w-auto,if-else,dpr-auto,w-1,if-end', { dpr: true, width: true }],
    ['orig-true,w-auto', { dpr: false, width: false }],
  ])('%s', (tr, expected) => {
    expect(clientHintsUsed(parseTransformation(tr))).toEqual(expected);
  });
  it('normalises hint values', () => {
    expect(normaliseHints('2.625', '412.4')).toEqual({ dpr: 2.63, width: 412 });
    expect(normaliseHints('9', '99999')).toEqual({ dpr: 5, width: 16383 });
    expect(normaliseHints('abc', null)).toEqual({});
  });
});

describe('expressions and conditions', () => {
  const scope = { iw: 1000, ih: 500, cw: 400, ch: 300 };
  const expr = (tr: string) => {
    const w = firstOps(parseTransformation(`w-${tr}`)).w;
    if (!w || !('tokens' in w)) throw new Error('not an expression');
    return evalExpr(w, scope);
  };
  it.each<[string, number]>([
    ['iw_div_2', 500],
    ['iw_add_ih_mul_2', 2000],
    ['iw_sub_100_sub_100', 800],
    ['cw_mod_7', 1],
    ['ch_pow_2_div_300', 300],
    ['2_pow_3_pow_2', 512],
    ['iar_mul_100', 200],
    ['car_mul_300', 400],
    ['iw_div_0', NaN],
  ])('%s = %d', (text, value) => {
    expect(expr(text)).toBe(value);
  });

  it.each<[string, boolean]>([
    ['w_gt_300', true],
    ['w_gt_400', false],
    ['w_gte_400', true],
    ['h_eq_300', true],
    ['h_ne_300', false],
    ['ar_lt_1', false],
    ['iar_eq_2', true],
    ['iw_lte_999_or_ih_eq_500', true],
    ['iw_lte_999_and_ih_eq_500', false],
    ['w_lt_1_and_h_lt_1_or_iw_eq_1000', true],
    ['iw_eq_1000_or_w_lt_1_and_h_lt_1', true],
    ['w_lt_1_or_h_lt_1_and_iw_eq_1000', false],
  ])('if-%s is %s', (cond, expected) => {
    const step = parseTransformation(`if-${cond},w-1,if-end`).steps[0];
    if (!step || step.type !== 'if') throw new Error('expected an if step');
    expect(evalCondition(step.cond, scope)).toBe(expected);
  });
});

describe('namedTransformProblems (for account validation)', () => {
  it('reports every bad named transformation by name', async () => {
    const { namedTransformProblems } = await import('../../shared/transform/index.js');
    expect(namedTransformProblems({ ok: 'w-100:rt-90', bad: 'w-0', nested: 'n-ok' })).toEqual([
      expect.stringMatching(/^namedTransforms\.bad: w: .*out of range/),
      expect.stringMatching(/^namedTransforms\.nested: n: unknown named transformation "ok"/),
    ]);
  });
});

