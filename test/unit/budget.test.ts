/**
 * Tenant fairness (#12 point 7): the cost estimate and its ceiling, per-account budgets, and fair
 * queuing across accounts in the transform queue.
 */
import { describe, expect, it } from 'vitest';
import { isPixmeshError } from '../../shared/errors.js';
import { parseTransformation } from '../../shared/transform/index.js';
import { AccountBudgets, checkRenderCost, DEFAULT_MAX_RENDER_COST, estimateRenderCost } from '../../origin/src/budget.js';
import { TransformQueue } from '../../origin/src/queue.js';

const cost = (tr: string, w: number, h: number, f: 'jpeg' | 'avif' | 'webp' = 'jpeg') => estimateRenderCost(parseTransformation(tr), w, h, f);
const verdict = (c: number) => {
  try {
    checkRenderCost(c, DEFAULT_MAX_RENDER_COST);
    return 'ok';
  } catch (e) {
    return isPixmeshError(e) ? `${e.status} ${e.code}` : String(e);
  }
};

describe('render cost estimate and ceiling', () => {
  it.each([
    ['w-300', 4000, 3000, 'jpeg', 'ok'],
    ['w-8000,h-8000,c-force', 1000, 1000, 'jpeg', 'ok'],
    ['w-10000,h-10000,cm-pad_resize,bg-blurred_10', 1000, 1000, 'jpeg', '400 ELIMIT'],
    ['w-10000,h-10000,cm-pad_resize,bg-blurred_30_N20', 640, 480, 'webp', '400 ELIMIT'],
    ['w-8000,h-8000,c-force', 1000, 1000, 'avif', '400 ELIMIT'],
    ['w-2000,h-2000,bl-50:rt-45', 4000, 3000, 'jpeg', 'ok'],
    ['w-5000,dpr-2,e-shadow', 1000, 1000, 'jpeg', '400 ELIMIT'],
  ] as const)('%s on %i×%i as %s → %s', (tr, w, h, f, expected) => {
    expect(verdict(cost(tr, w, h, f))).toBe(expected);
  });

  it('names the estimate and the ceiling', () => {
    expect(() => checkRenderCost(cost('w-10000,h-10000,cm-pad_resize,bg-blurred_10', 1000, 1000), DEFAULT_MAX_RENDER_COST)).toThrow(/estimated at \d+ M pixel-operations .* at most 200 M/);
  });
});

describe('per-account budgets', () => {
  it('an account over its budget gets 429 with Retry-After; another account is unaffected; it refills', () => {
    const b = new AccountBudgets(100_000_000);
    b.take('a', 60_000_000, 0);
    let err: unknown;
    try {
      b.take('a', 60_000_000, 1000);
    } catch (e) {
      err = e;
    }
    expect(isPixmeshError(err) && [err.status, err.code, err.retryAfter! > 0]).toEqual([429, 'EBUSY', true]);
    expect(() => b.take('b', 60_000_000, 1000)).not.toThrow();
    expect(() => b.take('a', 60_000_000, 60_000)).not.toThrow();
    expect(() => b.take('a', 500_000, 60_001)).not.toThrow(); // cheap renders are never refused
  });
});

describe('fair queuing across accounts', () => {
  it('with one account flooding both slots and 8 waiting jobs, another account\'s job runs next, not after the flood', async () => {
    const q = new TransformQueue(2, 16);
    const order: string[] = [];
    const gates: (() => void)[] = [];
    const job = (name: string) => () =>
      new Promise<string>((resolve) => {
        order.push(name);
        gates.push(() => resolve(name));
      });
    const flood = Array.from({ length: 10 }, (_, i) => q.run(job(`a${i}`), undefined, 'flooder'));
    await new Promise((r) => setTimeout(r, 5));
    const victim = q.run(job('b0'), undefined, 'victim');
    expect(order).toEqual(['a0', 'a1']);
    gates.shift()!(); // one slot frees
    await new Promise((r) => setTimeout(r, 5));
    expect(order).toEqual(['a0', 'a1', 'b0']);
    while (gates.length) {
      gates.shift()!();
      await new Promise((r) => setTimeout(r, 1));
    }
    await Promise.all([...flood, victim]);
    expect(order.length).toBe(11);
  });

  it('one account may hold at most half of the waiting places; others still get in', async () => {
    const q = new TransformQueue(1, 4);
    let release!: () => void;
    const block = q.run(() => new Promise<void>((r) => (release = r)), undefined, 'x');
    const waits = [q.run(async () => 1, undefined, 'x'), q.run(async () => 2, undefined, 'x')];
    await expect(q.run(async () => 3, undefined, 'x')).rejects.toMatchObject({ status: 503, code: 'EBUSY' });
    const other = q.run(async () => 4, undefined, 'y');
    release();
    await Promise.all([block, ...waits, other]);
  });
});

describe('cost lanes and the reserve slot (the quiet tenant never waits behind a flood)', () => {
  /** A job that runs until released; `order` records starts. */
  const gated = (order: string[], gates: Map<string, () => void>) => (name: string) => () =>
    new Promise<string>((resolve) => {
      order.push(name);
      gates.set(name, () => resolve(name));
    });
  const tick = () => new Promise((r) => setTimeout(r, 2));

  it('heavy renders of one account holding both heavy slots (two more waiting): another account\'s cheap render starts at once', async () => {
    const q = new TransformQueue(2, 16, {}, 1, 1);
    const order: string[] = [];
    const gates = new Map<string, () => void>();
    const job = gated(order, gates);
    const flood = ['h0', 'h1', 'h2', 'h3'].map((n) => q.run(job(n), undefined, 'flooder', 'heavy'));
    await tick();
    const victim = q.run(job('quiet'), undefined, 'victim', 'cheap');
    await tick();
    expect(order).toEqual(['h0', 'h1', 'quiet']);
    gates.get('quiet')!();
    expect(await victim).toBe('quiet');
    for (const n of ['h0', 'h1', 'h2', 'h3']) {
      await tick();
      gates.get(n)!();
    }
    await Promise.all(flood);
    expect(order).toEqual(['h0', 'h1', 'quiet', 'h2', 'h3']);
  });

  it('each job is told whether it waited for its slot: the flood\'s third heavy render did, the other account\'s cheap one did not', async () => {
    const q = new TransformQueue(2, 16, {}, 1, 1);
    const waited = new Map<string, boolean>();
    const gates: (() => void)[] = [];
    const job = (name: string) => (w: boolean) => new Promise<void>((resolve) => (waited.set(name, w), gates.push(resolve)));
    const all = ['h0', 'h1', 'h2'].map((n) => q.run(job(n), undefined, 'flooder', 'heavy'));
    await tick();
    all.push(q.run(job('quiet'), undefined, 'victim', 'cheap'));
    await tick();
    while (waited.size < 4) {
      gates.shift()!();
      await tick();
    }
    for (const g of gates) g();
    await Promise.all(all);
    expect(Object.fromEntries(waited)).toEqual({ h0: false, h1: false, quiet: false, h2: true });
  });

  it('one account holding both cheap slots: another account\'s first job takes the reserve slot at once, its second waits and runs next', async () => {
    const q = new TransformQueue(2, 16, {}, 1, 1);
    const order: string[] = [];
    const gates = new Map<string, () => void>();
    const job = gated(order, gates);
    const flood = ['a0', 'a1', 'a2'].map((n) => q.run(job(n), undefined, 'flooder'));
    await tick();
    const b = ['b0', 'b1'].map((n) => q.run(job(n), undefined, 'victim'));
    await tick();
    expect(order).toEqual(['a0', 'a1', 'b0']);
    expect(q.running).toBe(3);
    gates.get('a0')!(); // back to two running (a1, b0): both cheap slots are taken and both waiting tenants run one
    await tick();
    expect(order).toEqual(['a0', 'a1', 'b0']);
    expect(q.running).toBe(2); // the reserve is for a tenant with nothing running
    gates.get('b0')!(); // a free slot: the victim (none running now) goes before the flooder (one running)
    await tick();
    expect(order).toEqual(['a0', 'a1', 'b0', 'b1']);
    for (const n of ['a1', 'b1']) gates.get(n)!();
    await tick();
    gates.get('a2')!();
    await Promise.all([...flood, ...b]);
  });

  it('without a reserve (the upload slots) the newcomer waits for a slot', async () => {
    const q = new TransformQueue(2, 16);
    const order: string[] = [];
    const gates = new Map<string, () => void>();
    const job = gated(order, gates);
    const flood = ['a0', 'a1'].map((n) => q.run(job(n), undefined, 'flooder'));
    await tick();
    const b = q.run(job('b0'), undefined, 'victim');
    await tick();
    expect(order).toEqual(['a0', 'a1']);
    gates.get('a0')!();
    await tick();
    expect(order).toEqual(['a0', 'a1', 'b0']);
    gates.get('a1')!();
    gates.get('b0')!();
    await Promise.all([...flood, b]);
  });

  it('work-conserving: one account alone uses every slot of both lanes', async () => {
    const q = new TransformQueue(2, 16, {}, 1, 1);
    const order: string[] = [];
    const gates = new Map<string, () => void>();
    const job = gated(order, gates);
    const all = [
      ...['c0', 'c1', 'c2'].map((n) => q.run(job(n), undefined, 'solo', 'cheap')),
      ...['h0', 'h1', 'h2'].map((n) => q.run(job(n), undefined, 'solo', 'heavy')),
    ];
    await tick();
    expect(order).toEqual(['c0', 'c1', 'h0', 'h1']);
    expect(q.depth).toBe(2);
    for (const n of ['c0', 'h0']) gates.get(n)!();
    await tick();
    expect(order).toEqual(['c0', 'c1', 'h0', 'h1', 'c2', 'h2']);
    for (const n of ['c1', 'h1', 'c2', 'h2']) gates.get(n)!();
    await Promise.all(all);
  });
});

describe('purge rate limit', () => {
  it('300 purges in 12 s from one account: the first 60 pass, the rest get 429 with Retry-After; another account is unaffected', async () => {
    const { purgeLimiter } = await import('../../origin/src/budget.js');
    const limit = purgeLimiter(60);
    let ok = 0;
    let refused = 0;
    for (let i = 0; i < 300; i++) {
      try {
        limit.take('flooder', 1, (i * 12_000) / 300);
        ok++;
      } catch (e) {
        if (isPixmeshError(e) && e.status === 429 && e.retryAfter! >= 1) refused++;
      }
    }
    // 60 of burst, plus what 12 s refill (12 purges) allows
    expect(ok).toBeGreaterThanOrEqual(60);
    expect(ok).toBeLessThanOrEqual(73);
    expect(refused).toBe(300 - ok);
    expect(() => limit.take('other', 1, 12_000)).not.toThrow();
  });
});
