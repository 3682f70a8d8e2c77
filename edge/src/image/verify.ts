/** Phase "verify": the URL signature and expiry, checked before the cache so an expired URL never hits. */
import { verifyImageUrlSignature } from '../../../shared/signing.js';
import type { ImagePhase } from './job.js';

export const verify: ImagePhase = {
  name: 'verify',
  memoised: true,
  async run(job) {
    job.signature = await verifyImageUrlSignature(job.account.privateKey, job.urlEndpoint, job.c.req.url, {
      required: job.account.signedUrls === 'required',
    });
  },
};
