/**
 * RoutingStateDO: the persisted routing knowledge of one colo (learned RTTs to each region and
 * the regions' reported hit ratios). Isolates read it once when they start and merge their new
 * samples into it at most every 10 s, so the write rate is bounded by isolates × 6/min per colo.
 */
import { DurableObject } from 'cloudflare:workers';
import { mergeStates, restoreState } from './routing/model.js';

export class RoutingStateDO extends DurableObject {
  override async fetch(request: Request): Promise<Response> {
    const saved = restoreState((await this.ctx.storage.get<string>('state')) ?? null);
    if (request.method === 'POST') {
      const incoming = restoreState(await request.text());
      const merged = mergeStates(saved, incoming);
      await this.ctx.storage.put('state', JSON.stringify(merged));
      return new Response(null, { status: 204 });
    }
    return new Response(JSON.stringify(saved), { headers: { 'content-type': 'application/json' } });
  }
}
