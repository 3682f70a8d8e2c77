/** Routing for the edge: the model, the per-region breaker and the prior (docs/routing.md). */
export * from './model.js';
export * from '../../../shared/breaker.js';
export { priorRttMs, priorRttRow, validLatLon, FIBER_RTT_MS_PER_100KM, INTERNET_INFLATION, PRIOR_CONSTANT_MS } from './prior.js';
