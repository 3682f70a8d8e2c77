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
import type { Env } from '../env.js';
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

function identity(method: string, url: URL, h: Headers): string | null {
  if (h.has('range') || h.has('if-range')) return null;
  const { search } = url;
  if (search.includes('ik-s=') || search.includes('ik-t=')) return null;
  let id = `${method}\n${url.href}`;
  for (const name of READ_HEADERS) id += `\n${h.get(name) ?? ''}`;
  return id;
}

/** What was kept for this request's identity, while the account directory is the one it was computed with. */
async function kept(id: string, env: Env): Promise<Recalled | undefined> {
  const k = memo.get(id);
  if (!k) return undefined;
  if ((await loadAccounts(env)) === k.accounts) return k;
  memo.delete(id);
  return undefined;
}

export const recall: ImagePhase = {
  name: 'recall',
  async run(job) {
    const id = identity(job.c.req.method, job.url, job.c.req.raw.headers);
    job.recallId = id ?? undefined;
    if (!id) return;
    const k = await kept(id, job.c.env);
    if (!k) return;
    const { accounts: _a, keyUrl, ...fields } = k;
    Object.assign(job, fields);
    job.recalled = true;
    if (keyUrl) job.key = new Request(keyUrl);
  },
};

/**
 * For the HIT fast path (edge-cache.ts fastHit): what a repeat of this request needs to look up and
 * answer from the edge cache, when its phase results and edge-cache key are kept.
 */
export async function recallForHit(request: Request, url: URL, env: Env): Promise<(Recalled & { keyUrl: string }) | undefined> {
  const id = identity(request.method, url, request.headers);
  const k = id ? await kept(id, env) : undefined;
  return k?.keyUrl ? (k as Recalled & { keyUrl: string }) : undefined;
}

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
