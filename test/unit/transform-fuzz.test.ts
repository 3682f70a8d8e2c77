/**
 * Deterministic fuzzing: random transformation strings must either parse or fail with a 400
 * EBADTR PixmeshError (never a TypeError); random VALID plans must render or fail with a
 * PixmeshError (never a raw sharp exception).
 */
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ACCOUNT_DEFAULTS } from '../../shared/accounts.js';
import { isPixmeshError } from '../../shared/errors.js';
import { canonicalTransformation, parseTransformation } from '../../shared/transform/index.js';
import { PARAMS } from '../../shared/transform/params.js';
import { renderImage } from '../../origin/src/pipeline/index.js';

function prng(seed: number) {
  return () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

const VALUES = ['', '0', '1', '0.5', '10', '90', 'N45', '300', '99999', 'auto', 'true', 'false', 'max', 'iw_div_2', 'ch_mul_N1', 'FF0000', 'red',
  'blurred_10_N20', 'at_max', 'pad_resize', 'extract', 'pad_extract', 'top_left', 'h_v', '4-3', '5_FFF000', '10_20_30_40', '2-2-0.8-0.024', 'x', '-', '_', '%', '::'];

function randomTr(rand: () => number, validKeysOnly: boolean): string {
  const steps: string[] = [];
  const nSteps = 1 + Math.floor(rand() * 3);
  for (let s = 0; s < nSteps; s++) {
    const params: string[] = [];
    const n = 1 + Math.floor(rand() * 4);
    for (let i = 0; i < n; i++) {
      const spec = PARAMS[Math.floor(rand() * PARAMS.length)]!;
      if (validKeysOnly) {
        params.push(rand() < 0.5 ? spec.example.replace(/:/g, ',') : (spec.example.split(/[,:]/).find((t) => t === spec.key || t.startsWith(`${spec.key}-`)) ?? spec.key));
      } else {
        const v = VALUES[Math.floor(rand() * VALUES.length)]!;
        params.push(rand() < 0.1 ? v : v === '' ? spec.key : `${spec.key}-${v}`);
      }
    }
    steps.push(params.join(','));
  }
  return steps.join(':');
}

describe('parser fuzz', () => {
  it('2000 random strings: parse, or a 400 EBADTR PixmeshError; canonical forms re-parse', () => {
    const rand = prng(1234);
    let parsed = 0;
    for (let i = 0; i < 2000; i++) {
      const tr = randomTr(rand, false);
      let plan;
      try {
        plan = parseTransformation(tr);
      } catch (e) {
        if (!isPixmeshError(e) || e.status !== 400 || e.code !== 'EBADTR') throw new Error(`"${tr}" threw ${String(e)}`);
        continue;
      }
      parsed++;
      const c = canonicalTransformation(plan);
      expect(canonicalTransformation(parseTransformation(c)), `${tr} → ${c}`).toBe(c);
    }
    expect(parsed).toBeGreaterThan(20); // most random strings are invalid; the point is how they fail
  });
});

describe('render fuzz', () => {
  let input: Buffer;
  beforeAll(async () => {
    input = await sharp({ create: { width: 96, height: 64, channels: 4, background: { r: 200, g: 40, b: 90, alpha: 0.8 } } }).png().toBuffer();
  });

  it('80 random valid plans: render, or fail with a PixmeshError', async () => {
    const rand = prng(31337);
    const formats = ['source', 'jpeg', 'png', 'webp'] as const;
    let rendered = 0;
    for (let i = 0; i < 80; i++) {
      const tr = randomTr(rand, true);
      const plan = parseTransformation(tr);
      const format = formats[i % formats.length]!;
      try {
        const out = await renderImage(input, plan, { format, defaults: DEFAULT_ACCOUNT_DEFAULTS });
        const m = await sharp(out.data).metadata();
        expect([m.width, m.height], tr).toEqual([out.width, out.height]);
        rendered++;
      } catch (e) {
        if (!isPixmeshError(e)) throw new Error(`"${tr}" (${format}) threw a raw error: ${String(e)}`);
        expect([400, 413, 422], `${tr}: ${e.message}`).toContain(e.status);
      }
    }
    expect(rendered).toBeGreaterThan(40);
  });
});
