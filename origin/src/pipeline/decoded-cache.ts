/**
 * The decoded-original cache: the pixels of a recently rendered JPEG original, decoded at the
 * shrink-on-load scale libvips uses for the requested size (1, 1/2, 1/4 or 1/8), kept in memory
 * (bounded in bytes, least recently used out first: shared/lru.ts) so the next render of another
 * variant of that original (another width of a srcset, another format) starts from raw pixels
 * instead of decoding the JPEG again.
 *
 * Exactly equivalent, or not used: sharp's JPEG path is decode at 1/s (libjpeg's DCT scaling) →
 * residual resize computed from the shrunk size → the rest; started from the same shrunk pixels
 * as raw input, sharp computes the same residual resize and produces the same pixels (tested
 * pixel for pixel: test/unit/decoded-cache.test.ts). Eligibility is decided by the pure functions
 * below: a single-page 8-bit sRGB JPEG without alpha and without an ICC profile, not rotated by
 * EXIF on load, metadata not kept, and the render's first operation after the decode a resize
 * (nothing that reads original-pixel coordinates — trim, extract, face or custom focus, greyscale
 * before the resize — queued before it). Anything else takes the normal path.
 *
 * sharp has no option to decode a buffer at a given JPEG shrink; libvips does, through the
 * option string of a file name (`a.jpg[shrink=2]`), so a miss writes the original once to a
 * scratch file (tmpfs when there is one), decodes it there to raw pixels and removes the file.
 * Concurrent misses of one (original, shrink) share one decode. An (original, shrink) is admitted
 * on its second render: the first takes the normal path (a miss costs more than a plain render).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { ByteLru } from '../../../shared/lru.js';
import { budget, type RenderState } from './context.js';
import type { SourceInfo } from './source.js';

export type ResizeFit = 'fill' | 'cover' | 'contain';
export type JpegShrink = 1 | 2 | 4 | 8;

/**
 * The JPEG shrink-on-load factor sharp 0.35 picks for a resize of an `inW`×`inH` image to
 * `tw`×`th` with this fit (its src/pipeline.cc with fastShrinkOnLoad, ResolveShrink in common.cc):
 * the common part of both axes' shrink, 8/4/2 when at least that, one step lower when its
 * integer part equals the factor (libjpeg's rounding). Pure.
 */
export function jpegShrinkOnLoad(inW: number, inH: number, tw: number, th: number, fit: ResizeFit): JpegShrink {
  let h = inW / tw;
  let v = inH / th;
  if (fit === 'cover') h = v = Math.min(h, v);
  else if (fit === 'contain') h = v = Math.max(h, v);
  h = Math.min(h, inW);
  v = Math.min(v, inH);
  const shrink = Math.min(h, v);
  let s: JpegShrink = shrink >= 8 ? 8 : shrink >= 4 ? 4 : shrink >= 2 ? 2 : 1;
  if (s > 1 && Math.trunc(shrink) === s) s = (s / 2) as JpegShrink;
  return s;
}

/** The facts of a render that decide whether its original may come from the decoded cache. */
export interface DecodedFacts {
  source: Pick<SourceInfo, 'format' | 'pages' | 'space' | 'hasProfile' | 'hasAlpha' | 'orientation'>;
  /** The frame decoded (0 = first) and frames rendered (1 = still). */
  page: number;
  frames: number;
  /** EXIF orientation applied on load (account autoRotate or rt-auto). */
  autoOrient: boolean;
  /** md-true / cp-true: the original's metadata or profile is copied to the output. */
  keepsMetadata: boolean;
}

/** Whether the original of this render is one the decoded cache serves exactly. Pure. */
export function decodedEligible(f: DecodedFacts): boolean {
  const s = f.source;
  return (
    s.format === 'jpeg' &&
    s.pages === 1 &&
    f.page === 0 &&
    f.frames === 1 &&
    s.space === 'srgb' &&
    !s.hasProfile &&
    !s.hasAlpha &&
    (s.orientation === 1 || !f.autoOrient) &&
    !f.keepsMetadata
  );
}

/** Raw pixels of a decoded original. */
export interface DecodedPixels {
  data: Buffer;
  width: number;
  height: number;
  channels: 3;
}

export interface DecodedStats {
  entries: number;
  bytes: number;
  maxBytes: number;
  hits: number;
  misses: number;
  coalesced: number;
  firstSeen: number;
}

/** An entry may take at most this share of the bound (a full-size 12-MP decode does not evict everything else). */
const ENTRY_SHARE = 4;

const SCRATCH_PREFIX = 'pixmesh-decoded-';

/**
 * Remove the scratch directories that processes which are gone left in `parent` (killed by a signal,
 * their exit handler never ran): `pixmesh-decoded-<pid>-<random>`, ours (same uid), that pid not
 * running. Best effort: a directory it cannot read or remove stays.
 */
export function removeDeadScratch(parent: string, alive: (pid: number) => boolean = pidAlive): number {
  let removed = 0;
  let names: string[];
  try {
    names = fs.readdirSync(parent);
  } catch {
    return 0;
  }
  const uid = process.getuid?.();
  for (const name of names) {
    const m = name.startsWith(SCRATCH_PREFIX) ? /^(\d+)-/.exec(name.slice(SCRATCH_PREFIX.length)) : null;
    if (!m || alive(Number(m[1]))) continue;
    const dir = path.join(parent, name);
    try {
      const st = fs.lstatSync(dir);
      if (!st.isDirectory() || (uid !== undefined && st.uid !== uid)) continue;
      fs.rmSync(dir, { recursive: true, force: true });
      removed++;
    } catch {
      /* another process removed it, or it is not ours */
    }
  }
  return removed;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, someone else's
  }
}

/** Scratch directories of this process, removed when it exits (the listener is added with the first one: importing changes nothing). */
const scratchDirs = new Set<string>();
function addScratch(dir: string): void {
  if (scratchDirs.size === 0)
    process.once('exit', () => {
      for (const d of scratchDirs) fs.rmSync(d, { recursive: true, force: true });
    });
  scratchDirs.add(dir);
}

export class DecodedCache {
  private readonly lru: ByteLru<DecodedPixels>;
  private readonly inflight = new Map<string, Promise<DecodedPixels>>();
  /** Each original Buffer gets an id: the key is the Buffer itself (the originals cache hands out the same one), never its content. */
  private readonly ids = new WeakMap<Buffer, number>();
  private readonly seen = new WeakMap<Buffer, number>();
  /** Originals whose decode here failed: never tried again (their renders take the normal path). */
  private readonly failed = new WeakSet<Buffer>();
  private nextId = 1;
  private scratch: string | undefined;
  private seq = 0;
  hits = 0;
  misses = 0;
  coalesced = 0;
  /** Renders that took the normal path because their (original, scale) was new (admitted on the next). */
  firstSeen = 0;

  constructor(
    readonly maxBytes: number,
    private readonly scratchParent: string = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(),
  ) {
    this.lru = new ByteLru<DecodedPixels>(maxBytes);
  }

  /** Whether a decode of `width`×`height` at 1/`shrink` would be kept (at most a quarter of the bound). */
  fits(width: number, height: number, shrink: JpegShrink): boolean {
    return Math.floor(width / shrink) * Math.floor(height / shrink) * 3 * ENTRY_SHARE <= this.maxBytes;
  }

  /**
   * The pixels of `input` (a JPEG) decoded at 1/`shrink`: from memory, or decoded now — or
   * undefined the first time this (original, scale) is seen: a miss costs more than a plain render
   * (the scratch file, the whole decode materialised, then the resize: ≈ 1.5–2.7 ms per render here,
   * docs/benchmarks.md round 7), so an original is admitted on its second render at a scale, and
   * originals rendered once never pay it.
   */
  get(input: Buffer, shrink: JpegShrink, timeoutSeconds: number, maxPixels: number): Promise<DecodedPixels> | undefined {
    let id = this.ids.get(input);
    if (id === undefined) this.ids.set(input, (id = this.nextId++));
    const key = `${id}/${shrink}`;
    const hit = this.lru.get(key);
    if (hit) {
      this.hits++;
      return Promise.resolve(hit);
    }
    const pending = this.inflight.get(key);
    if (pending) {
      this.coalesced++;
      return pending;
    }
    if (this.failed.has(input)) return undefined;
    const seen = this.seen.get(input) ?? 0; // the scales (1, 2, 4, 8: one bit each) this original was rendered at
    if (!(seen & shrink)) {
      this.seen.set(input, seen | shrink);
      this.firstSeen++;
      return undefined;
    }
    this.misses++;
    const p = this.decode(input, shrink, timeoutSeconds, maxPixels)
      .then(
        (px) => {
          this.lru.set(key, px, px.data.length);
          return px;
        },
        (e: unknown) => {
          this.failed.add(input);
          throw e;
        },
      )
      .finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  private async decode(input: Buffer, shrink: JpegShrink, timeoutSeconds: number, maxPixels: number): Promise<DecodedPixels> {
    if (!this.scratch) {
      removeDeadScratch(this.scratchParent);
      this.scratch = fs.mkdtempSync(path.join(this.scratchParent, `${SCRATCH_PREFIX}${process.pid}-`));
      addScratch(this.scratch);
    }
    const file = path.join(this.scratch, `${process.pid}-${++this.seq}.jpg`);
    await fs.promises.writeFile(file, input);
    try {
      // the same load options as the pipeline's decode (steps/input.ts), plus libvips' JPEG shrink
      const { data, info } = await sharp(shrink === 1 ? file : `${file}[shrink=${shrink}]`, { failOn: 'error', limitInputPixels: maxPixels })
        .timeout({ seconds: timeoutSeconds })
        .raw({ depth: 'uchar' })
        .toBuffer({ resolveWithObject: true });
      if (info.channels !== 3) throw new Error(`decoded cache: expected 3 channels, libvips gave ${info.channels}`);
      return { data, width: info.width, height: info.height, channels: 3 };
    } finally {
      await fs.promises.rm(file, { force: true });
    }
  }

  clear(): void {
    this.lru.deleteWhere(() => true);
  }

  stats(): DecodedStats {
    return { entries: this.lru.size, bytes: this.lru.bytes, maxBytes: this.maxBytes, hits: this.hits, misses: this.misses, coalesced: this.coalesced, firstSeen: this.firstSeen };
  }

  /** Remove the scratch directory (process exit, tests). */
  close(): void {
    if (this.scratch) {
      fs.rmSync(this.scratch, { recursive: true, force: true });
      scratchDirs.delete(this.scratch);
    }
    this.scratch = undefined;
  }
}

const byBound = new Map<number, DecodedCache>();

/** The process's decoded cache for this bound in MB (one per bound; undefined when 0: off). */
export function decodedCacheFor(mb: number): DecodedCache | undefined {
  if (mb <= 0) return undefined;
  let c = byBound.get(mb);
  if (!c) byBound.set(mb, (c = new DecodedCache(mb * 1024 * 1024)));
  return c;
}

/**
 * Called by the resize step just before it queues its resize to `tw`×`th`: when this render may
 * start from the decoded cache (nothing queued since the decode, an eligible original), the
 * pipeline is reopened on the cached raw pixels at the shrink sharp would have decoded at. True
 * when it did.
 */
export async function startFromDecoded(ctx: RenderState, tw: number, th: number, fit: ResizeFit): Promise<boolean> {
  const cache = decodedCacheFor(ctx.config.decodedCacheMb);
  if (!cache || ctx.phase !== -1 || ctx.materialisations !== 0 || !ctx.pristine) return false;
  if (!decodedEligible({ source: ctx.source, page: ctx.page, frames: ctx.frames, autoOrient: ctx.autoOrient, keepsMetadata: Boolean(ctx.plan.metadata || ctx.plan.colorProfile) })) return false;
  const shrink = jpegShrinkOnLoad(ctx.width, ctx.height, tw, th, fit);
  if (!cache.fits(ctx.width, ctx.height, shrink)) return false;
  const pending = cache.get(ctx.input, shrink, budget(ctx).seconds, ctx.config.maxInputPixels);
  if (!pending) return false;
  let px: DecodedPixels;
  try {
    px = await pending;
  } catch {
    return false; // the normal path gives this render its own result or error (a corrupt original, a full scratch disk)
  }
  ctx.img = sharp(px.data, { raw: { width: px.width, height: px.height, channels: px.channels } });
  ctx.pristine = false;
  ctx.decoded = shrink;
  return true;
}
