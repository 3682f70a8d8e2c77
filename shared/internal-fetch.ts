/**
 * The one signed internal call (edge → region, region → home, purge fan-out, account directory,
 * management → home). Every internal request goes through `internalFetch`: it signs with
 * shared/internal-auth.ts (method, path with query, steering headers; the body and the target
 * region are passed through to the signer's inputs here, so a payload change lands in one
 * place), bounds each attempt with a timeout, retries idempotent calls on a transport failure or
 * a 5xx when asked to, and turns a transport failure into an `InternalUnreachable` error.
 * HTTP answers — errors included — are returned as they are; `internalError` reads one back
 * into a PixmeshError.
 */
import { parseIkError, PixmeshError, type ErrorCode } from './errors.js';
import { H } from './headers.js';
import { signInternalRequest, type BodyInput } from './internal-auth.js';

/** The edge's endpoint for a home region's purges (edge/src/edge-purge.ts), and its signing target. */
export const EDGE_PURGE_PATH = '/_internal/purge';
export const EDGE_TARGET = 'edge';

export interface InternalCall {
  secret: string;
  /** The target's base URL (no trailing slash); undefined when the target is not configured. */
  baseUrl: string | undefined;
  /** The target (a region id), for messages and the signature. */
  target: string;
  method?: string;
  /** Path with query, as signed. */
  pathAndQuery: string;
  headers?: Headers;
  /** The exact bytes sent (signed as a digest, so they are buffered: never a stream). */
  body?: BodyInput;
  /** Per attempt, ms. */
  timeoutMs: number;
  /** Extra attempts after a transport failure or a 5xx (only for calls that are safe to repeat). */
  retries?: number;
  /** Aborts every attempt (e.g. the caller's overall deadline). */
  signal?: AbortSignal;
}

/** The target could not be reached (connection failure, timeout, not configured): no answer at all. */
export class InternalUnreachable extends PixmeshError {
  constructor(
    readonly target: string,
    readonly detail: string,
    readonly timedOut = false,
  ) {
    super(timedOut ? 504 : 502, 'EUPSTREAM', `${target} ${timedOut ? 'timed out' : `unreachable (${detail})`}`);
  }
}

function attemptSignal(call: InternalCall): AbortSignal {
  const timeout = AbortSignal.timeout(call.timeoutMs);
  return call.signal ? AbortSignal.any([timeout, call.signal]) : timeout;
}

/** What signs one internal request: the call without its transport settings. */
export type InternalRequestInput = Pick<InternalCall, 'secret' | 'target' | 'method' | 'pathAndQuery' | 'headers' | 'body'> & { baseUrl: string };

/**
 * One signed internal request (URL, method, headers with a fresh signature and nonce), as
 * internalFetch sends each attempt. Exported for callers with their own transport (benchmarks
 * that time the socket); everything else calls internalFetch.
 */
export async function internalRequest(call: InternalRequestInput): Promise<{ url: string; method: string; headers: Headers }> {
  const method = (call.method ?? 'GET').toUpperCase();
  const headers = new Headers(call.headers);
  await signInternalRequest(call.secret, headers, { method, pathAndQuery: call.pathAndQuery, region: call.target, body: call.body });
  return { url: call.baseUrl + call.pathAndQuery, method, headers };
}

export async function internalFetch(call: InternalCall): Promise<Response> {
  const baseUrl = call.baseUrl;
  if (!baseUrl) throw new InternalUnreachable(call.target, 'no URL configured');
  const attempts = 1 + Math.max(0, call.retries ?? 0);
  let last: InternalUnreachable | undefined;
  for (let i = 0; i < attempts; i++) {
    // A fresh signature (and nonce) per attempt: the receiver refuses a replayed one.
    const { url, method, headers } = await internalRequest({ ...call, baseUrl });
    let res: Response;
    try {
      res = await fetch(url, { method, headers, body: (call.body ?? null) as RequestInit['body'], signal: attemptSignal(call) });
    } catch (e) {
      const err = e as Error;
      const timedOut = err.name === 'TimeoutError';
      last = new InternalUnreachable(call.target, timedOut ? 'timed out' : String(err.cause ?? err.message), timedOut);
      if (call.signal?.aborted) break;
      continue;
    }
    if (res.status >= 500 && i < attempts - 1) {
      await res.body?.cancel();
      continue;
    }
    return res;
  }
  throw last ?? new InternalUnreachable(call.target, 'no answer');
}

/**
 * An internal error answer as a PixmeshError: its ik-error code and message, status, Retry-After
 * and x-pixmesh-error-scope (the body is discarded). `fallback` names the call when the answer
 * carries no ik-error (a proxy or a crash in between).
 */
export async function internalError(res: Response, fallback: string): Promise<PixmeshError> {
  await res.body?.cancel().catch(() => undefined);
  const ik = parseIkError(res.headers.get(H.ikError));
  const retryAfter = Number(res.headers.get('retry-after'));
  return new PixmeshError(res.status, (ik?.code || 'EUPSTREAM') as ErrorCode, ik?.message || `${fallback} answered ${res.status}`, {
    retryAfter: retryAfter > 0 ? retryAfter : undefined,
    scope: res.headers.get(H.errorScope) === 'request' ? 'request' : 'region',
  });
}
