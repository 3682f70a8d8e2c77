/** S3 / S3-compatible access through @aws-sdk/client-s3 (clients are reused per endpoint + key). */
import { GetObjectCommand, S3Client, type GetObjectCommandOutput } from '@aws-sdk/client-s3';
import type { S3Origin } from '../../../shared/accounts.js';
import { guardedAgents } from './safe-fetch.js';

/**
 * Where an S3-protocol store is and how to sign for it: an account's S3 origin without its bucket
 * and prefix (the media-library and shared-tier buckets use the same shape). allowPrivateNetwork
 * false: the endpoint may resolve to public addresses only (origins a customer configured); absent: trusted.
 */
export type S3Location = Omit<S3Origin, 'type' | 'bucket' | 'prefix'>;

const clients = new Map<string, S3Client>();

/** The S3 error of an object that is not there (NoSuchKey on GET, NotFound on HEAD, or any 404). */
export function isMissing(e: unknown): boolean {
  const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
  return err.name === 'NoSuchKey' || err.name === 'NotFound' || err.$metadata?.httpStatusCode === 404;
}

/** An S3 object body (a Node stream from the SDK) read into memory: only for objects this service wrote itself (records, small files). */
export async function readAll(body: unknown): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body as AsyncIterable<Uint8Array>) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

export function s3Client(loc: S3Location): S3Client {
  const id = JSON.stringify([loc.endpoint, loc.region, loc.accessKeyId, loc.secretAccessKey, loc.forcePathStyle, loc.allowPrivateNetwork]);
  let client = clients.get(id);
  if (!client) {
    // A customer's endpoint connects only where safe-fetch would (names checked on every connection).
    const guard = loc.allowPrivateNetwork === undefined ? undefined : guardedAgents(loc.allowPrivateNetwork);
    if (guard && loc.endpoint) guard.checkLiteral(new URL(loc.endpoint).hostname);
    client = new S3Client({
      ...(guard ? { requestHandler: { httpAgent: guard.httpAgent, httpsAgent: guard.httpsAgent } } : {}),
      endpoint: loc.endpoint,
      region: loc.region,
      forcePathStyle: loc.forcePathStyle ?? Boolean(loc.endpoint),
      credentials: loc.accessKeyId && loc.secretAccessKey ? { accessKeyId: loc.accessKeyId, secretAccessKey: loc.secretAccessKey } : undefined,
      // s3rver (local) and several S3-compatible servers mangle streamed checksummed uploads.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 2,
    });
    clients.set(id, client);
  }
  return client;
}

export interface S3Object {
  body: Buffer;
  contentType?: string;
  etag?: string;
  lastModified?: number;
  metadata: Record<string, string>;
}

/** S3's hard limit on key length (UTF-8 bytes); longer keys cannot exist. */
export const S3_MAX_KEY_BYTES = 1024;
/** File-system backed S3 servers (s3rver, MinIO) cannot hold a path segment longer than this. */
const FS_MAX_SEGMENT_BYTES = 255;

const timedOut = (what: string, ms: number) => Object.assign(new Error(`S3 ${what} timed out after ${ms} ms`), { code: 'ETIMEDOUT' });

/**
 * Reads an object, or returns null when it does not exist. Refuses bodies over maxBytes. The whole
 * read (request, retries, body) is bounded by timeoutMs: a hanging S3 endpoint cannot hold a request forever.
 */
export async function getS3Object(loc: S3Location, bucket: string, key: string, maxBytes: number, timeoutMs = 30_000): Promise<S3Object | null> {
  if (Buffer.byteLength(key) > S3_MAX_KEY_BYTES) return null;
  const signal = AbortSignal.timeout(timeoutMs);
  let out: GetObjectCommandOutput;
  try {
    out = await s3Client(loc).send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
  } catch (e) {
    const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
    const status = err.$metadata?.httpStatusCode ?? 0;
    if (isMissing(e) || err.name === 'NoSuchBucket') return null;
    // A key the store refuses as such (KeyTooLongError, InvalidObjectName …) cannot exist there.
    if (status === 400) return null;
    if (signal.aborted) throw timedOut('request', timeoutMs);
    // File-system backed servers fail (500) on a segment longer than a file name may be: not there either.
    if (status >= 500 && key.split('/').some((seg) => Buffer.byteLength(seg) > FS_MAX_SEGMENT_BYTES)) return null;
    throw e;
  }
  const stream = out.Body as (AsyncIterable<Uint8Array> & { destroy?: (e?: Error) => void }) | undefined;
  const onAbort = () => stream?.destroy?.(timedOut('body', timeoutMs));
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await readBody(out, maxBytes);
  } catch (e) {
    if (signal.aborted) throw timedOut('body', timeoutMs);
    throw e;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

async function readBody(out: GetObjectCommandOutput, maxBytes: number): Promise<S3Object> {
  if (out.ContentLength !== undefined && out.ContentLength > maxBytes) {
    (out.Body as { destroy?: () => void } | undefined)?.destroy?.();
    throw Object.assign(new Error(`object is ${out.ContentLength} bytes, over the ${maxBytes}-byte input limit`), { code: 'ELIMIT' });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of out.Body as AsyncIterable<Uint8Array>) {
    size += chunk.length;
    if (size > maxBytes) {
      (out.Body as { destroy?: () => void }).destroy?.();
      throw Object.assign(new Error(`object is over the ${maxBytes}-byte input limit`), { code: 'ELIMIT' });
    }
    chunks.push(Buffer.from(chunk));
  }
  return { body: Buffer.concat(chunks), contentType: out.ContentType, etag: out.ETag, lastModified: out.LastModified?.getTime(), metadata: out.Metadata ?? {} };
}
