/**
 * Child process: the raw sharp loop in-process (the upper bound). Reads a job description (JSON
 * file in argv[2]), runs the widths with the given concurrency, prints one JSON line of results.
 */
import fs from 'node:fs';
import sharp from 'sharp';
import { rawTransform, type OutFormat } from './cases.js';

interface Job {
  input: string;
  format: OutFormat;
  warmup: number[];
  widths: number[];
  concurrency: number;
  maxSeconds: number;
}

async function main() {
  const job = JSON.parse(fs.readFileSync(process.argv[2]!, 'utf8')) as Job;
  sharp.concurrency(1);
  sharp.cache(false);
  const input = fs.readFileSync(job.input);
  for (const w of job.warmup) await rawTransform(input, job.format, w);
  // Reset the peak-RSS counter so the figure covers the measured work only.
  try {
    fs.writeFileSync('/proc/self/clear_refs', '5');
  } catch {
    /* not Linux / not allowed */
  }
  const lat: number[] = [];
  let bytes = 0;
  let next = 0;
  const t0 = performance.now();
  const deadline = t0 + job.maxSeconds * 1000;
  const worker = async () => {
    while (next < job.widths.length && performance.now() < deadline) {
      const w = job.widths[next++]!;
      const s = performance.now();
      const out = await rawTransform(input, job.format, w);
      lat.push(performance.now() - s);
      bytes += out.length;
    }
  };
  await Promise.all(Array.from({ length: job.concurrency }, worker));
  const wall = performance.now() - t0;
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  const hwm = /^VmHWM:\s+(\d+)/m.exec(status);
  process.stdout.write(JSON.stringify({ latencies: lat, wallMs: wall, bytes, peakRssMb: hwm ? Number(hwm[1]) / 1024 : null }) + '\n');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
