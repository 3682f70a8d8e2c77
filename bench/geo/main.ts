/** `npm run bench:geo [-- --requests N --concurrency C --seeds 7,8,9 --scenarios steady,degrade,kill,regime --base-port P --out DIR --append --nice N --regime-warmup F --event-at F --no-loopback --dump DIR]` */
import { args } from '../lib/results.js';
import { DEFAULT_GEO, runGeo, type Policy, type Scenario } from './run.js';

const a = args();
const num = (k: string, d: number) => (typeof a[k] === 'string' ? Number(a[k]) : d);
const list = <T extends string>(k: string, d: T[]) => (typeof a[k] === 'string' ? ((a[k] as string).split(',') as T[]) : d);

runGeo({
  requests: num('requests', DEFAULT_GEO.requests),
  concurrency: num('concurrency', DEFAULT_GEO.concurrency),
  seed: num('seed', DEFAULT_GEO.seed),
  seeds: typeof a['seeds'] === 'string' ? (a['seeds'] as string).split(',').map(Number) : DEFAULT_GEO.seeds,
  regime: { ...DEFAULT_GEO.regime, requests: num('regime-requests', DEFAULT_GEO.regime.requests), warmup: num('regime-warmup', DEFAULT_GEO.regime.warmup) },
  eventAt: num('event-at', DEFAULT_GEO.eventAt),
  ...(typeof a['regime-seeds'] === 'string' ? { regimeSeeds: (a['regime-seeds'] as string).split(',').map(Number) } : {}),
  warmup: num('warmup', DEFAULT_GEO.warmup),
  maxSecondsPerRun: num('max-seconds', DEFAULT_GEO.maxSecondsPerRun),
  images: num('images', DEFAULT_GEO.images),
  scenarios: list<Scenario>('scenarios', DEFAULT_GEO.scenarios),
  policies: list<Policy>('policies', DEFAULT_GEO.policies),
  basePort: num('base-port', DEFAULT_GEO.basePort),
  nice: num('nice', DEFAULT_GEO.nice),
  append: a['append'] === true,
  loopback: a['no-loopback'] !== true,
  ...(typeof a['dump'] === 'string' ? { dumpDir: a['dump'] as string } : {}),
  ...(typeof a['out'] === 'string' ? { outDir: a['out'] as string } : {}),
})
  .then(({ file }) => console.log(`geo: wrote ${file}`))
  .catch((e) => {
    console.error(e);
    process.exit(1);
  });
