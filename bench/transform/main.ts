/**
 * `npm run bench:transform [-- --concurrency C --cold N --repeated N --cases jpeg-720,webp-720 --repeated-cases jpeg-720 --rounds 3
 *   --cold-concurrency 1,2 --hit N (hit-path warm-up requests and the fewest per timed round; 0 skips) --hit-seconds S (a timed
 *   hit round's length on the faster side, about; default 1) --pressure 64,160 (bursts; 0 skips)
 *   --sweep N (images per libvips threads × slots point; 0 skips) --base-port 9540 --max-seconds 15 --out-dir DIR (default bench/results)]`
 * PIXMESH_BENCH_PROFILE_DIR=<dir> writes a CPU profile of the origin there (bench/profile-summary.ts reads it);
 * --hit-profile <dir> writes profiles of the origin and the bare server during the hit part's timed rounds only (files 1–R: c1, R+1–2R: c2).
 */
import { args } from '../lib/results.js';
import { DEFAULT_TRANSFORM, runTransform } from './run.js';

const a = args();
const num = (k: string, d: number) => (typeof a[k] === 'string' ? Number(a[k]) : d);
runTransform({
  concurrency: num('concurrency', DEFAULT_TRANSFORM.concurrency),
  coldRequests: num('cold', DEFAULT_TRANSFORM.coldRequests),
  repeatedRequests: num('repeated', DEFAULT_TRANSFORM.repeatedRequests),
  cases: typeof a.cases === 'string' ? a.cases.split(',') : DEFAULT_TRANSFORM.cases,
  ...(typeof a['repeated-cases'] === 'string' ? { repeatedCases: a['repeated-cases'].split(',') } : {}),
  rounds: num('rounds', DEFAULT_TRANSFORM.rounds),
  basePort: num('base-port', DEFAULT_TRANSFORM.basePort),
  maxSeconds: num('max-seconds', DEFAULT_TRANSFORM.maxSeconds),
  coldConcurrency: typeof a['cold-concurrency'] === 'string' ? a['cold-concurrency'].split(',').map(Number) : DEFAULT_TRANSFORM.coldConcurrency,
  hitRequests: num('hit', DEFAULT_TRANSFORM.hitRequests),
  hitSeconds: num('hit-seconds', DEFAULT_TRANSFORM.hitSeconds),
  ...(typeof a['out-dir'] === 'string' ? { outDir: a['out-dir'] } : {}),
  ...(typeof a['hit-profile'] === 'string' ? { hitProfileDir: a['hit-profile'] } : {}),
  pressure: typeof a.pressure === 'string' ? a.pressure.split(',').map(Number).filter((n) => n > 0) : DEFAULT_TRANSFORM.pressure,
  sweepImages: num('sweep', DEFAULT_TRANSFORM.sweepImages),
})
  .then(({ file }) => console.log(`transform: wrote ${file}`))
  .catch((e) => {
    console.error(e);
    process.exit(1);
  });
