/**
 * `npx tsx bench/transform/layers.ts [--rounds 5 --iterations 20]`
 * The cost of overlays: one text layer and one image layer on a 720-px JPEG output, against the
 * same 720-px output without layers, in the same process and the same rounds (alternating, so
 * machine load hits both alike). Reports the per-round ratio (median, min, max) and writes
 * bench/results/transform-layers.json. Runs the origin's real pipeline (renderImage), in process.
 */
import sharp from 'sharp';
import { DEFAULT_ACCOUNT_DEFAULTS } from '../../shared/accounts.js';
import { parseTransformation } from '../../shared/transform/index.js';
import { renderImage } from '../../origin/src/pipeline/index.js';
import { args, writeSuite } from '../lib/results.js';

const a = args();
const rounds = Number(a.rounds ?? 5);
const iterations = Number(a.iterations ?? 20);

/** A 1600×1067 photo-like JPEG (gradient, shapes, grain) and a 300×300 PNG logo with alpha. */
async function inputs(): Promise<{ photo: Buffer; logo: Buffer }> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="1600" height="1067"><defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#5b8cc9"/><stop offset="1" stop-color="#2d4a2b"/></linearGradient></defs><rect width="100%" height="100%" fill="url(#g)"/>${Array.from({ length: 30 }, (_, i) => `<ellipse cx="${(i * 397) % 1600}" cy="${(i * 211) % 1067}" rx="${40 + ((i * 53) % 300)}" ry="${30 + ((i * 37) % 200)}" fill="hsl(${(i * 47) % 360},50%,50%)" fill-opacity="0.7"/>`).join('')}</svg>`;
  const noise = await sharp({ create: { width: 1600, height: 1067, channels: 3, background: { r: 0, g: 0, b: 0 }, noise: { type: 'gaussian', mean: 0, sigma: 4 } } }).png().toBuffer();
  const photo = await sharp(Buffer.from(svg)).composite([{ input: noise, blend: 'add' }]).jpeg({ quality: 90 }).toBuffer();
  const logo = await sharp(Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="300" height="300"><circle cx="150" cy="150" r="120" fill="#e33"/><text x="150" y="170" font-size="60" text-anchor="middle" fill="#fff">px</text></svg>`)).png().toBuffer();
  return { photo, logo };
}

const PLAIN = 'w-720,f-jpg';
const LAYERED = 'w-720,f-jpg,l-text,i-pixmesh%20demo,fs-36,co-FFFFFF,bg-00000080,pa-8,lfo-bottom_left,l-end,l-image,i-logo.png,w-120,lx-N16,ly-16,l-end';

async function main() {
  const startedAt = new Date().toISOString();
  const t0 = performance.now();
  const { photo, logo } = await inputs();
  const opts = { format: 'jpeg' as const, defaults: DEFAULT_ACCOUNT_DEFAULTS, fetchLayer: async () => logo };
  const plans = { plain: parseTransformation(PLAIN), layered: parseTransformation(LAYERED) };
  const once = async (which: 'plain' | 'layered') => {
    const t0 = performance.now();
    await renderImage(photo, plans[which], opts);
    return performance.now() - t0;
  };
  for (let i = 0; i < 3; i++) await Promise.all([once('plain'), once('layered')]); // warm-up (font registration, libvips init)
  const perRound: { plainMs: number; layeredMs: number; ratio: number }[] = [];
  for (let r = 0; r < rounds; r++) {
    let plainMs = 0;
    let layeredMs = 0;
    for (let i = 0; i < iterations; i++) {
      plainMs += await once('plain');
      layeredMs += await once('layered');
    }
    perRound.push({ plainMs: plainMs / iterations, layeredMs: layeredMs / iterations, ratio: layeredMs / plainMs });
  }
  const ratios = perRound.map((p) => p.ratio).sort((x, y) => x - y);
  const round2 = (n: number) => Math.round(n * 100) / 100;
  const summary = {
    plain: PLAIN,
    layered: LAYERED,
    rounds,
    iterations,
    medianRatio: round2(ratios[Math.floor(ratios.length / 2)]!),
    minRatio: round2(ratios[0]!),
    maxRatio: round2(ratios[ratios.length - 1]!),
    perRound: perRound.map((p) => ({ plainMs: round2(p.plainMs), layeredMs: round2(p.layeredMs), ratio: round2(p.ratio) })),
  };
  const { file } = writeSuite({
    suite: 'transform-layers',
    mode: 'full',
    startedAt,
    durationS: round2((performance.now() - t0) / 1000),
    config: { rounds, iterations },
    results: summary,
    notes: ['In-process renderImage, one request at a time; the ratio is layered ÷ plain mean latency per round (same round, alternating), so machine load hits both alike.'],
  });
  console.log(JSON.stringify(summary, null, 2));
  console.log(`wrote ${file}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
