/**
 * Network (operator view): the world map with the six regions and the colos that served traffic;
 * for the chosen colo, a line to every region coloured by expected latency, the region it picks
 * and why; region health, request rate, hit ratios and p50/p98 per region, refreshed live.
 */
import { geoNaturalEarth1, geoPath } from 'd3-geo';
import { feature } from 'topojson-client';
import type { GeometryCollection, Topology } from 'topojson-specification';
import land110m from 'world-atlas/land-110m.json';
import type { BreakerState, BreakerStatus } from '../../shared/breaker.js';
import type { RegionMetrics } from '../../edge/src/dashboard/metrics.js';
import type { Candidate, RouteDecision } from '../../edge/src/routing/model.js';
import { call, type Credentials, type Session } from './api.js';
import { adviceLine, type HomeAdvice } from './advice.js';
import { fmtMs, fmtPct, h, replace, s } from './dom.js';

const W = 960;
const H = 470;
const REFRESH_MS = 3000;

interface Region {
  id: string;
  name: string;
  airport: string;
  lat: number;
  lon: number;
  health: BreakerStatus;
  breaker: BreakerState;
  edgeRequests: number;
  metrics: RegionMetrics;
}
interface Colo {
  code: string;
  lat: number | null;
  lon: number | null;
  country: string | null;
  requests: number;
  lastSeenAt: number | null;
  servedBy: Record<string, number>;
  decision: RouteDecision | null;
}
export interface NetworkState {
  generatedAt: number;
  windowMinutes: number;
  home: string;
  regions: Region[];
  colos: Colo[];
  edge: { windowS: number; requests: number; requestRate: number; edgeHitRatio: number | null; status4xx: number; status5xx: number; stale: number; perMinute: number[] };
  samplesThisIsolate: number;
}

/** Expected latency → colour band (the legend shows the same bands). */
export const LATENCY_BANDS: { max: number; colour: string; label: string }[] = [
  { max: 40, colour: '#1a9850', label: '< 40 ms' },
  { max: 100, colour: '#66bd63', label: '40–100 ms' },
  { max: 180, colour: '#e6c700', label: '100–180 ms' },
  { max: 260, colour: '#f46d43', label: '180–260 ms' },
  { max: Infinity, colour: '#d73027', label: '≥ 260 ms' },
];
const bandOf = (ms: number) => LATENCY_BANDS.find((b) => ms < b.max)!;

const HEALTH_LABEL: Record<string, string> = { closed: 'up', 'half-open': 'degraded (breaker half-open)', open: 'down (breaker open)' };

const projection = geoNaturalEarth1().fitExtent(
  [
    [4, 4],
    [W - 4, H - 4],
  ],
  { type: 'Sphere' },
);
const path = geoPath(projection);
const topo = land110m as unknown as Topology<{ land: GeometryCollection }>;
const LAND = path(feature(topo, topo.objects.land)) ?? '';
const SPHERE = path({ type: 'Sphere' }) ?? '';
const xy = (lon: number, lat: number) => projection([lon, lat]) ?? [0, 0];

export function networkView(creds: Credentials, session: Session): { el: HTMLElement; start(): void; stop(): void } {
  let state: NetworkState | null = null;
  let selected: string | null = null;
  let timer: ReturnType<typeof setInterval> | undefined;
  let paused = false;

  const status = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' }, 'Loading the network…');
  const cards = h('div', { class: 'cards' });
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'map', role: 'img', 'aria-labelledby': 'map-title map-desc' });
  const mapTitle = s('title', { id: 'map-title' }, 'World map of pixmesh regions and colos');
  const mapDesc = s('desc', { id: 'map-desc' }, '');
  const coloSelect = h('select', { id: 'colo-select', 'aria-describedby': 'colo-help' }) as HTMLSelectElement;
  const decisionBox = h('div', { class: 'decision', 'aria-live': 'polite' });
  const regionsBox = h('div', { class: 'table-wrap' });
  const adviceText = h('p', { id: 'home-advice', 'aria-live': 'polite' }, 'Measuring the origins from every region…');
  const adviceRanking = h('ol', { class: 'advice-ranking help', 'aria-label': 'Regions ranked as home, best first' });
  const adviceBtn = h('button', { type: 'button', class: 'secondary' }, 'Measure again');
  adviceBtn.addEventListener('click', () => void loadAdvice());
  const pauseBtn = h('button', { type: 'button', class: 'secondary', 'aria-pressed': 'false' }, 'Pause live refresh');
  pauseBtn.addEventListener('click', () => {
    paused = !paused;
    pauseBtn.setAttribute('aria-pressed', String(paused));
    pauseBtn.textContent = paused ? 'Resume live refresh' : 'Pause live refresh';
    if (!paused) void refresh();
  });
  coloSelect.addEventListener('change', () => select(coloSelect.value || null));

  const legend = h(
    'ul',
    { class: 'legend', 'aria-label': 'Line colours: expected latency' },
    LATENCY_BANDS.map((b) => h('li', {}, h('span', { class: 'swatch', 'data-colour': b.colour }), b.label)),
    h('li', {}, h('span', { class: 'dot region' }), 'region'),
    h('li', {}, h('span', { class: 'dot colo' }), 'colo with traffic'),
  );
  for (const sw of legend.querySelectorAll<HTMLElement>('.swatch')) sw.style.background = sw.dataset.colour!;

  const el = h(
    'section',
    { id: 'network', 'aria-labelledby': 'network-h' },
    h('div', { class: 'section-head' }, h('h2', { id: 'network-h' }, 'Network'), pauseBtn),
    status,
    cards,
    h(
      'div',
      { class: 'network-grid' },
      h('figure', { class: 'map-figure' }, svg, h('figcaption', {}, legend)),
      h(
        'div',
        { class: 'panel' },
        h('h3', {}, 'Routing for a colo'),
        h('label', { for: 'colo-select' }, 'Colo (where requests enter the edge)'),
        coloSelect,
        h('p', { id: 'colo-help', class: 'help' }, 'Or click a colo on the map. The lines show the expected latency to each region for the signed-in account.'),
        decisionBox,
      ),
    ),
    h('h3', {}, 'Regions'),
    regionsBox,
    h('div', { class: 'panel advice' }, h('h3', {}, 'Home region advice'), adviceText, adviceRanking, adviceBtn),
  );

  /** The advice costs every region an origin probe (rate-limited there): loaded when the view opens and on demand, not every refresh. */
  async function loadAdvice() {
    adviceBtn.disabled = true;
    try {
      const a = await call<HomeAdvice>(creds, 'GET', '/v1/accounts/home-region-advice');
      adviceText.textContent = adviceLine(a);
      adviceText.dataset.advised = a.advised ?? '';
      replace(
        adviceRanking,
        a.regions.map((r) => h('li', { 'data-region': r.region }, `${r.region}${r.isCurrentHome ? ' (current home)' : ''}: ${r.expectedMissMs === null ? 'origins not measured' : `${fmtMs(r.expectedMissMs)} = network ${fmtMs(r.networkMs)} + origin ${fmtMs(r.originMs)}`}`)),
      );
      adviceText.classList.remove('error');
    } catch (e) {
      adviceText.textContent = `Could not get the home-region advice: ${(e as Error).message}`;
      adviceText.classList.add('error');
    } finally {
      adviceBtn.disabled = false;
    }
  }

  function select(code: string | null) {
    selected = code;
    if (state) render(state);
  }

  async function refresh() {
    try {
      const next = await call<NetworkState>(creds, 'GET', '/_dashboard/api/network');
      state = next;
      if (!selected || !next.colos.some((c) => c.code === selected)) selected = next.colos.find((c) => c.decision)?.code ?? null;
      render(next);
      status.textContent = `Live — updated ${new Date(next.generatedAt).toLocaleTimeString()} (every ${REFRESH_MS / 1000} s; figures over the last ${next.windowMinutes} minutes)`;
      status.classList.remove('error');
    } catch (e) {
      status.textContent = `Could not load the network: ${(e as Error).message}`;
      status.classList.add('error');
    }
  }

  function render(st: NetworkState) {
    renderCards(st);
    renderMap(st);
    renderColoSelect(st);
    renderDecision(st);
    renderRegions(st);
  }

  function renderCards(st: NetworkState) {
    const e = st.edge;
    const up = st.regions.filter((r) => r.health === 'closed' && r.metrics.up).length;
    const card = (label: string, value: string, note = '') => h('div', { class: 'card' }, h('div', { class: 'card-label' }, label), h('div', { class: 'card-value' }, value), note && h('div', { class: 'card-note' }, note));
    replace(
      cards,
      card('Regions up', `${up} / ${st.regions.length}`),
      card('Edge requests', `${e.requestRate.toFixed(2)}/s`, `${e.requests} in ${Math.round(e.windowS / 60) || 1} min`),
      card('Edge hit ratio', fmtPct(e.edgeHitRatio), e.stale ? `${e.stale} stale` : ''),
      card('Errors', `${e.status5xx} 5xx`, `${e.status4xx} 4xx`),
      card('Colos with traffic', String(st.colos.filter((c) => c.requests > 0).length), `${st.samplesThisIsolate} RTT samples learned`),
      h('div', { class: 'card spark-card' }, h('div', { class: 'card-label' }, 'Requests per minute'), sparkline(e.perMinute)),
    );
  }

  function renderMap(st: NetworkState) {
    const colo = st.colos.find((c) => c.code === selected);
    const lines: SVGElement[] = [];
    if (colo && colo.decision && colo.lat !== null && colo.lon !== null) {
      const all = [...colo.decision.candidates, ...colo.decision.excluded];
      const chosen = colo.decision.candidates[0]?.region;
      for (const cand of all) {
        const r = st.regions.find((x) => x.id === cand.region);
        if (!r) continue;
        const d = path({ type: 'LineString', coordinates: [[colo.lon, colo.lat], [r.lon, r.lat]] }) ?? '';
        const line = s('path', {
          d,
          class: `route${cand.region === chosen ? ' chosen' : ''}${cand.health === 'open' ? ' open' : ''}`,
          'data-region': cand.region,
          'data-expected-ms': cand.expectedMs,
        });
        line.style.stroke = bandOf(cand.expectedMs).colour;
        line.append(s('title', {}, `${colo.code} → ${cand.region}: expected ${fmtMs(cand.expectedMs)}`));
        lines.push(line);
      }
    }
    const regionMarks = st.regions.map((r) => {
      const [x, y] = xy(r.lon, r.lat);
      return s(
        'g',
        { class: `region-mark health-${r.health}${r.metrics.up ? '' : ' unreachable'}`, 'data-region': r.id, transform: `translate(${x.toFixed(1)},${y.toFixed(1)})` },
        s('title', {}, `${r.id} (${r.name}): ${HEALTH_LABEL[r.health]}${r.metrics.up ? '' : ', metrics unreachable'}${r.id === st.home ? ', home of this account' : ''}`),
        s('rect', { x: -7, y: -7, width: 14, height: 14, rx: 3 }),
        s('text', { x: 10, y: 4 }, r.id),
      );
    });
    const coloMarks = st.colos
      .filter((c) => c.lat !== null && c.lon !== null)
      .map((c) => {
        const [x, y] = xy(c.lon!, c.lat!);
        const rad = Math.min(9, 4 + Math.sqrt(c.requests));
        const g = s(
          'g',
          {
            class: `colo-mark${c.code === selected ? ' selected' : ''}`,
            'data-colo': c.code,
            transform: `translate(${x.toFixed(1)},${y.toFixed(1)})`,
            tabindex: 0,
            role: 'button',
            'aria-label': `Colo ${c.code}: ${c.requests} requests; show its routing`,
            'aria-pressed': String(c.code === selected),
          },
          s('circle', { r: rad.toFixed(1) }),
          s('text', { x: 0, y: -rad - 3, 'text-anchor': 'middle' }, c.code),
        );
        g.addEventListener('click', () => select(c.code));
        g.addEventListener('keydown', (ev) => {
          if ((ev as KeyboardEvent).key === 'Enter' || (ev as KeyboardEvent).key === ' ') {
            ev.preventDefault();
            select(c.code);
            (svg.querySelector(`[data-colo="${c.code}"]`) as SVGGElement | null)?.focus();
          }
        });
        return g;
      });
    mapDesc.textContent = `${st.regions.length} regions: ${st.regions.map((r) => `${r.id} ${HEALTH_LABEL[r.health]}`).join(', ')}. Colos with traffic: ${st.colos.map((c) => c.code).join(', ') || 'none yet'}.`;
    replace(svg, mapTitle, mapDesc, s('path', { d: SPHERE, class: 'sphere' }), s('path', { d: LAND, class: 'land' }), s('g', { class: 'routes' }, lines), s('g', {}, regionMarks), s('g', {}, coloMarks));
  }

  function renderColoSelect(st: NetworkState) {
    const opts = st.colos.filter((c) => c.decision);
    const current = [...coloSelect.options].map((o) => o.value).join(',');
    if (current !== opts.map((c) => c.code).join(',') || coloSelect.value !== (selected ?? '')) {
      replace(
        coloSelect,
        opts.length ? null : h('option', { value: '' }, 'No traffic yet'),
        opts.map((c) => h('option', { value: c.code, selected: c.code === selected }, `${c.code}${c.country ? ` (${c.country})` : ''} — ${c.requests} requests`)),
      );
      coloSelect.value = selected ?? '';
    }
  }

  function renderDecision(st: NetworkState) {
    const colo = st.colos.find((c) => c.code === selected);
    if (!colo || !colo.decision) {
      replace(decisionBox, h('p', {}, 'Send some image requests through the edge: each colo that served one appears here.'));
      return;
    }
    const d = colo.decision;
    const pick = d.candidates[0];
    const why = pick
      ? [
          h('p', { class: 'pick' }, 'Requests from ', h('strong', {}, colo.code), ' go to ', h('strong', { 'data-testid': 'chosen-region' }, pick.region), ` — expected ${fmtMs(pick.expectedMs)}.`),
          h(
            'p',
            {},
            `RTT ${fmtMs(pick.rttMs)} (prior ${fmtMs(pick.priorRttMs)}${pick.learnedRttMs !== null ? `, learned ${fmtMs(pick.learnedRttMs)} from ${pick.rttSamples.toFixed(1)} samples` : ', nothing learned yet'})` +
              (pick.isHome ? ', and it is the home region, so a miss costs no extra hop.' : ` + P(miss) ${fmtPct(pick.missProbability)} × ${fmtMs(pick.forwardRttMs)} to home ${d.home}.`),
          ),
          h('p', { class: 'help' }, `Policy ${d.policy}: ${d.reason}${d.allOpen ? ' Every region’s breaker is open.' : ''}`),
        ]
      : [h('p', {}, 'No region can be used.')];
    const served = Object.entries(colo.servedBy).sort((a, b) => b[1] - a[1]);
    const rows = [...d.candidates.map((c, i) => ({ c, rank: i + 1 })), ...d.excluded.map((c) => ({ c, rank: 0 }))];
    replace(
      decisionBox,
      why,
      served.length ? h('p', { class: 'help' }, `Edge misses from ${colo.code} answered by: ${served.map(([r, n]) => `${r} (${n})`).join(', ')}.`) : null,
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          { class: 'decision-table' },
          h('caption', {}, `Candidates for ${colo.code}, failover order`),
          h('thead', {}, h('tr', {}, ['#', 'region', 'expected', 'prior RTT', 'learned RTT', 'samples', 'P(miss)', 'miss cost', 'breaker'].map((t) => h('th', { scope: 'col' }, t)))),
          h(
            'tbody',
            {},
            rows.map(({ c, rank }) =>
              h(
                'tr',
                { class: rank === 1 ? 'chosen' : rank === 0 ? 'excluded' : '', 'data-region': c.region },
                h('td', {}, rank || '—'),
                h('th', { scope: 'row' }, h('span', { class: 'swatch' }), c.region, c.isHome ? ' (home)' : ''),
                h('td', {}, fmtMs(c.expectedMs)),
                h('td', {}, fmtMs(c.priorRttMs)),
                h('td', {}, fmtMs(c.learnedRttMs)),
                h('td', {}, c.rttSamples.toFixed(1)),
                h('td', {}, c.isHome ? '—' : fmtPct(c.missProbability)),
                h('td', {}, c.isHome ? '—' : fmtMs(c.missCostMs)),
                h('td', {}, HEALTH_LABEL[c.health] ?? c.health),
              ),
            ),
          ),
        ),
      ),
    );
    for (const row of decisionBox.querySelectorAll<HTMLTableRowElement>('tr[data-region]')) {
      const c = rows.find((r) => r.c.region === row.dataset.region)!.c;
      row.querySelector<HTMLElement>('.swatch')!.style.background = bandOf(c.expectedMs).colour;
    }
  }

  function renderRegions(st: NetworkState) {
    replace(
      regionsBox,
      h(
        'table',
        { class: 'regions-table' },
        h('caption', {}, `Region health and latency (origin metrics, last ${st.windowMinutes} minutes)`),
        h('thead', {}, h('tr', {}, ['region', 'health', 'requests/s', 'edge misses sent', 'region hit ratio', 'p50', 'p98', 'in flight / queued'].map((t) => h('th', { scope: 'col' }, t)))),
        h(
          'tbody',
          {},
          st.regions.map((r) => {
            const m = r.metrics;
            const health = !m.up ? 'unreachable' : r.health === 'closed' ? 'up' : r.health === 'half-open' ? 'degraded' : 'open breaker';
            return h(
              'tr',
              { 'data-region': r.id },
              h('th', { scope: 'row' }, `${r.id}`, h('span', { class: 'sub' }, ` ${r.name}${r.id === st.home ? ' · home' : ''}`)),
              h('td', {}, h('span', { class: `badge ${health.replace(' ', '-')}`, title: m.error ?? HEALTH_LABEL[r.health] }, health), r.breaker.failures ? ` (${r.breaker.failures} failures)` : ''),
              h('td', {}, m.requestRate === null ? (m.requests ? `${m.requests} total` : '—') : m.requestRate.toFixed(2)),
              h('td', {}, String(r.edgeRequests)),
              h('td', {}, fmtPct(m.hitRatio)),
              h('td', {}, fmtMs(m.p50Ms)),
              h('td', {}, fmtMs(m.p98Ms)),
              h('td', {}, m.inflight === null ? '—' : `${m.inflight} / ${m.queueDepth ?? 0}`),
            );
          }),
        ),
      ),
    );
  }

  return {
    el,
    start() {
      void refresh();
      void loadAdvice();
      timer ??= setInterval(() => {
        if (!paused && document.visibilityState === 'visible') void refresh();
      }, REFRESH_MS);
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}

function sparkline(values: number[]): SVGSVGElement {
  const w = 160;
  const hgt = 36;
  const max = Math.max(1, ...values);
  const step = values.length > 1 ? w / (values.length - 1) : w;
  const pts = values.map((v, i) => `${(i * step).toFixed(1)},${(hgt - 2 - (v / max) * (hgt - 4)).toFixed(1)}`).join(' ');
  return s(
    'svg',
    { viewBox: `0 0 ${w} ${hgt}`, class: 'spark', role: 'img', 'aria-label': `Requests per minute, oldest first: ${values.join(', ')}` },
    s('polyline', { points: pts }),
  );
}
