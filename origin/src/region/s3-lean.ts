/**
 * A small S3 client for the region's own bucket: SigV4 (the `aws4` library, synchronous
 * node:crypto) over node:http/https with a keep-alive agent, and the few XML shapes the bucket
 * needs (ListObjectsV2, DeleteObjects, errors) read by hand.
 *
 * Why not @aws-sdk/client-s3 here: every SDK call costs ≈ 1.7–2 ms of main-thread CPU (middleware
 * stack, endpoint rules, XML deserialiser), paid by the shared-tier PUT of every cold render and
 * by the idle polls (members, purges) — docs/benchmarks.md "Round 6 (lean S3 client)". This path
 * is used only with static credentials; without them RegionBucket keeps the SDK (its provider chain).
 */
import crypto from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import aws4 from 'aws4';
import { guardedAgents } from '../sources/safe-fetch.js';
import type { S3Location } from '../sources/s3.js';

export interface LeanResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** An S3 error as the SDK shapes it (name = S3's error code, $metadata.httpStatusCode), so callers' checks stay the same. */
export class S3Error extends Error {
  readonly $metadata: { httpStatusCode: number };
  constructor(name: string, message: string, status: number) {
    super(message);
    this.name = name;
    this.$metadata = { httpStatusCode: status };
  }
}

/** RFC 3986 encoding, as SigV4's canonical request wants it (encodeURIComponent leaves !'()* alone). */
export const encodeRfc3986 = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
/** XML text → string (the five named entities and numeric references). */
export const xmlText = (s: string) =>
  s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (m, e: string) =>
    e[0] === '#' ? String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : Number(e.slice(1))) : (ENTITIES[e] ?? m));
export const xmlEscape = (s: string) => s.replace(/[&<>"']/g, (c) => `&${({ '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot', "'": 'apos' } as Record<string, string>)[c]};`);

/** The text of the first <tag>…</tag> in xml, or undefined. */
export function xmlTag(xml: string, tag: string): string | undefined {
  const open = xml.indexOf(`<${tag}>`);
  if (open < 0) return undefined;
  const start = open + tag.length + 2;
  const end = xml.indexOf(`</${tag}>`, start);
  return end < 0 ? undefined : xmlText(xml.slice(start, end));
}

export interface ListPage {
  contents: { key: string; size: number; lastModified: number; etag?: string }[];
  nextToken?: string;
}

/** A ListObjectsV2 result page. */
export function parseListPage(xml: string): ListPage {
  const contents: ListPage['contents'] = [];
  let at = 0;
  for (;;) {
    const open = xml.indexOf('<Contents>', at);
    if (open < 0) break;
    const close = xml.indexOf('</Contents>', open);
    if (close < 0) break;
    const item = xml.slice(open + 10, close);
    const key = xmlTag(item, 'Key');
    if (key !== undefined) contents.push({ key, size: Number(xmlTag(item, 'Size') ?? 0), lastModified: Date.parse(xmlTag(item, 'LastModified') ?? '') || 0, etag: xmlTag(item, 'ETag') });
    at = close + 11;
  }
  const truncated = xmlTag(xml, 'IsTruncated') === 'true';
  return { contents, nextToken: truncated ? xmlTag(xml, 'NextContinuationToken') : undefined };
}

/** The DeleteObjects request body (quiet: only failures are reported back). */
export const deleteBody = (keys: string[]) =>
  `<?xml version="1.0" encoding="UTF-8"?><Delete><Quiet>true</Quiet>${keys.map((k) => `<Object><Key>${xmlEscape(k)}</Key></Object>`).join('')}</Delete>`;

/** Where a bucket's objects are addressed: path style (`endpoint/bucket/key`) or virtual host (`bucket.endpoint/key`), as the SDK decides. */
export function bucketBase(loc: Pick<S3Location, 'endpoint' | 'region' | 'forcePathStyle'>, bucket: string): { origin: URL; prefix: string } {
  const endpoint = new URL(loc.endpoint || `https://s3.${loc.region}.amazonaws.com`);
  const basePath = endpoint.pathname.replace(/\/+$/, '');
  // Dotted names break TLS under a wildcard certificate: the SDK addresses them path style over https.
  const pathStyle = (loc.forcePathStyle ?? Boolean(loc.endpoint)) || (endpoint.protocol === 'https:' && bucket.includes('.'));
  if (pathStyle) return { origin: endpoint, prefix: `${basePath}/${encodeRfc3986(bucket)}` };
  const origin = new URL(endpoint.href);
  origin.hostname = `${bucket}.${endpoint.hostname}`;
  return { origin, prefix: basePath };
}

export interface RequestOptions {
  key?: string;
  query?: string;
  headers?: Record<string, string | number>;
  body?: Buffer;
  signal: AbortSignal;
}

export class LeanS3 {
  private readonly agent: http.Agent;
  private readonly transport: typeof http | typeof https;
  private readonly origin: URL;
  private readonly prefix: string;
  private readonly credentials: { accessKeyId: string; secretAccessKey: string };
  private readonly region: string;

  constructor(
    loc: S3Location & { accessKeyId: string; secretAccessKey: string },
    readonly bucket: string,
  ) {
    ({ origin: this.origin, prefix: this.prefix } = bucketBase(loc, bucket));
    const tls = this.origin.protocol === 'https:';
    this.transport = tls ? https : http;
    const guard = loc.allowPrivateNetwork === undefined ? undefined : guardedAgents(loc.allowPrivateNetwork);
    if (guard) guard.checkLiteral(this.origin.hostname);
    this.agent = guard ? (tls ? guard.httpsAgent : guard.httpAgent) : new (tls ? https.Agent : http.Agent)({ keepAlive: true, maxSockets: 50 });
    this.credentials = { accessKeyId: loc.accessKeyId, secretAccessKey: loc.secretAccessKey };
    this.region = loc.region || 'us-east-1';
  }

  /** One signed request; a network error or a 5xx is tried once more (as the SDK's maxAttempts 2). Non-2xx → S3Error. */
  async request(method: string, o: RequestOptions): Promise<LeanResponse> {
    let res: LeanResponse | undefined;
    for (let attempt = 1; !res; attempt++) {
      try {
        res = await this.once(method, o);
        if (res.status >= 500 && attempt < 2 && !o.signal.aborted) res = undefined;
      } catch (e) {
        if (o.signal.aborted || attempt >= 2) throw e;
      }
    }
    if (res.status >= 300) {
      const xml = res.body.toString('utf8');
      const code = xmlTag(xml, 'Code') ?? (res.status === 404 ? 'NotFound' : res.status === 403 ? 'Forbidden' : `Http${res.status}`);
      throw new S3Error(code, xmlTag(xml, 'Message') ?? `S3 ${method} answered ${res.status}`, res.status);
    }
    return res;
  }

  private once(method: string, o: RequestOptions): Promise<LeanResponse> {
    const path = `${this.prefix}/${o.key === undefined ? '' : o.key.split('/').map(encodeRfc3986).join('/')}${o.query ? `?${o.query}` : ''}`;
    const headers: Record<string, string | number> = { Host: this.origin.host, ...o.headers };
    if (o.body) headers['Content-Length'] = o.body.length;
    const signed = aws4.sign({ service: 's3', region: this.region, method, path, headers, body: o.body }, this.credentials);
    return new Promise<LeanResponse>((resolve, reject) => {
      const req = this.transport.request(
        { protocol: this.origin.protocol, hostname: this.origin.hostname, port: this.origin.port || undefined, method, path, headers: signed.headers as http.OutgoingHttpHeaders, agent: this.agent, signal: o.signal },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(o.body);
    });
  }
}

export const md5Base64 = (b: Buffer) => crypto.createHash('md5').update(b).digest('base64');
