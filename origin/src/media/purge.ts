/**
 * Purging cached variants everywhere: the account's home region owns purge requests, fans each
 * one out to every region and records the request under `_purge/<account>/<requestId>.json` in
 * its bucket with status Pending → Completed. Regions that cannot be reached are retried in the
 * background (a few times, backing off); the request stays Pending until every region confirmed.
 *
 * The fan-out is the origin's one purge fan-out, `purgeVariants` (origin/src/purge.ts: result
 * cache and originals cache, via `POST /internal/purge` in every region), and — when the edge's
 * URL is configured (PIXMESH_EDGE_URL) — the edge itself (`POST /_internal/purge`,
 * edge/src/edge-purge.ts), retried like a region: so a purge with no client answer to carry the
 * x-pixmesh-edge-purge header (a crash replay of the media journal at boot, a background job)
 * still reaches the edge caches. The request is Completed when every region and the edge confirmed.
 */
import type { RegionUrls } from '../../../shared/regions.js';
import { dependentsFromKeys, layerDepsPrefix } from '../layer-deps.js';
import { log } from '../log.js';
import { newId, PURGE_PREFIX, type MediaStore } from './store.js';

export interface PurgeTarget {
  account: string;
  /** Path inside the endpoint (as in the region cache's entries), or a prefix of it. */
  path: string;
  prefix: boolean;
}

export interface PurgeRecord extends PurgeTarget {
  requestId: string;
  /** The URL the client asked to purge (purge API), or the deleted file's path. */
  url?: string;
  status: 'Pending' | 'Completed';
  createdAt: string;
  completedAt?: string;
  /** region → confirmed purged. */
  regions: Record<string, boolean>;
  /** Files whose variants use the purged file(s) as a layer image: purged with it (origin/src/layer-deps.ts). */
  dependents?: string[];
  /** The edge confirmed (present when the edge is told: PurgeDeps.tellEdge). */
  edge?: boolean;
}

/** Tells the edge of purged paths of one account; true when it confirmed. */
export type TellEdge = (account: string, items: { path: string; prefix: boolean }[]) => Promise<boolean>;

/**
 * What the edge must record for purges made here: the purged paths and, for each purge that found
 * layer dependents (files whose variants use the purged file as a layer image or font), those
 * files too — the edge-purge list for EDGE_PURGE_HEADER (media/library.ts). Pure.
 */
export function edgePurgeItems(items: readonly { path: string; prefix: boolean }[], purges: readonly { dependents?: readonly string[] }[] = []): { path: string; prefix: boolean }[] {
  const out = [...items];
  const seen = new Set(items.filter((i) => !i.prefix).map((i) => i.path));
  for (const path of purges.flatMap((p) => p.dependents ?? []))
    if (!seen.has(path)) {
      seen.add(path);
      out.push({ path, prefix: false });
    }
  return out;
}

/** Per-region outcome of one fan-out: true = purged there. */
export type Fanout = (target: PurgeTarget) => Promise<Record<string, boolean>>;

/** Structural view of origin/src/purge.ts's PurgeReport. */
export interface PurgeReportLike {
  regions: Partial<Record<string, { ok: boolean }>>;
}

export interface PurgeDeps {
  /** The origin's fan-out (RegionServices.purgeVariants). */
  purgeVariants: (account: string, pathOrPrefix: string, isPrefix: boolean) => Promise<PurgeReportLike>;
  region: string;
  regionUrls: RegionUrls;
  store: MediaStore;
  /** The edge, told of every purge (absent: the edge learns purges from the API answers only). */
  tellEdge?: TellEdge;
}

const RETRY_DELAYS_MS = [1000, 5000, 30_000, 120_000];

export class Purger {
  private readonly records = new Map<string, PurgeRecord>();

  private readonly fanout: Fanout;

  constructor(private readonly deps: PurgeDeps) {
    const viaOrigin = deps.purgeVariants;
    this.fanout = async (t) => Object.fromEntries(Object.entries((await viaOrigin(t.account, t.path, t.prefix)).regions).map(([r, v]) => [r, v?.ok === true]));
  }

  private key(account: string, requestId: string): string {
    return `${PURGE_PREFIX}/${account}/${requestId}.json`;
  }

  /**
   * Starts a purge; resolves once every region answered or `waitMs` passed (whichever first).
   * The returned record is the live one (its status may still be Pending).
   */
  async start(target: PurgeTarget, url?: string, waitMs = 8000): Promise<PurgeRecord> {
    const record: PurgeRecord = {
      ...target,
      requestId: newId(),
      url,
      status: 'Pending',
      createdAt: new Date().toISOString(),
      regions: Object.fromEntries([...new Set([...Object.keys(this.deps.regionUrls), this.deps.region])].map((r) => [r, false])),
    };
    const dependents = await this.deps.store
      .keys(layerDepsPrefix(target.account, target.path, target.prefix))
      .then((keys) => dependentsFromKeys(target.account, keys))
      .catch(() => []);
    if (dependents.length) record.dependents = dependents;
    if (this.deps.tellEdge) record.edge = false;
    this.records.set(record.requestId, record);
    await this.persist(record);
    const done = this.run(record, 0);
    await Promise.race([done, new Promise((r) => setTimeout(r, waitMs).unref())]);
    return record;
  }

  private async run(record: PurgeRecord, attempt: number): Promise<void> {
    try {
      const [outcome, ...others] = await Promise.all([
        this.fanout(record),
        ...(record.dependents ?? []).map((path) => this.fanout({ account: record.account, path, prefix: false })),
      ]);
      // a region counts as done when the file and every dependent are purged there
      for (const [r, ok] of Object.entries(outcome!)) if (ok && others.every((o) => o[r] !== false)) record.regions[r] = true;
    } catch (e) {
      log.warn('purge: fan-out failed', { requestId: record.requestId, attempt, err: String(e) });
    }
    // The edge after the regions: an edge miss in between would fetch the old variant again.
    if (this.deps.tellEdge && record.edge === false) {
      const items = edgePurgeItems([{ path: record.path, prefix: record.prefix }], [record]);
      record.edge = await this.deps.tellEdge(record.account, items).catch((e: unknown) => {
        log.warn('purge: the edge could not be told', { requestId: record.requestId, attempt, err: String(e) });
        return false;
      });
    }
    if (Object.values(record.regions).every(Boolean) && record.edge !== false) {
      record.status = 'Completed';
      record.completedAt = new Date().toISOString();
      await this.persist(record);
      return;
    }
    const delay = RETRY_DELAYS_MS[attempt];
    if (delay === undefined) {
      log.error('purge: giving up on unreachable regions', { requestId: record.requestId, regions: record.regions, edge: record.edge });
      return;
    }
    setTimeout(() => void this.run(record, attempt + 1), delay).unref();
  }

  private async persist(record: PurgeRecord): Promise<void> {
    await this.deps.store.putJson(this.deps.store.bucket, this.key(record.account, record.requestId), record).catch((e) =>
      log.warn('purge: could not persist the request', { requestId: record.requestId, err: String(e) }),
    );
  }

  async get(account: string, requestId: string): Promise<PurgeRecord | undefined> {
    const live = this.records.get(requestId);
    if (live) return live.account === account ? live : undefined;
    if (!/^[0-9a-f]{24}$/.test(requestId)) return undefined;
    return this.deps.store.getJson<PurgeRecord>(this.key(account, requestId));
  }
}
