/**
 * The home-region advice line of the network view: GET /v1/accounts/home-region-advice
 * (docs/routing.md "Home-region advice") summed up in one sentence. Pure (no DOM): unit-tested.
 */
import { fmtMs } from './format.js';

/** GET /v1/accounts/home-region-advice (docs/routing.md "Home-region advice"): the parts the line shows. */
export interface HomeAdvice {
  currentHome: string;
  advised: string | null;
  coloMix: { source: string; requests: number; colos: Record<string, number> };
  regions: { region: string; expectedMissMs: number | null; networkMs: number; originMs: number | null; isCurrentHome: boolean }[];
}

/** The one-line summary of the advice. */
export function adviceLine(a: HomeAdvice): string {
  const cur = a.regions.find((r) => r.region === a.currentHome);
  const best = a.regions.find((r) => r.region === a.advised);
  if (!a.coloMix.requests) return `Home region ${a.currentHome}: no edge traffic seen for this account yet, so no advice (send requests through the edge, or ask the API with ?colos=SYD:3,FRA:1).`;
  if (!best || best.expectedMissMs === null) return `Home region ${a.currentHome}: no region could measure this account's origins, so no advice.`;
  const mix = `${a.coloMix.requests} edge misses from ${Object.keys(a.coloMix.colos).length} colos`;
  const curMs = cur?.expectedMissMs ?? null;
  if (a.advised === a.currentHome) return `Home region ${a.currentHome} is the best home for this account: expected miss ${fmtMs(best.expectedMissMs)} (network ${fmtMs(best.networkMs)} + origin ${fmtMs(best.originMs)}), from ${mix}.`;
  return (
    `Advised home region: ${best.region} — expected miss ${fmtMs(best.expectedMissMs)} (network ${fmtMs(best.networkMs)} + origin ${fmtMs(best.originMs)}) ` +
    `vs ${fmtMs(curMs)} at the current home ${a.currentHome}${curMs !== null ? ` (${Math.round(curMs - best.expectedMissMs)} ms less)` : ''}, from ${mix}.`
  );
}

