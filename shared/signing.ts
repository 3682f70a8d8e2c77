/**
 * ImageKit-compatible signed image URLs (docs/architecture.md "Public URL grammar"). Pure and WebCrypto-only,
 * so the edge (workerd) and Node share it.
 *
 * What `@imagekit/nodejs` 7.x `helper.buildSrc({ signed: true, expiresIn })` produces:
 *
 *   finalUrl     = urlEndpoint + "/" + [tr:<tr>/]<path>[?<query params>][&|?tr=<tr, unencoded>]
 *   expiry       = expiresIn > 0 ? floor(now_s) + expiresIn : 9999999999
 *   stringToSign = finalUrl without "<urlEndpoint>/" + String(expiry)
 *   ik-s         = lowercase hex HMAC-SHA1(privateKey, stringToSign)
 *   signed URL   = finalUrl + (?|&) [ik-t=<expiry>&] ik-s=<ik-s>
 *
 * Verification starts from the raw request URL as received (path still percent-encoded, query
 * untouched) and the account's urlEndpoint: `<origin>/<accountId>`, or `<custom domain origin>`.
 * The signature parameters are removed by parsing the query into its `&`-separated slots and
 * dropping exactly the `ik-s` / `ik-t` slots, never by searching for the signature's value in the
 * URL (thumbor CVE-2026-53501: a replace() of the value let a path that contains it pass).
 *
 * Only the path of urlEndpoint matters when verifying: ImageKit's scheme does not sign the
 * origin, and the edge may see another scheme/host than the signer used (TLS termination, local
 * ports). The account is bound by its private key.
 */
import { unauthorized } from './errors.js';
import { hmacHex, timingSafeEqualStr } from './internal-auth.js';

export const SIGNATURE_PARAM = 'ik-s';
export const EXPIRY_PARAM = 'ik-t';
/** The expiry signed when a URL never expires (the SDKs' DEFAULT_TIMESTAMP). */
export const NO_EXPIRY = 9999999999;

const URL_RE = /^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*)([^?#]*)(?:\?([^#]*))?(?:#.*)?$/;

interface RawUrl {
  origin: string;
  path: string;
  /** Raw query text without "?", or null when there is no "?". */
  query: string | null;
}

function splitRaw(url: string): RawUrl | undefined {
  const m = URL_RE.exec(url);
  if (!m) return undefined;
  return { origin: m[1]!, path: m[2] || '/', query: m[3] ?? null };
}

/** The path of a urlEndpoint without trailing slashes: "/demo", or "" for a bare origin. */
export function endpointPath(urlEndpoint: string): string {
  const raw = splitRaw(urlEndpoint);
  if (!raw) throw new Error(`urlEndpoint must be an absolute http(s) URL: ${JSON.stringify(urlEndpoint)}`);
  if (raw.query !== null) throw new Error('urlEndpoint may not have a query');
  return raw.path.replace(/\/+$/, '');
}

function decodeName(name: string): string | undefined {
  try {
    return decodeURIComponent(name.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

interface QuerySplit {
  /** The query without the signature slots, in the original order and encoding. */
  rest: string[];
  signature: string | null;
  expiry: string | null;
}

/** Split a raw query into slots and take out ik-s / ik-t by name. Throws 401 on ambiguity. */
function takeSignatureParams(query: string | null): QuerySplit {
  const out: QuerySplit = { rest: [], signature: null, expiry: null };
  if (query === null || query === '') return out;
  for (const slot of query.split('&')) {
    const eq = slot.indexOf('=');
    const rawName = eq < 0 ? slot : slot.slice(0, eq);
    const value = eq < 0 ? '' : slot.slice(eq + 1);
    const name = decodeName(rawName);
    if (name === SIGNATURE_PARAM || name === EXPIRY_PARAM) {
      // An encoded spelling (ik%2Ds) would be read as the parameter by URLSearchParams elsewhere
      // but not here: refuse it rather than let two parsers disagree.
      if (rawName !== name) throw unauthorized(`"${name}" must not be percent-encoded`);
      if (name === SIGNATURE_PARAM) {
        if (out.signature !== null) throw unauthorized(`"${SIGNATURE_PARAM}" given more than once`);
        out.signature = value;
      } else {
        if (out.expiry !== null) throw unauthorized(`"${EXPIRY_PARAM}" given more than once`);
        out.expiry = value;
      }
      continue;
    }
    out.rest.push(slot);
  }
  return out;
}

/**
 * The string ImageKit signs for `url` (unsigned: no ik-s / ik-t) under `urlEndpoint`:
 * everything after "<urlEndpoint>/" followed by the expiry.
 */
export function imageUrlStringToSign(urlEndpoint: string, url: string, expiry: number | string = NO_EXPIRY): string {
  const base = urlEndpoint.replace(/\/+$/, '') + '/';
  if (!url.startsWith(base)) throw new Error(`URL ${JSON.stringify(url)} does not start with the URL endpoint ${JSON.stringify(base)}`);
  return url.slice(base.length) + String(expiry);
}

/**
 * Sign a URL the way `@imagekit/nodejs` does: `url` is the full unsigned URL under `urlEndpoint`
 * (transformation in the path or as `tr=` in the query); `expiresAt` is unix seconds (omit for
 * a URL that never expires). Returns the URL with `ik-t` (when expiring) and `ik-s` appended.
 */
export async function signImageUrl(privateKey: string, urlEndpoint: string, url: string, expiresAt?: number): Promise<string> {
  if (!privateKey) throw new Error('signImageUrl needs a private key');
  const raw = splitRaw(url);
  if (!raw) throw new Error(`not an absolute URL: ${JSON.stringify(url)}`);
  if (url.includes('#')) throw new Error('signed URLs may not carry a fragment');
  const q = takeSignatureParams(raw.query);
  if (q.signature !== null || q.expiry !== null) throw new Error('the URL is already signed (has ik-s or ik-t)');
  if (expiresAt !== undefined && (!Number.isInteger(expiresAt) || expiresAt <= 0 || expiresAt > NO_EXPIRY))
    throw new Error(`expiresAt must be unix seconds, 1..${NO_EXPIRY}`);
  const unsigned = url.endsWith('?') ? url.slice(0, -1) : url;
  const expiry = expiresAt ?? NO_EXPIRY;
  const sig = await hmacHex(privateKey, imageUrlStringToSign(urlEndpoint, unsigned, expiry), 'SHA-1');
  const sep = unsigned.includes('?') ? '&' : '?';
  return expiry !== NO_EXPIRY ? `${unsigned}${sep}${EXPIRY_PARAM}=${expiry}&${SIGNATURE_PARAM}=${sig}` : `${unsigned}${sep}${SIGNATURE_PARAM}=${sig}`;
}

export interface VerifyOptions {
  /** Clock in ms (default Date.now()). */
  now?: number;
  /** The account or endpoint requires a signature: an unsigned URL is refused. */
  required?: boolean;
}

/** A valid signature (with its expiry in unix seconds, null = never) or no signature at all. */
export type SignatureCheck = { signed: true; expiresAt: number | null } | { signed: false };

/**
 * Check `ik-s` / `ik-t` on a request URL (raw: `request.url` as received). Throws 401 EAUTH
 * when the signature is missing (and required), malformed, wrong, or expired.
 * Call it before any cache lookup so that an expired URL is never served from cache.
 */
export async function verifyImageUrlSignature(
  privateKey: string,
  urlEndpoint: string,
  requestUrl: string,
  options: VerifyOptions = {},
): Promise<SignatureCheck> {
  const raw = splitRaw(requestUrl);
  if (!raw) throw unauthorized('cannot check the signature of a malformed URL');
  const q = takeSignatureParams(raw.query);
  if (q.signature === null) {
    if (q.expiry !== null) throw unauthorized(`"${EXPIRY_PARAM}" without "${SIGNATURE_PARAM}"`);
    if (options.required) throw unauthorized('this URL must be signed (ik-s)');
    return { signed: false };
  }
  if (!/^[0-9a-fA-F]{40}$/.test(q.signature)) throw unauthorized('malformed signature (ik-s)');
  if (q.expiry !== null && !/^[0-9]{1,10}$/.test(q.expiry)) throw unauthorized('malformed expiry (ik-t)');
  const prefix = endpointPath(urlEndpoint) + '/';
  if (!raw.path.startsWith(prefix)) throw unauthorized('the URL is not under the signing URL endpoint');
  const signedPart = raw.path.slice(prefix.length) + (q.rest.length ? `?${q.rest.join('&')}` : '');
  const expiry = q.expiry ?? String(NO_EXPIRY);
  if (!privateKey) throw unauthorized('invalid signature');
  const expected = await hmacHex(privateKey, signedPart + expiry, 'SHA-1');
  if (!timingSafeEqualStr(expected, q.signature.toLowerCase())) throw unauthorized('invalid signature');
  const expiresAt = q.expiry === null ? null : Number(q.expiry);
  const nowS = Math.floor((options.now ?? Date.now()) / 1000);
  if (expiresAt !== null && nowS > expiresAt) throw unauthorized('the URL has expired');
  return { signed: true, expiresAt };
}
