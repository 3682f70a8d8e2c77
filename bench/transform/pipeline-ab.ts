/**
 * In-process A/B of sharp chains against the raw loop (bench/transform/cases.ts) on the bench's
 * input: interleaved, one image at a time (or --c 2 in flight), per case and variant the median ms,
 * its ratio to raw, the process CPU ms and the output bytes per image. The variants spell out the
 * options the origin's pipeline adds to the raw loop's chain, one at a time (docs/benchmarks.md section 2).
 * `npx tsx bench/transform/pipeline-ab.ts [--n 40] [--c 1] [--cases jpeg-320,webp-320] [--variants raw,origin,decoded,...]`
 */
import sharp, { type Sharp } from 'sharp';
import { DEFAULT_ACCOUNT_DEFAULTS } from '../../shared/accounts.js';
import { parseTransformation } from '../../shared/transform/index.js';
import { renderImage, readSourceInfo, configureSharp, newDefaultConfig } from '../../origin/src/pipeline/index.js';
import { args } from '../lib/results.js';
import { percentile } from '../lib/stats.js';
import { CASES, ENCODER, rawTransform, type OutFormat } from './cases.js';
import { makeInput } from './run.js';

const a = args();
const n = Number(a.n ?? 40);
const conc = Number(a.c ?? 1);
const cases = CASES.filter((c) => (typeof a.cases === 'string' ? a.cases.split(',') : CASES.map((x) => x.id)).includes(c.id));
const config = newDefaultConfig();
const noDecoded = { ...config, decodedCacheMb: 0 };
configureSharp(config);

const enc = (p: Sharp, f: OutFormat) => (f === 'jpeg' ? p.jpeg(ENCODER.jpeg) : f === 'webp' ? p.webp(ENCODER.webp) : p.avif(ENCODER.avif));
type V = (input: Buffer, f: OutFormat, w: number, h: number) => Promise<Buffer>;
const variants: Record<string, V> = {
  raw: (i, f, w) => rawTransform(i, f, w),
  // the origin's pipeline without and with the decoded-original cache (origin/src/pipeline/decoded-cache.ts)
  origin: async (i, f, w) => (await renderImage(i, parseTransformation(`w-${w},f-${f === 'jpeg' ? 'jpg' : f}`), { format: f, defaults: { ...DEFAULT_ACCOUNT_DEFAULTS, quality: 80 }, config: noDecoded, source: await src(i) })).data,
  // every render a new original (a copy of the input): its first render, the normal path under the decoded cache's admission rule
  decodedMiss: async (i, f, w) => (await renderImage(Buffer.from(i), parseTransformation(`w-${w},f-${f === 'jpeg' ? 'jpg' : f}`), { format: f, defaults: { ...DEFAULT_ACCOUNT_DEFAULTS, quality: 80 }, config, source: await src(i) })).data,
  // the same copy of the input without the cache (what the copy itself costs is in both)
  originCopy: async (i, f, w) => (await renderImage(Buffer.from(i), parseTransformation(`w-${w},f-${f === 'jpeg' ? 'jpg' : f}`), { format: f, defaults: { ...DEFAULT_ACCOUNT_DEFAULTS, quality: 80 }, config: noDecoded, source: await src(i) })).data,
  decoded: async (i, f, w) => (await renderImage(i, parseTransformation(`w-${w},f-${f === 'jpeg' ? 'jpg' : f}`), { format: f, defaults: { ...DEFAULT_ACCOUNT_DEFAULTS, quality: 80 }, config, source: await src(i) })).data,
  // the origin's chain, spelled out
  chain: (i, f, w, h) => enc(sharp(i, { failOn: 'error', limitInputPixels: config.maxInputPixels, autoOrient: true, pages: 1, page: 0 }).resize({ width: w, height: h, fit: 'fill', position: 'centre', background: { r: 0, g: 0, b: 0, alpha: 1 } }).timeout({ seconds: 20 }), f).toBuffer({ resolveWithObject: true }).then((r: { data: Buffer }) => r.data),
  noTimeout: (i, f, w, h) => enc(sharp(i, { failOn: 'error', limitInputPixels: config.maxInputPixels, autoOrient: true, pages: 1, page: 0 }).resize({ width: w, height: h, fit: 'fill', position: 'centre', background: { r: 0, g: 0, b: 0, alpha: 1 } }), f).toBuffer(),
  widthOnly: (i, f, w) => enc(sharp(i, { failOn: 'error', limitInputPixels: config.maxInputPixels, autoOrient: true, pages: 1, page: 0 }).resize({ width: w }).timeout({ seconds: 20 }), f).toBuffer(),
  fillOnly: (i, f, w, h) => enc(sharp(i, { autoOrient: true }).resize({ width: w, height: h, fit: 'fill' }), f).toBuffer(),
  timeoutOnly: (i, f, w) => enc(sharp(i, { autoOrient: true }).resize({ width: w }).timeout({ seconds: 20 }), f).toBuffer(),
  openOpts: (i, f, w) => enc(sharp(i, { failOn: 'error', limitInputPixels: config.maxInputPixels, autoOrient: true, pages: 1, page: 0 }).resize({ width: w }), f).toBuffer(),
};
const names = typeof a.variants === 'string' ? a.variants.split(',') : Object.keys(variants);
const srcMemo = new WeakMap<Buffer, Awaited<ReturnType<typeof readSourceInfo>>>();
async function src(i: Buffer) {
  let s = srcMemo.get(i);
  if (!s) srcMemo.set(i, (s = await readSourceInfo(i)));
  return s;
}

const input = await makeInput();
const meta = await sharp(input).metadata();
for (const c of cases) {
  const times: Record<string, number[]> = Object.fromEntries(names.map((k) => [k, []]));
  const bytes: Record<string, number> = Object.fromEntries(names.map((k) => [k, 0]));
  const cpu: Record<string, number> = Object.fromEntries(names.map((k) => [k, 0]));
  for (const k of names) await variants[k]!(input, c.format, c.width + 400, Math.round((meta.height! * (c.width + 400)) / meta.width!));
  for (let r = 0; r < n; r++) {
    for (const k of names) {
      const w = c.width - 20 + (r % 40);
      const t = performance.now();
      const c0 = process.cpuUsage();
      const outs = await Promise.all(Array.from({ length: conc }, (_, j) => variants[k]!(input, c.format, w + j, Math.max(1, Math.round((meta.height! * (w + j)) / meta.width!)))));
      times[k]!.push((performance.now() - t) / conc);
      const cu = process.cpuUsage(c0);
      cpu[k]! += (cu.user + cu.system) / 1000 / conc;
      bytes[k]! += outs[0]!.length;
    }
  }
  const raw = percentile(times.raw ?? times[names[0]!]!, 50);
  console.log(`${c.id} c${conc}: ` + names.map((k) => `${k} ${percentile(times[k]!, 50).toFixed(2)} ms (${(raw / percentile(times[k]!, 50)).toFixed(3)}×, cpu ${(cpu[k]! / n).toFixed(1)}, ${(bytes[k]! / n / 1024).toFixed(1)} KB)`).join('  '));
}
