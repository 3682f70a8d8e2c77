/** The one place where errors become HTTP answers on the origin. */
import type { Context } from 'hono';
import { isPixmeshError, PixmeshError } from '../../shared/errors.js';
import { H } from '../../shared/headers.js';
import { log } from './log.js';

/**
 * x-pixmesh-error-scope on 5xx answers: "request" when every region would reproduce the failure
 * (the customer's origin failed or timed out, the render ran over its deadline) so the edge does
 * not fail over; "region" for this region's own trouble (overloaded, home unreachable, a bug).
 */
export type ErrorScope = 'request' | 'region';
const SCOPE = Symbol('pixmesh-error-scope');

/** Mark an error as one every region would reproduce for this request. */
export function requestScoped<E>(e: E): E {
  if (typeof e === 'object' && e !== null) (e as Record<symbol, ErrorScope>)[SCOPE] = 'request';
  return e;
}

export function errorScope(e: unknown): ErrorScope {
  return typeof e === 'object' && e !== null && (e as Record<symbol, ErrorScope>)[SCOPE] === 'request' ? 'request' : 'region';
}

export function errorResponse(c: Context, err: unknown): Response {
  const e: PixmeshError = isPixmeshError(err) ? err : new PixmeshError(500, 'EUPSTREAM', 'internal error');
  if (!isPixmeshError(err)) log.error('unhandled error', { err: String((err as Error)?.stack ?? err), path: c.req.path, requestId: c.req.header(H.requestId) });
  const headers: Record<string, string> = {
    'ik-error': e.ikError,
    'cache-control': 'no-store',
    'content-type': 'application/json',
  };
  if (e.retryAfter !== undefined) headers['retry-after'] = String(e.retryAfter);
  if (e.status >= 500) headers[H.errorScope] = errorScope(err);
  return new Response(JSON.stringify({ message: e.message, code: e.code }), { status: e.status, headers });
}
