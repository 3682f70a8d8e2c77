/**
 * `npm start`: the whole local cluster — s3rver, six region origins, the edge in workerd — with
 * the demo account seeded on first start. Ctrl-C stops every child.
 * PIXMESH_ACCOUNTS=<file> swaps the account file; PIXMESH_DATA_DIR=<dir> moves all state.
 */
import fs from 'node:fs';
import path from 'node:path';
import { AccountIndex } from '../shared/accounts.js';
import { REGION_IDS, REGIONS } from '../shared/regions.js';
import { putObjects, replicasFromEnv, ROOT, startCluster, type Cluster } from './cluster.js';
import { makeSamples } from './samples.js';

const dataDir = path.resolve(process.env.PIXMESH_DATA_DIR ?? path.join(ROOT, '.pixmesh'));
const accountsFile = path.resolve(process.env.PIXMESH_ACCOUNTS ?? path.join(ROOT, 'config/accounts.json'));

async function main(): Promise<void> {
  // Validate before starting anything: a bad account file is reported field by field.
  const accounts = AccountIndex.fromJson(fs.readFileSync(accountsFile, 'utf8'));
  console.log(`pixmesh: data in ${dataDir}, accounts from ${accountsFile}`);
  let cluster: Cluster | undefined;
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\npixmesh: ${signal} — stopping every process…`);
    await cluster?.stop();
    console.log('pixmesh: stopped.');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  cluster = await startCluster({ dataDir, accountsFile, logs: 'inherit', buckets: ['demo-origin'], replicas: replicasFromEnv() });
  if (stopping) return;

  // Seed the demo's S3 origin once (objects already there are kept).
  const demo = accounts.get('demo');
  if (demo) {
    const written = await putObjects(cluster.s3Url, 'demo-origin', await makeSamples());
    if (written) console.log(`pixmesh: seeded ${written} sample files into s3://demo-origin`);
  }

  const e = cluster.edgeUrl;
  console.log(`
pixmesh is running
  edge (workerd)   ${e}
  S3 (s3rver)      ${cluster.s3Url}   (key S3RVER / S3RVER)
${REGION_IDS.map((id) => `  ${id.padEnd(15)}  ${cluster!.regionUrls[id]}   ${REGIONS[id].name}`).join('\n')}

Try:
  ${e}/demo/tr:w-300/sample.jpg
  ${e}/demo/sample.jpg?tr=w-300,h-300
  ${e}/demo/tr:w-400,e-grayscale/photos/harbour.jpg
  ${e}/demo/tr:n-thumb/logo.png
  ${e}/demo/site/app.js   ${e}/demo/site/style.css   # files as they are, br/gzip
  ${e}/demo/logo.svg   (sanitised SVG)   ${e}/demo/tr:f-png,w-200/logo.svg   (rasterised)
  curl -sI -H 'x-pixmesh-colo: SYD' ${e}/demo/tr:w-250/portrait.jpg   # answered by ap-southeast-2
Ctrl-C stops everything.`);
}

main().catch(async (e) => {
  console.error(`pixmesh: ${(e as Error).message}`);
  process.exit(1);
});
