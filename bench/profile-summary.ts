/**
 * `tsx bench/profile-summary.ts <file.cpuprofile> [--top 30]`: where a V8 CPU profile's time went —
 * self time per function (file:line) and per module, as shares of the busy (non-idle) samples.
 * The origin's profile is taken by the transform bench with PIXMESH_BENCH_PROFILE_DIR=<dir>.
 */
import fs from 'node:fs';
import path from 'node:path';
import { args } from './lib/results.js';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export function summariseProfile(p: Profile, top = 30): string {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0));
  const idle = new Set(['(idle)', '(program)', '(garbage collector)']);
  let busy = 0;
  let gc = 0;
  const fn = new Map<string, number>();
  const mod = new Map<string, number>();
  const root = process.cwd();
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const name = n.callFrame.functionName || '(anonymous)';
    if (name === '(garbage collector)') gc += us;
    if (idle.has(name)) continue;
    busy += us;
    const url = n.callFrame.url.replace(/^file:\/\//, '');
    const rel = url.startsWith(root) ? path.relative(root, url) : url || '(native)';
    const m = rel.replace(/^node_modules\/((@[^/]+\/)?[^/]+).*/, 'npm:$1').replace(/^node:.*/, 'node core').replace(/^(origin|shared|bench|scripts)\/(src\/)?/, '$1/');
    fn.set(`${name} ${rel}:${n.callFrame.lineNumber + 1}`, (fn.get(`${name} ${rel}:${n.callFrame.lineNumber + 1}`) ?? 0) + us);
    mod.set(m, (mod.get(m) ?? 0) + us);
  }
  const wall = (p.endTime - p.startTime) / 1000;
  const lines = [`wall ${(wall / 1000).toFixed(1)} s, JS busy ${(busy / 1e6).toFixed(2)} s (${((busy / 1000 / wall) * 100).toFixed(1)} % of one core), GC ${(gc / 1e6).toFixed(2)} s`, '', 'by module (self time, share of busy):'];
  for (const [k, v] of [...mod].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${((v / busy) * 100).toFixed(1).padStart(5)} %  ${(v / 1000).toFixed(0).padStart(6)} ms  ${k}`);
  lines.push('', 'by function (self time):');
  for (const [k, v] of [...fn].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${((v / busy) * 100).toFixed(1).padStart(5)} %  ${(v / 1000).toFixed(0).padStart(6)} ms  ${k}`);
  return lines.join('\n');
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  const a = args();
  const file = process.argv.slice(2).find((x) => !x.startsWith('--'));
  if (!file) throw new Error('usage: tsx bench/profile-summary.ts <file.cpuprofile> [--top N]');
  console.log(summariseProfile(JSON.parse(fs.readFileSync(file, 'utf8')) as Profile, typeof a.top === 'string' ? Number(a.top) : 30));
}
