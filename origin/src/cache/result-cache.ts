/**
 * The region's result cache: transformed images on disk, bounded in bytes (least recently used
 * go first), surviving restarts. One file per entry — a length-prefixed JSON header then the
 * body — written to a temporary name and renamed, so a crash never leaves a half-written entry
 * under a real name. There is no fsync before the rename (it cost ≈ 3 ms of CPU per cold render,
 * docs/benchmarks.md round 5): after a crash the renamed file may hold less or other bytes than
 * were written, so the header carries the body's CRC-32 and a file whose body length or checksum
 * disagrees with its header is dropped on read — a crash never leads to serving a torn entry.
 * Entries written before the checksum (no `crc32` in the header) were fsynced before their rename
 * by the code that wrote them; they are read as before (length check only).
 *
 * In front of the disk, a memory tier (PIXMESH_CACHE_MEMORY_BYTES, LRU) holds the most recent
 * entries: a hit there costs no file read. `put` makes an entry visible at once (memory) and
 * writes the file behind the response: callers need not await it (`flush()` waits for every
 * write in progress, e.g. at shutdown), and a purge or delete that meets a write in progress
 * waits for it, then removes what it wrote.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { crc32 } from 'node:zlib';
import { ByteLru } from '../../../shared/lru.js';

export interface CachedMeta {
  contentType: string;
  etag: string;
  /** Account and path, so purges can find every variant of a path. */
  account: string;
  path: string;
  width?: number;
  height?: number;
  processedBy?: string;
  /** Marked private at its origin: served only to signed requests. */
  isPrivate?: boolean;
  /** When the original last changed (ms; from its origin), for Last-Modified; createdAt when unknown. */
  lastModified?: number;
  /** A compressed body (br / gzip) of a compressible file; absent for identity bodies. */
  contentEncoding?: 'br' | 'gzip';
  createdAt: number;
  bodyLength: number;
  /** CRC-32 of the body (zlib.crc32), checked on every read of the bytes; absent in entries written before it. */
  crc32?: number;
}

export interface CacheEntry {
  meta: CachedMeta;
  body: Buffer;
}

const HEADER_BYTES = 4;

/** Default bound of the memory tier (bytes). */
export const DEFAULT_CACHE_MEMORY_BYTES = 32 * 1024 * 1024;

interface Writing {
  account: string;
  path: string;
  done: Promise<void>;
}

export class ResultCache {
  /** key hash → account and path, bounded by the bytes on disk (shared/lru.ts). */
  private readonly lru: ByteLru<{ account: string; path: string }>;
  /** key hash → the entry itself, for hits without a file read. */
  private readonly hot: ByteLru<CacheEntry>;
  /** File writes in progress, by key hash (the latest write of a key). */
  private readonly writing = new Map<string, Writing>();
  /** Every write in progress (flush waits for them). */
  private readonly pending = new Set<Promise<void>>();
  /** Hits served from the memory tier / from disk (for stats and tests). */
  memoryHits = 0;
  diskHits = 0;

  private constructor(
    readonly dir: string,
    readonly maxBytes: number,
    readonly memoryBytes: number,
  ) {
    this.lru = new ByteLru(maxBytes);
    this.hot = new ByteLru(Math.min(memoryBytes, maxBytes));
  }

  static async open(dir: string, maxBytes: number, memoryBytes = DEFAULT_CACHE_MEMORY_BYTES): Promise<ResultCache> {
    const cache = new ResultCache(dir, maxBytes, memoryBytes);
    await fsp.mkdir(dir, { recursive: true });
    await cache.scan();
    return cache;
  }

  static hashKey(key: string): string {
    return crypto.createHash('sha256').update(key).digest('hex');
  }

  private fileFor(hash: string): string {
    return entryFile(this.dir, hash);
  }

  /** The file that holds `key`'s entry once written (for crash tests that damage it). */
  fileOf(key: string): string {
    return this.fileFor(ResultCache.hashKey(key));
  }

  /** Rebuild the index from disk, oldest first by mtime; leftover temporary files are removed. */
  private async scan(): Promise<void> {
    const found: { hash: string; size: number; mtime: number; account: string; path: string }[] = [];
    for (const sub of await fsp.readdir(this.dir).catch(() => [] as string[])) {
      const subdir = path.join(this.dir, sub);
      const names = await fsp.readdir(subdir).catch(() => null);
      if (!names) continue;
      this.dirs.add(subdir);
      for (const name of names) {
        const file = path.join(subdir, name);
        if (!name.endsWith('.entry')) {
          await fsp.rm(file, { force: true });
          continue;
        }
        const meta = await readMeta(file).catch(() => null);
        const st = await fsp.stat(file).catch(() => null);
        if (!meta || !st) {
          await fsp.rm(file, { force: true });
          continue;
        }
        found.push({ hash: name.slice(0, -6), size: st.size, mtime: st.mtimeMs, account: meta.account, path: meta.path });
      }
    }
    found.sort((a, b) => a.mtime - b.mtime);
    for (const f of found) await this.remove(this.lru.set(f.hash, { account: f.account, path: f.path }, f.size));
  }

  async get(key: string): Promise<CacheEntry | null> {
    const hash = ResultCache.hashKey(key);
    const inMemory = this.hot.get(hash);
    if (inMemory) {
      this.lru.get(hash); // recency on disk follows use
      this.memoryHits++;
      return inMemory;
    }
    const known = this.lru.get(hash);
    if (!known) return null;
    let data: Buffer;
    try {
      data = await fsp.readFile(this.fileFor(hash));
    } catch {
      this.lru.delete(hash);
      return null;
    }
    const entry = decodeEntry(data);
    if (!entry) {
      await fsp.rm(this.fileFor(hash), { force: true });
      this.lru.delete(hash);
      return null;
    }
    this.diskHits++;
    this.hot.set(hash, entry, memorySize(entry));
    return entry;
  }

  /** Whether the memory tier still holds this very entry under a key hash (no recency change). */
  holds(hash: string, entry: CacheEntry): boolean {
    return this.hot.peek(hash) === entry;
  }

  /** A hit on a memory-tier entry answered without `get` (origin/src/hit-path.ts): recency and counts as `get`. */
  countMemoryHit(hash: string): void {
    this.hot.get(hash);
    this.lru.get(hash);
    this.memoryHits++;
  }

  /** Makes an entry visible to `get` now (memory tier only); `put` writes it to disk. */
  hold(key: string, meta: Omit<CachedMeta, 'bodyLength'>, body: Buffer): void {
    const entry: CacheEntry = { meta: { ...meta, bodyLength: body.length }, body };
    this.hot.set(ResultCache.hashKey(key), entry, memorySize(entry));
  }

  /**
   * Stores an entry: visible to `get` at once (memory tier), on disk when the returned promise
   * settles. Callers on the response path need not await it (the write is tracked; see flush()).
   */
  put(key: string, meta: Omit<CachedMeta, 'bodyLength'>, body: Buffer): Promise<void> {
    const hash = ResultCache.hashKey(key);
    const entry: CacheEntry = { meta: { ...meta, bodyLength: body.length }, body };
    this.hot.set(hash, entry, memorySize(entry));
    const done = this.writeFile(hash, meta, body).finally(() => {
      this.pending.delete(done);
      if (this.writing.get(hash)?.done === done) this.writing.delete(hash);
    });
    this.pending.add(done);
    this.writing.set(hash, { account: meta.account, path: meta.path, done });
    return done;
  }

  private async writeFile(hash: string, meta: Omit<CachedMeta, 'bodyLength'>, body: Buffer): Promise<void> {
    // The previous write of the same key first (renames land in order).
    const before = this.writing.get(hash)?.done;
    if (before) await before.catch(() => undefined);
    const file = this.fileFor(hash);
    const data = encodeEntry(meta, body);
    if (data.length > this.maxBytes) return;
    // Unique per process (pid and random bytes drawn once: pids repeat across containers) and write (a counter).
    const tmp = `${file}.${process.pid}.${this.tmpTag}${(this.tmpSeq++).toString(36)}.tmp`;
    await this.create(tmp, data);
    await rename(tmp, file);
    await this.remove(this.lru.set(hash, { account: meta.account, path: meta.path }, data.length));
  }

  /** Entry directories known to exist (found at boot, or made once): not made again per write (a thread-pool round trip each). */
  private readonly dirs = new Set<string>();
  private readonly tmpTag = crypto.randomBytes(4).toString('hex');
  private tmpSeq = 0;

  /**
   * Writes a new file (one fs.writeFile: open, write, close on the thread pool; no fsync, the
   * checksum stands in for it), making its directory the first time (or again if it was removed).
   */
  private async create(file: string, data: Buffer): Promise<void> {
    const dir = path.dirname(file);
    if (this.dirs.has(dir)) {
      try {
        return await writeNew(file, data);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
    await fsp.mkdir(dir, { recursive: true });
    this.dirs.add(dir);
    return writeNew(file, data);
  }

  /** Waits for every file write in progress (shutdown, tests); failures were the writers'. */
  async flush(): Promise<void> {
    while (this.pending.size) await Promise.allSettled([...this.pending]);
  }

  /** File writes in progress. */
  get pendingWrites(): number {
    return this.pending.size;
  }

  /** Remove one entry (a purge record made it stale). */
  async delete(key: string): Promise<void> {
    const hash = ResultCache.hashKey(key);
    this.hot.delete(hash);
    const w = this.writing.get(hash);
    if (w) await w.done.catch(() => undefined);
    this.hot.delete(hash);
    await fsp.rm(this.fileFor(hash), { force: true });
    this.lru.delete(hash);
  }

  /** Remove every variant of a path (or of every path under a prefix when prefix=true). */
  async purge(account: string, pathOrPrefix: string, prefix = false): Promise<number> {
    const match = (e: { account: string; path: string }) => e.account === account && (prefix ? e.path.startsWith(pathOrPrefix) : e.path === pathOrPrefix);
    const gone = new Set(this.hot.deleteWhere((e) => match(e.meta)).map(([h]) => h));
    // Writes in progress for these paths land first, then go with the rest.
    const writes = [...this.writing].filter(([, w]) => match(w));
    for (const [h] of writes) gone.add(h);
    await Promise.allSettled(writes.map(([, w]) => w.done));
    this.hot.deleteWhere((e) => match(e.meta));
    const removed = this.lru.deleteWhere(match);
    for (const [h] of removed) gone.add(h);
    await this.remove(removed);
    return gone.size;
  }

  stats(): { entries: number; bytes: number; maxBytes: number; memoryEntries: number; memoryBytes: number; pendingWrites: number } {
    return { entries: this.lru.size, bytes: this.lru.bytes, maxBytes: this.maxBytes, memoryEntries: this.hot.size, memoryBytes: this.hot.bytes, pendingWrites: this.pending.size };
  }

  /** Delete the files of entries the index let go (evicted or purged); they leave memory too. */
  private async remove(entries: [string, unknown][]): Promise<void> {
    for (const [hash] of entries) {
      this.hot.delete(hash);
      await fsp.rm(this.fileFor(hash), { force: true });
    }
  }
}

/** fs's callback forms: no FileHandle or promise wrapper per call (the L1 write runs once per cold render). */
const writeNew = (file: string, data: Buffer) => new Promise<void>((resolve, reject) => fs.writeFile(file, data, (e) => (e ? reject(e) : resolve())));
const rename = (from: string, to: string) => new Promise<void>((resolve, reject) => fs.rename(from, to, (e) => (e ? reject(e) : resolve())));

/** What an entry costs in the memory tier: its body plus its header, roughly. */
const memorySize = (e: CacheEntry) => e.body.length + 512;

/** One entry as bytes: 4-byte header length, JSON header (with the body's length and CRC-32), body (the disk L1 and the shared tier use it). */
export function encodeEntry(meta: Omit<CachedMeta, 'bodyLength' | 'crc32'>, body: Buffer): Buffer {
  const header = Buffer.from(JSON.stringify({ ...meta, bodyLength: body.length, crc32: crc32(body) }));
  const prefix = Buffer.alloc(HEADER_BYTES);
  prefix.writeUInt32BE(header.length);
  return Buffer.concat([prefix, header, body]);
}

/** The entry, or null when truncated or corrupt (body length or, when the header has one, CRC-32 not the header's). */
export function decodeEntry(data: Buffer): CacheEntry | null {
  if (data.length < HEADER_BYTES) return null;
  const len = data.readUInt32BE(0);
  if (HEADER_BYTES + len > data.length) return null;
  let meta: CachedMeta;
  try {
    meta = JSON.parse(data.subarray(HEADER_BYTES, HEADER_BYTES + len).toString('utf8')) as CachedMeta;
  } catch {
    return null;
  }
  const body = data.subarray(HEADER_BYTES + len);
  if (body.length !== meta.bodyLength) return null;
  if (meta.crc32 !== undefined && crc32(body) !== meta.crc32) return null;
  return { meta, body };
}

const entryFile = (dir: string, hash: string) => path.join(dir, hash.slice(0, 2), `${hash}.entry`);

/**
 * The entries a cache directory holds on disk, each with its header (not its body): for
 * operators and tests that look at a region's cache from outside the process. Reads the layout
 * this module writes; files that are not complete entries are skipped.
 */
export async function listEntries(dir: string): Promise<{ file: string; meta: CachedMeta }[]> {
  const out: { file: string; meta: CachedMeta }[] = [];
  for (const sub of await fsp.readdir(dir).catch(() => [] as string[])) {
    for (const name of await fsp.readdir(path.join(dir, sub)).catch(() => [] as string[])) {
      if (!name.endsWith('.entry')) continue;
      const file = path.join(dir, sub, name);
      const meta = await readMeta(file).catch(() => null);
      if (meta) out.push({ file, meta });
    }
  }
  return out;
}

async function readMeta(file: string): Promise<CachedMeta | null> {
  const fd = await fsp.open(file, 'r');
  try {
    const prefix = Buffer.alloc(HEADER_BYTES);
    await fd.read(prefix, 0, HEADER_BYTES, 0);
    const len = prefix.readUInt32BE(0);
    if (len > 1 << 20) return null;
    const header = Buffer.alloc(len);
    await fd.read(header, 0, len, HEADER_BYTES);
    const meta = JSON.parse(header.toString('utf8')) as CachedMeta;
    const st = await fd.stat();
    return st.size === HEADER_BYTES + len + meta.bodyLength ? meta : null;
  } finally {
    await fd.close();
  }
}

