/** The network view's home-region advice line (dashboard/src/advice.ts), from the advice API's answer. */
import { describe, expect, it } from 'vitest';
import { adviceLine, type HomeAdvice } from '../../dashboard/src/advice.js';

const region = (r: string, expectedMissMs: number | null, networkMs: number, originMs: number | null, home = 'eu-central-1') => ({ region: r, expectedMissMs, networkMs, originMs, isCurrentHome: r === home });
const advice = (over: Partial<HomeAdvice>): HomeAdvice => ({
  currentHome: 'eu-central-1',
  advised: 'us-east-1',
  coloMix: { source: 'observed', requests: 40, colos: { IAD: 30, GRU: 10 } },
  regions: [region('us-east-1', 52.4, 47.4, 5), region('eu-central-1', 191.5, 91.5, 100), region('ap-southeast-2', null, 300, null)],
  ...over,
});

describe('adviceLine', () => {
  it.each([
    [
      'another region is better: names it, with both expected misses, the saving and the mix',
      advice({}),
      'Advised home region: us-east-1 — expected miss 52 ms (network 47 ms + origin 5.0 ms) vs 192 ms at the current home eu-central-1 (139 ms less), from 40 edge misses from 2 colos.',
    ],
    [
      'the current home is the best: says so',
      advice({ advised: 'eu-central-1', regions: [region('eu-central-1', 37, 32, 5), region('us-east-1', 120, 115, 5)] }),
      'Home region eu-central-1 is the best home for this account: expected miss 37 ms (network 32 ms + origin 5.0 ms), from 40 edge misses from 2 colos.',
    ],
    [
      'no traffic seen yet: no advice, and how to get one',
      advice({ coloMix: { source: 'observed', requests: 0, colos: {} } }),
      'Home region eu-central-1: no edge traffic seen for this account yet, so no advice (send requests through the edge, or ask the API with ?colos=SYD:3,FRA:1).',
    ],
    ['no region measured the origins: no advice', advice({ advised: null }), "Home region eu-central-1: no region could measure this account's origins, so no advice."],
  ])('%s', (_what, a, line) => {
    expect(adviceLine(a)).toBe(line);
  });
});
