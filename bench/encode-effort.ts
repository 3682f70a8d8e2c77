/**
 * How much CPU do WebP and AVIF effort levels cost, and what do they save? Run:
 *   npx tsx bench/encode-effort.ts [runs=3]
 * Input: a deterministic synthetic "photo" (smooth fractal noise + grain + hard-edged shapes),
 * 1200×800, resized to 800 wide as a typical delivery size. Encodes in-process, one at a time,
 * with the pipeline's sharp settings (concurrency 1, cache off). Prints a markdown table: median
 * CPU ms per encode (process user+system time, robust to other load on the machine), median
 * wall-clock ms, output bytes, and PSNR (dB, RGB, against the uncompressed resized pixels) so a
 * smaller file can be told apart from a worse one. docs/transformations.md quotes the result.
 */
import os from 'node:os';
import sharp from 'sharp';

sharp.concurrency(1);
sharp.cache(false);

function syntheticPhoto(width: number, height: number): Buffer {
  const px = Buffer.alloc(width * height * 3);
  let seed = 42;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const waves = Array.from({ length: 24 }, (_, i) => ({
    fx: (rand() - 0.5) * 0.002 * (i + 1),
    fy: (rand() - 0.5) * 0.002 * (i + 1),
    ph: rand() * 6.28,
    amp: 60 / (i + 1),
    ch: i % 3,
  }));
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const rgb = [110, 120, 100];
      for (const w of waves) rgb[w.ch]! += w.amp * Math.sin(x * w.fx * 6.28 + y * w.fy * 6.28 + w.ph);
      const inDisc = (x - 400) ** 2 + (y - 300) ** 2 < 150 ** 2;
      const inBar = x > 800 && x < 1000 && y > 100 && y < 700;
      const grain = (rand() - 0.5) * 18;
      const i = (y * width + x) * 3;
      for (let c = 0; c < 3; c++) {
        let v = rgb[c]! + grain;
        if (inDisc) v = c === 0 ? 230 + grain : 60 + grain;
        if (inBar) v = c === 2 ? 200 + grain : 40 + grain;
        px[i + c] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
  return px;
}

async function main() {
  const runs = Number(process.argv[2] ?? 3);
  const W = 1200;
  const H = 800;
  const source = await sharp(syntheticPhoto(W, H), { raw: { width: W, height: H, channels: 3 } }).jpeg({ quality: 92 }).toBuffer();
  const resized = await sharp(source).resize({ width: 800 }).raw().toBuffer({ resolveWithObject: true });
  const open = () => sharp(resized.data, { raw: { width: resized.info.width, height: resized.info.height, channels: 3 } });

  type Row = { label: string; encode: () => Promise<Buffer> };
  const rows: Row[] = [{ label: 'jpeg q80', encode: () => open().jpeg({ quality: 80 }).toBuffer() }];
  for (const effort of [0, 1, 2, 3, 4, 6]) rows.push({ label: `webp q80 effort ${effort}`, encode: () => open().webp({ quality: 80, effort }).toBuffer() });
  for (const tune of ['ssim', 'auto'] as const)
    for (const effort of [0, 1, 2, 3, 4, 6])
      rows.push({ label: `avif q50 effort ${effort} tune ${tune}`, encode: () => open().avif({ quality: 50, effort, tune }).toBuffer() });

  console.log(`node ${process.version}, sharp ${sharp.versions.sharp}, libvips ${sharp.versions.vips}, ${os.cpus().length}× ${os.cpus()[0]?.model ?? '?'}`);
  console.log(`input: synthetic 1200×800 photo, resized to 800×533, ${runs} runs, median\n`);
  const psnr = async (encoded: Buffer): Promise<number> => {
    const dec = await sharp(encoded).removeAlpha().toColourspace('srgb').raw().toBuffer();
    let se = 0;
    for (let i = 0; i < resized.data.length; i++) se += (dec[i]! - resized.data[i]!) ** 2;
    return 10 * Math.log10((255 * 255) / (se / resized.data.length));
  };
  console.log('| encoder | CPU ms | wall ms | bytes | PSNR dB |');
  console.log('|---|---:|---:|---:|---:|');
  for (const row of rows) {
    await row.encode(); // warm-up
    const wall: number[] = [];
    const cpu: number[] = [];
    let bytes = 0;
    let last: Buffer = Buffer.alloc(0);
    for (let i = 0; i < runs; i++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const out = await row.encode();
      wall.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      cpu.push((c.user + c.system) / 1000);
      bytes = out.length;
      last = out;
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!.toFixed(1);
    console.log(`| ${row.label} | ${median(cpu)} | ${median(wall)} | ${bytes} | ${(await psnr(last)).toFixed(2)} |`);
  }
}

await main();
