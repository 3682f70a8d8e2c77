/**
 * `npm run bench:smoke`: a tiny run of every suite (a handful of requests each) into a temporary
 * folder, then checks that each suite wrote a well-formed result file, the report and its charts.
 * It asserts shapes, never timings: the numbers of a smoke run mean nothing.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runEdge } from './edge/run.js';
import { runGeo, type GeoResults } from './geo/run.js';
import { type SuiteResult } from './lib/results.js';
import { writeReport } from './report.js';
import { runTransform, type TransformResults } from './transform/run.js';
import type { EdgeResults } from './edge/run.js';

const finite = (x: unknown, what: string) => assert.ok(typeof x === 'number' && Number.isFinite(x), `${what} should be a finite number, got ${String(x)}`);

function readJson<T>(dir: string, suite: string): SuiteResult<T> {
  const file = path.join(dir, `${suite}.json`);
  assert.ok(fs.existsSync(file), `${file} missing`);
  const r = JSON.parse(fs.readFileSync(file, 'utf8')) as SuiteResult<T>;
  assert.equal(r.suite, suite);
  assert.equal(r.mode, 'smoke');
  assert.ok(!Number.isNaN(Date.parse(r.startedAt)), 'startedAt is a date');
  finite(r.machine.nproc, 'machine.nproc');
  assert.ok(r.machine.cpuModel && r.machine.node && r.machine.sharp, 'machine description');
  assert.ok(Array.isArray(r.notes) && r.notes.length > 0, 'notes');
  return r;
}

async function main() {
  const t0 = performance.now();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pixmesh-bench-smoke-'));
  const quiet = () => undefined;
  try {
    const took: string[] = [];
    const timed = async (name: string, f: () => Promise<unknown>) => {
      const s = performance.now();
      await f();
      took.push(`${name} ${((performance.now() - s) / 1000).toFixed(1)} s`);
    };
    await timed('edge', () => runEdge({ mode: 'smoke', requests: 20, concurrency: [1], rounds: 1, warmup: 5, decideIterations: 2000, outDir: dir, log: quiet }));
    await timed('transform', () => runTransform({ mode: 'smoke', cases: ['jpeg-320'], coldRequests: 3, repeatedRequests: 6, variants: 4, rounds: 1, maxSeconds: 10, outDir: dir, log: quiet }));
    await timed('geo', () => runGeo({ mode: 'smoke', seeds: [7], requests: 24, concurrency: 6, images: 4, scenarios: ['steady', 'kill'], policies: ['pixmesh', 'nearest', 'home', 'oracle'], policiesFor: { kill: ['pixmesh'] }, maxSecondsPerRun: 60, outDir: dir, log: quiet }));
    const { readme, charts } = writeReport(dir);

    const edge = readJson<EdgeResults>(dir, 'edge');
    assert.equal(edge.results.measurements.length, 7, 'edge: seven targets at one concurrency');
    for (const m of edge.results.measurements) {
      assert.ok(m.requests > 0, `edge ${m.target}: requests`);
      finite(m.latency.p50, `edge ${m.target} p50`);
    }
    finite(edge.results.decide.usPerDecision, 'edge decide µs');
    const ht = edge.results.hitTarget;
    assert.equal(ht.image.perRound.length, 1, 'edge: one image HIT overhead per round');
    assert.equal(ht.file.perRound.length, 1, 'edge: one file HIT overhead per round');
    for (const x of [ht.image.median, ht.image.min, ht.image.max, ht.file.median, edge.results.hit.overheadP50Ms]) finite(x, 'edge HIT overhead');
    assert.equal(typeof ht.metOnMedian, 'boolean', 'edge: target checked on the median');
    assert.equal(typeof ht.metEveryRound, 'boolean', 'edge: target checked on every round');

    const tr = readJson<TransformResults>(dir, 'transform');
    assert.equal(tr.results.measurements.length, 2 * 3, 'transform: 1 case × 2 workloads × 3 engines');
    for (const m of tr.results.measurements) {
      assert.equal(m.errors, 0, `transform ${m.engine} ${m.case} ${m.workload}: no errors`);
      finite(m.opsPerSec, `transform ${m.engine} ${m.case} ops/s`);
      assert.ok(m.meanBytes > 0, 'transform output bytes');
    }
    assert.equal(tr.results.ratios.length, 2, 'transform ratios');

    const geo = readJson<GeoResults>(dir, 'geo');
    const steady = geo.results.scenarios.steady;
    assert.ok(steady && steady.length === 4, 'geo steady: four policies');
    for (const r of steady) {
      assert.ok(r.requests > 0 && r.latency.n > 0, `geo steady ${r.policy}: requests answered`);
      finite(r.latency.p99, `geo steady ${r.policy} p99`);
      assert.ok(r.edgeHitRatio >= 0 && r.edgeHitRatio <= 1 && r.regionHitRatio >= 0 && r.regionHitRatio <= 1, 'ratios in [0, 1]');
      assert.ok(r.originalFetches > 0, `geo steady ${r.policy}: originals were fetched from S3`);
      assert.ok(r.regretVsOracle, 'regret vs oracle');
      assert.equal(r.timeline.length > 0, true, 'timeline');
    }
    assert.equal(steady.find((r) => r.policy === 'home')!.regionShare['eu-central-1'], 1, 'home-only goes home');
    const kill = geo.results.scenarios.kill;
    assert.ok(kill && kill.length === 1 && kill[0]!.policy === 'pixmesh', 'geo kill: the pixmesh policy ran');
    assert.ok(kill[0]!.event?.kind === 'kill' && kill[0]!.event.region === 'ap-southeast-1', 'kill event recorded');
    assert.ok(kill[0]!.latency.n > 0, 'requests answered around the kill');

    const md = fs.readFileSync(readme, 'utf8');
    for (const h of ['## 1. Geo simulation', '## 2. Transform throughput', '## 3. Edge overhead']) assert.ok(md.includes(h), `report has "${h}"`);
    assert.ok(charts.length >= 5, `charts written (${charts.length})`);
    for (const c of charts) {
      const svg = fs.readFileSync(path.join(dir, c), 'utf8');
      assert.ok(svg.startsWith('<svg') && svg.trimEnd().endsWith('</svg>'), `${c} is an SVG document`);
      assert.ok(md.includes(`](${c})`), `report links ${c}`);
    }
    console.log(`bench:smoke ok — 3 suites (${took.join(', ')}), ${charts.length} charts, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  } finally {
    if (!process.env.PIXMESH_KEEP_BENCH_DATA) fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
