/**
 * The one bounded body reader (edge and origin): reads a request body into memory, refusing it
 * with 413 ELIMIT past `maxBytes` and — when `idleMs` is given — with 408 when the sender stalls.
 * A body that breaks off mid-way is a 400 (nothing was kept).
 */
import { badRequest, limitExceeded, PixmeshError } from './errors.js';

type ReadResult = Awaited<ReturnType<ReadableStreamDefaultReader<Uint8Array>['read']>>;

export interface BodyLimits {
  maxBytes: number;
  /** Give up when no chunk arrives for this long (ms). */
  idleMs?: number;
  /** What the body is, for messages ("the upload", "a client-side upload"). */
  what?: string;
}

export async function readBodyLimited(body: ReadableStream<Uint8Array> | null, limits: BodyLimits): Promise<Uint8Array> {
  const what = limits.what ?? 'the body';
  if (!body) throw badRequest('the request has no body');
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const reads: Promise<ReadResult>[] = [reader.read()];
      if (limits.idleMs !== undefined) {
        const idleMs = limits.idleMs;
        reads.push(new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new PixmeshError(408, 'EUPSTREAM', `${what} stalled for ${idleMs} ms`)), idleMs))));
      }
      let step: ReadResult;
      try {
        step = await Promise.race(reads);
      } finally {
        clearTimeout(timer);
      }
      if (step.done || !step.value) break;
      size += step.value.length;
      if (size > limits.maxBytes) throw limitExceeded(`${what} is over the ${limits.maxBytes}-byte limit`, 413);
      chunks.push(step.value);
    }
  } catch (e) {
    await reader.cancel().catch(() => undefined);
    if (e instanceof PixmeshError) throw e;
    // The sender went away mid-body: nothing was kept.
    throw badRequest(`${what} was interrupted before it was complete`);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
