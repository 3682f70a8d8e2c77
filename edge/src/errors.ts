/**
 * The one place where errors become HTTP answers on the edge (index.ts wires it as Hono's
 * onError and notFound). Every error answer carries `ik-error: <CODE> - <message>`. The body
 * follows the API the path belongs to: ImageKit's management shape `{message, help}` under
 * /api and /v1 (the official SDK reads it), `{message, code}` elsewhere.
 */
import { isPixmeshError, toPixmeshError } from '../../shared/errors.js';

export const MANAGEMENT_HELP = 'See docs/management-api.md (ImageKit-compatible management API).';

/** The management API's paths (reserved account ids "api" and "v1"). */
export const isManagementPath = (path: string) => /^\/(api|v1)(\/|$)/.test(path);

export function errorResponse(err: unknown, path = '/'): Response {
  const e = toPixmeshError(err);
  if (!isPixmeshError(err)) console.error('unhandled edge error', err);
  const api = isManagementPath(path);
  const headers: Record<string, string> = {
    'ik-error': e.ikError,
    'content-type': 'application/json',
    // Image errors are cached briefly at most (see the edge cache), never long; API errors never.
    'cache-control': api ? 'no-store' : 'public, max-age=10',
    'x-content-type-options': 'nosniff',
    ...e.headers,
  };
  if (e.retryAfter !== undefined) headers['retry-after'] = String(e.retryAfter);
  const body = api ? { message: e.message, help: MANAGEMENT_HELP } : { message: e.message, code: e.code };
  return new Response(JSON.stringify(body), { status: e.status, headers });
}
