/** Result files: bench/results/<suite>.json, one shape for every suite. */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { machineInfo, type MachineInfo } from './machine.js';

export const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT = path.resolve(BENCH_DIR, '..');
export const DEFAULT_RESULTS_DIR = path.join(BENCH_DIR, 'results');

export interface SuiteResult<T = unknown> {
  suite: 'geo' | 'transform' | 'edge' | 'transform-layers' | 'static' | 'replicas' | 'isolation';
  /** "full" or "smoke" (smoke numbers are not results, only proof the suite runs). */
  mode: 'full' | 'smoke';
  startedAt: string;
  durationS: number;
  machine: MachineInfo;
  /** The parameters the run used (seed, counts, concurrency…). */
  config: Record<string, unknown>;
  results: T;
  /** Caveats a reader needs to interpret the numbers. */
  notes: string[];
}

export function resultsDir(): string {
  return path.resolve(process.env.PIXMESH_BENCH_OUT ?? DEFAULT_RESULTS_DIR);
}

export function writeSuite<T>(r: Omit<SuiteResult<T>, 'machine'>, dir = resultsDir()): { file: string; result: SuiteResult<T> } {
  fs.mkdirSync(dir, { recursive: true });
  const result: SuiteResult<T> = { ...r, machine: machineInfo() };
  const file = path.join(dir, `${r.suite}.json`);
  fs.writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
  return { file, result };
}

export function readSuite<T>(suite: SuiteResult['suite'], dir = resultsDir()): SuiteResult<T> | undefined {
  const file = path.join(dir, `${suite}.json`);
  if (!fs.existsSync(file)) return undefined;
  return JSON.parse(fs.readFileSync(file, 'utf8')) as SuiteResult<T>;
}

export function writeText(name: string, text: string, dir = resultsDir()): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

/** Parse `--key value` / `--flag` arguments. */
export function args(argv = process.argv.slice(2)): Record<string, string | true> {
  const out: Record<string, string | true> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) continue;
    const next = argv[i + 1];
    if (next !== undefined && !next.startsWith('--')) {
      out[a.slice(2)] = next;
      i++;
    } else out[a.slice(2)] = true;
  }
  return out;
}
