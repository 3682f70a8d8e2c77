/** `npm run bench:isolation [-- --rounds N --per-phase N --smoke]` (docs/security.md "Tenant isolation, measured"). */
import { args } from '../lib/results.js';
import { DEFAULT_ISOLATION, runIsolation } from './run.js';

const a = args();
const num = (k: string, d: number) => (typeof a[k] === 'string' ? Number(a[k]) : d);
const smoke = a.smoke === true;
runIsolation({
  ...DEFAULT_ISOLATION,
  mode: smoke ? 'smoke' : 'full',
  rounds: num('rounds', smoke ? 1 : DEFAULT_ISOLATION.rounds),
  perPhase: num('per-phase', smoke ? 6 : DEFAULT_ISOLATION.perPhase),
})
  .then(({ file }) => console.log(`isolation: wrote ${file}`))
  .catch((e) => {
    console.error(e);
    process.exit(1);
  });
