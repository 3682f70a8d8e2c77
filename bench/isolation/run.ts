/**
 * Suite `isolation` (`npm run bench:isolation [-- --rounds N --per-phase N]`, or `npm run bench --
 * --suites isolation`) — the issue's tenant-isolation bound (#12 point 7): a flood of heavy renders
 * from one account leaves another account's p99 within 2× of its idle p99.
 *
 * The workload is bench/isolation/workload.ts (the reliability test runs the same one and asserts
 * only what holds on any machine). Each round is an idle phase (the quiet account's cheap misses
 * alone) then a flood phase (the same misses during the hostile flood); the ratio is per round
 * (flood p99 ÷ idle p99 of that round, so both see the same machine load), with the spread over
 * rounds, and for all rounds pooled. The quiet misses' own Server-Timing (queue, transform, proc)
 * tells where a slow one spent its time: waiting for a slot, rendering (CPU shared), or outside
 * the region (the edge, the client).
 * Results: bench/results/isolation.json.
 */
import os from 'node:os';
import { writeSuite } from '../lib/results.js';
import { cpuSampler, type CpuGroups } from './cpu.js';
import { round } from '../lib/stats.js';
import { IsolationWorkload, p99, startIsolationCluster, tally, TRANSFORM_SLOTS, FLOODERS, type QuietSample } from './workload.js';

export interface IsolationOptions {
  mode: 'full' | 'smoke';
  rounds: number;
  perPhase: number;
  log: (m: string) => void;
}

export const DEFAULT_ISOLATION: IsolationOptions = { mode: 'full', rounds: 5, perPhase: 60, log: (m) => console.log(m) };

export interface IsolationRound {
  round: number;
  idleP99: number;
  floodP99: number;
  ratio: number;
  idleP50: number;
  floodP50: number;
  /** Of the flood phase's quiet misses: the largest time waiting for a transform slot, and p99 of the region's own time. */
  floodMaxQueueMs: number;
  floodP99ProcMs: number;
  heavyServed: number;
  hostile: Record<string, number>;
  quietErrors: number;
  load: [number, number];
  /** CPU ms by process during the flood phase (bench/isolation/cpu.ts), and the phase's wall time. */
  floodCpu: { wallMs: number; cpuMs: CpuGroups };
}

export interface IsolationResults {
  rounds: IsolationRound[];
  ratio: { median: number; min: number; max: number; pooled: number };
  /** The bound (flood p99 ≤ 2 × idle p99) met in this many of the rounds, and pooled. */
  boundMetRounds: number;
  boundMetPooled: boolean;
  heavyRenderAloneMs: number;
  /** The slowest quiet misses during the flood, with their Server-Timing, for diagnosis. */
  slowest: { ms: number; timing: Record<string, number> }[];
}

const load = () => Number(os.loadavg()[0]!.toFixed(2));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

export async function runIsolation(opts: IsolationOptions = DEFAULT_ISOLATION): Promise<{ file: string; results: IsolationResults }> {
  const started = new Date();
  const t0 = performance.now();
  const ic = await startIsolationCluster();
  try {
    const w = new IsolationWorkload(ic.cluster.edgeUrl);
    const { heavyAlone } = await w.warmUp();
    opts.log(`isolation: one heavy render alone ${Math.round(heavyAlone.ms)} ms (status ${heavyAlone.status}); load ${load()}`);
    const rounds: IsolationRound[] = [];
    const allIdle: QuietSample[] = [];
    const allFlood: QuietSample[] = [];
    for (let r = 0; r < opts.rounds; r++) {
      const l0 = load();
      const idle = await w.quiet(opts.perPhase, 'idle');
      const pids = ic.cluster.pids();
      const cpu = cpuSampler({ region: pids['eu-central-1'], edge: pids.edge });
      const { result: during, hostile } = await w.flood(() => w.quiet(opts.perPhase, 'flood'));
      const floodCpu = cpu.stop();
      allIdle.push(...idle);
      allFlood.push(...during);
      const ok = (s: QuietSample[]) => s.filter((a) => a.status === 200);
      const idleP99 = p99(ok(idle).map((a) => a.ms));
      const floodP99 = p99(ok(during).map((a) => a.ms));
      const row: IsolationRound = {
        round: r + 1,
        idleP99: round(idleP99),
        floodP99: round(floodP99),
        ratio: round(floodP99 / idleP99, 2),
        idleP50: round(median(idle.map((a) => a.ms))),
        floodP50: round(median(during.map((a) => a.ms))),
        floodMaxQueueMs: round(Math.max(0, ...during.map((a) => a.timing.queue ?? 0))),
        floodP99ProcMs: round(p99(during.map((a) => a.timing.proc ?? 0))),
        heavyServed: hostile.filter((a) => a.status === 200).length,
        hostile: tally(hostile),
        quietErrors: [...idle, ...during].filter((a) => a.status !== 200).length,
        load: [l0, load()],
        floodCpu,
      };
      rounds.push(row);
      opts.log(
        `isolation: round ${row.round}: idle p99 ${row.idleP99} ms, flood p99 ${row.floodP99} ms, ratio ${row.ratio} (p50 ${row.idleP50} → ${row.floodP50}; ` +
          `max queue wait ${row.floodMaxQueueMs} ms, p99 region time ${row.floodP99ProcMs} ms; heavy served ${row.heavyServed}; load ${row.load.join(' → ')})`,
      );
      opts.log(`isolation: round ${row.round}: flood CPU over ${floodCpu.wallMs} ms: ${JSON.stringify(floodCpu.cpuMs)}`);
    }
    const ratios = rounds.map((r) => r.ratio);
    const pooled = round(p99(allFlood.map((a) => a.ms)) / p99(allIdle.map((a) => a.ms)), 2);
    const results: IsolationResults = {
      rounds,
      ratio: { median: round(median(ratios), 2), min: Math.min(...ratios), max: Math.max(...ratios), pooled },
      boundMetRounds: ratios.filter((x) => x <= 2).length,
      boundMetPooled: pooled <= 2,
      heavyRenderAloneMs: round(heavyAlone.ms),
      slowest: [...allFlood].sort((a, b) => b.ms - a.ms).slice(0, 5).map((a) => ({ ms: round(a.ms), timing: a.timing })),
    };
    opts.log(`isolation: ratio median ${results.ratio.median} (rounds ${results.ratio.min}–${results.ratio.max}), pooled ${pooled}; 2× met in ${results.boundMetRounds}/${rounds.length} rounds`);
    for (const s of results.slowest) opts.log(`isolation: slow quiet miss ${s.ms} ms: ${JSON.stringify(s.timing)}`);
    const { file } = writeSuite({
      suite: 'isolation',
      mode: opts.mode,
      startedAt: started.toISOString(),
      durationS: round((performance.now() - t0) / 1000),
      config: { rounds: opts.rounds, perPhase: opts.perPhase, transformSlots: TRANSFORM_SLOTS, flooders: FLOODERS },
      results,
      notes: [
        'ratio = quiet p99 during the flood ÷ quiet p99 idle, per round (nearest rank); the issue bound is 2.',
        'Loopback on one machine: the edge (workerd), the region, its heavy children, s3rver and the load generator share the cores.',
      ],
    });
    return { file, results };
  } finally {
    await ic.stop();
  }
}
