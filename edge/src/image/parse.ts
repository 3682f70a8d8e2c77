/** Phase "parse": which account (custom domain or first path segment), which file, which transformation. */
import { RESERVED_ACCOUNT_IDS } from '../../../shared/accounts.js';
import { notFound } from '../../../shared/errors.js';
import { decodeAccountSegment, parseImagePath } from '../../../shared/request.js';
import { parseTransformation } from '../../../shared/transform/index.js';
import { loadAccounts } from '../accounts.js';
import type { ImageJob, ImagePhase } from './job.js';

const RESERVED_FIRST_SEGMENTS = new Set(RESERVED_ACCOUNT_IDS);

/** Custom domain → account from Host; otherwise the first path segment names the account. */
async function resolveAccount(job: ImageJob) {
  const { url } = job;
  const accounts = await loadAccounts(job.c.env);
  const byHost = accounts.byHost(url.host);
  if (byHost) return { account: byHost, pathAfterAccount: url.pathname, urlEndpoint: url.origin, viaCustomDomain: true };
  const m = /^\/([^/]+)(\/.*)?$/.exec(url.pathname);
  if (!m || RESERVED_FIRST_SEGMENTS.has(m[1]!)) throw notFound('no such route');
  const id = decodeAccountSegment(m[1]!);
  const account = accounts.get(id);
  if (!account) throw notFound(`unknown account "${id}"`);
  return { account, pathAfterAccount: m[2] ?? '', urlEndpoint: `${url.origin}/${m[1]}`, viaCustomDomain: false };
}

export const parse: ImagePhase = {
  name: 'parse',
  memoised: true,
  async run(job) {
    Object.assign(job, await resolveAccount(job));
    job.request = parseImagePath(job.account, job.pathAfterAccount, job.url.search);
    job.plan = parseTransformation(job.request.tr, { namedTransforms: job.account.namedTransforms, namedOnly: job.account.namedOnly });
  },
};
