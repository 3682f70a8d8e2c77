/**
 * Phase "negotiate": output format, content encoding, range delivery and client hints — everything
 * about the request's headers that changes the bytes (and so the cache key and Vary).
 */
import { negotiateEncoding, pathClass, wantsRaster, type Encoding } from '../../../shared/delivery.js';
import { clientHintsUsed, negotiateFormat, normaliseHints } from '../../../shared/transform/index.js';
import type { ImagePhase } from './job.js';

export const negotiate: ImagePhase = {
  name: 'negotiate',
  memoised: true,
  run(job) {
    const { c, plan, request } = job;
    // Files other than raster images (by extension) are never format-negotiated (an SVG is rasterised
    // only with an explicit raster f-) and are served in the best encoding the client accepts;
    // ranges are served from the identity body.
    const kind = pathClass(request.path);
    const servedAsIs = kind === 'file' || (kind === 'svg' && !wantsRaster(plan));
    const { format, negotiated } = servedAsIs ? { format: 'source' as const, negotiated: false } : negotiateFormat(plan, c.req.header('accept'), job.account.defaults);
    const rangeHeader = c.req.header('range') ?? null;
    const negotiatedEncoding = kind === 'file' || kind === 'unknown' || servedAsIs;
    const encoding: Encoding = negotiatedEncoding && !rangeHeader ? negotiateEncoding(c.req.header('accept-encoding')) : 'identity';
    job.format = format;
    job.encoding = encoding;
    job.delivery = { head: job.head, range: rangeHeader, ifRange: c.req.header('if-range') ?? null, negotiatedEncoding, attachment: request.attachment };

    // Client hints count only where the plan reads them (w-auto, dpr-auto): then they are part of the key.
    const used = clientHintsUsed(plan);
    job.hints = normaliseHints(
      used.dpr ? (c.req.header('sec-ch-dpr') ?? c.req.header('dpr')) : null,
      used.width ? (c.req.header('sec-ch-width') ?? c.req.header('width')) : null,
    );
    // Every request header that can change the bytes is in Vary: the legacy DPR / Width hints are read too.
    job.varyOn = [negotiated ? 'Accept' : '', used.dpr ? 'Sec-CH-DPR' : '', used.dpr ? 'DPR' : '', used.width ? 'Sec-CH-Width' : '', used.width ? 'Width' : ''].filter(Boolean);
  },
};
