/**
 * `npm run bench`: every suite, in the order that lets later ones use earlier results (the edge
 * suite's HIT cost feeds the geo suite's emulated edge hits), then the report
 * (bench/results/README.md + SVG charts). `--suites edge,static,transform,geo` picks a subset
 * (`replicas` too, not run by default);
 * `isolation` is the tenant-isolation bound of docs/security.md;
 * `--suites report` only rewrites the report from the JSON files.
 * Loopback only; each suite is bounded in requests and seconds (a few minutes each on 2 cores).
 */
import os from 'node:os';
import { runEdge } from './edge/run.js';
import { runGeo } from './geo/run.js';
import { runIsolation } from './isolation/run.js';
import { runReplicas } from './replicas/run.js';
import { runStatic } from './static/run.js';
import { args } from './lib/results.js';
import { writeReport } from './report.js';
import { runTransform } from './transform/run.js';

async function main() {
  const a = args();
  const suites = typeof a.suites === 'string' ? a.suites.split(',') : ['edge', 'static', 'transform', 'geo', 'isolation'];
  const t0 = performance.now();
  console.log(`bench: ${suites.join(', ')} on ${os.availableParallelism()} cores (load average ${os.loadavg()[0]!.toFixed(2)})`);
  if (suites.includes('edge')) console.log(`edge: wrote ${(await runEdge()).file}`);
  if (suites.includes('static')) console.log(`static: wrote ${(await runStatic()).file}`);
  if (suites.includes('transform')) console.log(`transform: wrote ${(await runTransform()).file}`);
  if (suites.includes('geo')) console.log(`geo: wrote ${(await runGeo()).file}`);
  if (suites.includes('isolation')) console.log(`isolation: wrote ${(await runIsolation()).file}`);
  // Not in the default set (~4 min of its own): `--suites replicas` or `npm run bench:replicas`.
  if (suites.includes('replicas')) console.log(`replicas: wrote ${(await runReplicas()).file}`);
  const { readme, charts } = writeReport();
  console.log(`bench: report ${readme}, ${charts.length} charts, ${((performance.now() - t0) / 1000).toFixed(0)} s in all`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
