/**
 * Main-thread CPU per image of the origin's pipeline (renderImage, header facts given as the
 * origin gives them) vs the raw sharp loop, in-process, jpeg-320-like widths one at a time —
 * whether the origin's sharp JS costs more than the raw loop's (diagnostic for issue #18; the
 * main thread's CPU from /proc, 10-ms ticks, so n ≥ 400 for 0.025-ms resolution).
 * `npx tsx bench/transform/pipeline-main-thread.ts [n]`
 */
import sharp from 'sharp';
import { DEFAULT_ACCOUNT_DEFAULTS } from '../../shared/accounts.js';
import { parseTransformation } from '../../shared/transform/index.js';
import { renderImage, readSourceInfo, configureSharp, newDefaultConfig } from '../../origin/src/pipeline/index.js';
import { rawTransform } from './cases.js';
import { cpuMsOf } from './cpu.js';
import { makeInput } from './run.js';
const config = newDefaultConfig(); configureSharp(config);
const input = await makeInput();
const source = await readSourceInfo(input);
const n = Number(process.argv[2] ?? 400);
const variants: Record<string, (w: number) => Promise<unknown>> = {
  raw: (w) => rawTransform(input, 'jpeg', w),
  origin: (w) => renderImage(input, parseTransformation(`w-${w},f-jpg`), { format: 'jpeg', defaults: { ...DEFAULT_ACCOUNT_DEFAULTS, quality: 80 }, config, source }),
  meta: () => sharp(input).metadata(),
};
for (let r = 0; r < 3; r++) for (const [name, v] of Object.entries(variants)) {
  for (let i = 0; i < 20; i++) await v(320 + i);
  const t0 = cpuMsOf(process.pid, process.pid)!; const p0 = process.cpuUsage();
  for (let i = 0; i < n; i++) await v(320 + (i % 50));
  const d = process.cpuUsage(p0);
  console.log(r, name.padEnd(8), 'main ms/op', ((cpuMsOf(process.pid, process.pid)! - t0) / n).toFixed(3), 'all', ((d.user + d.system) / 1000 / n).toFixed(2));
}
