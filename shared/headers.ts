/** Header names shared by the edge and the origins (see docs/architecture.md for the contract). */
export const H = {
  /** edge → origin: the output format the edge negotiated (jpeg|png|webp|avif|gif|source). */
  format: 'x-pixmesh-format',
  /** edge → origin: the client's DPR hint (Sec-CH-DPR) for dpr-auto. */
  dpr: 'x-pixmesh-dpr',
  /** edge → origin: the client's width hint (Sec-CH-Width) for w-auto. */
  width: 'x-pixmesh-width',
  /** edge → origin: the best encoding the client accepts (br|gzip|identity); the region compresses compressible files. */
  encoding: 'x-pixmesh-encoding',
  /** origin → edge: the encoding of the body (br|gzip), sent instead of Content-Encoding so no tier decodes it on the way. */
  contentEncoding: 'x-pixmesh-content-encoding',
  /** edge → origin: "true" when the edge verified an ik-s signature (private files, web proxy). */
  signed: 'x-pixmesh-signed',
  /**
   * edge → region: a background fill (edge/src/routing/model.ts fillTarget): the edge asks the
   * colo's nearest region for a variant it just served from elsewhere, so that region holds it for
   * the next users. Not a delivery: not counted as usage. Internal calls are signed, so only the
   * edge can send it.
   */
  fill: 'x-pixmesh-fill',
  /** region → home: marks a forwarded call, so the home region never forwards again. */
  hop: 'x-pixmesh-hop',
  requestId: 'x-pixmesh-request-id',
  /** edge → origin: the colo the request entered (informational: logs, benchmark network emulation). */
  edgeColo: 'x-pixmesh-edge-colo',
  /** responses */
  edgeCache: 'x-pixmesh-cache',
  region: 'x-pixmesh-region',
  regionCache: 'x-pixmesh-region-cache',
  /** origin → edge: the region that transformed the image (home, or self on failover). */
  processedBy: 'x-pixmesh-processed-by',
  /** origin → edge: "home-unreachable" when a region fetched the original itself. */
  failover: 'x-pixmesh-failover',
  /** origin → edge: the region's rolling result-cache hit ratio (0–1), for the edge's routing model. */
  regionHitRatio: 'x-pixmesh-region-hit-ratio',
  /** origin → edge: the di- default image path served because the original is missing (short cache, never stored as the variant). */
  defaultImage: 'x-pixmesh-default-image',
  /**
   * origin → edge, on 5xx: "request" when the failure is about this request (the customer's origin
   * failed or timed out, the render ran over its deadline), so the edge neither fails over to
   * another region (it would fail the same way) nor counts it against the region's health.
   */
  errorScope: 'x-pixmesh-error-scope',
  /**
   * caller → origin on a render call: how many ms the caller waits for the answer (shared/deadlines.ts);
   * the region stops queueing and rendering in time to answer 503 EBUSY within it.
   */
  budget: 'x-pixmesh-budget-ms',
  /**
   * origin → caller, on every image answer: the account revision (shared/cache-key.ts
   * `accountKeyRevision`) the bytes were rendered under. A caller whose own view of the account
   * differs (the account file reloads in each process on its own) serves the answer but does not
   * store it under its key — else bytes of the old defaults would sit under the new key.
   */
  accountRev: 'x-pixmesh-account-rev',
  /** origin → caller: which replica of the region answered (a hash of its URL; origin/src/region/). */
  replica: 'x-pixmesh-replica',
  ikError: 'ik-error',
} as const;
