/**
 * RoutingStateDO: the persisted routing knowledge of one colo (learned RTTs to each region and
 * the regions' reported hit ratios). Isolates read it once when they start and merge their new
 * samples into it at most every 10 s, so the write rate is bounded by isolates × 6/min per colo.
 *
 * The same class, named `mix:<account>`, holds one account's region mix (docs/routing.md,
 * "Persistence: the shared region mix"): `POST /mix` with `{ delta }` merges an isolate's
 * unflushed counts from its colo into the stored mix (model.ts mergeMixes: decayed to now, added,
 * capped, at most one entry per region) and answers the merged mix, which the isolate then uses
 * for its fills; `GET /mix` answers it unchanged.
 */
import { DurableObject } from 'cloudflare:workers';
import { mergeMixes, mergeStates, restoreMix, restoreState } from './routing/model.js';

export class RoutingStateDO extends DurableObject {
  override async fetch(request: Request): Promise<Response> {
    if (new URL(request.url).pathname === '/mix') return this.mix(request);
    const saved = restoreState((await this.ctx.storage.get<string>('state')) ?? null);
    if (request.method === 'POST') {
      const incoming = restoreState(await request.text());
      const merged = mergeStates(saved, incoming);
      await this.ctx.storage.put('state', JSON.stringify(merged));
      return new Response(null, { status: 204 });
    }
    return new Response(JSON.stringify(saved), { headers: { 'content-type': 'application/json' } });
  }

  private async mix(request: Request): Promise<Response> {
    const now = Date.now();
    let mix = restoreMix((await this.ctx.storage.get<string>('mix')) ?? null, now);
    if (request.method === 'POST') {
      let delta: unknown;
      try {
        delta = (JSON.parse(await request.text()) as { delta?: unknown }).delta;
      } catch {
        return new Response('bad mix delta', { status: 400 });
      }
      mix = mergeMixes([mix, restoreMix(delta, now)], now);
      await this.ctx.storage.put('mix', JSON.stringify(mix));
    }
    return new Response(JSON.stringify(mix), { headers: { 'content-type': 'application/json' } });
  }
}
