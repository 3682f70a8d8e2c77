/** Worker bindings (wrangler.toml [vars] and secrets). */
export interface Env {
  /** JSON: region id → origin base URL. */
  PIXMESH_REGION_URLS: string;
  /** Shared secret for signing internal calls (a secret in production; .env in local runs). */
  PIXMESH_INTERNAL_SECRET: string;
  /** "true" only in local runs and tests: x-pixmesh-colo/lat/lon/country headers stand in for request.cf. */
  PIXMESH_TRUST_GEO_HEADERS?: string;
  /** Optional: the account file's JSON inline (tests); otherwise the edge reads it from the regions. */
  PIXMESH_ACCOUNTS_JSON?: string;
  /** Durable Object namespace holding learned routing state per colo (optional: without it, learning stays per isolate). */
  ROUTING_STATE?: DurableObjectNamespace;
  /** Comma-separated account ids whose private key opens the dashboard's network (operator) view. */
  PIXMESH_OPERATOR_ACCOUNTS?: string;
}
