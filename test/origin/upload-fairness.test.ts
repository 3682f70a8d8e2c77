/**
 * Region-side upload fairness (#12 point 6), against a real region process: an upload takes its
 * processing slot only once its whole body is in, the body must arrive within a total deadline
 * (a client trickling bytes gets 408 with an ik-error), and one account has a bounded number of
 * uploads in flight (429 EBUSY + Retry-After) — so a tenant trickling bodies blocks nobody else.
 * The region runs with one processing slot, an 8 s body deadline and two uploads per account.
 */
import http from 'node:http';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signInternalRequest } from '../../shared/internal-auth.js';
import type { RegionId } from '../../shared/regions.js';
import { startRegions, stopRegions, type Regions } from './helpers.js';

const HOME: RegionId = 'eu-central-1';
const DEADLINE_MS = 8000;
let regions: Regions & { basePort: number };
let photo: Buffer;

const account = (id: string) => ({ id, homeRegion: HOME, privateKey: `private_${id}`, publicKey: `public_${id}`, endpoints: [{ prefix: '', origins: [{ type: 'media' }] }] });

beforeAll(async () => {
  regions = await startRegions('auto', () => ({ accounts: [account('hostile'), account('quiet')] }), [HOME], {
    originEnv: { PIXMESH_UPLOAD_CONCURRENCY: '1', PIXMESH_UPLOAD_DEADLINE_MS: String(DEADLINE_MS), PIXMESH_UPLOAD_PER_ACCOUNT: '2', PIXMESH_UPLOAD_IDLE_MS: '30000' },
  });
  photo = await sharp({ create: { width: 320, height: 240, channels: 3, background: '#3a7' } }).jpeg().toBuffer();
});
afterAll(() => stopRegions(regions));

async function multipart(fileName: string): Promise<{ body: Buffer; contentType: string }> {
  const form = new FormData();
  form.set('file', new Blob([new Uint8Array(photo)], { type: 'image/jpeg' }), fileName);
  form.set('fileName', fileName);
  const req = new Request('http://x/', { method: 'POST', body: form });
  return { body: Buffer.from(await req.arrayBuffer()), contentType: req.headers.get('content-type')! };
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  ms: number;
}

/**
 * A signed upload sent over a raw socket: the first `head` bytes at once, then one byte every
 * `everyMs` (everyMs 0: all at once). Resolves with the answer (the sender stops when it comes).
 */
async function send(accountId: string, fileName: string, opts: { head?: number; everyMs?: number } = {}): Promise<Answer> {
  const { body, contentType } = await multipart(fileName);
  const pathAndQuery = `/internal/media/${accountId}/files/upload?auth=key&endpoint=${encodeURIComponent(`http://edge.test/${accountId}`)}`;
  const headers = new Headers({ 'content-type': contentType, 'content-length': String(body.length) });
  await signInternalRequest(regions.internalSecret, headers, { method: 'POST', pathAndQuery, region: HOME, body: new Uint8Array(body) });
  const t0 = Date.now();
  return new Promise<Answer>((resolve, reject) => {
    let answered = false;
    let timer: NodeJS.Timeout | undefined;
    const req = http.request(regions.regionUrls[HOME] + pathAndQuery, { method: 'POST', headers: Object.fromEntries(headers) }, (res) => {
      answered = true;
      clearInterval(timer);
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => {
        resolve({ status: res.statusCode!, headers: res.headers, body: text, ms: Date.now() - t0 });
        req.destroy();
      });
    });
    req.on('error', (e) => (answered ? undefined : reject(e)));
    if (!opts.everyMs) return void req.end(body);
    let at = opts.head ?? 200;
    req.write(body.subarray(0, at));
    timer = setInterval(() => {
      if (answered) return clearInterval(timer);
      if (at >= body.length) {
        clearInterval(timer);
        return void req.end();
      }
      req.write(body.subarray(at, ++at));
    }, opts.everyMs);
  });
}

describe('upload fairness in the home region', () => {
  it(`a body trickled a byte every 250 ms is cut at the ${DEADLINE_MS / 1000} s total deadline: 408 with an ik-error naming it`, async () => {
    const a = await send('hostile', 'slow.jpg', { everyMs: 250 });
    expect(a.status).toBe(408);
    expect(String(a.headers['ik-error'])).toContain(`did not arrive within ${DEADLINE_MS / 1000} s`);
    expect(a.ms).toBeGreaterThanOrEqual(DEADLINE_MS - 100);
    expect(a.ms).toBeLessThan(DEADLINE_MS + 15_000); // a hang bound, not a speed target
  });

  it("two trickling uploads (the account's limit) hold no processing slot: another account uploads at once, the same account's third is 429 + Retry-After", async () => {
    let slowDone = 0;
    const slow = [send('hostile', 's1.jpg', { everyMs: 200 }), send('hostile', 's2.jpg', { everyMs: 200 })].map((p) => p.finally(() => slowDone++));
    await new Promise((r) => setTimeout(r, 400)); // both are trickling now
    // one processing slot in the region: it must still be free
    const quiet = await send('quiet', 'q.jpg');
    expect(quiet.status, quiet.body).toBe(200);
    expect(slowDone, `quiet upload took ${quiet.ms} ms`).toBe(0); // answered while the trickling bodies still hold their places
    const third = await send('hostile', 'h3.jpg');
    expect(third.status).toBe(429);
    expect(String(third.headers['ik-error'])).toMatch(/^EBUSY - .*2 uploads in progress/);
    expect(Number(third.headers['retry-after'])).toBeGreaterThan(0);
    expect((await Promise.all(slow)).map((a) => a.status)).toEqual([408, 408]);
    // the places are given back: the account uploads again
    const after = await send('hostile', 'h4.jpg');
    expect(after.status, after.body).toBe(200);
  });
});
