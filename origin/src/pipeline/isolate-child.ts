/** The render child of ./isolate.ts: one job at a time over IPC, errors as plain data. */
import { isPixmeshError, PixmeshError } from '../../../shared/errors.js';
import type { ChildReply, LayerReply, LayerRequest } from './isolate.js';
import { renderImage, type RenderOptions } from './index.js';
import type { TransformPlan } from '../../../shared/transform/index.js';

const pendingLayers = new Map<number, { resolve: (b: Buffer) => void; reject: (e: unknown) => void }>();
let nextReq = 1;

type Job = { id: number; input: Uint8Array; plan: TransformPlan; opts: RenderOptions; layers: boolean };

process.on('message', (msg: Job | LayerReply) => {
  if ('type' in msg && msg.type === 'layer') {
    const p = pendingLayers.get(msg.req);
    pendingLayers.delete(msg.req);
    if (!p) return;
    if (msg.data) p.resolve(Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength));
    else p.reject(new PixmeshError(msg.error?.status ?? 502, msg.error?.code ?? 'EUPSTREAM', msg.error?.message ?? 'layer fetch failed'));
    return;
  }
  const job = msg as Job;
  const fetchLayer = (path: string, kind: 'image' | 'font') =>
    new Promise<Buffer>((resolve, reject) => {
      const req = nextReq++;
      pendingLayers.set(req, { resolve, reject });
      const ask: LayerRequest = { type: 'fetchLayer', id: job.id, req, path, kind };
      process.send?.(ask);
    });
  void (async () => {
    let reply: ChildReply;
    try {
      const input = Buffer.from(job.input.buffer, job.input.byteOffset, job.input.byteLength);
      const r = await renderImage(input, job.plan, job.layers ? { ...job.opts, fetchLayer } : job.opts);
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
