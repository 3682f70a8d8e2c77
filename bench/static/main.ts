/** `npm run bench:static [-- --requests N]` */
import { args } from '../lib/results.js';
import { DEFAULT_STATIC, runStatic } from './run.js';

const a = args();
runStatic({ ...DEFAULT_STATIC, requests: typeof a.requests === 'string' ? Number(a.requests) : DEFAULT_STATIC.requests })
  .then(({ file }) => console.log(`static: wrote ${file}`))
  .catch((e) => {
    console.error(e);
    process.exit(1);
  });
