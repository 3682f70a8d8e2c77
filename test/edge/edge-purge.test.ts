/**
 * A home region's purges told to the edge (POST /_internal/purge, edge/src/edge-purge.ts): the
 * channel that carries purges with no client answer to carry the x-pixmesh-edge-purge header —
 * a crash replay of the media journal at boot (#12 point 5). Signed like every internal call,
 * addressed to the edge, body digest included; a replay of the same signature is refused.
 */
import { env, exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { signInternalRequest } from '../../shared/internal-auth.js';
import { EDGE_PURGE_PATH, EDGE_TARGET } from '../../shared/internal-fetch.js';
import { edgePurgedAt } from '../../edge/src/edge-purge.js';
import type { Env } from '../../edge/src/env.js';

const SECRET = 'edge-test-secret-0123456789abcdef';
const edge = () => (exports as unknown as { default: Fetcher }).default;

async function signed(body: string, target = EDGE_TARGET, secret = SECRET): Promise<Headers> {
  const headers = new Headers({ 'content-type': 'application/json' });
  await signInternalRequest(secret, headers, { method: 'POST', pathAndQuery: EDGE_PURGE_PATH, region: target, body });
  return headers;
}
const post = (headers: Headers, body: string) => edge().fetch(`http://edge.test${EDGE_PURGE_PATH}`, { method: 'POST', headers, body });

describe('POST /_internal/purge (a home region telling the edge)', () => {
  it('a signed purge is recorded: entries of that path stored before it are purged, another path is not', async () => {
    const before = Date.now();
    const body = JSON.stringify({ account: 'demo', items: [{ path: 'replayed/photo.jpg', prefix: false }, { path: 'replayed/dir/', prefix: true }] });
    const res = await post(await signed(body), body);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, recorded: 2 });
    const e = env as unknown as Env;
    expect(await edgePurgedAt(e, 'demo', 'replayed/photo.jpg')).toBeGreaterThanOrEqual(before);
    expect(await edgePurgedAt(e, 'demo', 'replayed/dir/a.png')).toBeGreaterThanOrEqual(before);
    expect(await edgePurgedAt(e, 'demo', 'replayed/other.jpg')).toBe(0);
  });

  it.each([
    ['no signature', async (body: string) => new Headers({ 'content-type': 'application/json' })],
    ['a signature addressed to a region, not the edge', (body: string) => signed(body, 'eu-central-1')],
    ['a signature made with another secret', (body: string) => signed(body, EDGE_TARGET, 'another-secret-0123456789abcdef')],
  ])('%s: 401, nothing recorded', async (_name, sign) => {
    const body = JSON.stringify({ account: 'demo', items: [{ path: 'refused/a.jpg', prefix: false }] });
    const res = await post(await sign(body), body);
    expect(res.status).toBe(401);
    await res.body?.cancel();
    expect(await edgePurgedAt(env as unknown as Env, 'demo', 'refused/a.jpg')).toBe(0);
  });

  it('a swapped body under a captured signature is refused (401), and so is a replay of the signature', async () => {
    const body = JSON.stringify({ account: 'demo', items: [{ path: 'swap/a.jpg', prefix: false }] });
    const headers = await signed(body);
    const swapped = JSON.stringify({ account: 'demo', items: [{ path: '', prefix: true }] });
    const bad = await post(headers, swapped);
    expect(bad.status).toBe(401);
    await bad.body?.cancel();
    const ok = await post(await signed(body), body);
    expect(ok.status).toBe(200);
    await ok.body?.cancel();
    const again = await post(headers, body); // the first signature's nonce was used by the refused call
    expect(again.status).toBe(401);
    await again.body?.cancel();
  });

  it('a malformed body is 400 naming the expected shape', async () => {
    const body = JSON.stringify({ account: 'demo', items: [{ path: 5 }] });
    const res = await post(await signed(body), body);
    expect(res.status).toBe(400);
    expect(res.headers.get('ik-error') ?? '').toContain('"items"');
    await res.body?.cancel();
  });
});
