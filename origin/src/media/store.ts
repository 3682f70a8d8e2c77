/**
 * The media library's storage in the home region's bucket (and the backup region's, for
 * flexible accounts). Layout inside `pixmesh-media-<region>`:
 *
 *   <account>/<filePath>              the file's bytes (what the `media` origin serves);
 *                                     S3 metadata: isprivatefile, fileid, sha256
 *   _index/<account>/<fileId>.json    the file's record (tags, customMetadata, sizes, …)
 *   _tmp/<account>/<uuid>             uploads in flight (never served: account ids cannot start with "_")
 *   _purge/<account>/<requestId>.json purge requests and their status
 *
 *   _journal/<account>/<seq>.json     intents of changes in progress (journal.ts)
 *
 * Bytes are checked: an upload goes to a temporary key with Content-MD5 (S3 refuses a body that
 * does not match), the stored ETag is checked against the MD5, then it is copied server-side to
 * its final key. Every change of more than one object is one intent of idempotent steps, written
 * before the first step and replayed after a crash (journal.ts), so no crash point leaves a file
 * listed but not served, served but not listed, or half moved. Only the home region writes an
 * account's library, so one in-process lock per account serialises commits (path uniqueness).
 */
import crypto from 'node:crypto';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { indexKey, INDEX_PREFIX, mediaKey, versionKey, VERSIONS_PREFIX } from './keys.js';
import { isMissing, readAll, s3Client, type S3Location } from '../sources/s3.js';
import { log } from '../log.js';
import { crashPoint, intentId, JOURNAL_FAILED_PREFIX, JOURNAL_PREFIX, journalKey, type CommitOp, type Intent, type Step } from './journal.js';
import type { FileRecord, StoredVersion } from './records.js';
export type { FileRecord, StoredVersion } from './records.js';


export { INDEX_PREFIX, VERSIONS_PREFIX, versionKey };
export const TMP_PREFIX = '_tmp';
export const PURGE_PREFIX = '_purge';
export const FOLDERS_PREFIX = '_folders';
/** Previous versions kept per file unless the store is told otherwise (PIXMESH_MEDIA_MAX_VERSIONS). */
export { DEFAULT_MAX_VERSIONS } from './config.js';
import { DEFAULT_MAX_VERSIONS } from './config.js';

export const objectKeyFor = (accountId: string, filePath: string) => mediaKey(accountId, filePath.replace(/^\/+/, ''));
const foldersKey = (accountId: string) => `${FOLDERS_PREFIX}/${accountId}.json`;
const versionNumber = (r: { versionInfo: { name: string } }) => Number(/(\d+)$/.exec(r.versionInfo.name)?.[1] ?? 1);
const snapshot = (r: FileRecord): StoredVersion => {
  const { versions: _v, ...rest } = r;
  return rest;
};

/** A folder created explicitly (folders.create); folders holding files exist implicitly too. */
export interface FolderRecord {
  folderPath: string;
  folderId: string;
  createdAt: string;
}

/** Where a file goes in copy / move / rename (filePath), and what happens to a file already there. */
export interface RelocateInput {
  accountId: string;
  fileId: string;
  /** The new "/folder/name.ext". */
  filePath: string;
  mode: 'copy' | 'move';
  /** Copy: bring the previous versions along (ImageKit includeFileVersions). Move always does. */
  includeVersions?: boolean;
  /** false: refuse when a file already exists at filePath (rename). Otherwise it gets the file as its new version. */
  replaceExisting: boolean;
  backupRegion?: string;
  /** Move: purge the cached variants of the old path too (default true; rename without purgeCache keeps them, as ImageKit does). */
  purgeSource?: boolean;
  /** false: no path is purged by this commit (folder jobs purge both folders as prefixes when they finish). */
  purge?: boolean;
}

export const newId = () => crypto.randomBytes(12).toString('hex');

/** A promise chain per key: run(fn) waits for the previous fn of the same key. */
class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>();
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    try {
      return await next;
    } finally {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

export interface StoreOptions {
  s3: S3Location;
  /** This (home) region's media bucket. */
  bucket: string;
  /** Bucket name for another region (backup copies). */
  bucketFor: (region: string) => string;
  /** Previous versions kept per file (older ones are deleted); default DEFAULT_MAX_VERSIONS. */
  maxVersions?: number;
}

export interface PutFileInput {
  accountId: string;
  body: Buffer;
  record: Omit<FileRecord, 'md5' | 'sha256' | 'size' | 'fileId' | 'versionInfo' | 'createdAt' | 'updatedAt'>;
  /** false: refuse when a file already exists at filePath (ImageKit overwriteFile=false). */
  overwrite: boolean;
  /** Region whose bucket receives a backup copy (flexible accounts only). */
  backupRegion?: string;
  /** When replacing a file: keep its tags / customMetadata if the upload sent none (ImageKit overwriteTags=false …). */
  keep?: { tags?: boolean; customMetadata?: boolean };
}

export class FileExistsError extends Error {}

/** A journal step whose source no longer holds the expected bytes (the bucket lost data; not a crash). */
export class ImpossibleStep extends Error {}

/** What the purge hook returns per stale path (media/purge.ts PurgeRecord). */
export interface PurgeRef {
  requestId: string;
  status: string;
  /** Files whose variants use the purged path as a layer (purged with it; the edge is told). */
  dependents?: string[];
}

export class MediaStore {
  private readonly client: S3Client;
  private readonly lock = new KeyedLock();
  /** account → its records, loaded once from _index/ (this region is the only writer). */
  private readonly indexes = new Map<string, Promise<Map<string, FileRecord>>>();

  constructor(private readonly opts: StoreOptions) {
    this.client = s3Client(opts.s3);
  }

  get bucket(): string {
    return this.opts.bucket;
  }

  /**
   * Forget the records held in memory (all accounts, or one): the next call reads the bucket. The
   * region's replicas call it when the account's owner changes (origin/src/region/), since another
   * replica may have written meanwhile.
   */
  forgetIndexes(accountId?: string): void {
    if (accountId) this.indexes.delete(accountId);
    else this.indexes.clear();
  }

  private index(accountId: string): Promise<Map<string, FileRecord>> {
    let p = this.indexes.get(accountId);
    if (!p) {
      p = this.loadIndex(accountId);
      this.indexes.set(accountId, p);
      p.catch(() => this.indexes.delete(accountId));
    }
    return p;
  }

  private async loadIndex(accountId: string): Promise<Map<string, FileRecord>> {
    // Changes interrupted by a crash are completed before anything is read (journal.ts).
    await this.replay(accountId);
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const out = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: `${INDEX_PREFIX}/${accountId}/`, ContinuationToken: token }),
      );
      for (const o of out.Contents ?? []) if (o.Key?.endsWith('.json')) keys.push(o.Key);
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
    const map = new Map<string, FileRecord>();
    const queue = [...keys];
    await Promise.all(
      Array.from({ length: Math.min(16, queue.length) }, async () => {
        for (let key = queue.shift(); key; key = queue.shift()) {
          try {
            const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
            const rec = JSON.parse((await readAll(out.Body)).toString('utf8')) as FileRecord;
            map.set(rec.fileId, rec);
          } catch (e) {
            if (!isMissing(e)) throw e;
          }
        }
      }),
    );
    return map;
  }

  async list(accountId: string): Promise<FileRecord[]> {
    return [...(await this.index(accountId)).values()];
  }

  async get(accountId: string, fileId: string): Promise<FileRecord | undefined> {
    return (await this.index(accountId)).get(fileId);
  }

  async byPath(accountId: string, filePath: string): Promise<FileRecord | undefined> {
    for (const r of (await this.index(accountId)).values()) if (r.filePath === filePath) return r;
    return undefined;
  }

  /** Called with the paths an intent made stale, before its record is removed (the purge fan-out; set by mediaRoutes). */
  onStale?: (accountId: string, paths: string[]) => Promise<PurgeRef[]>;

  private meta(r: Pick<FileRecord, 'sha256' | 'fileId' | 'isPrivateFile'>): Record<string, string> {
    return { isprivatefile: String(r.isPrivateFile), fileid: r.fileId, sha256: r.sha256 };
  }

  /** The step that copies a file's current bytes aside as its version `r.versionInfo.id`. */
  private versionStep(accountId: string, r: FileRecord): Step {
    return { do: 'copy', from: objectKeyFor(accountId, r.filePath), to: versionKey(accountId, r.fileId, r.versionInfo.id), meta: this.meta(r), contentType: r.mime, size: r.size, md5: r.md5 };
  }

  /** A history with `r` appended, bounded to maxVersions (the dropped ones' bytes are deleted by the intent). */
  private withVersion(r: FileRecord, into: StoredVersion[] = r.versions ?? []): { versions: StoredVersion[]; dropped: StoredVersion[] } {
    const all = [...into, snapshot(r)];
    const cut = Math.max(0, all.length - this.maxVersions);
    return { versions: all.slice(cut), dropped: all.slice(0, cut) };
  }

  /** Best-effort steps that mirror a file's current bytes and record into the backup region's bucket. */
  private backupSteps(accountId: string, record: FileRecord, region: string | undefined): Step[] {
    if (!region) return [];
    const bucket = this.opts.bucketFor(region);
    const key = objectKeyFor(accountId, record.filePath);
    return [
      { do: 'copy', from: key, to: key, bucket, meta: this.meta(record), contentType: record.mime, size: record.size, md5: record.md5, bestEffort: true },
      { do: 'put-record', key: indexKey(accountId, record.fileId), record, bucket, bestEffort: true },
    ];
  }

  private intent(op: CommitOp, accountId: string, steps: Step[], stalePaths: string[]): Intent {
    return { id: intentId(newId()), op, accountId, createdAt: new Date().toISOString(), steps, stalePaths };
  }

  /**
   * The one commit path (journal.ts): intent record → steps → index in memory → purge of the stale
   * paths → intent record removed. A step that fails leaves the record: the account's index is
   * forgotten, so the next reader replays the intent to the end before it reads anything.
   */
  private async commit(intent: Intent, index: Map<string, FileRecord>): Promise<PurgeRef[]> {
    crashPoint(`${intent.op}:before-journal`);
    await this.putJson(this.bucket, journalKey(intent.accountId, intent.id), intent);
    try {
      await this.apply(intent);
    } catch (e) {
      this.forgetIndexes(intent.accountId);
      log.error('media commit: a step failed; the intent is replayed when the account is next read', { account: intent.accountId, op: intent.op, intent: intent.id, err: String(e) });
      throw e;
    }
    for (const s of intent.steps) {
      if (s.bucket) continue;
      if (s.do === 'put-record') index.set(s.record.fileId, s.record);
      if (s.do === 'delete-record') index.delete(s.fileId);
    }
    return this.settle(intent);
  }

  private async apply(intent: Intent): Promise<void> {
    for (let i = 0; i < intent.steps.length; i++) {
      crashPoint(`${intent.op}:step-${i}`);
      await this.runStep(intent.steps[i]!);
    }
    crashPoint(`${intent.op}:step-${intent.steps.length}`);
  }

  /** Purges what the intent made stale, then removes its record. */
  private async settle(intent: Intent): Promise<PurgeRef[]> {
    let purges: PurgeRef[] = [];
    if (intent.stalePaths.length && this.onStale)
      purges = await this.onStale(intent.accountId, intent.stalePaths).catch((e) => {
        log.warn('media commit: purge of stale paths failed', { account: intent.accountId, paths: intent.stalePaths, err: String(e) });
        return [];
      });
    crashPoint(`${intent.op}:purged`);
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: journalKey(intent.accountId, intent.id) }));
    crashPoint(`${intent.op}:committed`);
    return purges;
  }

  private async head(bucket: string, key: string) {
    try {
      return await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw e;
    }
  }

  private async runStep(s: Step): Promise<void> {
    try {
      await this.runStepStrict(s);
    } catch (e) {
      if (!s.bestEffort) throw e;
      // The primary copy is committed; a failed backup step is logged loudly, not reported as a failure.
      log.error('backup step failed', { step: s.do, bucket: s.bucket, err: String(e) });
    }
  }

  private async runStepStrict(s: Step): Promise<void> {
    const bucket = s.bucket ?? this.bucket;
    switch (s.do) {
      case 'copy': {
        const dst = await this.head(bucket, s.to);
        if (dst && dst.ContentLength === s.size && Object.entries(s.meta).every(([k, v]) => dst.Metadata?.[k] === v)) return; // done before
        const src = await this.head(this.bucket, s.from);
        const srcSha = src?.Metadata?.sha256;
        if (!src || (srcSha ? srcSha !== s.meta.sha256 : src.ETag?.replace(/"/g, '') !== s.md5))
          throw new ImpossibleStep(`copy ${s.from} → ${s.to}: the source no longer holds the expected bytes`);
        await this.copyKey(s.from, s.to, { metadata: s.meta, contentType: s.contentType, toBucket: s.bucket });
        await this.verify(bucket, s.to, s.size, s.md5);
        return;
      }
      case 'put-record':
        return this.putJson(bucket, s.key, s.record);
      case 'delete-record':
        await this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: s.key }));
        return;
      case 'delete-object':
        await this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: s.key }));
        return;
    }
  }

  /**
   * Completes every intent left in the account's journal (oldest first), before its records are
   * read. An intent whose source bytes are gone (not a crash: the bucket lost data) cannot be
   * completed: it is moved to _journal-failed/ for an operator and logged.
   */
  private async replay(accountId: string): Promise<number> {
    let n = 0;
    for (const key of (await this.keys(`${JOURNAL_PREFIX}/${accountId}/`)).sort()) {
      const intent = await this.getJson<Intent>(key);
      if (!intent) continue;
      try {
        await this.apply(intent);
      } catch (e) {
        if (!(e instanceof ImpossibleStep)) throw e;
        log.error('media journal: an intent cannot be completed; kept for an operator', { account: accountId, intent: intent.id, op: intent.op, err: e.message });
        await this.putJson(this.bucket, key.replace(JOURNAL_PREFIX, JOURNAL_FAILED_PREFIX), { ...intent, error: e.message });
        await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
        continue;
      }
      await this.settle(intent);
      log.warn('media journal: completed a change interrupted by a crash', { account: accountId, intent: intent.id, op: intent.op, stale: intent.stalePaths });
      n++;
    }
    return n;
  }

  /** Boot: replays the journal of every account this region is home for (the index load does it). Returns the accounts loaded. */
  async recoverAll(isHome: (accountId: string) => boolean): Promise<string[]> {
    const accounts = [...new Set((await this.keys(`${JOURNAL_PREFIX}/`)).map((k) => k.split('/')[1]!).filter(Boolean))].filter(isHome);
    for (const a of accounts) await this.index(a);
    return accounts;
  }

  /**
   * Upload: bytes to a temporary key (Content-MD5 checked by S3, ETag re-checked here), then one
   * intent under the account's lock: the replaced file's bytes copied aside as a version → the
   * upload copied to its final key → the record → dropped versions, backup, temporary key removed.
   * Returns the record, the file it replaced (if any) and the purges of the replaced path.
   */
  async put(input: PutFileInput): Promise<{ record: FileRecord; replaced?: FileRecord; purges: PurgeRef[] }> {
    const { accountId, body } = input;
    const md5 = crypto.createHash('md5').update(body).digest();
    const md5Hex = md5.toString('hex');
    const sha256 = crypto.createHash('sha256').update(body).digest('hex');
    const tmpKey = `${TMP_PREFIX}/${accountId}/${crypto.randomUUID()}`;
    await this.client.send(
      new PutObjectCommand({ Bucket: this.bucket, Key: tmpKey, Body: body, ContentMD5: md5.toString('base64'), ContentType: input.record.mime, Metadata: { sha256 } }),
    );
    let journaled = false;
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: tmpKey }));
      if (head.ContentLength !== body.length || (head.ETag && head.ETag.replace(/"/g, '') !== md5Hex))
        throw new Error(`checksum mismatch after upload (etag ${head.ETag}, length ${head.ContentLength})`);

      return await this.lock.run(accountId, async () => {
        const index = await this.index(accountId);
        const existing = [...index.values()].find((r) => r.filePath === input.record.filePath);
        if (existing && !input.overwrite) throw new FileExistsError(`a file already exists at ${input.record.filePath}`);
        const now = new Date().toISOString();
        const fileId = existing?.fileId ?? newId();
        const history = existing ? this.withVersion(existing) : undefined;
        const record: FileRecord = {
          ...input.record,
          tags: existing && input.keep?.tags && input.record.tags === null ? existing.tags : input.record.tags,
          customMetadata:
            existing && input.keep?.customMetadata && Object.keys(input.record.customMetadata).length === 0 ? existing.customMetadata : input.record.customMetadata,
          fileId,
          size: body.length,
          md5: md5Hex,
          sha256,
          versionInfo: { id: newId(), name: `Version ${existing ? versionNumber(existing) + 1 : 1}` },
          versions: history?.versions ?? [],
          createdAt: existing?.createdAt ?? now,
          updatedAt: now,
        };
        const steps: Step[] = [
          ...(existing ? [this.versionStep(accountId, existing)] : []),
          { do: 'copy', from: tmpKey, to: objectKeyFor(accountId, record.filePath), meta: this.meta(record), contentType: record.mime, size: body.length, md5: md5Hex },
          { do: 'put-record', key: indexKey(accountId, fileId), record },
          ...(history?.dropped ?? []).map((v): Step => ({ do: 'delete-object', key: versionKey(accountId, fileId, v.versionInfo.id) })),
          ...this.backupSteps(accountId, record, input.backupRegion),
          { do: 'delete-object', key: tmpKey },
        ];
        journaled = true;
        const purges = await this.commit(this.intent(existing ? 'overwrite' : 'upload', accountId, steps, existing ? [record.filePath] : []), index);
        return { record, replaced: existing, purges };
      });
    } finally {
      // Once the intent is written the temporary key is its source: the intent removes it.
      if (!journaled)
        await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: tmpKey })).catch((e) =>
          log.warn('could not remove a temporary upload', { key: tmpKey, err: String(e) }),
        );
    }
  }

  /**
   * The stored object must have the upload's length and MD5. The ETag is the MD5 for single-part
   * objects on S3; when a server reports something else (s3rver keeps a stale ETag on a copy
   * over an existing key), the object is read back and hashed.
   */
  private async verify(bucket: string, key: string, length: number, md5Hex: string): Promise<void> {
    const head = await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    if (head.ContentLength !== length) throw new Error(`stored object ${key} has ${head.ContentLength} bytes, the upload ${length}`);
    if (head.ETag?.replace(/"/g, '') === md5Hex) return;
    const out = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const got = crypto.createHash('md5').update(await readAll(out.Body)).digest('hex');
    if (got !== md5Hex) throw new Error(`stored object ${key} does not match the upload's MD5`);
  }

  /** Changes a file's record (not its bytes): one record write (atomic), then the backup's. */
  async update(accountId: string, fileId: string, change: (r: FileRecord) => FileRecord, backupRegion?: string): Promise<FileRecord | undefined> {
    return this.lock.run(accountId, async () => {
      const index = await this.index(accountId);
      const current = index.get(fileId);
      if (!current) return undefined;
      const next = { ...change(structuredClone(current)), fileId, updatedAt: new Date().toISOString() };
      await this.putJson(this.bucket, indexKey(accountId, fileId), next);
      index.set(fileId, next);
      if (backupRegion)
        await this.putJson(this.opts.bucketFor(backupRegion), indexKey(accountId, fileId), next).catch((e) =>
          log.error('backup record update failed', { account: accountId, fileId, err: String(e) }),
        );
      return next;
    });
  }

  async delete(accountId: string, fileId: string, backupRegion?: string): Promise<{ record: FileRecord; purge?: PurgeRef } | undefined> {
    const out = await this.deleteMany(accountId, [fileId], backupRegion);
    const record = out.records[0];
    return record && { record, purge: out.purges[0] };
  }

  /** Deletes files as one intent (a batch is all deleted or, before its intent, none): bytes, record, versions, backup. */
  async deleteMany(accountId: string, fileIds: string[], backupRegion?: string): Promise<{ records: FileRecord[]; purges: PurgeRef[] }> {
    return this.lock.run(accountId, async () => {
      const index = await this.index(accountId);
      const records = [...new Set(fileIds)].map((id) => index.get(id)).filter((r): r is FileRecord => r !== undefined);
      if (!records.length) return { records, purges: [] };
      const backup = backupRegion ? this.opts.bucketFor(backupRegion) : undefined;
      const steps: Step[] = records.flatMap((r): Step[] => [
        // Bytes first, then the record: between the two the file is listed but no longer served.
        { do: 'delete-object', key: objectKeyFor(accountId, r.filePath) },
        { do: 'delete-record', key: indexKey(accountId, r.fileId), fileId: r.fileId },
        ...(r.versions ?? []).map((v): Step => ({ do: 'delete-object', key: versionKey(accountId, r.fileId, v.versionInfo.id) })),
        ...(backup
          ? ([
              { do: 'delete-object', key: objectKeyFor(accountId, r.filePath), bucket: backup, bestEffort: true },
              { do: 'delete-record', key: indexKey(accountId, r.fileId), fileId: r.fileId, bucket: backup, bestEffort: true },
            ] satisfies Step[])
          : []),
      ]);
      const purges = await this.commit(this.intent('delete', accountId, steps, records.map((r) => r.filePath)), index);
      return { records, purges };
    });
  }

  private get maxVersions(): number {
    return this.opts.maxVersions ?? DEFAULT_MAX_VERSIONS;
  }

  private copyKey(fromKey: string, toKey: string, extra: { metadata?: Record<string, string>; contentType?: string; toBucket?: string } = {}) {
    return this.client.send(
      new CopyObjectCommand({
        Bucket: extra.toBucket ?? this.bucket,
        Key: toKey,
        CopySource: `${this.bucket}/${encodeURIComponent(fromKey).replace(/%2F/g, '/')}`,
        ...(extra.metadata ? { MetadataDirective: 'REPLACE', Metadata: extra.metadata, ContentType: extra.contentType } : {}),
      }),
    );
  }

  /** The current bytes of a file, or one of its previous versions. */
  async readBytes(accountId: string, r: FileRecord, versionId?: string): Promise<Buffer> {
    const key = versionId && versionId !== r.versionInfo.id ? versionKey(accountId, r.fileId, versionId) : objectKeyFor(accountId, r.filePath);
    const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    return readAll(out.Body);
  }

  /**
   * Copy, move or rename one file (server-side copies only; the bytes never pass through here),
   * as one intent. A file already at the destination keeps its fileId and gets the source as its
   * newest version (ImageKit: "appended to the destination file version history"), unless
   * replaceExisting is false. Steps: versions re-keyed → the replaced file's bytes aside → bytes at
   * the new key → record → (move) old record, old key and old versions removed → backup. Returns
   * the file as it is now and the paths whose cached variants were purged.
   */
  async relocate(input: RelocateInput): Promise<{ record: FileRecord; stalePaths: string[]; purges: PurgeRef[] } | undefined> {
    const { accountId } = input;
    return this.lock.run(accountId, async () => {
      const index = await this.index(accountId);
      const source = index.get(input.fileId);
      if (!source) return undefined;
      if (source.filePath === input.filePath) return { record: source, stalePaths: [], purges: [] };
      const existing = [...index.values()].find((r) => r.filePath === input.filePath);
      if (existing && !input.replaceExisting) throw new FileExistsError(`a file already exists at ${input.filePath}`);
      const name = input.filePath.slice(input.filePath.lastIndexOf('/') + 1);
      const now = new Date().toISOString();
      const srcKey = objectKeyFor(accountId, source.filePath);
      const dstKey = objectKeyFor(accountId, input.filePath);
      const move = input.mode === 'move';
      const bringVersions = move || input.includeVersions === true;
      let record: FileRecord;
      let dropped: StoredVersion[];
      const targetId = existing?.fileId ?? (move ? source.fileId : newId());
      const steps: Step[] = [];
      // Previous versions of the source, re-keyed when the fileId changes.
      const carried = bringVersions ? (source.versions ?? []) : [];
      if (targetId !== source.fileId)
        for (const v of carried)
          steps.push({ do: 'copy', from: versionKey(accountId, source.fileId, v.versionInfo.id), to: versionKey(accountId, targetId, v.versionInfo.id), meta: this.meta({ ...v, fileId: targetId }), contentType: v.mime, size: v.size, md5: v.md5 });
      if (existing) {
        const kept = this.withVersion(existing, [...(existing.versions ?? []), ...carried.map((v) => ({ ...v, fileId: targetId }))]);
        steps.push(this.versionStep(accountId, existing));
        dropped = kept.dropped;
        record = {
          ...structuredClone(source),
          fileId: targetId,
          name,
          filePath: input.filePath,
          versionInfo: { id: newId(), name: `Version ${versionNumber(existing) + 1}` },
          versions: kept.versions,
          createdAt: existing.createdAt,
          updatedAt: now,
        };
      } else {
        const fresh = input.mode === 'copy' && !bringVersions;
        const all = carried.map((v) => ({ ...v, fileId: targetId }));
        const cut = Math.max(0, all.length - this.maxVersions);
        dropped = all.slice(0, cut);
        record = {
          ...structuredClone(source),
          fileId: targetId,
          name,
          filePath: input.filePath,
          versionInfo: fresh ? { id: newId(), name: 'Version 1' } : source.versionInfo,
          versions: all.slice(cut),
          createdAt: input.mode === 'copy' ? now : source.createdAt,
          updatedAt: now,
        };
      }
      steps.push({ do: 'copy', from: srcKey, to: dstKey, meta: this.meta(record), contentType: record.mime, size: record.size, md5: record.md5 });
      steps.push({ do: 'put-record', key: indexKey(accountId, targetId), record });
      const backup = input.backupRegion ? this.opts.bucketFor(input.backupRegion) : undefined;
      if (move) {
        if (targetId !== source.fileId) {
          steps.push({ do: 'delete-record', key: indexKey(accountId, source.fileId), fileId: source.fileId });
          for (const v of source.versions ?? []) steps.push({ do: 'delete-object', key: versionKey(accountId, source.fileId, v.versionInfo.id) });
          if (backup) steps.push({ do: 'delete-record', key: indexKey(accountId, source.fileId), fileId: source.fileId, bucket: backup, bestEffort: true });
        }
        steps.push({ do: 'delete-object', key: srcKey });
        if (backup) steps.push({ do: 'delete-object', key: srcKey, bucket: backup, bestEffort: true });
      }
      for (const v of dropped) steps.push({ do: 'delete-object', key: versionKey(accountId, targetId, v.versionInfo.id) });
      steps.push(...this.backupSteps(accountId, record, input.backupRegion));
      const stalePaths = input.purge === false ? [] : [input.filePath, ...(move && input.purgeSource !== false ? [source.filePath] : [])];
      const purges = await this.commit(this.intent(move ? 'move' : 'copy', accountId, steps, stalePaths), index);
      return { record, stalePaths, purges };
    });
  }

  /** Deletes one previous version (never the current one: that is files.delete). */
  async deleteVersion(accountId: string, fileId: string, versionId: string, backupRegion?: string): Promise<'deleted' | 'current' | undefined> {
    return this.lock.run(accountId, async () => {
      const index = await this.index(accountId);
      const r = index.get(fileId);
      if (!r) return undefined;
      if (r.versionInfo.id === versionId) return 'current';
      const at = (r.versions ?? []).findIndex((v) => v.versionInfo.id === versionId);
      if (at < 0) return undefined;
      const next: FileRecord = { ...r, versions: r.versions!.filter((_, i) => i !== at) };
      const steps: Step[] = [
        { do: 'put-record', key: indexKey(accountId, fileId), record: next },
        { do: 'delete-object', key: versionKey(accountId, fileId, versionId) },
        ...(backupRegion ? [{ do: 'put-record', key: indexKey(accountId, fileId), record: next, bucket: this.opts.bucketFor(backupRegion), bestEffort: true } satisfies Step] : []),
      ];
      await this.commit(this.intent('delete-version', accountId, steps, []), index);
      return 'deleted';
    });
  }

  /** Makes a previous version current again; the current one becomes a previous version. */
  /** Restores a version as the current bytes; the record and the purges of its path (undefined: no such file or version). */
  async restoreVersion(accountId: string, fileId: string, versionId: string, backupRegion?: string): Promise<{ record: FileRecord; purges: PurgeRef[] } | undefined> {
    return this.lock.run(accountId, async () => {
      const index = await this.index(accountId);
      const r = index.get(fileId);
      if (!r) return undefined;
      if (r.versionInfo.id === versionId) return { record: r, purges: [] };
      const old = (r.versions ?? []).find((v) => v.versionInfo.id === versionId);
      if (!old) return undefined;
      const kept = this.withVersion(r, (r.versions ?? []).filter((v) => v.versionInfo.id !== versionId));
      const next: FileRecord = {
        ...old,
        fileId,
        name: r.name,
        filePath: r.filePath,
        // What describes the file (not the bytes) stays as it is now.
        tags: r.tags,
        customMetadata: r.customMetadata,
        customCoordinates: r.customCoordinates,
        description: r.description,
        isPrivateFile: r.isPrivateFile,
        isPublished: r.isPublished,
        versions: kept.versions,
        createdAt: r.createdAt,
        updatedAt: new Date().toISOString(),
      };
      const steps: Step[] = [
        this.versionStep(accountId, r),
        { do: 'copy', from: versionKey(accountId, fileId, versionId), to: objectKeyFor(accountId, r.filePath), meta: this.meta(next), contentType: next.mime, size: next.size, md5: next.md5 },
        { do: 'put-record', key: indexKey(accountId, fileId), record: next },
        { do: 'delete-object', key: versionKey(accountId, fileId, versionId) },
        ...kept.dropped.map((v): Step => ({ do: 'delete-object', key: versionKey(accountId, fileId, v.versionInfo.id) })),
        ...this.backupSteps(accountId, next, backupRegion),
      ];
      const purges = await this.commit(this.intent('restore', accountId, steps, [r.filePath]), index);
      return { record: next, purges };
    });
  }

  /** Explicitly created folders (folders.create); folders holding files are implied by their paths. */
  async folders(accountId: string): Promise<FolderRecord[]> {
    return (await this.getJson<{ folders: FolderRecord[] }>(foldersKey(accountId)))?.folders ?? [];
  }

  /** Changes the explicit folder list under the account's lock. */
  async changeFolders(accountId: string, change: (folders: FolderRecord[]) => FolderRecord[]): Promise<FolderRecord[]> {
    return this.lock.run(`${accountId}\nfolders`, async () => {
      const next = change(await this.folders(accountId));
      await this.putJson(this.bucket, foldersKey(accountId), { folders: next });
      return next;
    });
  }

  async putJson(bucket: string, key: string, value: unknown): Promise<void> {
    const body = Buffer.from(JSON.stringify(value));
    await this.client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: body,
        ContentType: 'application/json',
        ContentMD5: crypto.createHash('md5').update(body).digest('base64'),
      }),
    );
  }

  async getJson<T>(key: string): Promise<T | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return JSON.parse((await readAll(out.Body)).toString('utf8')) as T;
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw e;
    }
  }

  /** Every key under a prefix of this region's bucket. */
  async keys(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const out = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of out.Contents ?? []) if (o.Key) keys.push(o.Key);
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
    return keys;
  }

  /** Removes temporary uploads older than maxAgeMs (left by a crash mid-upload). */
  async sweepTemporary(maxAgeMs = 60 * 60 * 1000): Promise<number> {
    // A temporary key an intent still names is that intent's source (an account not replayed yet).
    const named = new Set<string>();
    for (const key of await this.keys(`${JOURNAL_PREFIX}/`))
      for (const st of (await this.getJson<Intent>(key))?.steps ?? []) if (st.do === 'copy' && st.from.startsWith(`${TMP_PREFIX}/`)) named.add(st.from);
    let removed = 0;
    let token: string | undefined;
    do {
      const out = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: `${TMP_PREFIX}/`, ContinuationToken: token }));
      for (const o of out.Contents ?? []) {
        if (!o.Key || named.has(o.Key) || (o.LastModified && Date.now() - o.LastModified.getTime() < maxAgeMs)) continue;
        await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: o.Key }));
        removed++;
      }
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
    return removed;
  }
}
