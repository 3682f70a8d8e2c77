/**
 * The layer-dependency index: which base files' variants use a file as a layer image or as a
 * text layer's custom font (`ff-<path>`), so that purging (or replacing, deleting) that file
 * purges those variants too — in every region and, through EDGE_PURGE_HEADER, at the edge.
 *
 * A render that places image layers writes one empty object per (layer file, base file) pair into
 * the account's home-region media bucket:
 *
 *   _layer-deps/<account>/<encodeURIComponent(layer path)>/<encodeURIComponent(base path)>
 *
 * PUTs of the same key are idempotent (no read-modify-write, no races between regions or
 * replicas); each process remembers the pairs it wrote (bounded) and writes a pair once. The home
 * region's purger lists `_layer-deps/<account>/<encoded path or prefix>` and purges every
 * dependent base path as well (at most MAX_DEPENDENTS per purge; docs/origin.md "Purging
 * layer files"). Encoding keeps "/" out of the components, so a prefix purge of `brand/` finds
 * the layers under `brand/` and nothing else.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { log } from './log.js';
import { s3Client, type S3Location } from './sources/s3.js';

export const LAYER_DEPS_PREFIX = '_layer-deps';
/** Dependents purged with one purge of a layer file (the rest: purge them by URL). */
export const MAX_DEPENDENTS = 1000;
const REMEMBERED = 10_000;

export function layerDepKey(account: string, layerPath: string, basePath: string): string {
  return `${LAYER_DEPS_PREFIX}/${account}/${encodeURIComponent(layerPath)}/${encodeURIComponent(basePath)}`;
}

/** The list prefix for the dependents of a path (exact) or of every layer under a prefix. Pure. */
export function layerDepsPrefix(account: string, pathOrPrefix: string, prefix: boolean): string {
  return `${LAYER_DEPS_PREFIX}/${account}/${encodeURIComponent(pathOrPrefix)}${prefix ? '' : '/'}`;
}

/** Base paths named by listed keys (unique, at most MAX_DEPENDENTS). Pure. */
export function dependentsFromKeys(account: string, keys: readonly string[]): string[] {
  const head = `${LAYER_DEPS_PREFIX}/${account}/`;
  const out = new Set<string>();
  for (const k of keys) {
    if (!k.startsWith(head)) continue;
    const parts = k.slice(head.length).split('/');
    if (parts.length !== 2) continue;
    try {
      out.add(decodeURIComponent(parts[1]!));
    } catch {
      continue;
    }
    if (out.size >= MAX_DEPENDENTS) break;
  }
  return [...out];
}

const written = new Set<string>();

/** Record that `basePath`'s variants use `layerPaths` (fire and forget: a failure is logged, the render is not affected). */
export async function recordLayerUse(s3: S3Location, bucket: string, account: string, basePath: string, layerPaths: readonly string[]): Promise<void> {
  for (const layer of new Set(layerPaths)) {
    if (layer === basePath) continue;
    const key = layerDepKey(account, layer, basePath);
    if (written.has(key)) continue;
    try {
      await s3Client(s3).send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: '' }));
      if (written.size >= REMEMBERED) written.clear();
      written.add(key);
    } catch (e) {
      log.warn('layer dependency not recorded', { account, layer, base: basePath, err: String(e) });
    }
  }
}
