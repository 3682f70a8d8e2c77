/** The one place where errors become HTTP answers on the origin. */
import type { Context } from 'hono';
import { isPixmeshError, PixmeshError } from '../../shared/errors.js';
import { log } from './log.js';

export function errorResponse(c: Context, err: unknown): Response {
  const e: PixmeshError = isPixmeshError(err) ? err : new PixmeshError(500, 'EUPSTREAM', 'internal error');
  if (!isPixmeshError(err)) log.error('unhandled error', { err: String((err as Error)?.stack ?? err), path: c.req.path, requestId: c.req.header('x-pixmesh-request-id') });
  const headers: Record<string, string> = {
    'ik-error': e.ikError,
    'cache-control': 'no-store',
    'content-type': 'application/json',
  };
  if (e.retryAfter !== undefined) headers['retry-after'] = String(e.retryAfter);
  return new Response(JSON.stringify({ message: e.message, code: e.code }), { status: e.status, headers });
}
