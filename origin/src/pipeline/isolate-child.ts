/** The render child of ./isolate.ts: one job at a time over IPC, errors as plain data. */
import { isPixmeshError } from '../../../shared/errors.js';
import type { ChildReply } from './isolate.js';
import { renderImage, type RenderOptions } from './index.js';
import type { TransformPlan } from '../../../shared/transform/index.js';

process.on('message', (job: { id: number; input: Uint8Array; plan: TransformPlan; opts: RenderOptions }) => {
  void (async () => {
    let reply: ChildReply;
    try {
      const input = Buffer.from(job.input.buffer, job.input.byteOffset, job.input.byteLength);
      const r = await renderImage(input, job.plan, job.opts);
      reply = { id: job.id, ok: true, result: { ...r, data: new Uint8Array(r.data.buffer, r.data.byteOffset, r.data.byteLength) } };
    } catch (e) {
      reply = isPixmeshError(e)
        ? { id: job.id, ok: false, error: { status: e.status, code: e.code, message: e.message, retryAfter: e.retryAfter } }
        : { id: job.id, ok: false, error: { status: 500, code: 'EUPSTREAM', message: 'internal render error' } };
    }
    process.send?.(reply);
  })();
});
process.on('disconnect', () => process.exit(0));
process.send?.({ ready: true });
