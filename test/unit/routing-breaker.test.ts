import { describe, expect, it } from 'vitest';
import {
  beginAttempt,
  breakerStatus,
  breakerStatuses,
  classifyOutcome,
  newBreaker,
  newBreakers,
  recordOutcome,
  type BreakerConfig,
  type BreakerState,
  type BreakerStatus,
} from '../../shared/breaker.js';

const cfg: BreakerConfig = { failureThreshold: 3, coolDownMs: 1000, maxCoolDownMs: 3000, trialLeaseMs: 500 };

/** Steps: [t ms, action] where action is an outcome, 'begin' (claims a trial if any) or 'check'. */
type Step = [number, 'success' | 'failure' | 'neutral' | 'begin' | 'check'];

function run(steps: Step[]): { statuses: BreakerStatus[]; allowed: boolean[]; state: BreakerState } {
  let s = newBreaker();
  const statuses: BreakerStatus[] = [];
  const allowed: boolean[] = [];
  for (const [t, action] of steps) {
    if (action === 'begin') {
      const r = beginAttempt(s, t, cfg);
      s = r.state;
      allowed.push(r.allowed);
    } else if (action !== 'check') s = recordOutcome(s, action, t, cfg);
    statuses.push(breakerStatus(s, t, cfg));
  }
  return { statuses, allowed, state: s };
}

describe('circuit breaker', () => {
  it.each<[string, Step[], BreakerStatus[]]>([
    ['stays closed below the threshold', [[0, 'failure'], [1, 'failure']], ['closed', 'closed']],
    ['opens on the 3rd consecutive failure', [[0, 'failure'], [1, 'failure'], [2, 'failure']], ['closed', 'closed', 'open']],
    ['a success in between resets the count', [[0, 'failure'], [1, 'failure'], [2, 'success'], [3, 'failure'], [4, 'failure']], ['closed', 'closed', 'closed', 'closed', 'closed']],
    ['neutral (429) neither resets nor counts', [[0, 'failure'], [1, 'failure'], [2, 'neutral'], [3, 'failure']], ['closed', 'closed', 'closed', 'open']],
    ['still open during the cool-down', [[0, 'failure'], [1, 'failure'], [2, 'failure'], [1001, 'check']], ['closed', 'closed', 'open', 'open']],
    ['half-open after the cool-down', [[0, 'failure'], [1, 'failure'], [2, 'failure'], [1002, 'check']], ['closed', 'closed', 'open', 'half-open']],
    ['a claimed trial makes it open for everyone else', [[0, 'failure'], [1, 'failure'], [2, 'failure'], [1002, 'begin'], [1003, 'check']], ['closed', 'closed', 'open', 'open', 'open']],
    ['trial success closes', [[0, 'failure'], [1, 'failure'], [2, 'failure'], [1002, 'begin'], [1100, 'success']], ['closed', 'closed', 'open', 'open', 'closed']],
    ['trial failure re-opens (cool-down doubled: still open at +1999)', [[0, 'failure'], [1, 'failure'], [2, 'failure'], [1002, 'begin'], [1100, 'failure'], [3099, 'check']], ['closed', 'closed', 'open', 'open', 'open', 'open']],
    ['…and half-open again after the doubled cool-down', [[0, 'failure'], [1, 'failure'], [2, 'failure'], [1002, 'begin'], [1100, 'failure'], [3100, 'check']], ['closed', 'closed', 'open', 'open', 'open', 'half-open']],
    ['a lost trial frees the slot after the lease', [[0, 'failure'], [1, 'failure'], [2, 'failure'], [1002, 'begin'], [1501, 'check'], [1502, 'check']], ['closed', 'closed', 'open', 'open', 'open', 'half-open']],
    ['neutral trial result frees the slot at once', [[0, 'failure'], [1, 'failure'], [2, 'failure'], [1002, 'begin'], [1010, 'neutral']], ['closed', 'closed', 'open', 'open', 'half-open']],
    ['a late failure while open does not extend the cool-down', [[0, 'failure'], [1, 'failure'], [2, 'failure'], [900, 'failure'], [1002, 'check']], ['closed', 'closed', 'open', 'open', 'half-open']],
  ])('%s', (_name, steps, want) => {
    expect(run(steps).statuses).toEqual(want);
  });

  it('only one caller gets the half-open trial', () => {
    const { allowed } = run([[0, 'failure'], [1, 'failure'], [2, 'failure'], [500, 'begin'], [1002, 'begin'], [1003, 'begin'], [1004, 'begin']]);
    expect(allowed).toEqual([false, true, false, false]);
  });

  it('closed breakers always allow, without a trial', () => {
    const r = beginAttempt(newBreaker(), 0, cfg);
    expect(r).toMatchObject({ allowed: true, trial: false });
  });

  it('the cool-down doubling is capped', () => {
    const steps: Step[] = [[0, 'failure'], [1, 'failure'], [2, 'failure']];
    let t = 2;
    for (let i = 0; i < 4; i++) {
      t += 10_000;
      steps.push([t, 'begin'], [t + 1, 'failure']);
    }
    expect(run(steps).state.coolDownMs).toBe(3000);
  });

  it.each<[number | 'timeout' | 'network-error', string]>([
    [200, 'success'],
    [304, 'success'],
    [400, 'success'],
    [401, 'success'],
    [404, 'success'],
    [413, 'success'],
    [429, 'neutral'],
    [500, 'failure'],
    [502, 'failure'],
    [503, 'failure'],
    [504, 'failure'],
    ['timeout', 'failure'],
    ['network-error', 'failure'],
    [0, 'failure'],
    [999, 'failure'],
  ])('classifyOutcome(%j) = %s', (input, want) => {
    expect(classifyOutcome(input)).toBe(want);
  });

  it('state survives a JSON round trip', () => {
    const { state } = run([[0, 'failure'], [1, 'failure'], [2, 'failure'], [1002, 'begin']]);
    const back = JSON.parse(JSON.stringify(state)) as BreakerState;
    expect(back).toEqual(state);
    expect(breakerStatus(back, 1003, cfg)).toBe('open');
  });

  it('breakerStatuses reports every region', () => {
    const b = newBreakers();
    b['eu-central-1'] = run([[0, 'failure'], [1, 'failure'], [2, 'failure']]).state;
    const st = breakerStatuses(b, 10, cfg);
    expect(st['eu-central-1']).toBe('open');
    expect(Object.values(st).filter((x) => x === 'closed')).toHaveLength(5);
  });
});
