/** `npm run bench:replicas [-- --rounds N --requests N --concurrency C --smoke]` (docs/benchmarks.md, "Replicas"). */
import { args } from '../lib/results.js';
import { DEFAULT_REPLICAS, runReplicas } from './run.js';

const a = args();
const num = (k: string, d: number) => (typeof a[k] === 'string' ? Number(a[k]) : d);
const smoke = a.smoke === true;
runReplicas({
  mode: smoke ? 'smoke' : 'full',
  rounds: num('rounds', smoke ? 1 : DEFAULT_REPLICAS.rounds),
  throughputRequests: num('requests', smoke ? 12 : DEFAULT_REPLICAS.throughputRequests),
  hitRepeats: smoke ? 2 : DEFAULT_REPLICAS.hitRepeats,
  hitVariants: smoke ? 6 : DEFAULT_REPLICAS.hitVariants,
  concurrency: num('concurrency', DEFAULT_REPLICAS.concurrency),
})
  .then(({ file, results }) => {
    for (const s of results.scaling) console.log(`replicas: ${s.replicas} replica(s) = ${s.median}× (rounds ${s.min}–${s.max})`);
    for (const h of results.hitSummary) console.log(`replicas: ${h.policy}: hit ratio ${h.median} (rounds ${h.min}–${h.max}; ideal ${h.ideal})`);
    console.log(`replicas: wrote ${file}`);
  })
  .catch((e) => {
    console.error(e);
    process.exit(1);
  });
