/**
 * The dashboard in a real headless browser: Debian's chromium driven by playwright-core (no
 * browser download), against a whole throwaway cluster (s3rver, six origins, the edge in workerd).
 * It signs in, reads the network map, finds an SDK upload in the media library, uploads from the
 * page and finds that with the SDK, builds a URL and watches its preview load — and fails on any
 * console error or 5xx. Screenshots of each view go to a temp folder, or to docs/img/ (the README shows
 * them) with PIXMESH_UPDATE_SCREENSHOTS=1 (`npm run screenshots`), so a test run leaves the tree clean.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ImageKit, { toFile } from '@imagekit/nodejs';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { putObjects, ROOT } from '../../scripts/cluster.js';
import { makeSamples } from '../../scripts/samples.js';
import { REGION_IDS } from '../../shared/regions.js';
import { demoAccounts, startTestCluster, stopTestCluster, type TestCluster } from '../helpers/cluster.js';
import { freePortBase } from '../origin/helpers.js';

const BASE = await freePortBase(96); // S3 = BASE, regions BASE+1…+6, edge BASE+87
const KEY = 'private_test_demo';
/** Colos the test traffic enters through (x-pixmesh-colo stands in for request.cf locally). */
const COLOS = ['SYD', 'FRA', 'GRU', 'NRT'];
const CHROMIUM = process.env.PIXMESH_CHROMIUM ?? '/usr/bin/chromium';
const UPDATE_SHOTS = process.env.PIXMESH_UPDATE_SCREENSHOTS === '1';
const SHOTS = UPDATE_SHOTS ? path.join(ROOT, 'docs/img') : fs.mkdtempSync(path.join(os.tmpdir(), 'pixmesh-shots-'));

let cluster: TestCluster;
let context: BrowserContext;
let page: Page;
let profileDir: string;
const consoleErrors: { text: string; url: string; step: string }[] = [];
let step = 'setup';
const serverErrors: string[] = [];
const sdk = () => new ImageKit({ privateKey: KEY, baseURL: cluster.edgeUrl, maxRetries: 0 });
const png = (w: number, h: number, rgb: [number, number, number]) => sharp({ create: { width: w, height: h, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } }).png().toBuffer();
/** Polls get a generous bound (a loaded 2-core machine renders slowly); it only catches hangs. */
const POLL = { timeout: 30_000 };
const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `dashboard-${name}.png`), fullPage: true });

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);
  cluster = await startTestCluster(BASE, demoAccounts(BASE), { buckets: ['demo-origin'], edgeEnv: { PIXMESH_OPERATOR_ACCOUNTS: 'demo' } });
  await putObjects(cluster.s3Url, 'demo-origin', await makeSamples());
  for (const [i, colo] of COLOS.entries()) {
    const res = await fetch(`${cluster.edgeUrl}/demo/tr:w-${200 + i}/sample.jpg`, { headers: { 'x-pixmesh-colo': colo } });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
  }
  await sdk().files.upload({ file: await toFile(await png(64, 48, [200, 40, 40]), 'sdk-upload.png'), fileName: 'sdk-upload.png', folder: '/e2e', tags: ['from-sdk'], useUniqueFileName: false });

  profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pixmesh-chromium-'));
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push({ text: m.text(), url: m.location().url, step });
  });
  page.on('pageerror', (e) => consoleErrors.push({ text: `pageerror: ${e.message}`, url: '', step }));
  page.on('response', (r) => {
    if (r.status() >= 500) serverErrors.push(`${r.status()} ${r.url()}`);
  });
  fs.mkdirSync(SHOTS, { recursive: true });
});

afterAll(async () => {
  await context?.close();
  if (profileDir) fs.rmSync(profileDir, { recursive: true, force: true });
  if (!UPDATE_SHOTS) fs.rmSync(SHOTS, { recursive: true, force: true });
  await stopTestCluster(cluster);
});

describe('dashboard in Chromium', () => {
  it('/ links the dashboard; a wrong private key shows a clear message and no data', async () => {
    step = 'wrong key';
    await page.goto(`${cluster.edgeUrl}/`);
    await page.click('a[href="/_dashboard/"]');
    await page.fill('#signin-account', 'demo');
    await page.fill('#signin-key', 'not-the-key');
    await page.click('form.signin button[type=submit]');
    await expect.poll(() => page.textContent('#signin-error'), POLL).toMatch(/Wrong account id or private key/);
    expect(await page.locator('svg.map, #media, #builder').count()).toBe(0);
    expect(await page.evaluate<number>('sessionStorage.length')).toBe(0);
    await shot('signin');
  });

  it('signs in with the key kept in sessionStorage and shows the six regions and the colos the traffic came from', async () => {
    step = 'views';
    await page.fill('#signin-key', KEY);
    await page.click('form.signin button[type=submit]');
    await page.waitForSelector('svg.map .region-mark');
    expect(await page.evaluate<number>('sessionStorage.length')).toBe(1);
    const regions = await page.$$eval('svg.map .region-mark', (els) => els.map((e) => e.getAttribute('data-region')));
    expect(regions.sort()).toEqual([...REGION_IDS].sort());
    await page.waitForSelector('svg.map .colo-mark[data-colo="NRT"]');
    const colos = await page.$$eval('svg.map .colo-mark', (els) => els.map((e) => e.getAttribute('data-colo')));
    expect(colos).toEqual(expect.arrayContaining(COLOS));
    // Every region row shows health from the breakers and latency from the origins' metrics.
    await expect.poll(() => page.locator('.regions-table tbody tr .badge', { hasText: 'up' }).count(), POLL).toBe(6);
  });

  it('chooses a colo by keyboard and explains its pick: a line per region coloured by expected latency, the candidates table', async () => {
    await page.focus('svg.map .colo-mark[data-colo="SYD"]');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getAttribute('svg.map .colo-mark[data-colo="SYD"]', 'aria-pressed'), POLL).toBe('true');
    expect(await page.locator('svg.map path.route').count()).toBe(6);
    expect(await page.locator('svg.map path.route.chosen').count()).toBe(1);
    const chosen = await page.textContent('[data-testid="chosen-region"]');
    expect(REGION_IDS).toContain(chosen);
    expect(await page.getAttribute('svg.map path.route.chosen', 'data-region')).toBe(chosen);
    expect(await page.locator('.decision-table tbody tr').count()).toBe(6);
    expect(await page.textContent('.decision-table tr.chosen')).toContain(chosen!);
    await shot('network');
  });

  it('shows a home-region advice line naming the region the advice API ranks first, with the ranking', async () => {
    await expect.poll(() => page.getAttribute('#home-advice', 'data-advised'), POLL).toMatch(/^[a-z]+-[a-z]+-\d$/);
    const advised = await page.getAttribute('#home-advice', 'data-advised');
    const api = (await (await fetch(`${cluster.edgeUrl}/v1/accounts/home-region-advice`, { headers: { authorization: `Basic ${Buffer.from(`${KEY}:`).toString('base64')}` } })).json()) as { advised: string; regions: { region: string; expectedMissMs: number }[] };
    expect(advised).toBe(api.advised);
    const line = (await page.textContent('#home-advice'))!;
    expect(line).toContain(advised!);
    expect(line).toMatch(/expected miss \d+(\.\d)? ms/);
    expect(line).toMatch(/from \d+ edge misses from [1-4] colos/);
    expect(await page.locator('.advice-ranking li').count()).toBe(6);
    expect(await page.getAttribute('.advice-ranking li >> nth=0', 'data-region')).toBe(api.regions[0]!.region);
  });

  it('finds the file the SDK uploaded in the media library, with a thumbnail served through a pixmesh URL and its tags', async () => {
    await page.click('a[data-tab="media"]');
    await page.click('.tile.folder[data-folder="/e2e"]');
    const tile = page.locator('.tile[data-name="sdk-upload.png"]');
    await tile.waitFor();
    const thumb = tile.locator('img');
    expect(await thumb.getAttribute('src')).toBe(`${cluster.edgeUrl}/demo/tr:w-240,h-240,c-at_max/e2e/sdk-upload.png`);
    await expect.poll(() => thumb.evaluate((img) => ((img as unknown as { complete: boolean }).complete ? (img as unknown as { naturalWidth: number }).naturalWidth : 0)), POLL).toBe(64);
    await tile.click();
    await expect.poll(() => page.inputValue('#detail-tags'), POLL).toBe('from-sdk');
    expect(await page.textContent('.details dl')).toContain('64 × 48');
    await shot('media');
  });

  it('uploads a file from the page (with progress) and the SDK finds it', async () => {
    await page.setInputFiles('#media-file', { name: 'page-upload.png', mimeType: 'image/png', buffer: await png(40, 30, [30, 90, 200]) });
    await expect.poll(() => page.textContent('.uploads'), POLL).toContain('uploaded as /e2e/page-upload.png');
    expect(await page.getAttribute('.uploads progress', 'value')).toBe('100');
    const found = await sdk().assets.list({ path: '/e2e/', searchQuery: 'name = "page-upload.png"' });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ filePath: '/e2e/page-upload.png', width: 40, height: 30 });
    await page.locator('.tile[data-name="page-upload.png"]').waitFor();
  });

  it('purges a file URL (status shown until Completed) and deletes a file from its details; the SDK no longer lists it', async () => {
    await page.click('.tile[data-name="page-upload.png"]');
    await page.locator('.details h3', { hasText: 'page-upload.png' }).waitFor();
    await page.click('.details button:has-text("Purge its URL")');
    expect(await page.inputValue('#purge-url')).toBe(`${cluster.edgeUrl}/demo/e2e/page-upload.png`);
    await page.click('form.purge button[type=submit]');
    await expect.poll(() => page.getAttribute('#purge-status', 'data-state'), POLL).toBe('Completed');
    page.once('dialog', (d) => void d.accept());
    await page.click('.details button.danger');
    await expect.poll(() => page.locator('.tile[data-name="page-upload.png"]').count(), POLL).toBe(0);
    expect(await sdk().assets.list({ path: '/e2e/', searchQuery: 'name = "page-upload.png"' })).toHaveLength(0);
  });

  it('builds a URL with a live preview and shows the headers saying which region served it', async () => {
    await page.click('a[data-tab="builder"]');
    // The builder fills an empty path with the library's first file once its list arrives: wait for
    // that list, so it cannot overwrite (or join) the path typed below.
    await page.locator('#b-files option').first().waitFor({ state: 'attached', timeout: 30_000 });
    await page.fill('#b-path', '/sample.jpg');
    await page.fill('#b-w', '240');
    await page.check('#b-grayscale');
    await expect.poll(() => page.textContent('#b-url'), POLL).toBe(`${cluster.edgeUrl}/demo/tr:w-240,e-grayscale/sample.jpg`);
    await expect.poll(() => page.$eval('#b-preview', (img) => (img as unknown as { naturalWidth: number }).naturalWidth), POLL).toBe(240);
    const region = await page.textContent('#b-headers tr[data-header="x-pixmesh-region"] td');
    expect(REGION_IDS).toContain(region);
    expect(await page.textContent('#b-status')).toContain(`Served by ${region}`);
    // A bad parameter is refused as the edge would, before any request.
    await page.fill('#b-extra', 'w-abc');
    await expect.poll(() => page.textContent('#b-status'), POLL).toMatch(/Transformation: .*w/);
    await page.fill('#b-extra', '');
    await expect.poll(() => page.textContent('#b-status'), POLL).toContain('Served by');
    await shot('builder');
  });

  it('fits a phone screen (390 px) without horizontal scrolling of the page', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.click('a[data-tab="network"]');
    await page.waitForSelector('svg.map .region-mark');
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await shot('phone');
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('logged no console error and met no 5xx along the way', () => {
    // Chromium logs every 4xx answer to fetch: the one expected is the wrong key's 401 at sign-in.
    const unexpected = consoleErrors.filter((e) => !(e.step === 'wrong key' && e.text.includes('status of 401') && e.url.includes('/_dashboard/api/session')));
    expect(consoleErrors.filter((e) => e.step === 'wrong key')).toHaveLength(1);
    expect(unexpected).toEqual([]);
    expect(serverErrors).toEqual([]);
  });
});
