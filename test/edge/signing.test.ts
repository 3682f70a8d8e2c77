/** ik-s / ik-t at the edge, inside workerd: checked before the cache, per account. */
import { exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { signImageUrl } from '../../shared/signing.js';

const fetchEdge = (url: string, headers: Record<string, string> = {}) => (exports as unknown as { default: Fetcher }).default.fetch(url, { headers });
const STRICT = 'http://edge.test/strict';
let n = 0;
const url = (name: string) => `${STRICT}/tr:w-10/${name}-${Date.now()}-${n++}.png`;

describe('signed URLs', () => {
  it('accepts a valid signature and refuses an unsigned URL on a signedUrls=required account', async () => {
    const plain = url('valid');
    expect((await fetchEdge(await signImageUrl('private_edge_strict', STRICT, plain))).status).toBe(200);
    const unsigned = await fetchEdge(plain);
    expect(unsigned.status).toBe(401);
    expect(unsigned.headers.get('ik-error')).toMatch(/^EAUTH/);
  });

  it.each([
    ['a tampered path', (s: string) => s.replace('/tr:w-10/', '/tr:w-11/')],
    ['a truncated signature', (s: string) => s.slice(0, -4)],
    ['a forged signature', (s: string) => s.replace(/ik-s=[0-9a-f]+/, `ik-s=${'0'.repeat(40)}`)],
  ])('refuses %s', async (_label, mutate) => {
    const signed = await signImageUrl('private_edge_strict', STRICT, url('tamper'));
    const res = await fetchEdge(mutate(signed));
    expect(res.status).toBe(401);
    expect(res.headers.get('ik-error')).toMatch(/^EAUTH/);
  });

  it("refuses a URL signed with another account's key", async () => {
    const res = await fetchEdge(await signImageUrl('private_edge_demo', STRICT, url('other')));
    expect(res.status).toBe(401);
  });

  it('refuses an expired URL even when the same image is in the edge cache', async () => {
    const plain = url('expiry');
    const live = await signImageUrl('private_edge_strict', STRICT, plain, Math.floor(Date.now() / 1000) + 600);
    expect((await fetchEdge(live)).status).toBe(200);
    const expired = await signImageUrl('private_edge_strict', STRICT, plain, Math.floor(Date.now() / 1000) - 10);
    const res = await fetchEdge(expired);
    expect(res.status).toBe(401);
    expect(res.headers.get('ik-error')).toMatch(/^EAUTH - .*expired/i);
  });

  it('tells the region the URL was signed, so private originals can be served', async () => {
    const { env } = await import('cloudflare:workers');
    const regions = JSON.parse((env as { PIXMESH_REGION_URLS: string }).PIXMESH_REGION_URLS) as Record<string, string>;
    const signed = await signImageUrl('private_edge_strict', STRICT, url('flag'));
    expect((await fetchEdge(signed)).status).toBe(200);
    const seen = (await (await fetch(`${regions['us-east-1']}/__seen`)).json()) as { headers: Record<string, string> }[];
    expect(seen.at(-1)!.headers['x-pixmesh-signed']).toBe('true');
  });
});
