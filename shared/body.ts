/**
 * The one bounded body reader (edge and origin): reads a request body into memory, refusing it
 * with 413 ELIMIT past `maxBytes` and with 408 when the sender stalls (`idleMs`) or takes longer
 * than `deadlineMs` in all.
 * A body that breaks off mid-way is a 400 (nothing was kept).
 */
import { badRequest, limitExceeded, PixmeshError } from './errors.js';

type ReadResult = Awaited<ReturnType<ReadableStreamDefaultReader<Uint8Array>['read']>>;

export interface BodyLimits {
  maxBytes: number;
  /** Give up when no chunk arrives for this long (ms): 408. */
  idleMs?: number;
  /** The whole body must arrive within this (ms), so a client trickling bytes is cut off: 408. */
  deadlineMs?: number;
  /** What the body is, for messages ("the upload", "a client-side upload"). */
  what?: string;
  /** Read it to the end (within the same bounds) and keep nothing: a request refused before its body was needed, so its sender finishes sending and hears the answer. */
  discard?: boolean;
}

export async function readBodyLimited(body: ReadableStream<Uint8Array> | null, limits: BodyLimits): Promise<Uint8Array> {
  const what = limits.what ?? 'the body';
  if (!body) throw badRequest('the request has no body');
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const until = limits.deadlineMs === undefined ? Infinity : Date.now() + limits.deadlineMs;
  try {
    for (;;) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const reads: Promise<ReadResult>[] = [reader.read()];
      const idle = limits.idleMs ?? Infinity;
      const wait = Math.min(idle, until - Date.now());
      if (wait !== Infinity) {
        const message = wait < idle ? `${what} did not arrive within ${Math.round(limits.deadlineMs! / 1000)} s` : `${what} stalled for ${idle} ms`;
        reads.push(new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new PixmeshError(408, 'EUPSTREAM', message)), Math.max(0, wait)))));
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
      if (!limits.discard) chunks.push(step.value);
    }
  } catch (e) {
    await reader.cancel().catch(() => undefined);
    if (e instanceof PixmeshError) throw e;
    // The sender went away mid-body: nothing was kept.
    throw badRequest(`${what} was interrupted before it was complete`);
  }
  const out = new Uint8Array(limits.discard ? 0 : size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
