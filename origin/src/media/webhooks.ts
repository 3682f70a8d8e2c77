/**
 * Webhooks (docs/management-api.md "Webhooks"): the home region POSTs ImageKit's events
 * (`{id, type, created_at, data}`) to the account's endpoints (account file `webhooks`), signed
 * in the Standard Webhooks scheme with the `standardwebhooks` package — the same package the SDK's
 * `client.webhooks.unwrap()` verifies with, so the two cannot disagree on the signature.
 *
 * Durable: an event is written to the home bucket (`_webhooks/pending/<account>/<eventId>.<n>.json`,
 * one per endpoint) before the call that caused it answers, and a region that restarts resumes
 * what is pending. Each attempt goes through safe-fetch (public addresses only unless the
 * endpoint opts in, no redirects, bounded time); a failure (network, timeout, non-2xx) is retried
 * after the next delay of PIXMESH_WEBHOOK_BACKOFF_MS, re-signed with a fresh timestamp and the same
 * `webhook-id`. The outcome (delivered / failed / dropped, with every attempt) is kept as the
 * delivery log under `_webhooks/log/<account>/<eventId>.<n>.json`, readable by the operator.
 */
import crypto from 'node:crypto';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Webhook } from 'standardwebhooks';
import type { Account, WebhookEndpoint, WebhookEventType } from '../../../shared/accounts.js';
import { log } from '../log.js';
import { safeFetch, SafeFetchError } from '../sources/safe-fetch.js';

export const WEBHOOKS_PREFIX = '_webhooks';
const pendingKey = (account: string, name: string) => `${WEBHOOKS_PREFIX}/pending/${account}/${name}.json`;
const logKey = (account: string, name: string) => `${WEBHOOKS_PREFIX}/log/${account}/${name}.json`;

export interface Delivery {
  account: string;
  /** `<eventId>.<endpoint index>` */
  name: string;
  url: string;
  eventId: string;
  body: string;
  createdAt: string;
  nextAt: number;
  attempts: { at: string; status?: number; error?: string }[];
  outcome?: 'delivered' | 'failed' | 'dropped';
}

export interface WebhookSettings {
  /** Delays before each retry (ms); attempts = delays + 1. */
  backoffMs: number[];
  timeoutMs: number;
}

/** PIXMESH_WEBHOOK_BACKOFF_MS (default 1 s, 5 s, 30 s, 2 min, 10 min, 30 min) and PIXMESH_WEBHOOK_TIMEOUT_MS (10 s). */
export function webhookSettings(env: NodeJS.ProcessEnv = process.env): WebhookSettings {
  const raw = env.PIXMESH_WEBHOOK_BACKOFF_MS ?? '1000,5000,30000,120000,600000,1800000';
  const backoffMs = raw.split(',').map((x) => Number(x.trim()));
  if (backoffMs.length > 20 || backoffMs.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`PIXMESH_WEBHOOK_BACKOFF_MS must be up to 20 comma-separated positive integers (got "${raw}")`);
  const timeoutMs = Number(env.PIXMESH_WEBHOOK_TIMEOUT_MS ?? 10_000);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 100) throw new Error(`PIXMESH_WEBHOOK_TIMEOUT_MS must be an integer ≥ 100`);
  return { backoffMs, timeoutMs };
}

/** The signer for an endpoint's secret: `whsec_<base64>` as Standard Webhooks writes it, any other string as its bytes (the SDK's `webhookSecret`). */
export function signer(secret: string): Webhook {
  return secret.startsWith('whsec_') ? new Webhook(secret) : new Webhook(Buffer.from(secret, 'utf8').toString('base64'));
}

/** The Standard Webhooks headers for one attempt. */
export function signedHeaders(secret: string, eventId: string, body: string, now = new Date()): Record<string, string> {
  return {
    'content-type': 'application/json',
    'user-agent': 'pixmesh-webhooks/0.1',
    'webhook-id': eventId,
    'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
    'webhook-signature': signer(secret).sign(eventId, now, body),
  };
}

const wants = (e: WebhookEndpoint, type: WebhookEventType) => !e.events || e.events.includes(type);

export class WebhookOutbox {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    /** The account as it is now (endpoints and secrets are looked up at each attempt). */
    private readonly account: (id: string) => Account | undefined,
    private readonly settings: WebhookSettings,
  ) {}

  /** Records the event for every endpoint that wants it (durably), then sends it in the background. */
  async emit(account: Account, type: WebhookEventType, data: unknown): Promise<void> {
    const endpoints = (account.webhooks ?? []).map((e, i) => [e, i] as const).filter(([e]) => wants(e, type));
    if (endpoints.length === 0) return;
    const eventId = crypto.randomUUID();
    const body = JSON.stringify({ id: eventId, type, created_at: new Date().toISOString(), data });
    for (const [e, i] of endpoints) {
      const d: Delivery = { account: account.id, name: `${eventId}.${i}`, url: e.url, eventId, body, createdAt: new Date().toISOString(), nextAt: Date.now(), attempts: [] };
      try {
        await this.put(pendingKey(d.account, d.name), d);
      } catch (err) {
        log.error('webhook event could not be stored; it is not sent', { account: account.id, type, err: String(err) });
        continue;
      }
      this.schedule(d, 0);
    }
  }

  /** Schedules every pending delivery (after a restart). */
  async resume(): Promise<number> {
    let token: string | undefined;
    let n = 0;
    do {
      const out = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: `${WEBHOOKS_PREFIX}/pending/`, ContinuationToken: token }));
      for (const o of out.Contents ?? []) {
        const d = o.Key ? await this.read(o.Key) : undefined;
        if (!d || this.timers.has(d.name)) continue;
        this.schedule(d, Math.max(0, d.nextAt - Date.now()));
        n++;
      }
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
    return n;
  }

  /** The delivery log of one account (newest last), for the operator. */
  async deliveries(accountId: string): Promise<Delivery[]> {
    const out: Delivery[] = [];
    for (const state of ['log', 'pending'] as const) {
      const list = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: `${WEBHOOKS_PREFIX}/${state}/${accountId}/` }));
      for (const o of list.Contents ?? []) {
        const d = o.Key ? await this.read(o.Key) : undefined;
        if (d) out.push(d);
      }
    }
    return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private schedule(d: Delivery, delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.timers.get(d.name));
    const t = setTimeout(() => {
      this.timers.delete(d.name);
      this.attempt(d).catch((err) => log.warn('webhook attempt failed to record', { account: d.account, name: d.name, err: String(err) }));
    }, delayMs);
    t.unref();
    this.timers.set(d.name, t);
  }

  private async attempt(d: Delivery): Promise<void> {
    const endpoint = this.account(d.account)?.webhooks?.find((e) => e.url === d.url);
    if (!endpoint) return this.finish(d, 'dropped'); // the endpoint was removed from the account
    const at = new Date();
    let status: number | undefined;
    let error: string | undefined;
    try {
      const res = await safeFetch(d.url, {
        method: 'POST',
        body: Buffer.from(d.body, 'utf8'),
        headers: { ...signedHeaders(endpoint.secret, d.eventId, d.body, at), accept: '*/*' },
        allowPrivateNetwork: endpoint.allowPrivateNetwork,
        maxRedirects: 0,
        maxBytes: 64 * 1024,
        connectTimeoutMs: Math.min(5000, this.settings.timeoutMs),
        headerTimeoutMs: this.settings.timeoutMs,
        bodyTimeoutMs: this.settings.timeoutMs,
      });
      status = res.status;
    } catch (e) {
      error = e instanceof SafeFetchError ? `${e.code}: ${e.message}` : String(e);
    }
    d.attempts.push({ at: at.toISOString(), ...(status !== undefined ? { status } : {}), ...(error ? { error } : {}) });
    if (status !== undefined && status >= 200 && status < 300) return this.finish(d, 'delivered');
    const delay = this.settings.backoffMs[d.attempts.length - 1];
    if (delay === undefined) return this.finish(d, 'failed');
    d.nextAt = Date.now() + delay;
    await this.put(pendingKey(d.account, d.name), d);
    this.schedule(d, delay);
  }

  private async finish(d: Delivery, outcome: NonNullable<Delivery['outcome']>): Promise<void> {
    d.outcome = outcome;
    await this.put(logKey(d.account, d.name), d);
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: pendingKey(d.account, d.name) }));
    (outcome === 'delivered' ? log.info : log.warn)('webhook ' + outcome, { account: d.account, event: d.eventId, url: d.url, attempts: d.attempts.length });
  }

  private async put(key: string, d: Delivery): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: JSON.stringify(d), ContentType: 'application/json' }));
  }

  private async read(key: string): Promise<Delivery | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return JSON.parse(await out.Body!.transformToString('utf8')) as Delivery;
    } catch {
      return undefined;
    }
  }
}
