/** `npm run bench:transform [-- --concurrency C --cold N --repeated N --cases jpeg-720,webp-720 --rounds 3 --base-port 9540 --max-seconds 15]` */
import { args } from '../lib/results.js';
import { DEFAULT_TRANSFORM, runTransform } from './run.js';

const a = args();
const num = (k: string, d: number) => (typeof a[k] === 'string' ? Number(a[k]) : d);
runTransform({
  concurrency: num('concurrency', DEFAULT_TRANSFORM.concurrency),
  coldRequests: num('cold', DEFAULT_TRANSFORM.coldRequests),
  repeatedRequests: num('repeated', DEFAULT_TRANSFORM.repeatedRequests),
  cases: typeof a.cases === 'string' ? a.cases.split(',') : DEFAULT_TRANSFORM.cases,
  rounds: num('rounds', DEFAULT_TRANSFORM.rounds),
  basePort: num('base-port', DEFAULT_TRANSFORM.basePort),
  maxSeconds: num('max-seconds', DEFAULT_TRANSFORM.maxSeconds),
})
  .then(({ file }) => console.log(`transform: wrote ${file}`))
  .catch((e) => {
    console.error(e);
    process.exit(1);
  });
