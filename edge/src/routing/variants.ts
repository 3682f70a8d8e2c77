/**
 * Variant sightings (docs/routing.md "Which region holds the variant"): a bounded memory of which
 * regions this edge saw serve a variant, and when. It is the per-variant evidence of the routing
 * model: a region that answered a variant a minute ago most likely still holds it in its result
 * cache, one that never did holds it only if other traffic put it there (how often that is the
 * case is learned, per region and account, from the HIT/MISS answers: model.holdProbability).
 *
 * Pure data in and out (a Map used as an LRU, mutated in place by its owner, the edge's Router);
 * the clock is a parameter.
 */
import { isRegionId, type RegionId } from '../../../shared/regions.js';
import type { VariantEvidence } from './model.js';

export interface VariantMemory {
  /** variant key → region → last time seen (ms). Map order = least recently touched first. */
  entries: Map<string, Partial<Record<RegionId, number>>>;
  max: number;
}

export function newVariantMemory(max = 20_000): VariantMemory {
  return { entries: new Map(), max: Math.max(1, Math.floor(max)) };
}

/** The evidence for one variant (a copy; undefined-free). */
export function variantEvidence(mem: VariantMemory, key: string): VariantEvidence {
  const seen = mem.entries.get(key);
  return { seen: seen ? { ...seen } : {} };
}

/**
 * The edge got a 200 for `key` from `answeredBy`: that region holds it now (it stores what it
 * serves). When the answer says another region processed it (x-pixmesh-processed-by, a forward to
 * home on a region miss), that region holds it too.
 */
export function recordSighting(mem: VariantMemory, key: string, answeredBy: RegionId, now: number, processedBy?: string | null): void {
  if (!isRegionId(answeredBy) || !Number.isFinite(now)) return;
  const prev = mem.entries.get(key);
  const next: Partial<Record<RegionId, number>> = { ...prev, [answeredBy]: now };
  if (processedBy && isRegionId(processedBy)) next[processedBy] = now;
  mem.entries.delete(key);
  mem.entries.set(key, next);
  while (mem.entries.size > mem.max) mem.entries.delete(mem.entries.keys().next().value as string);
}

/** A purge (of the variant or its account) invalidates what the edge saw: forget it. */
export function forgetVariants(mem: VariantMemory, predicate: (key: string) => boolean): number {
  let n = 0;
  for (const k of [...mem.entries.keys()]) {
    if (predicate(k)) {
      mem.entries.delete(k);
      n++;
    }
  }
  return n;
}
