/**
 * JSON lines on stdout/stderr; one object per event. Lines to stdout (info, warn: the access log
 * among them) are batched: a line logged within FLUSH_MS of the last write waits for the next one
 * (at most FLUSH_MS, or until FLUSH_BYTES are waiting), which is one synchronous write of the
 * batch; a line after a quiet moment is written at once. Under a stream of cache hits that is one
 * write per FLUSH_MS instead of one per answer — a write costs the process ≈ 4 µs synchronously
 * and ≈ 30 µs of CPU on the thread pool, whatever its size (docs/benchmarks.md "Hit path").
 * Synchronous, so nothing is ever in flight: what is queued when the process exits is written
 * then, after everything before it (a thread-pool write still in flight at process.exit() lost or
 * reordered lines). Errors go to stderr synchronously, at once.
 */
import fs from 'node:fs';

type Fields = Record<string, unknown>;
let base: Fields = {};

export function setLogContext(fields: Fields): void {
  base = { ...base, ...fields };
}

/** A batch waits at most FLUSH_MS after the previous write, or until FLUSH_BYTES are queued. */
const FLUSH_MS = 10;
const FLUSH_BYTES = 64 * 1024;
let queued: string[] = [];
let queuedBytes = 0;
let lastWrite = -Infinity;
let timer: ReturnType<typeof setTimeout> | undefined;
let hooked = false;
/** Set once stdout refused a synchronous write (a non-blocking pipe): from then on, the stream's own queue, in order. */
let viaStream = false;

function flush(): void {
  if (timer) clearTimeout(timer);
  timer = undefined;
  if (!queued.length) return;
  const data = Buffer.from(queued.join(''));
  queued = [];
  queuedBytes = 0;
  lastWrite = performance.now();
  let from = 0;
  if (!viaStream) {
    try {
      while (from < data.length) from += fs.writeSync(1, data, from, data.length - from);
      return;
    } catch {
      viaStream = true;
    }
  }
  process.stdout.write(data.subarray(from));
}

function toStdout(line: string): void {
  queued.push(line);
  queuedBytes += line.length;
  if (!hooked) {
    hooked = true;
    // process.exit() (shutdown) and a normal exit: whatever is still queued, synchronously.
    process.on('exit', flush);
  }
  if (timer) {
    if (queuedBytes >= FLUSH_BYTES) flush();
    return;
  }
  const wait = lastWrite + FLUSH_MS - performance.now();
  if (wait <= 0 || queuedBytes >= FLUSH_BYTES) return flush();
  timer = setTimeout(flush, wait);
  timer.unref();
}

function write(level: 'info' | 'warn' | 'error', msg: string, fields: Fields = {}): void {
  if (process.env.PIXMESH_LOG === 'silent') return;
  const line = JSON.stringify({ t: new Date().toISOString(), level, msg, ...base, ...fields }) + '\n';
  if (level === 'error') {
    flush(); // what was logged before it comes first where stdout and stderr share a file
    process.stderr.write(line);
  } else toStdout(line);
}

export const log = {
  info: (msg: string, fields?: Fields) => write('info', msg, fields),
  warn: (msg: string, fields?: Fields) => write('warn', msg, fields),
  error: (msg: string, fields?: Fields) => write('error', msg, fields),
};
