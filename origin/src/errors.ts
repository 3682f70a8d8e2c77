/** The one place where errors become HTTP answers on the origin. */
import type { Context } from 'hono';
import { toPixmeshError, isPixmeshError } from '../../shared/errors.js';
import { H } from '../../shared/headers.js';
import { log } from './log.js';

export function errorResponse(c: Context, err: unknown, region: string): Response {
  const e = toPixmeshError(err);
  if (!isPixmeshError(err)) log.error('unhandled error', { err: String((err as Error)?.stack ?? err), path: c.req.path, requestId: c.req.header(H.requestId) });
  const headers: Record<string, string> = {
    'ik-error': e.ikError,
    'cache-control': 'no-store',
    'content-type': 'application/json',
    [H.region]: region,
    ...e.headers,
  };
  if (e.retryAfter !== undefined) headers['retry-after'] = String(e.retryAfter);
  if (e.status >= 500) headers[H.errorScope] = e.scope ?? 'region';
  return new Response(JSON.stringify({ message: e.message, code: e.code }), { status: e.status, headers });
}
