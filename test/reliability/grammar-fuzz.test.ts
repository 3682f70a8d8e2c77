/**
 * Bad URLs, in process: thousands of seeded random and mutated URLs through exactly the calls the
 * edge makes before any network (parseImagePath → parseTransformation → signature check →
 * canonical key → format negotiation). Every outcome must be a success or a 4xx PixmeshError —
 * never a TypeError, RangeError or a 5xx — and each parse must be fast (no catastrophic regex).
 * Plus the property that canonical cache keys ignore the order of parameters within a step.
 */
import { describe, expect, it } from 'vitest';
import { validateAccountFile, type Account } from '../../shared/accounts.js';
import { isPixmeshError, PixmeshError } from '../../shared/errors.js';
import { parseImagePath } from '../../shared/request.js';
import { verifyImageUrlSignature } from '../../shared/signing.js';
import { canonicalTransformation, negotiateFormat, parseTransformation } from '../../shared/transform/index.js';
import { prng } from './corpus.js';
import { fuzzCases, shuffle, VALID_TOKENS } from './fuzz.js';
import { recordFigures } from './harness.js';

const [account] = validateAccountFile({
  accounts: [
    {
      id: 'rel',
      homeRegion: 'eu-central-1',
      privateKey: 'private_rel_fuzz',
      namedTransforms: { thumb: 'w-200,h-200,c-at_max' },
      endpoints: [
        { prefix: '', origins: [{ type: 's3', bucket: 'b' }] },
        { prefix: 'proxy', origins: [{ type: 'webproxy', allowHosts: ['example.test'] }] },
      ],
    },
  ],
}) as [Account];

const SEED = Number(process.env.PIXMESH_FUZZ_SEED ?? 20261125);
const COUNT = Number(process.env.PIXMESH_FUZZ_COUNT ?? 5000);

type Outcome = { ok: true; key: string } | { ok: false; status: number; code: string } | { ok: false; crash: string };

/** The edge's pre-network steps on one URL. */
async function edgeSteps(pathAfterAccount: string, search: string, acct: Account = account): Promise<Outcome> {
  try {
    const request = parseImagePath(acct, pathAfterAccount, search);
    const plan = parseTransformation(request.tr, { namedTransforms: acct.namedTransforms, namedOnly: acct.namedOnly });
    await verifyImageUrlSignature(acct.privateKey, 'http://edge.test/rel', `http://edge.test/rel${pathAfterAccount}${search}`, {});
    negotiateFormat(plan, 'image/avif,image/webp,*/*', acct.defaults);
    const key = canonicalTransformation(plan, acct.defaults);
    // The canonical form parses back to the same canonical form (it is what the caches key on).
    const again = canonicalTransformation(parseTransformation(key, { namedTransforms: acct.namedTransforms }), acct.defaults);
    if (again !== key) return { ok: false, crash: `canonical form not stable: ${JSON.stringify(key)} → ${JSON.stringify(again)}` };
    return { ok: true, key };
  } catch (e) {
    if (!isPixmeshError(e)) return { ok: false, crash: `${(e as Error).name}: ${(e as Error).message}` };
    // The edge answers with the error's ik-error header: building it must not throw either.
    try {
      new Headers({ 'ik-error': e.ikError });
    } catch (h) {
      return { ok: false, crash: `ik-error header for ${JSON.stringify(e.message.slice(0, 80))}: ${(h as Error).name}: ${(h as Error).message}` };
    }
    return { ok: false, status: e.status, code: e.code };
  }
}

describe('grammar fuzz (in process, seeded)', () => {
  it(`${COUNT} random/mutated URLs + fixed hostile cases: only successes and 4xx, each parse < 1 s (no catastrophic backtracking)`, async () => {
    const cases = fuzzCases(SEED, COUNT);
    const crashes: string[] = [];
    const slow: string[] = [];
    const byStatus: Record<string, number> = {};
    let unparseable = 0;
    let maxMs = 0;
    for (const c of cases) {
      let url: URL;
      try {
        url = new URL(`http://edge.test/rel${c.path}${c.search}`);
      } catch {
        unparseable++; // no client can send it
        continue;
      }
      const t0 = performance.now();
      const out = await edgeSteps(url.pathname.slice('/rel'.length), url.search);
      const ms = performance.now() - t0;
      maxMs = Math.max(maxMs, ms);
      if (ms > 1000) slow.push(`${c.label} took ${ms.toFixed(1)} ms: ${c.path.slice(0, 120)}${c.search.slice(0, 60)}`);
      if ('crash' in out) crashes.push(`${c.label} (seed ${SEED}): ${out.crash} — ${JSON.stringify((c.path + c.search).slice(0, 200))}`);
      else if (!out.ok && (out.status < 400 || out.status > 499)) crashes.push(`${c.label}: status ${out.status} ${out.code} — ${JSON.stringify((c.path + c.search).slice(0, 200))}`);
      const k = out.ok ? '200' : 'crash' in out ? 'crash' : `${out.status} ${out.code}`;
      byStatus[k] = (byStatus[k] ?? 0) + 1;
    }
    recordFigures('grammarFuzz', { seed: SEED, cases: cases.length, unparseableByWhatwgUrl: unparseable, outcomes: byStatus, crashes: crashes.length, maxParseMs: Math.round(maxMs * 10) / 10 });
    expect(crashes).toEqual([]);
    expect(slow).toEqual([]);
    // The fuzzer must actually reach both sides (a generator that only makes errors proves little).
    expect(byStatus['200'] ?? 0).toBeGreaterThan(cases.length * 0.05);
    expect(byStatus['400 EBADTR'] ?? 0).toBeGreaterThan(cases.length * 0.2);
  });

  it('traversal and NUL forms are refused with 4xx, never resolved', async () => {
    const hostile = [
      '/../etc/passwd', '/a/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/%2E%2E/x.jpg', '/a/%2e%2e/x.jpg', '/./x.jpg', '/%2e/x.jpg',
      '/a%2f..%2f..%2fetc%2fpasswd', '/x%00.jpg', '/tr:w-100/%2e%2e/x.jpg', '/tr:w-100/..%2fx.jpg',
    ];
    for (const p of hostile) {
      const out = await edgeSteps(p, '');
      // Either refused as 4xx, or (for "%2e%2e" left encoded inside a segment name) a path that stays inside the endpoint.
      if (out.ok) {
        const req = parseImagePath(account, p, '');
        expect(req.path.split('/'), p).not.toContain('..');
        expect(req.path.split('/'), p).not.toContain('.');
        expect(req.path, p).not.toContain('\0');
      } else expect('status' in out && out.status >= 400 && out.status < 500, `${p} → ${JSON.stringify(out)}`).toBe(true);
    }
  });

  it('double-encoded traversal stays a literal name (decoded once only)', () => {
    const req = parseImagePath(account, '/%252e%252e/x.jpg', '');
    expect(req.path).toBe('%2e%2e/x.jpg');
  });

  it('regression: an emoji or a lone surrogate echoed in an error message gives a 400, not a 500 (headerSafe URIError)', async () => {
    for (const tr of ['%F0%9F%98%80w-100', 'w-%F0%9F%98%80', 'x-%ED%A0%80']) {
      const out = await edgeSteps('/photo.jpg', `?tr=${tr}`);
      expect(out, tr).toMatchObject({ ok: false, status: 400, code: 'EBADTR' });
    }
    const lone = new PixmeshError(400, 'EBADTR', `bad ${String.fromCharCode(0xd83d)} and 😀`);
    expect(lone.ikError).toBe('EBADTR - bad %EF%BF%BD and %F0%9F%98%80');
  });

  it('an overlong URL is 414 ELIMIT, not a crash', async () => {
    const out = await edgeSteps(`/${'a'.repeat(9000)}.jpg`, '');
    expect(out).toMatchObject({ ok: false, status: 414, code: 'ELIMIT' });
  });

  it('named-transform lookups cannot reach Object.prototype', async () => {
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
      const out = await edgeSteps('/photo.jpg', `?tr=n-${name}`);
      expect(out, name).toMatchObject({ ok: false, status: 400, code: 'EBADTR' });
    }
  });
});

describe('canonical cache keys (property)', () => {
  /** Tokens that parse on their own, with distinct keys. */
  const singles = VALID_TOKENS.filter((t) => {
    try {
      parseTransformation(t, {});
      return true;
    } catch {
      return false;
    }
  });

  it('the token pool is valid (guards the property against a vacuous pool)', () => {
    expect(singles.length).toBeGreaterThan(20);
  });

  it('reordering the parameters of any step never changes the canonical key (2000 seeded plans)', () => {
    const r = prng(SEED ^ 0x5eed);
    const mismatches: string[] = [];
    let checked = 0;
    for (let i = 0; i < 2000; i++) {
      const steps = Array.from({ length: 1 + Math.floor(r() * 3) }, () => shuffle(r, singles).slice(0, 1 + Math.floor(r() * 6)));
      const text = (s: string[][]) => s.map((st) => st.join(',')).join(':');
      let key: string;
      try {
        key = canonicalTransformation(parseTransformation(text(steps), {}));
      } catch (e) {
        // A combination may be invalid; then every order must be invalid with the same code.
        const code = isPixmeshError(e) ? e.code : 'crash';
        for (let k = 0; k < 3; k++) {
          const other = text(steps.map((st) => shuffle(r, st)));
          let otherCode = 'ok';
          try {
            parseTransformation(other, {});
          } catch (e2) {
            otherCode = isPixmeshError(e2) ? e2.code : 'crash';
          }
          if (otherCode !== code) mismatches.push(`${text(steps)} → ${code} but ${other} → ${otherCode}`);
        }
        continue;
      }
      checked++;
      for (let k = 0; k < 4; k++) {
        const other = text(steps.map((st) => shuffle(r, st)));
        const otherKey = canonicalTransformation(parseTransformation(other, {}));
        if (otherKey !== key) mismatches.push(`${text(steps)} → ${key}\n   ${other} → ${otherKey}`);
      }
    }
    recordFigures('canonicalKeys', { plans: 2000, validPlans: checked, reorderingsChecked: checked * 4, mismatches: mismatches.length });
    expect(mismatches.slice(0, 10)).toEqual([]);
    expect(checked).toBeGreaterThan(500);
  });

  it('the query form and the path form of one transformation have the same key', () => {
    const a = parseImagePath(account, '/tr:w-100,h-50:rt-90/x.jpg', '');
    const b = parseImagePath(account, '/x.jpg', '?tr=h-50,w-100:rt-90');
    expect(canonicalTransformation(parseTransformation(a.tr, {}))).toBe(canonicalTransformation(parseTransformation(b.tr, {})));
  });

  it('different outputs get different keys (the key is not trivially constant)', () => {
    const keys = new Set(['w-100', 'w-101', 'h-100', 'w-100:h-100', 'w-100,h-100', 'q-50', 'f-png', 'rt-90', 'rt-180'].map((t) => canonicalTransformation(parseTransformation(t, {}))));
    expect(keys.size).toBe(9);
  });
});
