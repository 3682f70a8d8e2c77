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
 * A thin layer over @aws-sdk/client-s3 that says "missing" as null instead of throwing.
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

export interface BucketObject {
  body: Buffer;
  lastModified?: Date;
  metadata: Record<string, string>;
}

export interface Listed {
  key: string;
  size: number;
  lastModified: number;
}

export const sha256 = (s: string) => crypto.createHash('sha256').update(s).digest('hex');

export class RegionBucket {
  private readonly client: S3Client;
  constructor(
    readonly name: string,
    s3: S3Location,
    private readonly timeoutMs = 5_000,
  ) {
    this.client = s3Client(s3);
  }

  private signal(): AbortSignal {
    return AbortSignal.timeout(this.timeoutMs);
  }

  /** Creates the bucket when it does not exist (local clusters; production creates it with its lifecycle rules). */
  async ensure(): Promise<void> {
    await this.client.send(new CreateBucketCommand({ Bucket: this.name }), { abortSignal: this.signal() }).catch((e: { name?: string }) => {
      if (e.name !== 'BucketAlreadyOwnedByYou' && e.name !== 'BucketAlreadyExists') throw e;
    });
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

  async put(key: string, body: Buffer | string, contentType = 'application/octet-stream', metadata?: Record<string, string>): Promise<void> {
    const data = typeof body === 'string' ? Buffer.from(body) : body;
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.name,
        Key: key,
        Body: data,
        ContentType: contentType,
        ContentMD5: crypto.createHash('md5').update(data).digest('base64'),
        Metadata: metadata,
      }),
      { abortSignal: this.signal() },
    );
  }

  async getJson<T>(key: string): Promise<T | null> {
    const o = await this.get(key);
    return o ? (JSON.parse(o.body.toString('utf8')) as T) : null;
  }

  putJson(key: string, value: unknown): Promise<void> {
    return this.put(key, JSON.stringify(value), 'application/json');
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.name, Key: key }), { abortSignal: this.signal() });
  }

  /** Deletes many keys (batches of 1000; S3's DeleteObjects needs Content-MD5, which the SDK adds). */
  async deleteMany(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      if (batch.length === 1) await this.delete(batch[0]!);
      else await this.client.send(new DeleteObjectsCommand({ Bucket: this.name, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }), { abortSignal: this.signal() }).catch(async () => {
        // Some S3-compatible servers refuse batch deletes without a checksum header: one by one then.
        for (const k of batch) await this.delete(k);
      });
    }
  }

  /** Every object under a prefix (after startAfter, in key order), at most `limit`. */
  async list(prefix: string, opts: { startAfter?: string; limit?: number } = {}): Promise<Listed[]> {
    const out: Listed[] = [];
    let token: string | undefined;
    const limit = opts.limit ?? Infinity;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.name, Prefix: prefix, ContinuationToken: token, StartAfter: token ? undefined : opts.startAfter }),
        { abortSignal: this.signal() },
      );
      for (const o of page.Contents ?? []) if (o.Key) out.push({ key: o.Key, size: o.Size ?? 0, lastModified: o.LastModified?.getTime() ?? 0 });
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token && out.length < limit);
    return out;
  }
}
