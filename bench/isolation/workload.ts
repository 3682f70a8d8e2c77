/**
 * The tenant-isolation workload (#12 point 7), shared by the benchmark (bench/isolation/run.ts,
 * which measures the issue's 2× bound) and the reliability test
 * (test/reliability/tenant-isolation.test.ts, which asserts what holds structurally).
 *
 * A real cluster (s3rver in this process, one region process with two transform slots per lane,
 * the edge in workerd); a hostile account floods `w-2400,h-2400,cm-pad_resize,bg-blurred_<n>`
 * (and wider)
 * renders of a 1600×1200 original (≈ 36 M pixel-operations: heavy) over four connections — one
 * of them a single client all along, the others a new client per request (a botnet: the edge's
 * per-client budget cannot stop it, the region's scheduler must) — varying `n` so no cache helps,
 * while a quiet account's cheap misses (`w-<new>` of a 640×480 original, two at a time, each from a
 * client of its own) are timed. Idle and flood phases alternate in rounds so both see the same
 * machine load.
 */
import sharp from 'sharp';
import { startTestCluster, stopTestCluster, type TestCluster } from '../../test/helpers/cluster.js';
import { freePortBase } from '../../test/origin/helpers.js';
import { get, localServer, sleep, type Answer, type LocalServer } from '../../test/reliability/harness.js';

export const GEO = { 'x-pixmesh-colo': 'FRA', 'x-pixmesh-lat': '50.1', 'x-pixmesh-lon': '8.7', 'x-pixmesh-country': 'DE' };
/** Transform slots per lane of the region (PIXMESH_TRANSFORM_CONCURRENCY). */
export const TRANSFORM_SLOTS = 2;
/** Concurrent flood loops: with two heavy slots, two renders run and two wait at all times. */
export const FLOODERS = 4;

export interface IsolationCluster {
  cluster: TestCluster;
  origin: LocalServer;
  stop(): Promise<void>;
}

const web = (id: string, port: number) => ({
  id,
  homeRegion: 'eu-central-1',
  privateKey: `private_${id}`,
  endpoints: [{ prefix: '', origins: [{ type: 'web', baseUrl: `http://127.0.0.1:${port}/img`, allowPrivateNetwork: true }] }],
});

/** The cluster with two accounts, `hostile` and `quiet`, whose web origin serves `big.jpg` (1600×1200, noisy) and `small.jpg` (640×480). */
export async function startIsolationCluster(opts: { originEnv?: Record<string, string>; edgeEnv?: Record<string, string> } = {}): Promise<IsolationCluster> {
  const base = await freePortBase(96);
  const webPort = base + 10;
  const big = await sharp({ create: { width: 1600, height: 1200, channels: 3, background: '#884422', noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).jpeg().toBuffer();
  const small = await sharp({ create: { width: 640, height: 480, channels: 3, background: '#2266aa' } }).jpeg().toBuffer();
  const origin = await localServer((req, res) => {
    const body = req.url?.startsWith('/img/big') ? big : small;
    res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': String(body.length) }).end(body);
  }, '127.0.0.1', webPort);
  const cluster = await startTestCluster(base, { accounts: [web('hostile', webPort), web('quiet', webPort)] }, {
    regions: ['eu-central-1'],
    originEnv: { PIXMESH_TRANSFORM_CONCURRENCY: String(TRANSFORM_SLOTS), ...opts.originEnv },
    edgeEnv: opts.edgeEnv,
  });
  return {
    cluster,
    origin,
    async stop() {
      await stopTestCluster(cluster);
      await origin.close();
    },
  };
}

/** The nearest-rank p99: of 102 samples, the second largest (one outlier is forgiven). */
export const p99 = (ms: readonly number[]): number => {
  const s = [...ms].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(s.length * 0.99) - 1)]!;
};

/** The n-th heavy variant (never the same twice: the blur radius 10–99, then the width 2400, 2401, …). */
export const heavyUrl = (edgeUrl: string, n: number) =>
  `${edgeUrl}/hostile/tr:w-${2400 + Math.floor(n / 90)},h-2400,cm-pad_resize,bg-blurred_${(n % 90) + 10}/big.jpg`;

/** One quiet sample: the answer and the region's own Server-Timing entries (ms by name). */
export interface QuietSample extends Answer {
  timing: Record<string, number>;
}

function timingOf(a: Answer): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of (a.headers.get('server-timing') ?? '').split(',')) {
    const m = /^\s*([\w-]+)(?:;.*?dur=([\d.]+))?/.exec(part);
    if (m?.[2] !== undefined) out[m[1]!] = (out[m[1]!] ?? 0) + Number(m[2]);
  }
  return out;
}

export class IsolationWorkload {
  private quietSize = 0;
  private n = 0;
  private bot = 0;
  constructor(readonly edgeUrl: string) {}

  /** Both originals fetched once, the region's first renders done, both heavy children started; then one heavy render alone, for scale. */
  async warmUp(): Promise<{ quiet: Answer; heavyAlone: Answer }> {
    const quiet = await get(`${this.edgeUrl}/quiet/tr:w-99/small.jpg`, GEO, 60_000);
    await Promise.all([0, 1].map((i) => get(heavyUrl(this.edgeUrl, i), { ...GEO, 'x-pixmesh-client': `warm-${i}` }, 60_000)));
    const heavyAlone = await get(heavyUrl(this.edgeUrl, 2), { ...GEO, 'x-pixmesh-client': 'probe' }, 60_000);
    return { quiet, heavyAlone };
  }

  /** `n` cheap misses of the quiet account (two at a time), each a size never asked before, each from a client of its own. */
  async quiet(n: number, phase: string): Promise<QuietSample[]> {
    const out: QuietSample[] = [];
    let left = n;
    await Promise.all(
      [0, 1].map(async () => {
        while (left-- > 0) {
          const w = 100 + this.quietSize++;
          const a = await get(`${this.edgeUrl}/quiet/tr:w-${w}/small.jpg`, { ...GEO, 'x-pixmesh-client': `quiet-${phase}-${w}`, accept: 'image/jpeg' }, 30_000);
          out.push({ ...a, timing: timingOf(a) });
        }
      }),
    );
    return out;
  }

  /**
   * Floods heavy renders over FLOODERS connections while `during` runs (after `rampMs`), then
   * waits until every flood request is answered (the next phase starts idle). Loop 0 is one
   * client all along (the edge cuts it off); the others a new client per request.
   */
  async flood<T>(during: () => Promise<T>, rampMs = 1000): Promise<{ result: T; hostile: Answer[] }> {
    const hostile: Answer[] = [];
    let flooding = true;
    const loops = Array.from({ length: FLOODERS }, async (_, loop) => {
      while (flooding) {
        const client = loop === 0 ? 'attacker' : `bot-${this.bot++}`;
        const a = await get(heavyUrl(this.edgeUrl, 1000 + this.n++), { ...GEO, 'x-pixmesh-client': client }, 30_000);
        hostile.push(a);
        if (a.status !== 200) await sleep(200);
      }
    });
    await sleep(rampMs); // the flood holds both heavy slots now, two more wait
    try {
      return { result: await during(), hostile };
    } finally {
      flooding = false;
      await Promise.all(loops);
    }
  }
}

/** Answers counted by status and ik-error code ("200", "429 EBUSY"). */
export function tally(answers: readonly Answer[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const a of answers) {
    const k = `${a.status}${a.code ? ` ${a.code}` : ''}`;
    counts[k] = (counts[k] ?? 0) + 1;
  }
  return counts;
}
