/**
 * Property: key(a) = key(b) ⇒ the renderer's input is the same (#12 point 1, cache poisoning).
 *
 * "The renderer's input" is what origin/src/pipeline consumes: for every chain step, the
 * operations resolveStep hands the steps (if-branches chosen, expressions evaluated, client hints
 * applied, fields no step reads reset — `consumedOps`), for several original sizes, plus every
 * plan-level output field and the render options (format, account defaults). Comparing that
 * instead of rendering lets the test cover thousands of plans over EVERY parameter of the table,
 * with and without client hints. A second property: equivalent spellings share a key.
 *
 * The count is sized for `npm test` on 2 cores (PIXMESH_PROPERTY_PLANS overrides it).
 */
import { describe, expect, it } from 'vitest';
import { validateAccountFile, type Account } from '../../shared/accounts.js';
import { variantCacheKey } from '../../shared/cache-key.js';
import { isPixmeshError } from '../../shared/errors.js';
import { parseImagePath } from '../../shared/request.js';
import { parseTransformation, PARAMS, type NegotiatedFormat, type TransformPlan } from '../../shared/transform/index.js';
import { EMPTY_OPS, expandStep, resolveStep } from '../../origin/src/pipeline/steps/resolve.js';
import type { RenderState } from '../../origin/src/pipeline/context.js';

const PLANS = Number(process.env.PIXMESH_PROPERTY_PLANS ?? 1500);

function prng(seed: number) {
  return () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/** Values tried for every parameter; those a parameter accepts form its token pool. */
const VALUES = [
  '', '0', '1', '2', '0.1', '0.5', '0.75', '1.5', '2.5', '3', '10', '45', '90', '180', '270', 'N45', '100', '300', '539', '640', '2000',
  'auto', 'true', 'false', 'max', 'iw_div_2', 'ih_mul_0.5', 'cw_sub_10', 'ch_add_5', 'iw_div_3', 'FF0000', 'red', '00FF0080', 'blurred', 'blurred_10_N20',
  'dominant', 'maintain_ratio', 'force', 'at_max', 'at_max_enlarge', 'at_least', 'pad_resize', 'extract', 'pad_extract', 'center', 'top', 'left',
  'bottom', 'right', 'top_left', 'top_right', 'bottom_left', 'bottom_right', 'face', 'h', 'v', 'h_v', 'v_h', '4-3', '4-1', '16-9', '1-1',
  '5_FFF000', '2_000000', '10_20_30_40', '2-2-0.8-0.024', '20', '50', '80', 'jpg', 'jpeg', 'png', 'webp', 'avif', 'gif', 'orig', 'defaults@@missing.jpg',
];
const CONDITIONS = ['if-w_gt_300', 'if-ih_lt_500', 'if-ar_gte_1', 'if-iw_eq_640'];

function tokenPool(): string[] {
  const pool = new Set<string>();
  for (const spec of PARAMS) {
    for (const v of VALUES) {
      const token = v === '' ? spec.key : `${spec.key}-${v}`;
      try {
        parseTransformation(token);
        pool.add(token);
      } catch {
        /* not a value of this parameter */
      }
    }
    // the table's own example tokens
    for (const t of spec.example.split(/[,:]/)) {
      try {
        parseTransformation(t);
        pool.add(t);
      } catch {
        /* a fragment */
      }
    }
  }
  pool.delete('orig-true'); // "serve the original": covered separately (every other parameter is ignored)
  return [...pool];
}

function randomTr(rand: () => number, pool: string[], favour: string[]): string {
  const pick = () => (rand() < 0.4 ? favour[Math.floor(rand() * favour.length)]! : pool[Math.floor(rand() * pool.length)]!);
  const steps: string[] = [];
  const nSteps = 1 + Math.floor(rand() * (rand() < 0.8 ? 1 : 3));
  for (let s = 0; s < nSteps; s++) {
    const n = 1 + Math.floor(rand() * 5);
    const tokens = Array.from({ length: n }, pick);
    if (rand() < 0.08) {
      const cond = CONDITIONS[Math.floor(rand() * CONDITIONS.length)]!;
      steps.push(`${cond},${tokens.join(',')}${rand() < 0.5 ? `,if-else,${pick()}` : ''},if-end`);
    } else steps.push(tokens.join(','));
  }
  return steps.join(':');
}

const SIZES: [number, number][] = [[640, 480], [300, 900], [2000, 1000]];

/** What the renderer consumes for this plan under these options, for each original size. */
async function renderInput(plan: TransformPlan, format: NegotiatedFormat, hints: { dpr?: number; width?: number }, acct: Account): Promise<string> {
  const { steps, ...outputFields } = plan;
  const perSize: unknown[] = [];
  for (const [iw, ih] of SIZES) {
    const ctx = {
      dimsKnown: true,
      width: iw,
      height: ih,
      source: { width: iw, height: ih },
      opts: { format, dpr: hints.dpr, widthHint: hints.width, defaults: acct.defaults },
    } as unknown as RenderState;
    const resolved: unknown[] = [];
    for (const step of steps) {
      for (const ops of await expandStep(ctx, step)) {
        try {
          const r = await resolveStep(ctx, ops);
          // a step whose every operation is "nothing to do" renders nothing (the key drops it too)
          if (JSON.stringify(r) !== JSON.stringify(EMPTY_OPS)) resolved.push(r);
        } catch (e) {
          resolved.push(isPixmeshError(e) ? `error ${e.code}` : `crash ${String(e)}`);
        }
      }
    }
    perSize.push(resolved);
  }
  // the output fields the encoder reads; a q- equal to the account default is the default
  const out = { ...outputFields } as Record<string, unknown>;
  if (out.quality === acct.defaults.quality) delete out.quality;
  // the encoder reads these flags as Boolean(plan.x) (origin/src/pipeline/steps/output.ts): false is absent
  for (const f of ['progressive', 'lossless', 'metadata', 'colorProfile', 'original']) if (out[f] === false) delete out[f];
  return JSON.stringify({ format, defaults: acct.defaults, out: sortKeys(out), perSize });
}

function sortKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
}

const acct = validateAccountFile({
  accounts: [{ id: 'demo', homeRegion: 'eu-central-1', privateKey: 'private_x', endpoints: [{ prefix: '', origins: [{ type: 'media' }] }] }],
})[0]!;
const request = parseImagePath(acct, '/photo.jpg', '');

const HINTS: { dpr?: number; width?: number }[] = [{}, { dpr: 2 }, { width: 480 }, { dpr: 1.5, width: 1200 }, { dpr: 3, width: 100 }];
const FORMATS: NegotiatedFormat[] = ['source', 'webp', 'jpeg'];

describe('cache key ⇒ render input (property, over generated plans)', () => {
  it(`${PLANS} generated plans and their one-parameter mutants, over every parameter, with and without client hints: equal keys always mean equal renderer input`, async () => {
    const pool = tokenPool();
    // every parameter of the table contributes tokens
    const covered = new Set(pool.map((t) => PARAMS.find((p) => t === p.key || t.startsWith(`${p.key}-`))?.key));
    expect(PARAMS.filter((p) => !covered.has(p.key)).map((p) => p.key)).toEqual([]);
    // resize-related tokens are where collisions hide: favour them
    const favour = pool.filter((t) => /^(w|h|ar|c|cm|fo|dpr|x|y|xc|yc|z)-/.test(t));
    const rand = prng(20261201);
    const byKey = new Map<string, { tr: string; hints: object; input: string }>();
    let plans = 0;
    let sharedKeys = 0;
    const collisions: string[] = [];
    let variants = 0;
    while (plans < PLANS) {
      const base = randomTr(rand, pool, favour);
      try {
        parseTransformation(base);
      } catch {
        continue; // conflicting tokens: the parser refuses them, nothing is cached
      }
      plans++;
      // Collisions hide where adding or removing ONE parameter leaves the key unchanged: try the
      // plan, the plan without each of its parameters, and the plan with one more.
      const tokens = base.split(/([:,])/);
      const mutants = [base];
      for (let i = 0; i < tokens.length; i += 2) mutants.push([...tokens.slice(0, Math.max(0, i - 1)), ...tokens.slice(i + 1 + (i === 0 ? 1 : 0))].join(''));
      for (let j = 0; j < 2; j++) mutants.push(`${base},${favour[Math.floor(rand() * favour.length)]!}`);
      mutants.push(`${base},${pool[Math.floor(rand() * pool.length)]!}`);
      const format = FORMATS[Math.floor(rand() * FORMATS.length)]!;
      const hintSets = [HINTS[0]!, HINTS[1 + Math.floor(rand() * (HINTS.length - 1))]!];
      for (const tr of mutants) {
      let plan: TransformPlan;
      try {
        plan = parseTransformation(tr);
      } catch {
        continue;
      }
      variants++;
      for (const hints of hintSets) {
        const key = variantCacheKey({ account: acct, request, plan, format, dpr: hints.dpr, width: hints.width });
        const input = await renderInput(plan, format, hints, acct);
        const seen = byKey.get(key);
        if (!seen) byKey.set(key, { tr, hints, input });
        else {
          sharedKeys++;
          if (seen.input !== input && collisions.length < 5) collisions.push(`"${seen.tr}" ${JSON.stringify(seen.hints)} and "${tr}" ${JSON.stringify(hints)} share a key but render differently`);
        }
      }
      }
    }
    console.log(`[property] ${plans} generated plans, ${variants} plans with their one-parameter mutants, ${byKey.size} distinct keys, ${sharedKeys} shared-key pairs compared`);
    expect(collisions).toEqual([]);
    // the property is not vacuous: many plans do share keys (hint-free plans, reordered and default parameters)
    expect(sharedKeys).toBeGreaterThan(PLANS / 10);
  }, 120_000);

  it.each([
    ['w-auto,h-539,ar-4-1', 'w-auto,h-539', {}],
    ['w-auto,h-539,ar-4-1', 'w-auto,h-539', { width: 800 }],
    ['cm-extract,dpr-0.1', 'cm-extract', {}],
    ['h-auto,w-300,ar-1-1', 'h-auto,w-300', {}],
    ['cm-pad_extract,dpr-2', 'cm-pad_extract', {}],
  ])('the reported collisions are gone: "%s" and "%s" (hints %j) have different keys', (a, b, hints: { dpr?: number; width?: number }) => {
    const k = (tr: string) => variantCacheKey({ account: acct, request, plan: parseTransformation(tr), format: 'webp', ...hints });
    expect(k(a)).not.toBe(k(b));
  });

  it.each([
    ['w-300,h-200', 'h-200,w-300'],
    ['f-jpg', 'f-jpeg'],
    ['w-300,q-80', 'w-300'], // the account default quality
    ['w-300,dpr-1', 'w-300'],
    ['e-grayscale,w-100', 'w-100,e-grayscale'],
    ['w-300,h-200,ar-4-3', 'w-300,h-200'], // both sides fixed: ar is moot
    ['x-10,w-100', 'w-100'], // x outside extract modes
    ['dpr-2', ''], // no size: nothing to scale
    ['c-force', ''],
    ['w-100,fo-top,cm-extract,c-force', 'w-100,fo-top,cm-extract'],
  ])('equivalent spellings share a key: "%s" ≡ "%s"', async (a, b) => {
    const k = (tr: string) => variantCacheKey({ account: acct, request, plan: parseTransformation(tr), format: 'webp' });
    expect(k(a)).toBe(k(b));
    // and the renderer indeed gets the same input
    expect(await renderInput(parseTransformation(a), 'webp', {}, acct)).toBe(await renderInput(parseTransformation(b), 'webp', {}, acct));
  });
});
