/**
 * The one token bucket (shared/token-buckets.ts) as the edge's per-client budget uses it, and who
 * the client is (edge/src/client-budget.ts).
 */
import { describe, expect, it } from 'vitest';
import { isPixmeshError } from '../../shared/errors.js';
import { TokenBuckets } from '../../shared/token-buckets.js';
import { admitMiss, chargeMiss, clientOf, CLIENT_HEADER } from '../../edge/src/client-budget.js';

const refusal = (fn: () => void) => {
  try {
    fn();
    return 'ok';
  } catch (e) {
    return isPixmeshError(e) ? `${e.status} ${e.code} retry ${e.retryAfter}` : `crash ${String(e)}`;
  }
};

describe('token buckets', () => {
  it('take refuses what the bucket cannot pay (429 EBUSY, Retry-After until it can), other keys unaffected', () => {
    const b = new TokenBuckets(60_000, 0, () => 'used up');
    const t = 1_000_000;
    expect(refusal(() => b.take('a', 60_000, t))).toBe('ok');
    expect(refusal(() => b.take('a', 1000, t))).toBe('429 EBUSY retry 1');
    expect(refusal(() => b.take('b', 60_000, t))).toBe('ok');
    expect(refusal(() => b.take('a', 1000, t + 1000))).toBe('ok'); // refilled 1000 in a second
  });

  it('charge may leave a debt that take refuses until it is paid back', () => {
    const b = new TokenBuckets(60_000, 0, () => 'used up');
    const t = 5_000_000;
    b.charge('c', 90_000, t); // a minute's worth and half as much again
    expect(refusal(() => b.take('c', 1, t))).toBe('429 EBUSY retry 31');
    expect(refusal(() => b.take('c', 1, t + 29_000))).toMatch(/^429/);
    expect(refusal(() => b.take('c', 1, t + 31_000))).toBe('ok');
  });

  it('costs under the free threshold are never refused', () => {
    const b = new TokenBuckets(10, 100, () => 'used up');
    for (let i = 0; i < 50; i++) expect(refusal(() => b.take('k', 99, 1))).toBe('ok');
  });
});

describe('edge per-client budget', () => {
  const env = { PIXMESH_CLIENT_BUDGET_MS: '1000' };
  it.each([
    [{ 'cf-connecting-ip': '203.0.113.9' }, false, '203.0.113.9'],
    [{ 'cf-connecting-ip': '203.0.113.9', [CLIENT_HEADER]: 'spoofed' }, false, '203.0.113.9'], // not trusted in production
    [{ 'cf-connecting-ip': '203.0.113.9', [CLIENT_HEADER]: 'tester' }, true, 'tester'],
    [{}, false, 'unknown'],
  ])('client of %j (trusted headers %s) is %s', (headers, trusted, expected) => {
    expect(clientOf(new Request('http://edge.test/a/x.jpg', { headers }), trusted)).toBe(expected);
  });

  it('a client that spent its region time is refused; another client of the same account, and the same client of another account, are not', () => {
    const t = 9_000_000;
    expect(refusal(() => admitMiss(env, 'acme', 'attacker', t))).toBe('ok');
    chargeMiss(env, 'acme', 'attacker', 5000, t); // a heavy render: five times the per-minute budget
    expect(refusal(() => admitMiss(env, 'acme', 'attacker', t))).toMatch(/^429 EBUSY/);
    expect(refusal(() => admitMiss(env, 'acme', 'visitor', t))).toBe('ok');
    expect(refusal(() => admitMiss(env, 'other', 'attacker', t))).toBe('ok');
  });
});
