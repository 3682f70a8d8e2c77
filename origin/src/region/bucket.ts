/**
 * The region's own bucket (`pixmesh-cache-<region>`): the state every replica of a region shares.
 * Layout (docs/deploy.md#the-regional-bucket):
 *
 *   v/<account>/<path>/@<sha256 of the variant key>   shared result tier (same encoding as the disk L1)
 *   v/<account>/_h/<sha256 of path>/@<sha256>         … for paths too long for a key
 *   purges/<unix ms, 15 digits>-<id>.json             purge records every replica honours
 *   members/<replica id hash>.json                    heartbeats: live replicas and their hit counts
 *   tokens/<account>/<sha256 of token>                client-side upload tokens already used
 *
 * A thin layer that says "missing" as null instead of throwing. With static credentials (every
 * deployment and test here) it speaks S3 through the lean client (./s3-lean.ts: ≈ 10× less CPU
 * per call than the SDK); without them, through @aws-sdk/client-s3 and its credential provider chain.
 */
import crypto from 'node:crypto';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { isMissing, readAll, s3Client, type S3Location } from '../sources/s3.js';
import { LeanS3, deleteBody, md5Base64, parseListPage } from './s3-lean.js';

export interface BucketObject {
  body: Buffer;
  lastModified?: Date;
  metadata: Record<string, string>;
}

export interface Listed {
  key: string;
  size: number;
  lastModified: number;
  /** The object's ETag as S3 lists it (quoted). */
  etag?: string;
}

export const sha256 = (s: string) => crypto.createHash('sha256').update(s).digest('hex');

/** What RegionBucket needs from an S3 client (two of them: lean and SDK). */
interface BucketBackend {
  ensure(): Promise<void>;
  get(key: string): Promise<BucketObject | null>;
  exists(key: string): Promise<boolean>;
  put(key: string, data: Buffer, contentType: string, metadata?: Record<string, string>): Promise<string | undefined>;
  delete(key: string): Promise<void>;
  deleteBatch(keys: string[]): Promise<void>;
  listPage(prefix: string, token: string | undefined, startAfter: string | undefined, maxKeys: number): Promise<{ items: Listed[]; next?: string }>;
}

const ignoreExisting = (e: { name?: string }) => {
  if (e.name !== 'BucketAlreadyOwnedByYou' && e.name !== 'BucketAlreadyExists') throw e;
};

class LeanBackend implements BucketBackend {
  private readonly s3: LeanS3;
  constructor(
    private readonly name: string,
    s3: S3Location & { accessKeyId: string; secretAccessKey: string },
    private readonly signal: () => AbortSignal,
  ) {
    this.s3 = new LeanS3(s3, name);
  }

  async ensure() {
    await this.s3.request('PUT', { signal: this.signal() }).catch(ignoreExisting);
  }

  async get(key: string): Promise<BucketObject | null> {
    try {
      const r = await this.s3.request('GET', { key, signal: this.signal() });
      const metadata: Record<string, string> = {};
      for (const h in r.headers) if (h.startsWith('x-amz-meta-')) metadata[h.slice(11)] = String(r.headers[h]);
      const lm = r.headers['last-modified'];
      return { body: r.body, lastModified: lm ? new Date(lm) : undefined, metadata };
    } catch (e) {
      if (isMissing(e)) return null;
      throw e;
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.s3.request('HEAD', { key, signal: this.signal() });
      return true;
    } catch (e) {
      if (isMissing(e)) return false;
      throw e;
    }
  }

  async put(key: string, data: Buffer, contentType: string, metadata?: Record<string, string>) {
    const headers: Record<string, string> = { 'Content-Type': contentType, 'Content-MD5': md5Base64(data) };
    for (const k in metadata) headers[`x-amz-meta-${k}`] = metadata[k]!;
    const r = await this.s3.request('PUT', { key, body: data, headers, signal: this.signal() });
    return r.headers.etag;
  }

  async delete(key: string) {
    await this.s3.request('DELETE', { key, signal: this.signal() });
  }

  async deleteBatch(keys: string[]) {
    const body = Buffer.from(deleteBody(keys));
    await this.s3.request('POST', { query: 'delete=', body, headers: { 'Content-Type': 'application/xml', 'Content-MD5': md5Base64(body) }, signal: this.signal() });
  }

  async listPage(prefix: string, token: string | undefined, startAfter: string | undefined, maxKeys: number) {
    const enc = encodeURIComponent;
    const query = `list-type=2&max-keys=${maxKeys}&prefix=${enc(prefix)}${token ? `&continuation-token=${enc(token)}` : startAfter ? `&start-after=${enc(startAfter)}` : ''}`;
    const page = parseListPage((await this.s3.request('GET', { query, signal: this.signal() })).body.toString('utf8'));
    return { items: page.contents, next: page.nextToken };
  }
}

class SdkBackend implements BucketBackend {
  private readonly client: S3Client;
  constructor(
    private readonly name: string,
    s3: S3Location,
    private readonly signal: () => AbortSignal,
  ) {
    this.client = s3Client(s3);
  }

  async ensure() {
    await this.client.send(new CreateBucketCommand({ Bucket: this.name }), { abortSignal: this.signal() }).catch(ignoreExisting);
  }

  async get(key: string): Promise<BucketObject | null> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.name, Key: key }), { abortSignal: this.signal() });
      return { body: await readAll(out.Body), lastModified: out.LastModified, metadata: out.Metadata ?? {} };
    } catch (e) {
      if (isMissing(e)) return null;
      throw e;
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.name, Key: key }), { abortSignal: this.signal() });
      return true;
    } catch (e) {
      if (isMissing(e)) return false;
      throw e;
    }
  }

  async put(key: string, data: Buffer, contentType: string, metadata?: Record<string, string>) {
    const out = await this.client.send(
      new PutObjectCommand({ Bucket: this.name, Key: key, Body: data, ContentType: contentType, ContentMD5: crypto.createHash('md5').update(data).digest('base64'), Metadata: metadata }),
      { abortSignal: this.signal() },
    );
    return out.ETag;
  }

  async delete(key: string) {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.name, Key: key }), { abortSignal: this.signal() });
  }

  async deleteBatch(keys: string[]) {
    await this.client.send(new DeleteObjectsCommand({ Bucket: this.name, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } }), { abortSignal: this.signal() });
  }

  async listPage(prefix: string, token: string | undefined, startAfter: string | undefined, maxKeys: number) {
    const page = await this.client.send(
      new ListObjectsV2Command({ Bucket: this.name, Prefix: prefix, MaxKeys: maxKeys, ContinuationToken: token, StartAfter: token ? undefined : startAfter }),
      { abortSignal: this.signal() },
    );
    const items: Listed[] = [];
    for (const o of page.Contents ?? []) if (o.Key) items.push({ key: o.Key, size: o.Size ?? 0, lastModified: o.LastModified?.getTime() ?? 0, etag: o.ETag });
    return { items, next: page.IsTruncated ? page.NextContinuationToken : undefined };
  }
}

export class RegionBucket {
  private readonly backend: BucketBackend;
  /** 'lean' with static credentials, 'sdk' otherwise (the SDK's provider chain: environment, instance roles …). */
  readonly client: 'lean' | 'sdk';
  constructor(
    readonly name: string,
    s3: S3Location,
    private readonly timeoutMs = 5_000,
    client: 'lean' | 'sdk' = s3.accessKeyId && s3.secretAccessKey ? 'lean' : 'sdk',
  ) {
    const signal = () => AbortSignal.timeout(this.timeoutMs);
    this.client = client;
    const { accessKeyId, secretAccessKey } = s3;
    this.backend = client === 'lean' && accessKeyId && secretAccessKey ? new LeanBackend(name, { ...s3, accessKeyId, secretAccessKey }, signal) : new SdkBackend(name, s3, signal);
  }

  /** Creates the bucket when it does not exist (local clusters; production creates it with its lifecycle rules). */
  ensure(): Promise<void> {
    return this.backend.ensure();
  }

  get(key: string): Promise<BucketObject | null> {
    return this.backend.get(key);
  }

  exists(key: string): Promise<boolean> {
    return this.backend.exists(key);
  }

  /** Stores an object; resolves to its ETag when the store gave one. */
  put(key: string, body: Buffer | string, contentType = 'application/octet-stream', metadata?: Record<string, string>): Promise<string | undefined> {
    return this.backend.put(key, typeof body === 'string' ? Buffer.from(body) : body, contentType, metadata);
  }

  async getJson<T>(key: string): Promise<T | null> {
    const o = await this.get(key);
    return o ? (JSON.parse(o.body.toString('utf8')) as T) : null;
  }

  putJson(key: string, value: unknown): Promise<string | undefined> {
    return this.put(key, JSON.stringify(value), 'application/json');
  }

  delete(key: string): Promise<void> {
    return this.backend.delete(key);
  }

  /** Deletes many keys (batches of 1000; S3's DeleteObjects needs Content-MD5). */
  async deleteMany(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      if (batch.length === 1) await this.delete(batch[0]!);
      else await this.backend.deleteBatch(batch).catch(async () => {
        // Some S3-compatible servers refuse batch deletes without a checksum header: one by one then.
        for (const k of batch) await this.delete(k);
      });
    }
  }

  /** Every object under a prefix (after startAfter, in key order), pages of pageSize (≤ 1000) until at least `limit`. */
  async list(prefix: string, opts: { startAfter?: string; limit?: number; pageSize?: number } = {}): Promise<Listed[]> {
    const out: Listed[] = [];
    let token: string | undefined;
    const limit = opts.limit ?? Infinity;
    do {
      const page = await this.backend.listPage(prefix, token, opts.startAfter, opts.pageSize ?? 1000);
      for (const o of page.items) out.push(o);
      token = page.next;
    } while (token && out.length < limit);
    return out;
  }
}
