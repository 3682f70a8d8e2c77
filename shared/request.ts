/**
 * Splitting a public image URL into its parts (docs/architecture.md "Public URL grammar"). Pure.
 *   /<accountId>[/<endpointPrefix>]/tr:<tr>/<path>   or   …/<path>?tr=<tr>
 * On a custom domain the account segment is absent (the caller passes the account).
 */
import { badTransformation, PixmeshError } from './errors.js';
import { matchEndpoint, type Account, type Endpoint } from './accounts.js';
import { attachmentRequest, DELIVERY_QUERY } from './delivery.js';
import { rewriteUrl } from './url-rewriters.js';

export interface ImageRequest {
  account: Account;
  endpoint: Endpoint;
  /** The object path inside the endpoint, without a leading slash ("" for web-proxy: see sourceUrl). */
  path: string;
  /** The raw `tr` text (path form and query form joined with ":"), or "" when none. */
  tr: string;
  /** Where the transformation was written; matters for signing only. */
  trPosition: 'path' | 'query' | 'none';
  /** Query parameters other than tr / ik-s / ik-t / ik-attachment*, in their original order (part of the identity). */
  extraQuery: [string, string][];
  /** `?ik-attachment=true` (and `ik-attachment-filename=`): serve as a download under this name. */
  attachment: { fileName: string } | null;
  signature?: string;
  expires?: string;
}

export const MAX_URL_LENGTH = 8192;

/** The account segment of a public or internal URL, percent-decoded; bad encoding is a 404, never a URIError. */
export function decodeAccountSegment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new PixmeshError(404, 'ENOENT', 'the account segment is not valid percent-encoding');
  }
}

/** The first raw (still percent-encoded) value of `name` in a query string; `+` is a space, as in forms. */
function rawQueryValue(search: string, name: string): string {
  for (const pair of search.replace(/^\?/, '').split('&')) {
    const eq = pair.indexOf('=');
    const key = eq < 0 ? pair : pair.slice(0, eq);
    let decodedKey: string;
    try {
      decodedKey = decodeURIComponent(key.replace(/\+/g, ' '));
    } catch {
      continue;
    }
    if (decodedKey === name) return eq < 0 ? '' : pair.slice(eq + 1).replace(/\+/g, '%20');
  }
  return '';
}

/** Split the path (already stripped of "/<accountId>" where that applies). */
export function parseImagePath(account: Account, pathAfterAccount: string, search: string): ImageRequest {
  if (pathAfterAccount.length + search.length > MAX_URL_LENGTH)
    throw new PixmeshError(414, 'ELIMIT', `URL longer than ${MAX_URL_LENGTH} characters`);
  const segments = pathAfterAccount.split('/').filter((s, i) => s !== '' || i > 0);
  while (segments.length && segments[0] === '') segments.shift();
  const match = matchEndpoint(account, segments);
  if (!match) throw new PixmeshError(404, 'ENOENT', 'no URL endpoint matches this path');
  let rest = match.rest;
  let pathTr = '';
  if (match.endpoint.urlRewriter) {
    // Another CDN's dialect: its URL becomes the ImageKit path + tr before anything reads it.
    const rw = rewriteUrl(match.endpoint.urlRewriter, rest, search);
    rest = rw.segments;
    pathTr = rw.tr;
    search = rw.search;
  } else if (rest.length && rest[0]!.startsWith('tr:')) {
    pathTr = rest[0]!.slice(3);
    if (!pathTr) throw badTransformation('empty "tr:" segment');
    rest = rest.slice(1);
  }
  const params = new URLSearchParams(search);
  const queryTr = params.getAll('tr');
  if (queryTr.length > 1) throw badTransformation('"tr" given more than once in the query');
  const extraQuery: [string, string][] = [];
  for (const [k, v] of params) if (k !== 'tr' && k !== 'ik-s' && k !== 'ik-t' && !DELIVERY_QUERY.has(k)) extraQuery.push([k, v]);
  // The query's tr is taken as written (not URL-decoded here): the transformation parser decodes
  // it, except layer text (i-/ie-), whose encoded "," and ":" must not split the transformation.
  const rawQueryTr = queryTr.length ? rawQueryValue(search, 'tr') : '';
  const trParts = [pathTr, rawQueryTr].filter(Boolean);
  let path: string;
  try {
    path = rest.map((s) => decodeURIComponent(s)).join('/');
  } catch {
    throw badTransformation('the path is not valid percent-encoding');
  }
  if (path.includes('\0')) throw badTransformation('the path contains a NUL byte');
  if (path.split('/').some((s) => s === '..' || s === '.')) throw badTransformation('the path may not contain "." or ".." segments');
  if (!path) throw new PixmeshError(404, 'ENOENT', 'no image path in the URL');
  return {
    account,
    endpoint: match.endpoint,
    path,
    tr: trParts.join(':'),
    trPosition: pathTr ? 'path' : queryTr.length ? 'query' : 'none',
    extraQuery,
    attachment: attachmentRequest(params, path),
    signature: params.get('ik-s') ?? undefined,
    expires: params.get('ik-t') ?? undefined,
  };
}
