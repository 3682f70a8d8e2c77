/** Optional binding (wrangler.toml `[[kv_namespaces]] binding = "PIXMESH_PURGE"`): purge records shared by every colo. */
export interface PurgeKv {
  get(key: string, options: { type: 'json'; cacheTtl?: number }): Promise<unknown>;
  put(key: string, value: string): Promise<void>;
}

/**
 * The part of a Durable Object namespace the routing state uses (wrangler.toml `ROUTING_STATE`),
 * written out like PurgeKv so node-side code (the geo simulation) can import the routing state
 * without the Workers types.
 */
export interface RoutingStateNamespace {
  idFromName(name: string): unknown;
  get(id: unknown): { fetch(url: string, init?: { method?: string; body?: string }): Promise<{ ok?: boolean; text(): Promise<string> }> };
}

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
  /** Durable Object namespace holding learned routing state per colo and each account's region mix (`mix:<account>`) (optional: without it, both stay per isolate). */
  ROUTING_STATE?: RoutingStateNamespace;
  /** Edge purge records shared by every colo (edge/src/edge-purge.ts). */
  PIXMESH_PURGE?: PurgeKv;
  /** Region milliseconds per minute one client may spend on misses of one account (edge/src/client-budget.ts). */
  PIXMESH_CLIENT_BUDGET_MS?: string;
  /**
   * Optional, one-machine simulations only (the geo benchmark): JSON region id → a URL that reaches
   * the same region process over the same local path without the network distance. The edge
   * probes it (HEAD /healthz) and subtracts that round trip's local overhead from its RTT samples
   * (docs/routing.md, "RTT samples"). Unset in a deployment.
   */
  PIXMESH_LOOPBACK_URLS?: string;
  /** "true" only in the geo benchmark: the x-pixmesh-bench-route header names the region order (docs/routing.md). */
  PIXMESH_BENCH_ROUTE_OVERRIDE?: string;
  /** Comma-separated account ids whose private key opens the dashboard's network (operator) view. */
  PIXMESH_OPERATOR_ACCOUNTS?: string;
}
