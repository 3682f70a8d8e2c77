/** The render child of ./isolate.ts: one job at a time over IPC, errors as plain data. */
import { readdirSync } from 'node:fs';
import os from 'node:os';
import { isPixmeshError, PixmeshError } from '../../../shared/errors.js';
import { NICE_ENV, type ChildReply, type LayerReply, type LayerRequest } from './isolate.js';
import { renderImage, type RenderOptions } from './index.js';
import type { TransformPlan } from '../../../shared/transform/index.js';

/**
 * Lower this process's priority (the heavy-render pool). On Linux a niceness belongs to a thread:
 * every thread there now is set (node's own, the libuv pool's if started); threads libvips starts
 * later inherit it from the thread that creates them. Elsewhere the main thread's is set.
 */
function lowerPriority(nice: number): void {
  if (!(nice > 0)) return;
  let tids: number[] = [];
  try {
    tids = readdirSync('/proc/self/task').map(Number).filter((t) => t > 0);
  } catch {
    // not Linux: the main thread only
  }
  for (const tid of tids.length ? tids : [0]) {
    try {
      os.setPriority(tid, nice);
    } catch {
      // a thread that ended meanwhile
    }
  }
}
lowerPriority(Number(process.env[NICE_ENV] ?? 0));

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
