/**
 * One error type for both tiers: a status, a stable ik-error code, a public message and a scope.
 * It is mapped to HTTP in one place per tier (edge/src/errors.ts, origin/src/errors.ts).
 * The codes and statuses are the table in docs/architecture.md "Errors".
 */
export type ErrorCode =
  | 'EBADTR' // bad transformation / unknown parameter
  | 'EBADREQ' // bad request: body, parameters or internal headers (not a transformation)
  | 'ECONFLICT' // the request conflicts with the current state (e.g. the file exists)
  | 'ELIMIT' // a limit was exceeded
  | 'ENOENT' // original not found
  | 'EAUTH' // signature / credentials missing, invalid or expired
  | 'EACCES' // source not allowed (SSRF, host not allowed, private file)
  | 'EDECODE' // undecodable image
  | 'EBUSY' // overloaded
  | 'EUPSTREAM'; // upstream failure or timeout

/**
 * Who a 5xx is about, sent as x-pixmesh-error-scope: "request" when every region would reproduce
 * it (the customer's origin failed or timed out, the render ran over its deadline), so the edge
 * answers without failing over; "region" for this region's own trouble (overloaded, home
 * unreachable, a bug), which is what failover is for.
 */
export type ErrorScope = 'request' | 'region';

export interface ErrorOptions {
  /** Seconds, for 429/503 answers. */
  retryAfter?: number;
  cause?: unknown;
  /** Default "region". */
  scope?: ErrorScope;
  /** Extra response headers the answer needs (e.g. Content-Range on a 416). */
  headers?: Record<string, string>;
}

export class PixmeshError extends Error {
  readonly status: number;
  readonly code: ErrorCode;
  /** Seconds, for 429/503 answers. */
  readonly retryAfter?: number;
  readonly scope: ErrorScope;
  readonly headers?: Record<string, string>;

  constructor(status: number, code: ErrorCode, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PixmeshError';
    this.status = status;
    this.code = code;
    this.retryAfter = options.retryAfter;
    this.scope = options.scope ?? 'region';
    this.headers = options.headers;
  }

  /** The same error, marked as one every region would reproduce for this request. */
  requestScoped(): PixmeshError {
    if (this.scope === 'request') return this;
    return new PixmeshError(this.status, this.code, this.message, { retryAfter: this.retryAfter, cause: this.cause, scope: 'request', headers: this.headers });
  }

  /** The `ik-error` header value: `<CODE> - <message>` (header-safe: one line, ASCII). */
  get ikError(): string {
    return `${this.code} - ${headerSafe(this.message)}`;
  }
}

export const badTransformation = (message: string) => new PixmeshError(400, 'EBADTR', message);
export const badRequest = (message: string) => new PixmeshError(400, 'EBADREQ', message);
export const conflict = (message: string) => new PixmeshError(409, 'ECONFLICT', message);
export const limitExceeded = (message: string, status = 400) => new PixmeshError(status, 'ELIMIT', message);
export const notFound = (message = 'original not found in any origin') => new PixmeshError(404, 'ENOENT', message);
export const unauthorized = (message: string) => new PixmeshError(401, 'EAUTH', message);
export const forbidden = (message: string) => new PixmeshError(403, 'EACCES', message);
export const undecodable = (message = 'the original is not a decodable image') => new PixmeshError(422, 'EDECODE', message);
export const busy = (message = 'overloaded, try again shortly', retryAfter = 1, status = 503) =>
  new PixmeshError(status, 'EBUSY', message, { retryAfter });
export const upstreamFailed = (message: string, status = 502) => new PixmeshError(status, 'EUPSTREAM', message);

export function isPixmeshError(e: unknown): e is PixmeshError {
  return e instanceof PixmeshError || (typeof e === 'object' && e !== null && (e as { name?: string }).name === 'PixmeshError');
}

/** Any thrown value as a PixmeshError (an unknown one is a 500 "internal error"; the caller logs it). */
export function toPixmeshError(e: unknown): PixmeshError {
  return isPixmeshError(e) ? e : new PixmeshError(500, 'EUPSTREAM', 'internal error', { cause: e });
}

/** Headers may carry only visible ASCII; user input echoed in messages is escaped and bounded. */
export function headerSafe(text: string, max = 300): string {
  // Whole code points (the u flag), so an emoji is one %-escaped UTF-8 sequence; a lone surrogate
  // (which encodeURIComponent refuses with URIError) becomes U+FFFD instead of a 500.
  // eslint-disable-next-line no-control-regex
  const ascii = text.replace(/[^\x20-\x7e]/gu, (ch) => (ch.length === 1 && /[\ud800-\udfff]/.test(ch) ? '%EF%BF%BD' : encodeURIComponent(ch)));
  return ascii.length > max ? `${ascii.slice(0, max)}…`.replace(/…$/, '...') : ascii;
}

/** Parse an `ik-error` header back into its code and message (used by the edge on origin answers). */
export function parseIkError(value: string | null): { code: string; message: string } | null {
  if (!value) return null;
  const at = value.indexOf(' - ');
  return at < 0 ? { code: value.trim(), message: '' } : { code: value.slice(0, at), message: value.slice(at + 3) };
}
