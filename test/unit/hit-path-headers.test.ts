/**
 * origin/src/hit-path.ts reads the request headers it needs from req.rawHeaders in one pass
 * (readHeaders) instead of building req.headers. It must see what req.headers would give it — Node's
 * own IncomingMessage is the reference here — for every name it reads, and every name its checks
 * ask for (the signature, the call's identity, usage) must be one it reads.
 */
import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { H } from '../../shared/headers.js';
import { AUTH_HEADER, CONTENT_SHA256_HEADER, signInternalRequest, SIGNED_HEADERS, verifyInternalRequestNow } from '../../shared/internal-auth.js';
import { hitIdentity, hitIdentityOf } from '../../origin/src/cache/hit-answers.js';
import { READ_HEADERS, readHeaders } from '../../origin/src/hit-path.js';
import '../../origin/src/internal-auth.js';
import { deliversToUser } from '../../origin/src/media/usage.js';
import { PEER_HEADER } from '../../origin/src/region/peers.js';

/** What req.headers holds for a raw list, by Node's own code (IncomingMessage._addHeaderLines, then the headers getter). */
function nodeHeaders(raw: string[]): Record<string, string | string[] | undefined> {
  const m = new IncomingMessage(new Socket());
  (m as unknown as { _addHeaderLines(h: string[], n: number): void })._addHeaderLines(raw, raw.length);
  return m.headers;
}
const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v.join(', ') : v);

const AUTH = 't=1733200000000,n=0123456789abcdef0123456789abcdef,s=' + 'ab'.repeat(32);
const TABLE: [string, string[]][] = [
  ['none of them', ['Host', '127.0.0.1:9743', 'Connection', 'keep-alive']],
  ['an empty list', []],
  ['the edge\'s call, lowercase', ['host', 'r', 'x-pixmesh-format', 'jpeg', 'x-pixmesh-signed', 'false', 'x-pixmesh-request-id', 'rid-1', 'x-pixmesh-content-sha256', 'e3'.repeat(32), 'x-pixmesh-auth', AUTH]],
  ['mixed and upper case names', ['X-Pixmesh-Format', 'webp', 'X-PIXMESH-SIGNED', 'true', 'x-Pixmesh-Dpr', '2', 'If-None-Match', '"abc"']],
  ['a repeated header: values joined with ", " in order', ['x-pixmesh-width', '300', 'X-Pixmesh-Width', '400', 'x-pixmesh-width', '']],
  ['a repeated auth header', ['x-pixmesh-auth', AUTH, 'x-pixmesh-auth', 't=1,n=2,s=3']],
  ['repeated If-None-Match', ['if-none-match', '"a"', 'IF-NONE-MATCH', '"b"']],
  ['empty values', ['x-pixmesh-hop', '', 'x-pixmesh-fill', '', 'if-none-match', '']],
  ['peer, hop, fill, budget', [PEER_HEADER, 'r2', 'x-pixmesh-hop', 'us-east-1', 'x-pixmesh-fill', '1', 'x-pixmesh-budget-ms', '900']],
  ['names that only look alike', ['x-pixmesh-formats', 'a', 'x-pixmesh-forma', 'b', 'xx-pixmesh-format', 'c', ' x-pixmesh-format', 'd', 'if-none-match2', 'e']],
  ['a non-ASCII value', ['x-pixmesh-request-id', 'r\u00e9q', 'x-pixmesh-encoding', 'br']],
  ['known headers Node treats specially around them', ['Set-Cookie', 'a=1', 'set-cookie', 'b=2', 'Cookie', 'c=1', 'cookie', 'd=2', 'Host', 'h1', 'host', 'h2', 'x-pixmesh-format', 'png']],
];

describe('readHeaders (the hit path\'s request headers, from rawHeaders)', () => {
  it.each(TABLE)('%s: every name it reads as req.headers has it', (_name, raw) => {
    const ours = readHeaders(raw);
    const node = nodeHeaders(raw);
    READ_HEADERS.forEach((name, i) => expect(ours[i], name).toBe(one(node[name])));
  });

  it('random case and repetitions of every name it reads (500 lists): as req.headers has them', () => {
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const names = [...READ_HEADERS, 'host', 'connection', 'x-other', 'authorization', 'user-agent'];
    for (let k = 0; k < 500; k++) {
      const raw: string[] = [];
      for (let j = rnd(12); j > 0; j--) {
        const name = [...names[rnd(names.length)]!].map((c) => (rnd(3) === 0 ? c.toUpperCase() : c)).join('');
        raw.push(name, rnd(4) === 0 ? '' : `v${rnd(100)}`);
      }
      const ours = readHeaders(raw);
      const node = nodeHeaders(raw);
      READ_HEADERS.forEach((name, i) => expect(ours[i], `${name} in ${JSON.stringify(raw)}`).toBe(one(node[name])));
    }
  });

  it('reads every header the signature check, the call\'s identity and the usage rule ask for', async () => {
    const asked = new Set<string>();
    const headers = new Headers({ [H.format]: 'jpeg', [H.signed]: 'false' });
    await signInternalRequest('s', headers, { method: 'GET', pathAndQuery: '/internal/render/a/b.jpg', region: 'eu-central-1' });
    const bag = { get: (n: string) => (asked.add(n), headers.get(n)) };
    const auth = verifyInternalRequestNow('s', { method: 'GET', pathAndQuery: '/internal/render/a/b.jpg', headers: bag, region: 'eu-central-1' });
    expect(auth).toMatchObject({ ok: true });
    hitIdentity('/x', bag.get);
    deliversToUser(bag.get);
    for (const n of [AUTH_HEADER, CONTENT_SHA256_HEADER, ...SIGNED_HEADERS, H.format, H.hop, H.fill]) expect(asked.has(n), n).toBe(true);
    for (const n of asked) expect(READ_HEADERS, n).toContain(n);
  });

  it('hitIdentityOf is hitIdentity over the same header values', () => {
    const values: Record<string, string> = { [H.format]: 'avif', [H.signed]: 'true', [H.encoding]: 'br', [H.dpr]: '2', [H.width]: '640' };
    const get = (n: string) => values[n];
    expect(hitIdentityOf('/p?q', 'avif', 'true', 'br', '2', '640')).toBe(hitIdentity('/p?q', get));
    expect(hitIdentityOf('/p', undefined, null, undefined, undefined, undefined)).toBe(hitIdentity('/p', () => undefined));
  });
});
