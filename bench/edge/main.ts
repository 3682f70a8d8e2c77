/** `npm run bench:edge [-- --requests N (per target, split over rounds) --rounds R --warmup N (per target, not counted) --base-port P]` */
import { args } from '../lib/results.js';
import { DEFAULT_EDGE, runEdge } from './run.js';

const a = args();
const num = (k: string, d: number) => (typeof a[k] === 'string' ? Number(a[k]) : d);
runEdge({
  requests: num('requests', DEFAULT_EDGE.requests),
  rounds: num('rounds', DEFAULT_EDGE.rounds),
  warmup: num('warmup', DEFAULT_EDGE.warmup),
  basePort: num('base-port', DEFAULT_EDGE.basePort),
})
  .then(({ file }) => console.log(`edge: wrote ${file}`))
  .catch((e) => {
    console.error(e);
    process.exit(1);
  });
