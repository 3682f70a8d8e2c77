/**
 * CPU time by process group from /proc (Linux): where the machine's time goes during a phase —
 * the region process, its niced heavy children, its other children, the edge (wrangler and its
 * workerd), this process (load generator and s3rver). Diagnostic only; empty elsewhere.
 */
import fs from 'node:fs';
import os from 'node:os';

interface ProcStat {
  pid: number;
  comm: string;
  ppid: number;
  nice: number;
  /** scheduling policy (5 = SCHED_IDLE) */
  policy: number;
  /** user + system time, ms */
  cpuMs: number;
}

const TICK_MS = 1000 / 100; // USER_HZ is 100 on Linux

function readAll(): ProcStat[] {
  const out: ProcStat[] = [];
  let names: string[];
  try {
    names = fs.readdirSync('/proc');
  } catch {
    return out;
  }
  for (const n of names) {
    if (!/^\d+$/.test(n)) continue;
    try {
      const s = fs.readFileSync(`/proc/${n}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      // fields after "(comm)": state(0) ppid(1) … utime(11) stime(12) cutime cstime priority(15) nice(16)
      out.push({ pid: Number(n), comm: s.slice(s.indexOf('(') + 1, s.lastIndexOf(')')), ppid: Number(f[1]), nice: Number(f[16]), policy: Number(f[38]), cpuMs: (Number(f[11]) + Number(f[12])) * TICK_MS });
    } catch {
      /* gone */
    }
  }
  return out;
}

function descendants(all: ProcStat[], root: number): Set<number> {
  const kids = new Map<number, number[]>();
  for (const p of all) kids.set(p.ppid, [...(kids.get(p.ppid) ?? []), p.pid]);
  const seen = new Set<number>([root]);
  const stack = [root];
  while (stack.length) for (const k of kids.get(stack.pop()!) ?? []) if (!seen.has(k)) (seen.add(k), stack.push(k));
  return seen;
}

export type CpuGroups = Record<string, number>;

/** CPU ms per group since `start()`; `stop()` returns them with the machine's total in the same span. */
export function cpuSampler(roots: { region?: number; edge?: number }) {
  const group = (all: ProcStat[]): CpuGroups => {
    const g: CpuGroups = {};
    const add = (k: string, v: number) => (g[k] = (g[k] ?? 0) + v);
    const region = roots.region ? descendants(all, roots.region) : new Set<number>();
    const edge = roots.edge ? descendants(all, roots.edge) : new Set<number>();
    for (const p of all) {
      if (p.pid === roots.region) add('region', p.cpuMs);
      else if (region.has(p.pid)) add(p.policy === 5 ? 'heavy children (SCHED_IDLE)' : p.nice > 0 ? 'heavy children (niced)' : 'region children', p.cpuMs);
      else if (edge.has(p.pid)) add(`edge (${p.comm})`, p.cpuMs);
      else if (p.pid === process.pid) add('load generator + s3rver', p.cpuMs);
      else add('other processes', p.cpuMs);
    }
    return g;
  };
  const before = group(readAll());
  const t0 = performance.now();
  return {
    stop(): { wallMs: number; cpuMs: CpuGroups; cores: number } {
      const after = group(readAll());
      const cpuMs: CpuGroups = {};
      for (const k of Object.keys(after)) cpuMs[k] = Math.round(Math.max(0, after[k]! - (before[k] ?? 0)));
      return { wallMs: Math.round(performance.now() - t0), cpuMs, cores: os.availableParallelism() };
    },
  };
}
