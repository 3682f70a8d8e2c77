/**
 * Child process: the raw sharp loop in-process (the upper bound). Long-lived like the origin and
 * ipx servers: reads one JSON job per stdin line, runs its widths with the given concurrency, and
 * answers one JSON line of results per job.
 */
import fs from 'node:fs';
import readline from 'node:readline';
import sharp from 'sharp';
import { rawTransform, type OutFormat } from './cases.js';
import { cpuMsOf } from './cpu.js';

interface Job {
  /** libvips threads per image for this job (sharp.concurrency); default 1, as the origin. */
  vipsThreads?: number;
  input: string;
  format: OutFormat;
  warmup: number[];
  widths: number[];
  concurrency: number;
  maxSeconds: number;
}

const inputs = new Map<string, Buffer>();

async function run(job: Job) {
  let input = inputs.get(job.input);
  if (!input) inputs.set(job.input, (input = fs.readFileSync(job.input)));
  sharp.concurrency(job.vipsThreads ?? 1);
  for (const w of job.warmup) await rawTransform(input, job.format, w);
  // Reset the peak-RSS counter so the figure covers this job only.
  try {
    fs.writeFileSync('/proc/self/clear_refs', '5');
  } catch {
    /* not Linux / not allowed */
  }
  const lat: number[] = [];
  let bytes = 0;
  const cpu0 = process.cpuUsage();
  const loop0 = cpuMsOf(process.pid, process.pid);
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
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const loop1 = cpuMsOf(process.pid, process.pid);
  const loopCpuMs = loop0 === null || loop1 === null ? null : loop1 - loop0;
  let peakRssMb: number | null = null;
  try {
    const hwm = /^VmHWM:\s+(\d+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    peakRssMb = hwm ? Number(hwm[1]) / 1024 : null;
  } catch {
    /* not Linux */
  }
  return { latencies: lat, wallMs, bytes, peakRssMb, cpuMs, loopCpuMs };
}

sharp.concurrency(1);
sharp.cache(false);
const rl = readline.createInterface({ input: process.stdin });
process.stdout.write(JSON.stringify({ ready: true }) + '\n');
rl.on('line', (line) => {
  run(JSON.parse(line) as Job)
    .then((r) => process.stdout.write(JSON.stringify(r) + '\n'))
    .catch((e) => process.stdout.write(JSON.stringify({ error: String(e) }) + '\n'));
});
rl.on('close', () => process.exit(0));
