/**
 * Phases "recall" and "remember": what parse → verify → negotiate and the edge-cache key computed
 * for a request, kept per isolate by the request's identity (method, URL, and every request header
 * those phases read), so a repeat — the HIT path — skips them (docs/benchmarks.md §3). Only
 * requests whose answer cannot depend on the time are kept: no signature or expiry in the URL,
 * no Range / If-Range. A kept result is used only with the very account directory object it was
 * computed with (a reload of the directory is a miss here).
 */
import type { AccountIndex } from '../../../shared/accounts.js';
import { loadAccounts } from '../accounts.js';
import type { ImageJob, ImagePhase } from './job.js';

/** What the memoised phases fill in (job.ts), plus the edge-cache key's URL. */
type Recalled = Pick<ImageJob, 'account' | 'pathAfterAccount' | 'urlEndpoint' | 'viaCustomDomain' | 'request' | 'plan' | 'signature' | 'format' | 'encoding' | 'delivery' | 'hints' | 'varyOn'> & {
  accounts: AccountIndex;
  keyUrl?: string;
};

const BOUND = 2000;
const memo = new Map<string, Recalled>();

/** Headers parse, verify and negotiate read (negotiate.ts): any of them changes the answer. */
const READ_HEADERS = ['accept', 'accept-encoding', 'sec-ch-dpr', 'dpr', 'sec-ch-width', 'width'] as const;

function identity(job: ImageJob): string | null {
  const h = job.c.req.raw.headers;
  if (h.has('range') || h.has('if-range')) return null;
  const { search } = job.url;
  if (search.includes('ik-s=') || search.includes('ik-t=')) return null;
  let id = `${job.c.req.method}\n${job.url.href}`;
  for (const name of READ_HEADERS) id += `\n${h.get(name) ?? ''}`;
  return id;
}

export const recall: ImagePhase = {
  name: 'recall',
  async run(job) {
    const id = identity(job);
    job.recallId = id ?? undefined;
    if (!id) return;
    const kept = memo.get(id);
    if (!kept) return;
    if ((await loadAccounts(job.c.env)) !== kept.accounts) {
      memo.delete(id);
      return;
    }
    const { accounts: _a, keyUrl, ...fields } = kept;
    Object.assign(job, fields);
    job.recalled = true;
    if (keyUrl) job.key = new Request(keyUrl);
  },
};

export const remember: ImagePhase = {
  name: 'remember',
  async run(job) {
    if (job.recalled || !job.recallId || job.signature.signed) return;
    const { account, pathAfterAccount, urlEndpoint, viaCustomDomain, request, plan, signature, format, encoding, delivery, hints, varyOn } = job;
    memo.delete(job.recallId);
    memo.set(job.recallId, { accounts: await loadAccounts(job.c.env), account, pathAfterAccount, urlEndpoint, viaCustomDomain, request, plan, signature, format, encoding, delivery, hints, varyOn });
    if (memo.size > BOUND) memo.delete(memo.keys().next().value!);
  },
};

/** The edge-cache key's URL, once computed, kept with the rest (edge-cache.ts calls it). */
export function rememberKey(job: ImageJob, keyUrl: string): void {
  const kept = job.recallId ? memo.get(job.recallId) : undefined;
  if (kept) kept.keyUrl = keyUrl;
}
