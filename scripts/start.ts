/**
 * `npm start`: the whole local cluster — s3rver, six region origins, the edge in workerd — with
 * the demo account seeded on first start. Ctrl-C stops every child.
 *
 * The terminal gets a short summary (what runs where, the dashboard, example URLs); each child's
 * structured logs go to <data>/logs/<name>.log, or also to the terminal, pretty-printed, with
 * `npm start -- --pretty-logs` (or PIXMESH_LOGS=pretty). A port already taken or a child that
 * dies is reported with its name (and the end of its log).
 * PIXMESH_ACCOUNTS=<file> swaps the account file; PIXMESH_DATA_DIR=<dir> moves all state;
 * PIXMESH_REPLICAS=<n> runs n origin processes per region; PIXMESH_PORT_OFFSET=<n> shifts every
 * port by n (a second cluster beside the first).
 */
import fs from 'node:fs';
import path from 'node:path';
import { AccountIndex } from '../shared/accounts.js';
import { REGION_IDS, REGIONS } from '../shared/regions.js';
import { putObjects, replicasFromEnv, ROOT, startCluster, type ChildExit, type Cluster } from './cluster.js';
import { prettyLine } from './pretty-log.js';
import { makeSamples } from './samples.js';

/**
 * The example URLs the summary prints — one list: add yours here. `path` follows the edge URL;
 * with `headers` the line is a curl command (x-pixmesh-colo stands in for the user's location).
 */
const EXAMPLES: { path: string; note: string; headers?: Record<string, string> }[] = [
  { path: '/demo/tr:w-300/sample.jpg', note: 'resized to 300 px wide' },
  { path: '/demo/sample.jpg?tr=w-300,h-300', note: 'the transformation as a query parameter' },
  { path: '/demo/tr:w-400,e-grayscale/photos/harbour.jpg', note: 'an effect' },
  { path: '/demo/tr:n-thumb/logo.png', note: 'a named transformation' },
  { path: '/demo/tr:w-720,l-image,i-logo.png,w-120,o-70,lx-N16,ly-N16,l-end/sample.jpg', note: 'a watermark (image layer)' },
  { path: '/demo/tr:w-600,l-text,i-NEW,fs-28,co-FFFFFF,bg-E53935,pa-6_14,r-8,tg-b,lx-16,ly-16,l-end/photos/harbour.jpg', note: 'a text badge (text layer)' },
  { path: '/demo/tr:w-1200,h-630,l-image,i-ik_canvas,bg-00000070,h-210,lfo-bottom,l-end,l-text,i-Images%20from%20your%20own%20regions,fs-60,co-FFFFFF,tg-b,lx-60,ly-N110,l-end,l-text,i-pixmesh%20%C2%B7%20open%20image%20CDN,fs-32,co-FFFFFF90,lx-60,ly-N50,l-end,l-image,i-logo.png,w-120,lx-N60,ly-N45,l-end/sample.jpg', note: 'an Open Graph card (1200×630: band, title, subtitle, logo)' },
  { path: '/demo/site/app.js', note: 'a file as it is (br/gzip); also /demo/site/style.css' },
  { path: '/demo/logo.svg', note: 'a sanitised SVG' },
  { path: '/demo/tr:f-png,w-200/logo.svg', note: 'the SVG rasterised' },
  { path: '/demo/tr:w-250/portrait.jpg', note: 'a Sydney user: answered by ap-southeast-2', headers: { 'x-pixmesh-colo': 'SYD' } },
];

const dataDir = path.resolve(process.env.PIXMESH_DATA_DIR ?? path.join(ROOT, '.pixmesh'));
const accountsFile = path.resolve(process.env.PIXMESH_ACCOUNTS ?? path.join(ROOT, 'config/accounts.json'));
const logDir = path.join(dataDir, 'logs');
const pretty = process.argv.includes('--pretty-logs') || process.env.PIXMESH_LOGS === 'pretty';
const portOffset = Number(process.env.PIXMESH_PORT_OFFSET ?? 0);
const rel = (p: string) => (path.relative(process.cwd(), p).startsWith('..') ? p : path.relative(process.cwd(), p) || '.');

function tail(file: string | undefined, lines = 8): string {
  if (!file || !fs.existsSync(file)) return '';
  const text = fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines);
  return text.map((l) => `    ${l.length > 240 ? `${l.slice(0, 240)}…` : l}`).join('\n');
}

async function main(): Promise<void> {
  // The AWS SDK warns once per process that it will need Node ≥ 22 from 2027: seven copies
  // buried the URLs. Say it once, here, and silence it in this process and every child.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const nodeMajor = Number(process.versions.node.split('.')[0]);

  // Validate before starting anything: a bad account file is reported field by field.
  const accounts = AccountIndex.fromJson(fs.readFileSync(accountsFile, 'utf8'));
  const replicas = replicasFromEnv();
  if (!Number.isInteger(portOffset) || portOffset < 0 || portOffset > 50_000) throw new Error(`PIXMESH_PORT_OFFSET must be a whole number 0–50000, not ${JSON.stringify(process.env.PIXMESH_PORT_OFFSET)}`);
  console.log(`pixmesh: starting s3rver, ${REGION_IDS.length} region origins${replicas > 1 ? ` (${replicas} processes each)` : ''} and the edge in workerd (about 20 s)…`);
  console.log(`pixmesh: data in ${rel(dataDir)}, accounts from ${rel(accountsFile)}, logs in ${rel(logDir)}/`);

  let cluster: Cluster | undefined;
  let stopping = false;
  const stop = async (why: string, code = 0) => {
    if (stopping) return;
    stopping = true;
    console.log(`\npixmesh: ${why} — stopping every process…`);
    await cluster?.stop();
    console.log('pixmesh: stopped.');
    process.exit(code);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  const onChildExit = (e: ChildExit) => {
    if (stopping) return;
    const how = e.signal ? `was killed (${e.signal})` : `exited with code ${e.code}`;
    const what = e.name === 'edge' ? 'the edge (wrangler dev)' : `origin ${e.name}`;
    console.error(`\npixmesh: ${what} ${how}.${e.logFile ? ` The end of ${rel(e.logFile)}:\n${tail(e.logFile)}` : ''}`);
    if (e.name === 'edge') void stop('the edge is down', 1);
    else if (cluster) console.error(`pixmesh: the edge fails over to the other regions; restart npm start to bring ${e.name} back.`);
  };

  cluster = await startCluster({
    dataDir,
    accountsFile,
    logs: { dir: logDir, tee: pretty ? (name, line) => console.log(prettyLine(name, line)) : undefined },
    onChildExit,
    buckets: ['demo-origin'],
    replicas,
    s3Port: 9000 + portOffset,
    edgePort: 8787 + portOffset,
    regionPorts: Object.fromEntries(REGION_IDS.map((id) => [id, REGIONS[id].port + portOffset])),
    // The local demo may open the dashboard's network (operator) view.
    edgeEnv: { PIXMESH_OPERATOR_ACCOUNTS: accounts.get('demo') ? 'demo' : '' },
  });
  if (stopping) return;

  // Seed the demo's S3 origin once (objects already there are kept).
  const demo = accounts.get('demo');
  if (demo) {
    const written = await putObjects(cluster.s3Url, 'demo-origin', await makeSamples());
    if (written) console.log(`pixmesh: seeded ${written} sample files into s3://demo-origin`);
  }

  const e = cluster.edgeUrl;
  const row = (what: string, url: string, note = '') => `  ${what.padEnd(11)}${url.padEnd(38)}${note}`;
  const examples = EXAMPLES.map((x) =>
    x.headers
      ? `  curl -sI ${Object.entries(x.headers).map(([k, v]) => `-H '${k}: ${v}' `).join('')}${e}${x.path}\n      ↳ ${x.note}`
      : `  ${e}${x.path}${' '.repeat(Math.max(2, 64 - e.length - x.path.length))}${x.note}`,
  );
  console.log(`
pixmesh is running
${row('dashboard', `${e}/_dashboard/`, demo ? `sign in: account ${demo.id}, private key ${demo.privateKey}` : 'sign in with an account id and its private key')}
${row('edge', e, 'the Worker in workerd (wrangler dev): images and the management API')}
${row('S3', cluster.s3Url, 's3rver, access key S3RVER / S3RVER')}
${REGION_IDS.map((id, i) => row(i === 0 ? 'regions' : '', cluster!.regionUrls[id], `${id.padEnd(15)} ${REGIONS[id].name}`)).join('\n')}

Try:
${examples.join('\n')}

Logs: ${rel(logDir)}/<process>.log, e.g. tail -f ${rel(path.join(logDir, 'origin-eu-central-1.log'))}${pretty ? '' : '  (or: npm start -- --pretty-logs)'}${nodeMajor < 22 ? `\nNote: Node ${process.versions.node}; the AWS SDK will need Node ≥ 22 for releases after January 2027.` : ''}
Ctrl-C stops everything.`);
}


main().catch(async (e) => {
  console.error(`pixmesh: ${(e as Error).message}`);
  console.error(`pixmesh: nothing is left running; the logs are in ${rel(logDir)}/`);
  process.exit(1);
});
