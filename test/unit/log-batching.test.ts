/**
 * origin/src/log.ts batches stdout lines (one thread-pool write per FLUSH_MS under a stream of
 * lines): every line still arrives, in order, whether the process keeps running or exits with
 * lines queued, and whether stdout is a file or a pipe.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const LOG = path.resolve('origin/src/log.ts');

/** A child that logs `n` lines in bursts across event-loop turns, then (when `exit`) exits at once. */
function script(n: number, exit: boolean): string {
  return `
    const { log } = await import(${JSON.stringify(LOG)});
    let i = 0;
    const burst = () => {
      for (let k = 0; k < 50 && i < ${n}; k++) log.info('line', { i: i++ });
      if (i < ${n}) return setImmediate(burst);
      ${exit ? 'process.exit(0);' : ''}
    };
    burst();
  `;
}

function numbers(out: string): number[] {
  return out
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { i: number }).i);
}

function run(n: number, exit: boolean, stdout: 'file' | 'pipe'): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pixmesh-log-'));
  const file = path.join(dir, 'out.log');
  const fd = stdout === 'file' ? fs.openSync(file, 'w') : undefined;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script(n, exit)], { stdio: ['ignore', fd ?? 'pipe', 'inherit'], env: { ...process.env, PIXMESH_LOG: '' } });
  let piped = '';
  child.stdout?.on('data', (d: Buffer) => (piped += d.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => {
      if (fd !== undefined) fs.closeSync(fd);
      if (code !== 0) return reject(new Error(`child exited ${code}`));
      resolve(stdout === 'file' ? fs.readFileSync(file, 'utf8') : piped);
    });
  });
}

const all = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('log batching (origin/src/log.ts)', () => {
  it('a file: every line, in order, when the process ends on its own', async () => {
    expect(numbers(await run(3000, false, 'file'))).toEqual(all(3000));
  });

  it('a file: the lines still queued at process.exit() are written then', async () => {
    expect(numbers(await run(3000, true, 'file'))).toEqual(all(3000));
  });

  it('a pipe: every line, in order, with and without process.exit()', async () => {
    expect(numbers(await run(2000, false, 'pipe'))).toEqual(all(2000));
    expect(numbers(await run(2000, true, 'pipe'))).toEqual(all(2000));
  });
});
