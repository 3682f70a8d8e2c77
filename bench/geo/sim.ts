/**
 * A fast, process-free replay of the geo benchmark's world (bench/geo/run.ts) for tuning the
 * routing model: the same ground truth, colo population and request stream, region caches as sets,
 * latencies as sums of the true RTTs (with the proxies' jitter), the region's service time and the
 * home's fetch + transform work. The pixmesh policy is the real IsolateRouting (decision, learning,
 * probes, variant memory) driven with simulated answers; nearest, home and the myopic oracle are
 * played as in the benchmark. No wall clock: simulated time advances by `gapMs` per request.
 *
 * It is a model of the benchmark, not a measurement: its figures are for choosing between model
 * variants quickly; the benchmark (npm run bench:geo) is what the docs report.
 *
 *   npx tsx bench/geo/sim.ts [--seeds 7,8,9] [--scenarios steady,degrade,kill] [--overhead 5] [--no-fill] [--config '{"placementValue":1}']
 */
import { AccountIndex, type Account } from '../../shared/accounts.js';
import { REGION_IDS, type RegionId } from '../../shared/regions.js';
import { negotiateFormat, parseTransformation } from '../../shared/transform/index.js';
import { IsolateRouting, MIX_FLUSH_INTERVAL_MS } from '../../edge/src/routing-state.js';
import { mergeMixes, mixIsEmpty, type RegionMix, type RouteDecision, type RoutingConfig } from '../../edge/src/routing/model.js';
import { args } from '../lib/results.js';
import { hashSeed, Rng } from '../lib/prng.js';
import { percentile, round } from '../lib/stats.js';
import { GroundTruth, jitter } from './ground-truth.js';
import { DEFAULT_GEO, makeStream, type Policy, type Scenario } from './run.js';

export interface SimOptions {
  seed: number;
  scenario: Exclude<Scenario, 'regime'>;
  /** Mean local overhead added to every measured round trip (exponential), ms; the loopback sees the same distribution. */
  overheadMs: number;
  /** Simulated time between requests of one policy, ms (the benchmark: ~85 ms). */
  gapMs: number;
  /** Home's fetch + transform time on a miss, ms. */
  workMs: number;
  serviceMs: number;
  config?: Partial<RoutingConfig>;
  /** pixmesh: background fills (model.ts fillTarget) on (default) or off. */
  fill?: boolean;
}

export interface SimRun {
  policy: Policy;
  p50: number;
  p90: number;
  p98: number;
  /** Share of edge misses to the event region more than 30 s after the event. */
  after30s?: number;
  regionHit: number;
  learnedBias?: number;
  learnedMae?: number;
}

const HOME: RegionId = 'eu-central-1';
/** SIM_DEBUG=1: where pixmesh's picks differ from the true nearest region, and which requests one policy answered under 50 ms and the other not. */
export const debug = new Map<string, number>();
export const perRequest = new Map<Policy, Map<number, { ms: number; region?: RegionId; hit: boolean; colo: string; nearHeld: boolean; tn: RegionId }>>();

export function simulate(o: SimOptions): SimRun[] {
  const truth = new GroundTruth(o.seed);
  const images = Array.from({ length: DEFAULT_GEO.images }, (_, i) => `bench/img-${String(i).padStart(3, '0')}.jpg`);
  const stream = makeStream(DEFAULT_GEO, o.seed, images, o.scenario);
  const accounts = AccountIndex.fromJson(JSON.stringify({ accounts: [{ id: 'sim', homeRegion: HOME, privateKey: 'private_sim', publicKey: 'public_sim', endpoints: [{ prefix: '', origins: [{ type: 'web', baseUrl: 'https://example.com' }] }] }] }));
  const account = accounts.get('sim') as Account;
  const eventAt = Math.floor(DEFAULT_GEO.eventAt * stream.length);
  const eventRegion: RegionId | undefined = o.scenario === 'degrade' ? DEFAULT_GEO.degradeRegion : o.scenario === 'kill' ? DEFAULT_GEO.killRegion : undefined;
  const out: SimRun[] = [];
  for (const policy of ['pixmesh', 'nearest', 'home', 'oracle'] as Policy[]) {
    const rng = new Rng(hashSeed(o.seed, 'sim', policy));
    const router = new IsolateRouting(o.config);
    const edge = new Map<string, Set<string>>();
    const has = Object.fromEntries(REGION_IDS.map((r) => [r, new Set<string>()])) as Record<RegionId, Set<string>>;
    const extra: Partial<Record<RegionId, number>> = {};
    const dead = new Set<RegionId>();
    const lat: number[] = [];
    const pendingFill = new Map<string, number>();
    let sharedMix: RegionMix = {};
    let fills = 0;
    let misses = 0;
    let regionHits = 0;
    let after30 = 0;
    let after30Misses = 0;
    const t0 = 1_800_000_000_000;
    const overhead = () => -o.overheadMs * Math.log(1 - rng.next());
    const net = (colo: string, r: RegionId) => truth.rtt(colo, r) * jitter(rng) + (extra[r] ?? 0);
    for (const req of stream) {
      const now = t0 + req.i * o.gapMs;
      if (eventRegion && req.i === eventAt) {
        if (o.scenario === 'degrade') extra[eventRegion] = DEFAULT_GEO.degradeMs;
        else dead.add(eventRegion);
      }
      const plan = parseTransformation(req.tr, { namedTransforms: account.namedTransforms, namedOnly: account.namedOnly });
      const { format } = negotiateFormat(plan, req.accept, account.defaults);
      const key = `${req.image}|${req.tr}|${format}`;
      let cc = edge.get(req.colo);
      if (!cc) edge.set(req.colo, (cc = new Set()));
      const measured = req.i >= Math.floor(DEFAULT_GEO.warmup * stream.length);
      if (cc.has(key)) {
        if (measured) lat.push(req.clientLegMs + 2.2);
        continue;
      }
      const trueCost = (r: RegionId) => {
        if (dead.has(r)) return Infinity;
        const n = truth.rtt(req.colo, r) + (extra[r] ?? 0);
        if (has[r].has(key)) return n + o.serviceMs;
        if (r === HOME) return n + o.workMs;
        return n + truth.interRegion(r, HOME) + (has[HOME].has(key) ? o.serviceMs : o.workMs);
      };
      for (const [fk, at] of pendingFill) if (at <= now) { const [fr, ...rest] = fk.split('|'); has[fr as RegionId].add(rest.join('|')); pendingFill.delete(fk); }
      let order: RegionId[];
      let decision: RouteDecision | undefined;
      let evidence: Record<string, string> = {};
      if (policy === 'pixmesh') {
        const d = router.decide({ colo: req.colo }, account, false, [...REGION_IDS], now, key);
        order = d.candidates.map((c) => c.region);
        decision = d;
        evidence = Object.fromEntries(d.candidates.map((c) => [c.region, c.evidence]));
        if (process.env.SIM_DEBUG && measured) {
          const tn = [...REGION_IDS].sort((a, b) => truth.rtt(req.colo, a) - truth.rtt(req.colo, b))[0]!;
          const pickR = order[0]!;
          const cat = pickR === tn ? 'nearest' : pickR === HOME ? 'home-instead' : 'other';
          const k = `${cat}${has[pickR].has(key) ? '+hit' : '-miss'}${has[tn].has(key) ? ' (near holds)' : ''}${d.hysteresis ? ' hyst' : ''}`;
          debug.set(k, (debug.get(k) ?? 0) + 1);
          if (process.env.SIM_DEBUG === '2' && pickR !== tn && has[tn].has(key)) {
            const show = (r: RegionId) => { const c = d.candidates.find((x) => x.region === r); return c ? `${r} exp ${c.expectedMs} rtt ${c.rttMs} (true ${round(truth.rtt(req.colo, r))}, n ${c.rttSamples}) ${c.evidence} pMiss ${c.missProbability}` : `${r} excluded`; };
            console.log(`near held, went elsewhere: ${req.colo} i ${req.i} pick ${show(pickR)} | near ${show(tn)}${d.hysteresis ? ` hyst ${JSON.stringify(d.hysteresis)}` : ''}`);
          }
        }
        // Probes: answered at once in simulated time (their own overhead included).
        for (const p of router.planProbes(req.colo, [...REGION_IDS], now)) {
          if (p.reason === 'loopback') continue;
          if (dead.has(p.region)) router.report({ region: p.region, result: 'network-error', probe: true }, now);
          else router.report({ region: p.region, result: 200, colo: req.colo, ttfbMs: net(req.colo, p.region) + overhead() - o.overheadMs, procMs: 0, probe: true }, now);
        }
      } else if (policy === 'home') order = [HOME];
      else if (policy === 'nearest') order = truth.nearestByDistance(req.colo);
      else order = [...REGION_IDS].filter((r) => !dead.has(r)).sort((a, b) => trueCost(a) - trueCost(b));
      const regionHitsBefore = regionHits;
      const nearHeldBefore = has[[...REGION_IDS].sort((a, b) => truth.rtt(req.colo, a) - truth.rtt(req.colo, b))[0]!].has(key);
      let ms = req.clientLegMs + 7;
      let answered: RegionId | undefined;
      for (const r of order) {
        if (dead.has(r)) {
          ms += 2;
          if (policy === 'pixmesh') router.report({ region: r, result: 'network-error' }, now);
          continue;
        }
        const hit = has[r].has(key);
        let proc = o.serviceMs;
        if (!hit) proc = r === HOME ? o.workMs : truth.interRegion(r, HOME) * jitter(rng) + (has[HOME].has(key) ? o.serviceMs : o.workMs);
        const rtt = net(req.colo, r);
        ms += rtt + proc;
        if (policy === 'pixmesh')
          router.report(
            {
              region: r,
              result: 200,
              colo: req.colo,
              accountId: account.id,
              ttfbMs: rtt + proc + overhead() - o.overheadMs,
              procMs: proc,
              regionCache: hit ? 'HIT' : 'MISS',
              variantKey: key,
              evidence: evidence[r] as never,
              processedBy: hit ? r : HOME,
              home: HOME,
            },
            now,
          );
        answered = r;
        if (hit) regionHits++;
        has[r].add(key);
        if (!hit) has[HOME].add(key);
        break;
      }
      const targets = o.fill !== false && decision && answered ? router.fillTargets(decision, answered, account.id, now) : [];
      // The account's Durable Object (routing-state-do.ts), without its latency: this colo's flush (IsolateRouting.flushMix), at most every MIX_FLUSH_INTERVAL_MS.
      const me = router.regionMix.get(`${account.id}|${req.colo}`);
      if (me && !mixIsEmpty(me.pending) && now - me.lastFlush >= MIX_FLUSH_INTERVAL_MS) {
        sharedMix = mergeMixes([sharedMix, me.pending], now);
        me.shared = sharedMix;
        me.pending = {};
        me.lastFlush = now;
      }
      for (const natural of targets) {
        if (dead.has(natural)) continue;
        const fk = `${natural}|${key}`;
        if (!pendingFill.has(fk)) { pendingFill.set(fk, now + truth.rtt(req.colo, natural) + truth.interRegion(natural, HOME) + 5); fills++; }
        router.report({ region: natural, result: 200, colo: req.colo, accountId: account.id, ttfbMs: net(req.colo, natural) + 95, procMs: 95, regionCache: 'MISS', variantKey: key, evidence: 'unseen', processedBy: HOME, home: HOME }, now);
      }
      misses++;
      cc.add(key);
      if (process.env.SIM_DEBUG && measured) {
        const tn = [...REGION_IDS].sort((a, b) => truth.rtt(req.colo, a) - truth.rtt(req.colo, b))[0]!;
        if (!perRequest.has(policy)) perRequest.set(policy, new Map());
        perRequest.get(policy)!.set(req.i, { ms, region: answered, hit: regionHitsBefore !== regionHits, colo: req.colo, nearHeld: nearHeldBefore, tn });
      }
      if (measured) lat.push(ms);
      if (eventRegion && o.scenario === 'degrade' && req.i >= eventAt && (req.i - eventAt) * o.gapMs > 30_000) {
        after30Misses++;
        if (answered === eventRegion) after30++;
      }
    }
    if (process.env.SIM_DEBUG) console.log(policy, [20, 30, 40, 45, 50, 55, 60, 70, 80, 90].map((q) => `${q}:${round(percentile(lat, q))}`).join(' '), ' share<', [30, 40, 50, 60, 80].map((t) => `${t}:${round(lat.filter((x) => x < t).length / lat.length, 3)}`).join(' '));
    if (process.env.SIM_DEBUG && policy === 'pixmesh') console.log('fills', fills, 'misses', misses);
    const run: SimRun = { policy, p50: round(percentile(lat, 50)), p90: round(percentile(lat, 90)), p98: round(percentile(lat, 98)), regionHit: round(regionHits / Math.max(1, misses), 3) };
    if (eventRegion && o.scenario === 'degrade') run.after30s = round(after30 / Math.max(1, after30Misses), 3);
    if (policy === 'pixmesh') {
      const errs: number[] = [];
      for (const [colo, row] of Object.entries(router.state.rtt))
        for (const [r, e] of Object.entries(row)) if (e) errs.push(e.mean - (truth.rtt(colo, r as RegionId) + (extra[r as RegionId] ?? 0)));
      run.learnedBias = round(errs.reduce((a, b) => a + b, 0) / Math.max(1, errs.length));
      run.learnedMae = round(errs.reduce((a, b) => a + Math.abs(b), 0) / Math.max(1, errs.length));
      if (process.env.SIM_DEBUG) {
        // learned error by the pair's sample count (probe-only pairs have few)
        const by = new Map<string, number[]>();
        for (const [colo, row] of Object.entries(router.state.rtt))
          for (const [r, e] of Object.entries(row)) if (e) { const k = e.n < 3 ? '<3' : e.n < 6 ? '3-5' : e.n < 10 ? '6-9' : e.n < 20 ? '10-19' : '20+'; by.set(k, [...(by.get(k) ?? []), e.mean - (truth.rtt(colo, r as RegionId) + (extra[r as RegionId] ?? 0))]); }
        console.log('learned error by samples:', [...by.entries()].map(([k, v]) => `${k}: ${v.length} pairs, bias ${round(v.reduce((a, b) => a + b, 0) / v.length)} mae ${round(v.reduce((a, b) => a + Math.abs(b), 0) / v.length)}`).join('; '));
      }
    }
    out.push(run);
  }
  return out;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const a = args();
  const seeds = typeof a['seeds'] === 'string' ? (a['seeds'] as string).split(',').map(Number) : [7, 8, 9];
  const scenarios = (typeof a['scenarios'] === 'string' ? (a['scenarios'] as string).split(',') : ['steady', 'degrade', 'kill']) as SimOptions['scenario'][];
  const config = typeof a['config'] === 'string' ? (JSON.parse(a['config'] as string) as Partial<RoutingConfig>) : undefined;
  for (const scenario of scenarios) {
    for (const seed of seeds) {
      const runs = simulate({ seed, scenario, overheadMs: typeof a['overhead'] === 'string' ? Number(a['overhead']) : 0, gapMs: 85, workMs: 50, serviceMs: 2, config, fill: a['no-fill'] !== true });
      const by = Object.fromEntries(runs.map((r) => [r.policy, r]));
      if (process.env.SIM_DEBUG) {
        const px = perRequest.get('pixmesh')!;
        const nr = perRequest.get('nearest')!;
        const diff = new Map<string, number>();
        for (const [i, a] of px) {
          const b = nr.get(i);
          if (!b) continue;
          const k = a.ms < 50 && b.ms >= 50 ? `px-fast ${a.colo} px:${a.region}${a.hit ? '+' : '-'} nr:${b.region}${b.hit ? '+' : '-'}` : a.ms >= 50 && b.ms < 50 ? `nr-fast ${a.colo} px:${a.region}${a.hit ? '+' : '-'}${a.nearHeld ? '(near held)' : ''} nr:${b.region}${b.hit ? '+' : '-'}` : '';
          if (k) diff.set(k, (diff.get(k) ?? 0) + 1);
        }
        console.log([...diff.entries()].sort().map(([k, v]) => `${k}: ${v}`).join('\n'));
        perRequest.clear();
        console.log([...debug.entries()].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k}: ${v}`).join('; '));
        debug.clear();
      }
      const px = by.pixmesh!;
      const ratio = (p: Policy, q: 'p50' | 'p90' | 'p98') => round(px[q] / by[p]![q], 3);
      console.log(
        `${scenario} seed ${seed}: ` +
          runs.map((r) => `${r.policy} ${r.p50}/${r.p90}/${r.p98} rh ${r.regionHit}${r.after30s !== undefined ? ` a30 ${r.after30s}` : ''}`).join(' | ') +
          `\n   vs nearest ${ratio('nearest', 'p50')}/${ratio('nearest', 'p90')}/${ratio('nearest', 'p98')}  vs oracle ${ratio('oracle', 'p50')}/${ratio('oracle', 'p90')}/${ratio('oracle', 'p98')}  degrade gain ${round(1 - px.p90 / by.nearest!.p90, 3)}  learned bias ${px.learnedBias} mae ${px.learnedMae}`,
      );
    }
  }
}
