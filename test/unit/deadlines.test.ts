import { describe, expect, it } from 'vitest';
import { ANSWER_MARGIN_MS, answerBy, EDGE_ATTEMPT_TIMEOUT_MS, EDGE_REQUEST_DEADLINE_MS, parseBudgetMs, passOnBudget } from '../../shared/deadlines.js';

describe('the budget header is believed only as a whole number of ms within the edge deadline', () => {
  it.each([
    ['12000', 12_000],
    ['1', 1],
    ['20000', 20_000],
    ['20001', undefined],
    ['0', undefined],
    ['-5', undefined],
    ['1.5', undefined],
    ['12e3', undefined],
    ['', undefined],
    [' 100', undefined],
    [null, undefined],
  ])('%j → %j', (header, ms) => expect(parseBudgetMs(header)).toBe(ms));
});

describe('a region answers within its budget, less the way back', () => {
  it.each([
    [12_000, 1_000, 1_000 + 12_000 - ANSWER_MARGIN_MS],
    [4 * ANSWER_MARGIN_MS, 0, 3 * ANSWER_MARGIN_MS],
    [800, 5, 5 + 600], // a small budget keeps three quarters for the work
  ])('budget %i ms, arrived at %i → answer by %i', (budget, arrived, by) => expect(answerBy(budget, arrived)).toBe(by));
});

describe('the next hop is given no more than this hop waits, nor than its caller allowed', () => {
  it.each([
    [undefined, 3_000, 3_000],
    [12_000, 3_000, 3_000],
    [1_200, 3_000, 1_200],
  ])('incoming %j, hop timeout %i → %i', (incoming, hop, out) => expect(passOnBudget(incoming, hop)).toBe(out));
});

it('one attempt leaves the edge time to fail over within its whole-request deadline', () => {
  expect(EDGE_ATTEMPT_TIMEOUT_MS).toBeLessThan(EDGE_REQUEST_DEADLINE_MS);
  expect(ANSWER_MARGIN_MS).toBeLessThan(EDGE_ATTEMPT_TIMEOUT_MS);
});
