/**
 * The deadlines of one image miss, in one place (docs/security.md, "Deadlines"): how long the edge
 * waits for the whole request and for one region's attempt, and the budget it tells the region so
 * the region stops work nobody will wait for. A region answers within the budget it was given —
 * a render still running at that point is stopped and answered 503 EBUSY, request-scoped (another
 * region would be given no more time), instead of the edge timing out (504) and failing over to a
 * region that would burn the same CPU.
 */

/** The edge's deadline for the whole request, failovers included. */
export const EDGE_REQUEST_DEADLINE_MS = 20_000;
/** One attempt may use at most this much of it, so a hung region leaves time to fail over. */
export const EDGE_ATTEMPT_TIMEOUT_MS = 12_000;
/** What a region keeps back from the budget it was given, for the answer to travel back (a far region's RTT, the body); a quarter of a budget under 4 s. */
export const ANSWER_MARGIN_MS = 1_000;
/** Budgets outside this range are not believed (a caller gives at most the edge's whole deadline). */
const MAX_BUDGET_MS = EDGE_REQUEST_DEADLINE_MS;

/** The budget header's value (x-pixmesh-budget-ms: how long the caller waits) → ms; undefined when absent or not a whole number in 1…20 000. */
export function parseBudgetMs(header: string | null | undefined): number | undefined {
  if (header == null || !/^\d{1,6}$/.test(header)) return undefined;
  const ms = Number(header);
  return ms >= 1 && ms <= MAX_BUDGET_MS ? ms : undefined;
}

/**
 * When a region must have answered (ms since the epoch), given the caller's budget and when the call
 * arrived: the margin is kept back, but never more than a quarter of a small budget (a short forward
 * timeout still leaves the work most of it).
 */
export const answerBy = (budgetMs: number, arrivedAt: number): number => arrivedAt + budgetMs - Math.min(ANSWER_MARGIN_MS, budgetMs / 4);

/** The budget to pass on to the next hop (home, the owner replica): no more than the caller gave, nor than this hop waits. */
export const passOnBudget = (incoming: number | undefined, hopTimeoutMs: number): number => Math.min(incoming ?? hopTimeoutMs, hopTimeoutMs);
