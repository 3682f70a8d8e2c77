/**
 * Tenant isolation under a flood of heavy renders (#12 point 7), through the real cluster (edge
 * in workerd, one region process with two transform slots per lane): the workload of
 * bench/isolation/workload.ts — a hostile account floods `cm-pad_resize,bg-blurred_<n>` renders of
 * a large original over four connections, varying n so no cache helps, from many clients (a
 * botnet: the edge's per-client budget alone cannot stop it, the region's scheduler must), while a
 * quiet account's cheap misses run. Asserted, structurally (no clock): every quiet miss during the
 * flood is 200 and started its render at once — it never waited for a transform slot, the flood's
 * renders ran in the heavy lane and some of them did wait — and the one client that floods all
 * along is cut off at the edge by its per-client budget (429) while another client of the same
 * account is still served. The issue's 2× p99 bound is a speed figure: `npm run bench:isolation`
 * measures it (docs/security.md "Tenant isolation, measured").
 *
 * The same cluster carries the issue's other tenant-facing classes end to end: uploads over an
 * account's share answered 429 + Retry-After through the edge (class 6, was a 502), cache keys
 * that must not collide at the edge (class 1), library paths over the store's limits (class 9).
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GEO, heavyUrl, IsolationWorkload, startIsolationCluster, tally, type IsolationCluster } from '../../bench/isolation/workload.js';
import { get, recordFigures, type Answer } from './harness.js';

/** Region time one client may spend per minute on one account's misses (edge/src/client-budget.ts). */
const CLIENT_BUDGET_MS = 3_000;

let ic: IsolationCluster;
let edgeUrl: string;

beforeAll(async () => {
  ic = await startIsolationCluster({ originEnv: { PIXMESH_UPLOAD_PER_ACCOUNT: '1' }, edgeEnv: { PIXMESH_CLIENT_BUDGET_MS: String(CLIENT_BUDGET_MS) } });
  edgeUrl = ic.cluster.edgeUrl;
});

afterAll(async () => {
  await ic?.stop();
});

/** The region's Server-Timing entry `name` of an answer: its dur and desc. */
function timingEntry(a: Answer, name: string): { dur?: number; desc?: string } | undefined {
  for (const part of (a.headers.get('server-timing') ?? '').split(',')) {
    const [n, ...params] = part.trim().split(';');
    if (n !== name) continue;
    const p = Object.fromEntries(params.map((x) => x.split('=')).map(([k, v]) => [k!.trim(), (v ?? '').replace(/^"|"$/g, '')]));
    return { dur: p.dur !== undefined ? Number(p.dur) : undefined, desc: p.desc };
  }
  return undefined;
}

const ROUNDS = 2;
const PER_PHASE = 24;

describe('a hostile tenant flooding heavy renders', () => {
  it("leaves the quiet tenant's cheap misses starting at once (never waiting for a slot the flood holds), every one 200, and cuts the flooding client off at the edge", async () => {
    const w = new IsolationWorkload(edgeUrl);
    const { quiet, heavyAlone } = await w.warmUp();
    expect(quiet.status).toBe(200);
    const idle: Answer[] = [];
    const during: Answer[] = [];
    const hostile: Answer[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      idle.push(...(await w.quiet(PER_PHASE, 'idle')));
      const f = await w.flood(() => w.quiet(PER_PHASE, 'flood'));
      during.push(...f.result);
      hostile.push(...f.hostile);
    }
    // the one client flooding all along (loop 0 of the flood) is cut off once it spent its share; it
    // goes on until it is (the flood phases are short on a fast machine), at most 12 more renders
    const cutOff = (a: Answer) => a.status === 429 && a.body.toString().includes("this client's share");
    for (let i = 0; i < 12 && !hostile.some(cutOff); i++) hostile.push(await get(heavyUrl(edgeUrl, 100 + i), { ...GEO, 'x-pixmesh-client': 'attacker' }, 60_000));
    const edgeCutOff = hostile.filter(cutOff).length;
    // another client of the hostile account is not in the attacker's debt
    const other = await get(`${edgeUrl}/hostile/tr:w-97/big.jpg`, { ...GEO, 'x-pixmesh-client': 'someone-else' }, 60_000);
    const served = hostile.filter((a) => a.status === 200);
    const queueDesc = (answers: Answer[]) => {
      const n: Record<string, number> = {};
      for (const a of answers) n[timingEntry(a, 'queue')?.desc ?? 'none'] = (n[timingEntry(a, 'queue')?.desc ?? 'none'] ?? 0) + 1;
      return n;
    };
    recordFigures('tenantIsolation', {
      samplesPerPhase: idle.length,
      heavyRenderAloneStatus: heavyAlone.status,
      hostileRequests: hostile.length,
      hostileAnswers: tally(hostile),
      quietAnswers: { idle: tally(idle), flood: tally(during) },
      quietSlotWaits: queueDesc(during),
      heavySlotWaits: queueDesc(served),
      edgeClientCutOffs: edgeCutOff,
    });

    expect(idle.map((a) => a.status)).toEqual(Array(ROUNDS * PER_PHASE).fill(200));
    expect(during.map((a) => a.status)).toEqual(Array(ROUNDS * PER_PHASE).fill(200));
    // the quiet misses rendered in the cheap lane and none waited for a slot during the flood
    expect(during.map((a) => timingEntry(a, 'transform')?.desc ?? 'cheap')).toEqual(Array(ROUNDS * PER_PHASE).fill('cheap'));
    expect(during.map((a) => timingEntry(a, 'queue')?.desc)).toEqual(Array(ROUNDS * PER_PHASE).fill('at-once'));
    // the flood was real: heavy renders served during it, in the heavy lane, some after waiting for a heavy slot
    expect(served.length).toBeGreaterThanOrEqual(ROUNDS);
    expect(served.map((a) => timingEntry(a, 'transform')?.desc)).toEqual(Array(served.length).fill('heavy'));
    expect(served.filter((a) => timingEntry(a, 'queue')?.desc === 'waited').length).toBeGreaterThan(0);
    expect(edgeCutOff).toBeGreaterThan(0);
    expect(other.status).toBe(200);
  }, 180_000);
});

const auth = (id: string) => ({ authorization: `Basic ${Buffer.from(`private_${id}:`).toString('base64')}` });
async function uploadViaEdge(id: string, fileName: string, body: Buffer): Promise<Answer> {
  const form = new FormData();
  form.set('file', new Blob([new Uint8Array(body)], { type: 'image/jpeg' }), fileName);
  form.set('fileName', fileName);
  form.set('useUniqueFileName', 'false');
  const t0 = performance.now();
  const res = await fetch(`${edgeUrl}/api/v1/files/upload`, { method: 'POST', headers: auth(id), body: form, signal: AbortSignal.timeout(60_000) });
  const ik = res.headers.get('ik-error');
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()), ms: performance.now() - t0, code: ik ? ik.split(' - ')[0]!.trim() : null };
}

describe('the issue\'s other tenant classes through the edge', () => {
  it('uploads over the account\'s share (one in flight here) are 429 EBUSY with Retry-After at the client, not 502; the others 200', async () => {
    const photo = await sharp({ create: { width: 2000, height: 1500, channels: 3, background: '#552211', noise: { type: 'gaussian', mean: 120, sigma: 50 } } }).jpeg().toBuffer();
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => uploadViaEdge('hostile', `burst-${i}.jpg`, photo)));
    const statuses = answers.map((a) => a.status).sort();
    // every answer is the upload (200) or the account's share (429 EBUSY + Retry-After), whatever ran
    // before: the region reads a refused upload's body to the end, so the edge hears the 429 (it
    // was a connection reset, 503 EUPSTREAM, when the region answered before reading the body)
    expect(answers.filter((a) => a.status !== 200 && a.status !== 429).map((a) => `${a.status} ${a.code}`)).toEqual([]);
    const refused = answers.filter((a) => a.status === 429);
    expect(refused.length).toBeGreaterThan(0);
    for (const a of refused) {
      expect(a.code).toBe('EBUSY');
      expect(Number(a.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    expect(statuses).toContain(200);
    // the quiet account's upload is not held by the hostile one's share
    expect((await uploadViaEdge('quiet', 'mine.jpg', photo)).status).toBe(200);
  });

  it.each([
    ['tr:w-auto,h-300,ar-4-1', 'tr:w-auto,h-300'],
    ['tr:cm-extract,w-200,h-150,dpr-0.5', 'tr:cm-extract,w-200,h-150'],
  ])('%s and %s, both through the edge in either order, keep their own sizes (no shared key)', async (a, b) => {
    const facts = async (tr: string) => {
      const r = await get(`${edgeUrl}/quiet/${tr}/big.jpg`, { ...GEO, accept: 'image/jpeg' }, 60_000);
      expect(r.status).toBe(200);
      const m = await sharp(r.body).metadata();
      return `${m.width}x${m.height}`;
    };
    const first = await facts(a);
    const second = await facts(b);
    expect(second).not.toBe(first);
    expect(await facts(a)).toBe(first); // and the first is still its own, from the cache
  });

  it('rename to a name over the store limit through the edge: 400 naming the limit, the file still there', async () => {
    const photo = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#123456' } }).jpeg().toBuffer();
    expect((await uploadViaEdge('quiet', 'keep.jpg', photo)).status).toBe(200);
    const res = await fetch(`${edgeUrl}/v1/files/rename`, {
      method: 'PUT',
      headers: { ...auth('quiet'), 'content-type': 'application/json' },
      body: JSON.stringify({ filePath: '/keep.jpg', newFileName: `${'n'.repeat(230)}.jpg` }),
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('ik-error') ?? '').toContain('may be at most 200 bytes');
    const list = (await (await fetch(`${edgeUrl}/v1/files?name=keep.jpg`, { headers: auth('quiet') })).json()) as { filePath: string }[];
    expect(list.map((f) => f.filePath)).toEqual(['/keep.jpg']);
  });
});
