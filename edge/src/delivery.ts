/**
 * The last step of every edge answer (cache HIT, MISS or STALE): the body's content encoding
 * (sent by the region as x-pixmesh-content-encoding, so no fetch on the way decodes it) becomes
 * Content-Encoding with the bytes passed through as they are (`encodeBody: 'manual'`), Vary gets
 * Accept-Encoding for compressible files, `?ik-attachment` becomes Content-Disposition, and a
 * `Range` request on an identity body is answered 206 / 416 from the full body (which is what the
 * edge cache holds). Decisions are shared/delivery.ts's.
 */
import { contentDisposition, isCompressible, parseRange } from '../../shared/delivery.js';
import { PixmeshError } from '../../shared/errors.js';
import { H } from '../../shared/headers.js';
import { errorResponse } from './errors.js';

export interface DeliveryOptions {
  head: boolean;
  /** The request's Range and If-Range headers. */
  range: string | null;
  ifRange: string | null;
  /** The edge key holds the negotiated encoding (anything but a raster-image path). */
  negotiatedEncoding: boolean;
  attachment: { fileName: string } | null;
}

/** If-Range (RFC 9110 §13.1.5): the range applies only to the representation it names. */
function ifRangeHolds(ifRange: string | null, headers: Headers): boolean {
  if (!ifRange) return true;
  const v = ifRange.trim();
  if (v.startsWith('"')) return v === headers.get('etag');
  const lastModified = headers.get('last-modified');
  return lastModified !== null && Date.parse(v) === Date.parse(lastModified);
}

/** `headers`: the answer's headers when the caller already holds a copy of its own (else res's are copied). */
export async function deliver(res: Response, o: DeliveryOptions, headers = new Headers(res.headers)): Promise<Response> {
  const encoding = headers.get(H.contentEncoding);
  headers.delete(H.contentEncoding);
  if (o.negotiatedEncoding && isCompressible(headers.get('content-type'))) {
    const vary = headers.get('vary');
    headers.set('vary', vary ? `${vary}, Accept-Encoding` : 'Accept-Encoding');
  }
  if (o.attachment && res.ok) headers.set('content-disposition', contentDisposition('attachment', o.attachment.fileName));
  // Ranges are served from the identity body (a Range request is never negotiated to br / gzip).
  if (res.status === 200) headers.set('accept-ranges', 'bytes');
  if (encoding) {
    headers.set('content-encoding', encoding);
    return new Response(o.head ? null : res.body, { status: res.status, headers, encodeBody: 'manual' });
  }
  if (res.status !== 200) return new Response(o.head ? null : res.body, { status: res.status, headers });
  if (!o.range || !ifRangeHolds(o.ifRange, headers)) return new Response(o.head ? null : res.body, { status: 200, headers });

  const body = new Uint8Array(await res.arrayBuffer());
  const range = parseRange(o.range, body.length);
  if (range.kind === 'none') return new Response(o.head ? null : body, { status: 200, headers });
  if (range.kind === 'unsatisfiable') {
    return errorResponse(new PixmeshError(416, 'EBADREQ', `the range "${o.range.slice(0, 60)}" is outside the file (${body.length} bytes)`, { headers: {
      'content-range': `bytes */${body.length}`,
      'accept-ranges': 'bytes',
    } }));
  }
  headers.set('content-range', `bytes ${range.start}-${range.end}/${body.length}`);
  headers.set('content-length', String(range.end - range.start + 1));
  return new Response(o.head ? null : body.slice(range.start, range.end + 1), { status: 206, headers });
}
