/**
 * Turns bench/results/<suite>.json into SVG charts and bench/results/README.md (the summary the
 * project README links to). Runs after any suite; suites that have not run are left out.
 */
import type { EdgeResults } from './edge/run.js';
import { PAIR_CLASSES, type PairClass } from './geo/pairwise.js';
import type { GeoResults, PolicyRun } from './geo/run.js';
import { readSuite, resultsDir, writeText, type SuiteResult } from './lib/results.js';
import { barChart, lineChart } from './lib/svg.js';
import type { TransformResults } from './transform/run.js';

const PAIR_LABEL: Record<PairClass, string> = {
  'same-region-same-cache': 'the same region, same region-cache result',
  'same-region-other-cache': 'the same region, another region-cache result',
  'other-region-hit': 'another region, a region-cache hit',
  'other-region-miss': 'another region, a region-cache miss',
};

const POLICY_LABEL: Record<string, string> = { pixmesh: 'pixmesh (learned)', nearest: 'static nearest', home: 'home only', oracle: 'oracle' };

function machineLine(r: SuiteResult): string {
  const m = r.machine;
  return `${m.nproc} × ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.os}; Node ${m.node}, sharp ${m.sharp} / libvips ${m.libvips}${m.ipxSharp ? `, ipx ${m.ipxSharp}` : ''}${m.wrangler ? `, wrangler ${m.wrangler}` : ''}`;
}

const table = (head: string[], rows: (string | number | null | undefined)[][]) =>
  [`| ${head.join(' | ')} |`, `|${head.map((h, i) => (i === 0 ? '---' : '---:')).join('|')}|`, ...rows.map((r) => `| ${r.map((c) => (c === null || c === undefined ? '–' : String(c))).join(' | ')} |`)].join('\n');

const round = (x: number) => Math.round(x * 10) / 10;
const pct = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '–' : `${Math.round(x * 1000) / 10} %`);

const spreadCell = (s?: { min: number; median: number; max: number }, f: (x: number) => string = String) => (s ? `${f(s.median)} (${f(s.min)}–${f(s.max)})` : '–');

function geoSection(r: SuiteResult<GeoResults>, dir: string, files: string[]): string {
  const out: string[] = [];
  const cfg = r.config as Record<string, unknown>;
  const seeds = (r.results.seeds ?? []).map((s) => s.seed);
  const regime = cfg.regime as { requests: number; images: number; transforms: number; zipfS: number; warmup: number } | undefined;
  out.push(`## 1. Geo simulation (${r.mode}, ${r.startedAt.slice(0, 16).replace('T', ' ')} UTC, ${r.durationS} s)`);
  out.push(
    `Seeds ${seeds.join(', ') || cfg.seed} (each seed draws its own ground truth and request stream); ${cfg.requests} requests per policy and scenario (first ${Math.round(Number(cfg.warmup) * 100)} % left out as warm-up), the four policies of a scenario run in lockstep (each request sent to every policy's edge at the same moment, the next when all have answered), concurrency ${cfg.concurrency} each, ${cfg.images} originals × ${(cfg.transforms as string[]).length} transformations, Zipf s=${cfg.zipfS}, ${r.results.groundTruth.colos} colos; link inflation drawn ${r.results.groundTruth.linkInflation.min}–${r.results.groundTruth.linkInflation.max}× (median ${r.results.groundTruth.linkInflation.median}×, seed ${r.results.groundTruth.seed}) vs the prior's 2.1×; home region ${cfg.home}. An emulated edge HIT costs the client leg + ${r.results.hitServiceMs.value} ms (${r.results.hitServiceMs.source}).` +
      (regime ? ` Regime: ${regime.requests} requests over ${regime.images} originals × ${regime.transforms} transformations (Zipf s=${regime.zipfS}), first ${Math.round(regime.warmup * 100)} % warm-up.` : ''),
  );
  const runsOf = (cfg.runs as { startedAt: string; seeds: number[]; scenarios: string[]; loadAvg1: number[] }[] | undefined) ?? [];
  if (runsOf.length > 1 || cfg.nice !== undefined)
    out.push(
      `\nMeasured in ${runsOf.length} quiet window${runsOf.length === 1 ? '' : 's'} (other sessions' tests held back; the bench and everything it starts at nice ${cfg.nice ?? 0}): ` +
        runsOf.map((x) => `${x.startedAt.slice(11, 16)} UTC seeds ${x.seeds.join(',')} ${x.scenarios.join('+')} (load at the end ${x.loadAvg1.join(' / ')})`).join('; ') +
        '. Every policy row below gives the 1-minute load at its start and end.',
    );
  const targets = r.results.targets ?? [];
  if (targets.length) {
    out.push(`\n### Targets (issue #19), per seed`);
    out.push(table(['target', 'met', 'per seed', 'what'], targets.map((t) => [t.target, t.met ? 'yes' : '**no**', t.values.join(' / '), t.detail])));
  }
  const pooled = r.results.pooled ?? {};
  if (Object.keys(pooled).length)
    out.push(
      `\npixmesh ÷ static nearest with every seed's measured requests pooled (paired by seed and request; not a target, the targets hold per seed), [paired-bootstrap 5–95 % range]: ` +
        Object.entries(pooled)
          .map(([sc, p]) => `${sc} (${p!.pairs} pairs, seeds ${p!.seeds.join(',')}) p50 ${p!.ratio.p50.ratio} [${p!.ratio.p50.lo}, ${p!.ratio.p50.hi}], p90 ${p!.ratio.p90.ratio} [${p!.ratio.p90.lo}, ${p!.ratio.p90.hi}], p98 ${p!.ratio.p98.ratio} [${p!.ratio.p98.lo}, ${p!.ratio.p98.hi}]`)
          .join('; ') +
        '.',
    );
  const spread = r.results.spread ?? {};
  if (Object.keys(spread).length) {
    out.push(`\n### Spread over seeds: median (min–max)`);
    const rows: (string | number)[][] = [];
    for (const [scenario, per] of Object.entries(spread)) {
      for (const [policy, m] of Object.entries(per ?? {})) {
        rows.push([`${scenario} / ${POLICY_LABEL[policy] ?? policy}`, spreadCell(m.p50), spreadCell(m.p90), spreadCell(m.p98), spreadCell(m.missP50), spreadCell(m.edgeHit, pct), spreadCell(m.regionHit, pct), spreadCell(m.regretMs), spreadCell(m.errors)]);
      }
    }
    out.push(table(['scenario / policy', 'p50 ms', 'p90', 'p98', 'edge-miss p50', 'edge hit', 'region hit', 'decision regret ms', 'errors'], rows));
  }
  const regimeSeeds = (r.results.seeds ?? []).filter((s) => s.scenarios.regime?.length);
  if (regimeSeeds.length) {
    out.push(`\n### Regime (ImageKit's: > 90 % edge hits), per seed`);
    out.push(
      'Per policy and seed: p98 · the lowest per-colo edge hit ratio · the share of edge misses served from the result cache of the user’s nearest region (lowest true RTT), of n edge misses measured (n is small at > 99 % edge hits: one request is 100/n share points).',
    );
    const policies = [...new Set(regimeSeeds.flatMap((s) => s.scenarios.regime!.map((x) => x.policy)))];
    const cell = (seed: (typeof regimeSeeds)[number], policy: string) => {
      const x = seed.scenarios.regime!.find((y) => y.policy === policy);
      return x ? `${x.latency.p98} ms · ${pct(x.coloEdgeHit.min)} · ${pct(x.nearestRegionCacheShare)} of ${x.missLatency.n}` : '–';
    };
    out.push(table(['policy', ...regimeSeeds.map((s) => `seed ${s.seed}`)], policies.map((p) => [POLICY_LABEL[p] ?? p, ...regimeSeeds.map((s) => cell(s, p))])));
  }
  const first = r.results.seeds?.[0];
  for (const [scenario, runs] of Object.entries(r.results.scenarios) as [string, PolicyRun[]][]) {
    out.push(`\n### ${scenario} (seed ${r.results.groundTruth.seed})`);
    out.push(
      table(
        ['policy', 'p50 ms', 'p90', 'p98', 'p99', '≤ 50 ms', 'edge-miss p50 / p99', 'edge hit (colo min)', 'region hit', 'misses from nearest region’s cache', 'errors', 'failovers', 'decision regret ms', 'oracle pick', 'Δp50 / Δp98 vs oracle', 'load avg'],
        runs.map((x) => [
          POLICY_LABEL[x.policy] ?? x.policy,
          x.latency.p50,
          x.latency.p90,
          x.latency.p98,
          x.latency.p99,
          pct(x.within50ms),
          `${x.missLatency.p50} / ${x.missLatency.p99}`,
          `${pct(x.edgeHitRatio)} (${pct(x.coloEdgeHit?.min)})`,
          pct(x.regionHitRatio),
          pct(x.nearestRegionCacheShare),
          x.errors,
          x.failovers,
          x.decisionRegretMs,
          pct(x.optimalShare),
          x.regretVsOracle ? `${x.regretVsOracle.p50} / ${x.regretVsOracle.p98}` : '–',
          x.loadAvg1.join('→'),
        ]),
      ),
    );
    const withOverhead = runs.filter((x) => x.edgeOverhead && x.edgeOverhead.n);
    if (withOverhead.length)
      out.push(
        `\nThe edge worker's own time per edge miss (client time to headers − the edge's time to the region's headers: parsing, signature, routing, signing, the client↔edge hop), p50 / p90 ms: ` +
          withOverhead.map((x) => `${POLICY_LABEL[x.policy] ?? x.policy} ${x.edgeOverhead!.p50} / ${x.edgeOverhead!.p90}`).join(', ') +
          '. Every policy runs its own copy of the same worker (the baselines name their region order through the bench override), so this cost is the same for all and the difference between the rows is the region choice.',
      );
    const vs = runs.find((x) => x.policy === 'pixmesh')?.vsNearest;
    if (vs?.compared) {
      out.push(
        `\npixmesh against static nearest request by request (the same stream: ${vs.compared} measured requests that were edge misses for both). "Losses": nearest at or under its p50 (${vs.medianB} ms) and pixmesh above it; "wins": the reverse — the p50 ratio moves with losses − wins; the class says whether that was the region choice or time on the same choice.`,
      );
      out.push(
        table(
          ['pixmesh did', 'requests', 'Δ p50 ms (pixmesh − nearest)', 'Δ mean', 'losses', 'wins'],
          PAIR_CLASSES.map((c) => [PAIR_LABEL[c], vs.byClass[c].n, vs.byClass[c].diffP50, vs.byClass[c].diffMean, vs.byClass[c].losses, vs.byClass[c].wins]),
        ),
      );
    }
    const pix = runs.find((x) => x.policy === 'pixmesh' && x.learning);
    if (pix?.learning) {
      const l = pix.learning;
      out.push(
        `\nWhat the pixmesh edge had learned by the end (GET /_routing per colo vs the ground truth): ${l.learnedPairs} colo→region pairs with samples; mean absolute error ${l.priorMaeMs} ms for the prior alone, **${l.learnedMaeMs} ms** for the learned mean (bias **${l.learnedBiasMs >= 0 ? '+' : ''}${l.learnedBiasMs} ms**), ${l.blendedMaeMs} ms for the blend the model uses. Against the delays the proxies really applied (late timers on a loaded machine): MAE ${l.learnedMaeVsAppliedMs} ms, bias ${l.learnedBiasVsAppliedMs >= 0 ? '+' : ''}${l.learnedBiasVsAppliedMs} ms. Prior error over all pairs: ${l.priorMaeAllMs} ms.` +
          (l.proxyLateMs !== undefined && l.originResidueMs !== undefined
            ? ` Where the bias comes from: the proxies' timers fired ${l.proxyLateMs >= 0 ? '+' : ''}${l.proxyLateMs} ms off the ground truth on average (after compensation); the region processes spent ${l.originResidueMs} ms per answer outside their own Server-Timing \`proc\` (socket wake-up, HTTP parsing, scheduling; seen at the proxy as upstream time − proc); the remaining ${round(l.learnedBiasVsAppliedMs - l.originResidueMs)} ms are on the edge side (workerd and the proxy's own socket handling, in processes that share 2 cores) — local overhead of the one-machine simulation, not network.`
            : '') +
          (pix.exploration ? ` Exploration: ${pix.exploration.probes} probes (${JSON.stringify(pix.exploration.byReason)}), ${pix.exploration.probeFailures} failed.` : ''),
      );
      if (l.perColo?.length) {
        out.push(`\nPer colo (learned mean vs ground truth, ms): ` + l.perColo.map((c) => `${c.colo} ${c.maeMs}/${c.biasMs >= 0 ? '+' : ''}${c.biasMs}`).join(', ') + ' (MAE/bias).');
        if (scenario === 'steady') {
          const pairs = [...l.pairs].sort((a, b) => a.truth - b.truth);
          const name = `geo-learned-rtt.svg`;
          writeText(
            name,
            lineChart({
              title: 'Learned vs true RTT per (colo, region) pair (steady)',
              subtitle: 'pairs sorted by true RTT; learned = the EWMA at the end of the run',
              xLabel: 'pair (sorted by true RTT)',
              yLabel: 'ms',
              series: [
                { name: 'ground truth', points: pairs.map((p, i) => [i, p.truth] as [number, number]) },
                { name: 'learned', points: pairs.map((p, i) => [i, p.learned] as [number, number]) },
                { name: 'prior', points: pairs.map((p, i) => [i, p.prior] as [number, number]) },
              ],
            }),
            dir,
          );
          files.push(name);
          out.push(`\n![learned vs true RTT](${name})`);
        }
      }
    }
    const conn = first?.connections?.[scenario as keyof typeof first.connections];
    if (conn) {
      out.push(
        `\nConnections (all policies of the scenario, counted at the delay proxies): edge → region ${conn.edgeToRegion.connections} for ${conn.edgeToRegion.requests} requests (**${conn.edgeToRegion.perThousand} per 1,000**); region → home ${conn.regionToHome.connections} for ${conn.regionToHome.requests} (**${conn.regionToHome.perThousand} per 1,000**). A fresh handshake per request would add, at the ground-truth RTTs (traffic-weighted ${conn.handshakeCostMs.edgeToRegion.rttMs} ms edge → region, ${conn.handshakeCostMs.regionToHome.rttMs} ms region → home): TCP ${conn.handshakeCostMs.edgeToRegion.tcp} / ${conn.handshakeCostMs.regionToHome.tcp} ms, TCP + TLS 1.3 ${conn.handshakeCostMs.edgeToRegion.tcpTls13} / ${conn.handshakeCostMs.regionToHome.tcpTls13} ms, TCP + TLS 1.2 ${conn.handshakeCostMs.edgeToRegion.tcpTls12} / ${conn.handshakeCostMs.regionToHome.tcpTls12} ms.`,
      );
    }
    const withEvent = runs.filter((x) => x.event);
    if (withEvent.length) {
      const e0 = withEvent[0]!.event!;
      out.push(`\n${e0.kind === 'degrade' ? `${e0.region} +${cfg.degradeMs} ms on the edge → region leg` : `${e0.region} SIGKILLed`} at ${e0.atS} s (when the first policy had issued ${Math.round(Number(cfg.eventAt ?? 0.5) * 100)} % of its requests). "To region" counts edge misses ${e0.kind === 'kill' ? 'that tried' : 'answered by'} ${e0.region}.`);
      out.push(
        table(
          ['policy', 'share to region before', 'after: 0–10 s', '10–30 s', '> 30 s', 'requests to region > 1 s after', 'last one after (s)', 'errors after', 'failovers after', 'p50 / p99 in the 10 s after'],
          withEvent.map((x) => [
            POLICY_LABEL[x.policy] ?? x.policy,
            pct(x.event!.shareBefore),
            pct(x.event!.shareWindows?.['0-10s'] ?? undefined),
            pct(x.event!.shareWindows?.['10-30s'] ?? undefined),
            pct(x.event!.shareWindows?.after30s ?? undefined),
            x.event!.requestsToRegionAfter1s,
            x.event!.lastToRegionAfterS,
            x.event!.errorsAfter,
            x.event!.failoversAfter,
            `${x.event!.windowLatency.p50} / ${x.event!.windowLatency.p99}`,
          ]),
        ),
      );
      const name = `geo-${scenario}-timeline.svg`;
      writeText(
        name,
        lineChart({
          title: `${scenario === 'kill' ? 'Kill' : 'Degrade'}: share of edge misses sent to ${e0.region}`,
          subtitle: `per ${withEvent[0]!.timeline[0]?.bucketS ?? '?'} s bucket; dashed line = the event`,
          xLabel: 'seconds',
          yLabel: 'share of edge misses',
          series: withEvent.map((x) => ({ name: POLICY_LABEL[x.policy] ?? x.policy, points: x.timeline.map((b) => [b.t + b.bucketS / 2, b.shareToEventRegion ?? NaN] as [number, number]) })),
          markers: [{ x: e0.atS, label: scenario === 'kill' ? `${e0.region} killed` : `${e0.region} +${cfg.degradeMs} ms` }],
          yMax: 1,
        }),
        dir,
      );
      files.push(name);
      out.push(`\n![${scenario} timeline](${name})`);
    }
    const name = `geo-${scenario}-latency.svg`;
    writeText(
      name,
      barChart({
        title: `Geo ${scenario}: latency percentiles by policy`,
        subtitle: 'client-observed ms incl. client→colo leg; dashed = the 50 ms line',
        yLabel: 'ms',
        categories: ['p50', 'p90', 'p98', 'p99'],
        series: runs.map((x) => ({ name: POLICY_LABEL[x.policy] ?? x.policy, values: [x.latency.p50, x.latency.p90, x.latency.p98, x.latency.p99] })),
        reference: { value: 50, label: '50 ms' },
      }),
      dir,
    );
    files.push(name);
    out.push(`\n![${scenario} latency](${name})`);
    if (runs.some((x) => x.cdf?.length)) {
      const cdfName = `geo-${scenario}-cdf.svg`;
      writeText(
        cdfName,
        lineChart({
          title: `Geo ${scenario}: latency CDF by policy`,
          subtitle: 'share of (measured) requests answered within x ms, client-observed',
          xLabel: 'ms',
          yLabel: 'share of requests',
          series: runs.map((x) => ({ name: POLICY_LABEL[x.policy] ?? x.policy, points: (x.cdf ?? []).map(([ms, q]) => [ms, q] as [number, number]) })),
          markers: [{ x: 50, label: '50 ms' }],
          yMax: 1,
        }),
        dir,
      );
      files.push(cdfName);
      out.push(`\n![${scenario} latency CDF](${cdfName})`);
    }
  }
  out.push('\nNotes:\n' + r.notes.map((n) => `- ${n}`).join('\n'));
  return out.join('\n');
}

function transformSection(r: SuiteResult<TransformResults>, dir: string, files: string[]): string {
  const out: string[] = [];
  const cfg = r.config as Record<string, unknown>;
  const res = r.results;
  out.push(`## 2. Transform throughput (${r.mode}, ${r.startedAt.slice(0, 16).replace('T', ' ')} UTC, ${r.durationS} s)`);
  out.push(
    `Input ${res.input.width}×${res.input.height} JPEG (${Math.round(res.input.bytes / 1024)} KiB, ${res.input.description}); concurrency ${cfg.concurrency}; cold ${cfg.coldRequests} and repeated ${cfg.repeatedRequests} requests per engine and case (repeated: Zipf s=${cfg.zipfS} over ${cfg.variants} variants); engines interleaved in ${cfg.rounds} rounds. Encoders: JPEG q${res.encoder.jpeg.quality} baseline, WebP q${res.encoder.webp.quality} effort ${res.encoder.webp.effort}, AVIF q${res.encoder.avif.quality} effort ${res.encoder.avif.effort} tune ${res.encoder.avif.tune}.`,
  );
  const groups: { workload: 'cold' | 'repeated'; concurrency?: number }[] = [];
  for (const m of res.measurements) if (!groups.some((g) => g.workload === m.workload && g.concurrency === m.concurrency)) groups.push({ workload: m.workload, concurrency: m.concurrency });
  for (const { workload, concurrency } of groups) {
    const ms = res.measurements.filter((m) => m.workload === workload && m.concurrency === concurrency);
    if (!ms.length) continue;
    const cases = [...new Set(ms.map((m) => m.case))];
    const conc = concurrency ?? (cfg.concurrency as number);
    out.push(`\n### ${workload}, concurrency ${conc}`);
    const spread = (x?: { min: number; max: number }) => (x ? ` (${x.min}–${x.max})` : '');
    out.push(
      table(
        ['case', 'raw ops/s', 'origin ops/s', 'ipx ops/s', 'origin / raw (rounds)', 'ipx / raw', 'origin / ipx (rounds)', 'bytes origin / raw', 'p50 raw / origin / ipx ms', 'p99 raw / origin / ipx ms', 'peak RSS raw / origin / ipx MB', 'origin region hit', 'load avg'],
        cases.map((c) => {
          const g = (e: string) => ms.find((m) => m.case === c && m.engine === e);
          const ratio = res.ratios.find((x) => x.case === c && x.workload === workload && x.concurrency === concurrency);
          return [
            c,
            g('raw')?.opsPerSec,
            g('origin')?.opsPerSec,
            g('ipx')?.opsPerSec,
            `${ratio?.originVsRaw ?? '–'}${spread(ratio?.originVsRawRounds)}`,
            ratio?.ipxVsRaw,
            `${ratio?.originVsIpx ?? '–'}${spread(ratio?.originVsIpxRounds)}`,
            ratio?.bytesVsRaw ?? '–',
            `${g('raw')?.p50} / ${g('origin')?.p50} / ${g('ipx')?.p50}`,
            `${g('raw')?.p99} / ${g('origin')?.p99} / ${g('ipx')?.p99}`,
            `${g('raw')?.peakRssMb ?? '–'} / ${g('origin')?.peakRssMb ?? '–'} / ${g('ipx')?.peakRssMb ?? '–'}`,
            pct(g('origin')?.regionHitRatio),
            g('origin')?.loadAvg1,
          ];
        }),
      ),
    );
    const stages = ms.filter((m) => m.engine === 'origin' && m.stages);
    if (stages.length) out.push(`\nOrigin stages (p50 ms, Server-Timing): ${stages.map((m) => `${m.case}: ${Object.entries(m.stages!).map(([k, v]) => `${k} ${v}`).join(', ')}`).join('; ')}.`);
    const name = `transform-${workload}${concurrency !== undefined && workload === 'cold' ? `-c${concurrency}` : ''}.svg`;
    writeText(
      name,
      barChart({
        title: `Transform throughput, ${workload} workload`,
        subtitle: `ops/s at concurrency ${conc}, same machine and run; higher is better`,
        yLabel: 'ops/s',
        categories: cases,
        series: (['raw', 'origin', 'ipx'] as const).map((e) => ({
          name: e === 'raw' ? 'raw sharp (in-process)' : e === 'origin' ? 'pixmesh origin (HTTP)' : 'ipx (HTTP)',
          values: cases.map((c) => ms.find((m) => m.case === c && m.engine === e)?.opsPerSec ?? null),
        })),
      }),
      dir,
    );
    files.push(name);
    out.push(`\n![transform ${workload}](${name})`);
  }
  if (res.hitPath) {
    out.push(`\n### Hit path: a region-cache hit vs a bare Node server (${res.hitPath.case}, ${res.hitPath.bytes} B, ${res.hitPath.rounds} interleaved rounds; both sides get the same signed request bytes)`);
    out.push(
      table(
        ['concurrency', 'requests per round', 'origin req/s', 'bare req/s', 'origin / bare (rounds)', 'origin p50 / p99 ms', 'bare p50 / p99 ms', 'origin region hit', 'load avg'],
        res.hitPath.byConcurrency.map((h) => [h.concurrency, h.requestsPerRound ?? '?', h.origin.opsPerSec, h.bare.opsPerSec, `${h.originVsBare} (${h.originVsBareRounds.min}–${h.originVsBareRounds.max})`, `${h.origin.p50} / ${h.origin.p99}`, `${h.bare.p50} / ${h.bare.p99}`, pct(h.origin.regionHitRatio), h.loadAvg1]),
      ),
    );
  }
  if (res.pressure?.length) {
    out.push('\n### Pressure: bursts of concurrent cold requests');
    out.push(
      table(
        ['concurrent', 'bound (slots + queue)', '200', '503 EBUSY + Retry-After', 'other', 'wall ms', 'p50 / p99 ms (200s)', 'origin peak RSS MB', 'load avg'],
        res.pressure.map((p) => [p.concurrent, p.bound, p.ok, p.busyWithRetryAfter, p.otherErrors, p.wallMs, `${p.p50} / ${p.p99}`, p.peakRssMb ?? '–', p.loadAvg1]),
      ),
    );
  }
  if (res.threadSweep?.length) {
    out.push('\n### libvips threads × transform slots (raw sharp loop, ops/s)');
    for (const c of [...new Set(res.threadSweep.map((x) => x.case))]) {
      const pts = res.threadSweep.filter((x) => x.case === c);
      const slots = [...new Set(pts.map((x) => x.slots))];
      out.push(`\n${c}:`);
      out.push(table(['threads \\ slots', ...slots.map(String)], [...new Set(pts.map((x) => x.vipsThreads))].map((t) => [t, ...slots.map((sl) => pts.find((x) => x.vipsThreads === t && x.slots === sl)?.opsPerSec ?? '–')])));
    }
  }
  out.push('\nipx differences:\n' + res.ipxDifferences.map((n) => `- ${n}`).join('\n'));
  out.push('\nNotes:\n' + r.notes.map((n) => `- ${n}`).join('\n'));
  return out.join('\n');
}

function edgeSection(r: SuiteResult<EdgeResults>, dir: string, files: string[]): string {
  const out: string[] = [];
  const res = r.results;
  out.push(`## 3. Edge overhead in workerd (${r.mode}, ${r.startedAt.slice(0, 16).replace('T', ' ')} UTC, ${r.durationS} s)`);
  out.push(
    table(
      ['target', 'concurrency', 'req/s', 'p50 ms', 'p90', 'p99', 'errors'],
      res.measurements.map((m) => [m.target, m.concurrency, m.reqPerSec, m.latency.p50, m.latency.p90, m.latency.p99, m.errors]),
    ),
  );
  out.push(
    `\nAt concurrency 1: a HIT through pixmesh costs ${res.hit.overheadP50Ms} ms (p50) more than a bare worker returning a cached body; a MISS costs ${res.miss.overheadP50Ms} ms (p50) more than calling the (instant) region directly, ${res.miss.overheadNoCacheP50Ms ?? '–'} ms with the Cache API off (no lookup/store: routing, signing and proxying only); a bare pass-through worker adds ${res.miss.passThroughOverheadP50Ms ?? '–'} ms. decideRoute: ${res.decide.usPerDecision} µs per decision, recordSample ${res.decide.usPerSample} µs (Node, ${res.decide.colos} learned colos).`,
  );
  const ht = res.hitTarget;
  if (ht) {
    const ms = (x: number) => x.toFixed(2);
    out.push(
      `\nImage HIT p50 − bare p50 per round (concurrency 1): ${ht.image.perRound.map(ms).join(' / ')} ms, median **${ms(ht.image.median)}** (${ms(ht.image.min)}–${ms(ht.image.max)}); file HIT ${ht.file.perRound.map(ms).join(' / ')} ms. ` +
        `Issue #18's target (≤ ${ht.budgetP50Ms} ms): ${ht.metOnMedian ? 'met' : 'missed'} on the median, ${ht.metEveryRound ? 'met' : 'missed'} on every round.`,
    );
  }
  const c1 = res.measurements.filter((m) => m.concurrency === Math.min(...res.measurements.map((x) => x.concurrency)));
  const name = 'edge-latency.svg';
  writeText(
    name,
    barChart({
      title: 'Edge worker in workerd: latency by path',
      subtitle: `concurrency ${c1[0]?.concurrency ?? 1}, loopback, Node client; lower is better`,
      yLabel: 'ms',
      categories: ['p50', 'p90', 'p99'],
      series: c1.map((m) => ({ name: m.target, values: [m.latency.p50, m.latency.p90, m.latency.p99] })),
    }),
    dir,
  );
  files.push(name);
  out.push(`\n![edge latency](${name})`);
  out.push('\nNotes:\n' + r.notes.map((n) => `- ${n}`).join('\n'));
  return out.join('\n');
}

const median = (xs: number[]) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)]! : NaN;
};

/** The few numbers a reader wants first, each beside its baseline from the same run. */
function headlines(
  geo?: SuiteResult<GeoResults>,
  transform?: SuiteResult<TransformResults>,
  edge?: SuiteResult<EdgeResults>,
  statics?: SuiteResult<StaticResults>,
): string[] {
  const out: string[] = [];
  const steady = geo?.results.scenarios.steady;
  const targets = geo?.results.targets ?? [];
  if (targets.length) out.push(`- **Geo targets** (issue #19, every seed ${(geo!.results.seeds ?? []).map((s) => s.seed).join(', ')}): ${targets.filter((t) => t.met).length} of ${targets.length} met; missed: ${targets.filter((t) => !t.met).map((t) => `${t.target} (${t.values.join(' / ')})`).join('; ') || 'none'}.`);
  if (steady) {
    const by = (p: string) => steady.find((x) => x.policy === p);
    const pix = by('pixmesh');
    const line = (x?: PolicyRun) => (x ? `p50 ${x.latency.p50} / p90 ${x.latency.p90} / p98 ${x.latency.p98} ms, decision regret ${x.decisionRegretMs} ms` : '–');
    out.push(`- **Geo, steady** (seed ${geo!.results.groundTruth.seed}, edge hit ratio ${pct(pix?.edgeHitRatio)}): pixmesh ${line(pix)}; static nearest ${line(by('nearest'))}; home only ${line(by('home'))}; oracle ${line(by('oracle'))}.`);
    if (pix?.learning)
      out.push(`- **What the edge learned**: ${pix.learning.learnedPairs} colo→region pairs measured; learned RTT MAE ${pix.learning.learnedMaeMs} ms, bias ${pix.learning.learnedBiasMs >= 0 ? '+' : ''}${pix.learning.learnedBiasMs} ms (prior on the same pairs: MAE ${pix.learning.priorMaeMs} ms).`);
  }
  const reg = geo?.results.scenarios.regime;
  const regSeeds = (geo?.results.seeds ?? []).filter((s) => s.scenarios.regime?.length);
  const perSeed = (policy: string, f: (x: PolicyRun) => string) => regSeeds.map((s) => { const x = s.scenarios.regime!.find((y) => y.policy === policy); return x ? f(x) : '–'; }).join(' / ');
  if (regSeeds.length > 1)
    out.push(`- **ImageKit's regime** (seeds ${regSeeds.map((s) => s.seed).join(', ')}; lowest per-colo edge hit ${perSeed('pixmesh', (x) => pct(x.coloEdgeHit.min))}): p98 ${['pixmesh', 'nearest', 'home', 'oracle'].map((p) => `${POLICY_LABEL[p]} ${perSeed(p, (x) => String(x.latency.p98))} ms`).join(', ')}; edge misses served by the nearest region's cache: pixmesh ${perSeed('pixmesh', (x) => pct(x.nearestRegionCacheShare))}, static nearest ${perSeed('nearest', (x) => pct(x.nearestRegionCacheShare))}.`);
  else if (reg) out.push(`- **ImageKit's regime** (per-colo edge hit ≥ ${pct(reg.find((x) => x.policy === 'pixmesh')?.coloEdgeHit.min)}): p98 ${reg.map((x) => `${POLICY_LABEL[x.policy] ?? x.policy} ${x.latency.p98} ms`).join(', ')}; pixmesh edge misses served by the nearest region's cache: ${pct(reg.find((x) => x.policy === 'pixmesh')?.nearestRegionCacheShare)}.`);
  const deg = geo?.results.scenarios.degrade;
  const dp = deg?.find((x) => x.policy === 'pixmesh')?.event;
  const dn = deg?.find((x) => x.policy === 'nearest')?.event;
  if (dp) out.push(`- **Degrade** (${dp.region} +${(geo!.config as Record<string, unknown>).degradeMs} ms): pixmesh's share of edge misses sent there ${pct(dp.shareBefore)} before, ${pct(dp.shareWindows?.['0-10s'] ?? undefined)} in the first 10 s, ${pct(dp.shareWindows?.after30s ?? undefined)} after 30 s (static nearest ${pct(dn?.shareBefore)} → ${pct(dn?.shareAfter)}).`);
  const kill = geo?.results.scenarios.kill;
  const kp = kill?.find((x) => x.policy === 'pixmesh')?.event;
  const kn = kill?.find((x) => x.policy === 'nearest')?.event;
  if (kp) out.push(`- **Kill** (${kp.region} SIGKILLed): pixmesh ${kp.errorsAfter} errors, ${kp.requestsToRegionAfter} requests tried the dead region (${kp.requestsToRegionAfter1s} more than 1 s after the kill); static nearest kept trying it (${kn?.requestsToRegionAfter ?? '–'} failovers, ${kn?.errorsAfter ?? '–'} errors).`);
  if (transform) {
    const r = transform.results.ratios;
    const cold = r.filter((x) => x.workload === 'cold');
    const rep = r.filter((x) => x.workload === 'repeated');
    out.push(`- **Transform** (median over cases and concurrencies): cold — origin ${median(cold.map((x) => x.originVsRaw ?? NaN))}× raw sharp and ${median(cold.map((x) => x.originVsIpx ?? NaN))}× ipx, ipx ${median(cold.map((x) => x.ipxVsRaw ?? NaN))}× raw; repeated (Zipf) — origin ${median(rep.map((x) => x.originVsIpx ?? NaN))}× ipx and ${median(rep.map((x) => x.originVsRaw ?? NaN))}× raw sharp, from its region cache.`);
    const hp = transform.results.hitPath?.byConcurrency;
    if (hp?.length) out.push(`- **Hit path**: a region-cache hit at ${hp.map((h) => `${h.originVsBare}× (c${h.concurrency}, p50 ${h.origin.p50} ms)`).join(', ')} the throughput of a bare Node server returning the same bytes (p50 ${hp.map((h) => h.bare.p50).join(' / ')} ms).`);
  }
  if (edge) {
    const e = edge.results;
    out.push(`- **Edge in workerd** (concurrency 1, p50): HIT ${e.hit.pixmesh.p50} ms vs a bare cached-body worker ${e.hit.bare.p50} ms (+${e.hit.overheadP50Ms}); MISS path +${e.miss.overheadNoCacheP50Ms ?? '–'} ms over the region without the local Cache API (a bare pass-through worker: +${e.miss.passThroughOverheadP50Ms ?? '–'} ms); decideRoute ${e.decide.usPerDecision} µs.`);
  }
  if (statics) {
    const h = statics.results.hit;
    out.push(`- **Files other than images** (a ~100 KB JS file, br, concurrency 1, p50): edge HIT ${h.pixmesh.p50} ms vs a bare cached-body worker ${h.bare.p50} ms (+${h.overheadP50Ms} ms; per round ${h.overheadP50MsPerRound?.join(' / ') ?? '–'}; budget ${h.budgetP50Ms} ms); first compressed response ${statics.results.compressed.first.p50} ms (${statics.results.compressed.ratioP50}× the cached one).`);
  }
  return out;
}

/** The parts of bench/results/static.json the report reads. */
interface StaticResults {
  hit: { pixmesh: { p50: number }; bare: { p50: number }; overheadP50Ms: number; overheadP50MsPerRound?: number[]; budgetP50Ms: number };
  compressed: { first: { p50: number }; ratioP50: number };
}

export function writeReport(dir = resultsDir()): { readme: string; charts: string[] } {
  const files: string[] = [];
  const geo = readSuite<GeoResults>('geo', dir);
  const transform = readSuite<TransformResults>('transform', dir);
  const edge = readSuite<EdgeResults>('edge', dir);
  const any = geo ?? transform ?? edge;
  const parts = [
    '# pixmesh benchmark results',
    '',
    'Generated by `npm run bench` (bench/report.ts) from the JSON files beside this page; methodology in [docs/benchmarks.md](../../docs/benchmarks.md).',
    '',
    any ? `Machine: ${machineLine(any)}.` : 'No results yet: run `npm run bench`.',
    '',
    'Everything runs on one machine over loopback: injected network delays are real waits, but transforms, workerd, the six origins and the load generator share the same cores. The 1-minute load average is recorded with the results; other work on the machine inflates absolute times (ratios between engines and policies measured in the same run are the robust figures).',
  ];
  const h = headlines(geo, transform, edge, readSuite<StaticResults>('static', dir));
  if (h.length) parts.push('', '## Headlines', '', ...h);
  if (geo) parts.push('', geoSection(geo, dir, files));
  if (transform) parts.push('', transformSection(transform, dir, files));
  if (edge) parts.push('', edgeSection(edge, dir, files));
  const readme = writeText('README.md', parts.join('\n') + '\n', dir);
  return { readme, charts: files };
}
