/**
 * Runs in Node before the workerd tests: starts one small HTTP server per region that answers
 * like a region origin (a 1×1 PNG with the region headers) and records what it was asked, so
 * tests can see where the edge sent each request. Real sockets on loopback, nothing mocked.
 * Control endpoints let a test make a region slow or failing:
 *   POST /__control {"delayMs": 300, "status": 503, "errorScope": "request"}   GET /__seen   POST /__reset
 * A file named rev-<8 hex>-… is answered with that x-pixmesh-account-rev.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestProject } from 'vitest/node';
import { writeDashboard } from '../../scripts/build-dashboard.js';
import { REGION_IDS } from '../../shared/regions.js';
import { EDGE_TEST_ACCOUNTS } from './accounts.js';

const PNG_1x1 = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');

export default async function setup(project: TestProject) {
  // The Worker imports the dashboard bundle (a build artefact wrangler's [build] makes for dev/deploy).
  await writeDashboard();
  const servers: http.Server[] = [];
  const urls: Record<string, string> = {};
  for (const region of REGION_IDS) {
    let seen: { url: string; headers: Record<string, string | string[] | undefined> }[] = [];
    let control: { delayMs: number; status: number; errorScope?: string } = { delayMs: 0, status: 200 };
    const server = http.createServer((req, res) => {
      if (req.url === '/__seen') {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(seen));
        return;
      }
      if (req.url === '/__reset') {
        seen = [];
        control = { delayMs: 0, status: 200 };
        res.end('{}');
        return;
      }
      if (req.url === '/__control') {
        let body = '';
        req.on('data', (d) => (body += d));
        req.on('end', () => {
          control = { ...control, ...(JSON.parse(body) as typeof control) };
          res.end('{}');
        });
        return;
      }
      const answer = () => {
        if (req.url?.startsWith('/healthz')) {
          res.writeHead(control.status === 200 ? 200 : control.status);
          res.end('{"ok":true}');
          return;
        }
        seen.push({ url: req.url ?? '', headers: req.headers });
        if (control.status !== 200) {
          res.writeHead(control.status, {
            'ik-error': 'EUPSTREAM - test failure',
            'x-pixmesh-region': region,
            ...(control.errorScope ? { 'x-pixmesh-error-scope': control.errorScope } : {}),
          });
          res.end();
          return;
        }
        // A file named rev-<8 hex>-… is answered as rendered under that account revision (shared/cache-key.ts).
        const rev = /\/rev-([0-9a-f]{8})-/.exec(req.url ?? '')?.[1];
        res.writeHead(200, {
          'content-type': 'image/png',
          ...(rev ? { 'x-pixmesh-account-rev': rev } : {}),
          'x-pixmesh-region': region,
          'x-pixmesh-region-cache': 'MISS',
          'x-pixmesh-processed-by': region,
          'server-timing': 'proc;dur=1.0',
          'cache-control': 'public, max-age=31536000',
        });
        res.end(PNG_1x1);
      };
      if (control.delayMs > 0) setTimeout(answer, control.delayMs);
      else answer();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    urls[region] = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }
  project.provide('regionUrls' as never, JSON.stringify(urls) as never);
  project.provide('accountsJson' as never, JSON.stringify(EDGE_TEST_ACCOUNTS) as never);
  return async () => {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  };
}
