/**
 * pixmesh edge worker: small Hono apps composed in one place.
 *   /_health            liveness
 *   /<account>/…        images (and custom domains: /…)
 */
import { Hono } from 'hono';
import { notFound } from '../../shared/errors.js';
import type { Env } from './env.js';
import { errorResponse } from './errors.js';
import { imageRoutes } from './images.js';

const app = new Hono<{ Bindings: Env }>();
app.onError((err) => errorResponse(err));
app.get('/_health', (c) => c.json({ ok: true }));
// Paths starting with "_" are reserved for the edge's own endpoints.
app.all('/_*', () => errorResponse(notFound('no such edge endpoint')));
app.route('/', imageRoutes());

export default app;
