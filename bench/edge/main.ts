/** `npm run bench:edge [-- --requests N]` */
import { args } from '../lib/results.js';
import { DEFAULT_EDGE, runEdge } from './run.js';

const a = args();
runEdge({ requests: typeof a.requests === 'string' ? Number(a.requests) : DEFAULT_EDGE.requests })
  .then(({ file }) => console.log(`edge: wrote ${file}`))
  .catch((e) => {
    console.error(e);
    process.exit(1);
  });
