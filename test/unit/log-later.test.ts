/**
 * log.infoLater (origin/src/log.ts) queues a line as its parts and serialises it when its batch is
 * written. The output must be what log.info writes at the call: the same characters (the call's
 * time, the context it was logged under, primitive fields, names that collide with the context),
 * in its place among the other lines, also when the process exits with it queued.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import path from 'node:path';

const LOG = path.resolve('origin/src/log.ts');

function run(body: string): Promise<string[]> {
  const code = `const { log, setLogContext } = await import(${JSON.stringify(LOG)});\n${body}`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, PIXMESH_LOG: '' } });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out.split('\n').filter(Boolean)) : reject(new Error(`child exited ${code}`))));
  });
}
/** A line without its timestamp (two calls may fall in different milliseconds). */
const untimed = (line: string) => line.replace(/^\{"t":"[^"]+",/, '{');

/** Field sets as JavaScript source (undefined values included, which JSON leaves out). */
const FIELDS = `[
  { requestId: 'rid-1', method: 'GET', path: '/internal/render/acme/a.jpg', status: 200, cache: 'hit', ms: 0.1, hop: undefined },
  { requestId: 'r\\u00e9q "quoted" \\\\ \\n', ms: 12.5, ok: true, none: null },
  {},
  { region: 'overrides the context', msg: 'and the message', t: 'and the time', level: 'and the level' },
  { '1': 'an index name', a: 1 },
]`;
const SETS = 5;

describe('log.infoLater (origin/src/log.ts)', () => {
  it('writes what log.info writes, field set by field set, in order among other lines', async () => {
    const lines = await run(`
      setLogContext({ region: 'eu-central-1', replica: 'r1' });
      for (const f of ${FIELDS}) { log.info('request', f); log.infoLater('request', f); }
      log.info('last', { n: 1 });
    `);
    expect(lines).toHaveLength(SETS * 2 + 1);
    for (let i = 0; i < SETS; i++) expect(untimed(lines[2 * i + 1]!), `field set ${i}`).toBe(untimed(lines[2 * i]!));
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ msg: 'last', n: 1 });
    expect(JSON.parse(lines[0]!)).toMatchObject({ region: 'eu-central-1', replica: 'r1', requestId: 'rid-1' });
    expect(lines[0]).not.toContain('"hop"');
  });

  it('keeps the time and the context of its call, whatever changes before its batch is written', async () => {
    const lines = await run(`
      setLogContext({ region: 'a' });
      log.infoLater('first', { n: 1 });
      const t = Date.now(); while (Date.now() < t + 3) {}
      setLogContext({ region: 'b', replica: 'x' });
      log.info('second', { n: 2 });
    `);
    expect(lines).toHaveLength(2);
    const [first, second] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(first).toEqual({ t: first!.t, level: 'info', msg: 'first', region: 'a', n: 1 });
    expect(second).toMatchObject({ msg: 'second', region: 'b', replica: 'x' });
    expect(Date.parse(first!.t as string)).toBeLessThan(Date.parse(second!.t as string));
  });

  it('a line still queued at process.exit() is written then, after the lines before it', async () => {
    const lines = await run(`
      for (let i = 0; i < 500; i++) (i % 2 ? log.info : log.infoLater)('line', { i });
      process.exit(0);
    `);
    expect(lines.map((l) => (JSON.parse(l) as { i: number }).i)).toEqual(Array.from({ length: 500 }, (_, i) => i));
  });

  it('PIXMESH_LOG=silent drops it like any line', async () => {
    const code = `const { log } = await import(${JSON.stringify(LOG)}); log.infoLater('x', { a: 1 });`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, PIXMESH_LOG: 'silent' } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise((r) => child.on('exit', r));
    expect(out).toBe('');
  });
});
