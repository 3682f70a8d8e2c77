/** A throwaway cluster for a test file: its own ports, data folder and account file. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REGION_IDS, type RegionId } from '../../shared/regions.js';
import { startCluster, type Cluster, type ClusterOptions } from '../../scripts/cluster.js';

export interface TestCluster extends Cluster {
  dataDir: string;
  accountsFile: string;
}

/** basePort+1 … basePort+6 for the regions, basePort+87 for the edge, basePort for S3. */
export async function startTestCluster(
  basePort: number,
  accounts: unknown,
  extra: Partial<ClusterOptions> = {},
): Promise<TestCluster> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pixmesh-test-'));
  const accountsFile = path.join(dataDir, 'accounts.json');
  fs.writeFileSync(accountsFile, JSON.stringify(accounts, null, 2));
  const regionPorts = Object.fromEntries(REGION_IDS.map((id, i) => [id, basePort + 1 + i])) as Record<RegionId, number>;
  const cluster = await startCluster({
    dataDir,
    accountsFile,
    s3Port: basePort,
    edgePort: basePort + 87,
    regionPorts,
    logs: { dir: path.join(dataDir, 'logs') },
    ...extra,
  });
  return { ...cluster, dataDir, accountsFile };
}

export async function stopTestCluster(cluster: TestCluster | undefined): Promise<void> {
  if (!cluster) return;
  await cluster.stop();
  if (!process.env.PIXMESH_KEEP_TEST_DATA) fs.rmSync(cluster.dataDir, { recursive: true, force: true });
}

/** The demo account, pointed at a test cluster's S3 server. */
export function demoAccounts(s3Port: number, overrides: Record<string, unknown> = {}) {
  return {
    accounts: [
      {
        id: 'demo',
        homeRegion: 'eu-central-1',
        privateKey: 'private_test_demo',
        publicKey: 'public_test_demo',
        namedTransforms: { thumb: 'w-200,h-200,c-at_max' },
        customDomains: ['img.demo.test'],
        endpoints: [
          {
            prefix: '',
            origins: [
              { type: 'media' },
              {
                type: 's3',
                bucket: 'demo-origin',
                endpoint: `http://127.0.0.1:${s3Port}`,
                region: 'us-east-1',
                accessKeyId: 'S3RVER',
                secretAccessKey: 'S3RVER',
              },
            ],
          },
        ],
        ...overrides,
      },
    ],
  };
}
