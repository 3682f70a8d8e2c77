/** The one place where errors become HTTP answers on the edge. */
import { isPixmeshError, PixmeshError } from '../../shared/errors.js';

export function errorResponse(err: unknown, extra: Record<string, string> = {}): Response {
  const e: PixmeshError = isPixmeshError(err) ? err : new PixmeshError(500, 'EUPSTREAM', 'internal error');
  if (!isPixmeshError(err)) console.error('unhandled edge error', err);
  const headers: Record<string, string> = {
    'ik-error': e.ikError,
    'content-type': 'application/json',
    // Errors are cached briefly at most (see the edge cache), never long.
    'cache-control': 'public, max-age=10',
    'x-content-type-options': 'nosniff',
    ...extra,
  };
  if (e.retryAfter !== undefined) headers['retry-after'] = String(e.retryAfter);
  return new Response(JSON.stringify({ message: e.message, code: e.code }), { status: e.status, headers });
}
