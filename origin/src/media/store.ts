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
 * Writes are atomic: bytes go to a temporary key with Content-MD5 (S3 refuses a body that does
 * not match), the stored ETag is checked against the MD5, then the object is copied server-side
 * to its final key and the temporary key removed. Only the home region writes an account's
 * library, so one in-process lock per account serialises the commit step (path uniqueness).
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
import { s3Client, type S3Location } from '../sources/s3.js';
import { log } from '../log.js';

/** One file of the library, in ImageKit's field names (what details/list return). */
export interface FileRecord {
  type: 'file';
  fileId: string;
  name: string;
  /** "/folder/name.jpg" */
  filePath: string;
  fileType: 'image' | 'non-image';
  mime: string;
  size: number;
  width?: number;
  height?: number;
  hasAlpha?: boolean;
  tags: string[] | null;
  customMetadata: Record<string, unknown>;
  customCoordinates: string | null;
  description?: string;
  isPrivateFile: boolean;
  isPublished: boolean;
  versionInfo: { id: string; name: string };
  createdAt: string;
  updatedAt: string;
  /** Content checksums (hex). */
  md5: string;
  sha256: string;
  /** Previous versions, oldest first (bounded: StoreOptions.maxVersions); bytes under _versions/. */
  versions?: StoredVersion[];
}

/** A previous version of a file: the record as it was (its bytes at versionKey(account, fileId, versionInfo.id)). */
export type StoredVersion = Omit<FileRecord, 'versions'>;

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
}

export const newId = () => crypto.randomBytes(12).toString('hex');

function isMissing(e: unknown): boolean {
  const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
  return err.name === 'NoSuchKey' || err.name === 'NotFound' || err.$metadata?.httpStatusCode === 404;
}

async function readAll(body: unknown): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body as AsyncIterable<Uint8Array>) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

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

  /**
   * Atomic write: temp key (Content-MD5 checked by S3, ETag re-checked here) → server-side copy to
   * the final key → index record → temp key removed; then the backup copy. Returns the record and
   * whether an existing file at the same path was replaced (its cached variants must be purged).
   */
  async put(input: PutFileInput): Promise<{ record: FileRecord; replaced?: FileRecord }> {
    const { accountId, body } = input;
    const md5 = crypto.createHash('md5').update(body).digest();
    const md5Hex = md5.toString('hex');
    const sha256 = crypto.createHash('sha256').update(body).digest('hex');
    const tmpKey = `${TMP_PREFIX}/${accountId}/${crypto.randomUUID()}`;
    await this.client.send(
      new PutObjectCommand({ Bucket: this.bucket, Key: tmpKey, Body: body, ContentMD5: md5.toString('base64'), ContentType: input.record.mime }),
    );
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
        // The replaced file becomes a previous version (its bytes copied aside before the overwrite).
        const history = existing ? await this.keepAsVersion(accountId, existing) : undefined;
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
        const finalKey = objectKeyFor(accountId, record.filePath);
        const metadata = { isprivatefile: String(record.isPrivateFile), fileid: fileId, sha256 };
        await this.client.send(
          new CopyObjectCommand({
            Bucket: this.bucket,
            Key: finalKey,
            CopySource: `${this.bucket}/${encodeURIComponent(tmpKey).replace(/%2F/g, '/')}`,
            MetadataDirective: 'REPLACE',
            Metadata: metadata,
            ContentType: record.mime,
          }),
        );
        try {
          await this.verify(finalKey, body.length, md5Hex);
          await this.putJson(this.bucket, indexKey(accountId, fileId), record);
        } catch (e) {
          // No record, no file: a new path is removed again (a replaced one keeps its old record).
          if (!existing) await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: finalKey })).catch(() => undefined);
          throw e;
        }
        index.set(fileId, record);
        if (history) await this.dropVersions(accountId, fileId, history.dropped);
        if (input.backupRegion) await this.backup(accountId, record, body, md5, metadata, input.backupRegion);
        return { record, replaced: existing };
      });
    } finally {
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
  private async verify(key: string, length: number, md5Hex: string): Promise<void> {
    const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
    if (head.ContentLength !== length) throw new Error(`stored object ${key} has ${head.ContentLength} bytes, the upload ${length}`);
    if (head.ETag?.replace(/"/g, '') === md5Hex) return;
    const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    const got = crypto.createHash('md5').update(await readAll(out.Body)).digest('hex');
    if (got !== md5Hex) throw new Error(`stored object ${key} does not match the upload's MD5`);
  }

  private async backup(accountId: string, record: FileRecord, body: Buffer, md5: Buffer, metadata: Record<string, string>, region: string): Promise<void> {
    const bucket = this.opts.bucketFor(region);
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: objectKeyFor(accountId, record.filePath),
          Body: body,
          ContentMD5: md5.toString('base64'),
          ContentType: record.mime,
          Metadata: metadata,
        }),
      );
      await this.putJson(bucket, indexKey(accountId, record.fileId), record);
    } catch (e) {
      // The primary copy is committed; a failed backup is logged loudly, not reported as a failed upload.
      log.error('backup copy failed', { account: accountId, fileId: record.fileId, bucket, err: String(e) });
    }
  }

  /** Changes a file's record (not its bytes): home index, then the backup's. */
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

  async delete(accountId: string, fileId: string, backupRegion?: string): Promise<FileRecord | undefined> {
    return this.lock.run(accountId, async () => {
      const index = await this.index(accountId);
      const record = index.get(fileId);
      if (!record) return undefined;
      const buckets = [this.bucket, ...(backupRegion ? [this.opts.bucketFor(backupRegion)] : [])];
      for (const bucket of buckets) {
        // Bytes first, then the record: a crash in between leaves a record whose delete can be retried.
        await this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: objectKeyFor(accountId, record.filePath) }));
        await this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: indexKey(accountId, fileId) }));
      }
      index.delete(fileId);
      await this.dropVersions(accountId, fileId, record.versions ?? []);
      return record;
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

  /** Copies a file's current bytes aside as a version; returns its history with it appended, bounded. */
  private async keepAsVersion(accountId: string, r: FileRecord, into: StoredVersion[] = r.versions ?? []): Promise<{ versions: StoredVersion[]; dropped: StoredVersion[] }> {
    await this.copyKey(objectKeyFor(accountId, r.filePath), versionKey(accountId, r.fileId, r.versionInfo.id));
    const all = [...into, snapshot(r)];
    const cut = Math.max(0, all.length - this.maxVersions);
    return { versions: all.slice(cut), dropped: all.slice(0, cut) };
  }

  private async dropVersions(accountId: string, fileId: string, dropped: StoredVersion[]): Promise<void> {
    for (const v of dropped)
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: versionKey(accountId, fileId, v.versionInfo.id) })).catch((e) =>
        log.warn('could not remove an old version', { account: accountId, fileId, version: v.versionInfo.id, err: String(e) }),
      );
  }

  /** The current bytes of a file, or one of its previous versions. */
  async readBytes(accountId: string, r: FileRecord, versionId?: string): Promise<Buffer> {
    const key = versionId && versionId !== r.versionInfo.id ? versionKey(accountId, r.fileId, versionId) : objectKeyFor(accountId, r.filePath);
    const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    return readAll(out.Body);
  }

  /** Mirrors a file's current state (bytes and record) into the backup region's bucket. */
  private async mirror(accountId: string, record: FileRecord, region: string | undefined, removedPath?: string): Promise<void> {
    if (!region) return;
    const bucket = this.opts.bucketFor(region);
    try {
      await this.copyKey(objectKeyFor(accountId, record.filePath), objectKeyFor(accountId, record.filePath), { toBucket: bucket });
      await this.putJson(bucket, indexKey(accountId, record.fileId), record);
      if (removedPath && removedPath !== record.filePath) await this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: objectKeyFor(accountId, removedPath) }));
    } catch (e) {
      log.error('backup mirror failed', { account: accountId, fileId: record.fileId, bucket, err: String(e) });
    }
  }

  /**
   * Copy, move or rename one file (server-side copies only; the bytes never pass through here).
   * A file already at the destination keeps its fileId and gets the source as its newest version
   * (ImageKit: "appended to the destination file version history"), unless replaceExisting is false.
   * Order: bytes at the new key → record → old key removed, so a crash leaves the file readable
   * at its old or its new path, never at neither. Returns the file as it is now and the paths whose
   * cached variants are stale.
   */
  async relocate(input: RelocateInput): Promise<{ record: FileRecord; stalePaths: string[] } | undefined> {
    const { accountId } = input;
    return this.lock.run(accountId, async () => {
      const index = await this.index(accountId);
      const source = index.get(input.fileId);
      if (!source) return undefined;
      if (source.filePath === input.filePath) return { record: source, stalePaths: [] };
      const existing = [...index.values()].find((r) => r.filePath === input.filePath);
      if (existing && !input.replaceExisting) throw new FileExistsError(`a file already exists at ${input.filePath}`);
      const name = input.filePath.slice(input.filePath.lastIndexOf('/') + 1);
      const now = new Date().toISOString();
      const srcKey = objectKeyFor(accountId, source.filePath);
      const dstKey = objectKeyFor(accountId, input.filePath);
      const bringVersions = input.mode === 'move' || input.includeVersions === true;
      const metadata = (r: FileRecord) => ({ isprivatefile: String(r.isPrivateFile), fileid: r.fileId, sha256: r.sha256 });
      let record: FileRecord;
      let dropped: StoredVersion[] = [];
      const targetId = existing?.fileId ?? (input.mode === 'move' ? source.fileId : newId());
      // Previous versions of the source, re-keyed when the fileId changes.
      const carried = bringVersions ? (source.versions ?? []) : [];
      if (targetId !== source.fileId)
        for (const v of carried) await this.copyKey(versionKey(accountId, source.fileId, v.versionInfo.id), versionKey(accountId, targetId, v.versionInfo.id));
      if (existing) {
        const kept = await this.keepAsVersion(accountId, existing, [...(existing.versions ?? []), ...carried.map((v) => ({ ...v, fileId: targetId }))]);
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
      await this.copyKey(srcKey, dstKey, { metadata: metadata(record), contentType: record.mime });
      await this.verify(dstKey, record.size, record.md5);
      await this.putJson(this.bucket, indexKey(accountId, targetId), record);
      index.set(targetId, record);
      const stalePaths = [input.filePath];
      if (input.mode === 'move') {
        if (targetId !== source.fileId) {
          await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: indexKey(accountId, source.fileId) }));
          index.delete(source.fileId);
          for (const v of source.versions ?? []) await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: versionKey(accountId, source.fileId, v.versionInfo.id) })).catch(() => undefined);
        }
        await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: srcKey }));
        stalePaths.push(source.filePath);
        if (input.backupRegion) {
          const bucket = this.opts.bucketFor(input.backupRegion);
          if (targetId !== source.fileId) await this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: indexKey(accountId, source.fileId) })).catch(() => undefined);
        }
      }
      await this.dropVersions(accountId, targetId, dropped);
      await this.mirror(accountId, record, input.backupRegion, input.mode === 'move' ? source.filePath : undefined);
      return { record, stalePaths };
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
      await this.putJson(this.bucket, indexKey(accountId, fileId), next);
      index.set(fileId, next);
      await this.dropVersions(accountId, fileId, [r.versions![at]!]);
      if (backupRegion) await this.putJson(this.opts.bucketFor(backupRegion), indexKey(accountId, fileId), next).catch(() => undefined);
      return 'deleted';
    });
  }

  /** Makes a previous version current again; the current one becomes a previous version. */
  async restoreVersion(accountId: string, fileId: string, versionId: string, backupRegion?: string): Promise<FileRecord | undefined> {
    return this.lock.run(accountId, async () => {
      const index = await this.index(accountId);
      const r = index.get(fileId);
      if (!r) return undefined;
      if (r.versionInfo.id === versionId) return r;
      const old = (r.versions ?? []).find((v) => v.versionInfo.id === versionId);
      if (!old) return undefined;
      const kept = await this.keepAsVersion(accountId, r, (r.versions ?? []).filter((v) => v.versionInfo.id !== versionId));
      const key = objectKeyFor(accountId, r.filePath);
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
      await this.client.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key: key,
          CopySource: `${this.bucket}/${encodeURIComponent(versionKey(accountId, fileId, versionId)).replace(/%2F/g, '/')}`,
          MetadataDirective: 'REPLACE',
          Metadata: { isprivatefile: String(next.isPrivateFile), fileid: fileId, sha256: next.sha256 },
          ContentType: next.mime,
        }),
      );
      await this.verify(key, next.size, next.md5);
      await this.putJson(this.bucket, indexKey(accountId, fileId), next);
      index.set(fileId, next);
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: versionKey(accountId, fileId, versionId) })).catch(() => undefined);
      await this.dropVersions(accountId, fileId, kept.dropped);
      await this.mirror(accountId, next, backupRegion);
      return next;
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
    let removed = 0;
    let token: string | undefined;
    do {
      const out = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: `${TMP_PREFIX}/`, ContinuationToken: token }));
      for (const o of out.Contents ?? []) {
        if (!o.Key || (o.LastModified && Date.now() - o.LastModified.getTime() < maxAgeMs)) continue;
        await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: o.Key }));
        removed++;
      }
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
    return removed;
  }
}
