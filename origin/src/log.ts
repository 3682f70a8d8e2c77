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
/** Fields a line may be serialised from later (log.infoLater): primitives only, so the JSON cannot change or throw. */
type PlainFields = Record<string, string | number | boolean | null | undefined>;

/**
 * The context lines join (setLogContext), replaced whole on each change so a line queued for later
 * serialisation keeps the one it was logged under: its members; their JSON (`,"k":v…`, or '' when
 * none) — null when a value is not a primitive (it could change after it was serialised) or a name
 * starts with a digit (an object orders array indices first); every name a line's fields must not
 * use to join it.
 */
interface Context {
  base: Fields;
  json: string | null;
  reserved: Set<string>;
}
let ctx: Context = { base: {}, json: '', reserved: new Set<string>(['t', 'level', 'msg', 'toJSON']) };

export function setLogContext(fields: Fields): void {
  const base = { ...ctx.base, ...fields };
  const names = Object.keys(base);
  const plain = names.every((k) => !/^\d/.test(k) && k !== 'toJSON' && (base[k] === null || (typeof base[k] !== 'object' && typeof base[k] !== 'function')));
  const inner = JSON.stringify(base).slice(1, -1);
  ctx = { base, json: !plain ? null : inner ? `,${inner}` : '', reserved: new Set(['t', 'level', 'msg', 'toJSON', ...names]) };
}

/** The timestamp of the last line, kept while the clock shows the same millisecond. */
let lastMs = NaN;
let lastIso = '';

/**
 * One log line: the JSON of `{ t, level, msg, ...context, ...fields }`, character for character.
 * Built from the context's JSON (serialised once per setLogContext) and the fields' own JSON, with
 * no merged object per line; a line whose fields repeat a name of the context (or t, level, msg),
 * or have a name starting with a digit (an array index, which an object orders first) or toJSON,
 * is built by spreading as before, and so is every line while the context holds a non-primitive.
 * Same output (test/unit/log-line.test.ts); ≈ 1 µs less per access-log line.
 */
export function logLine(level: string, msg: string, fields: Fields | undefined, now = Date.now(), context: Context = ctx): string {
  if (now !== lastMs) {
    lastMs = now;
    lastIso = new Date(now).toISOString();
  }
  const { base, json, reserved } = context;
  if (json === null) return JSON.stringify({ t: lastIso, level, msg, ...base, ...fields });
  let tail = '}';
  if (fields) {
    for (const k in fields) {
      const c = k.charCodeAt(0);
      if (reserved.has(k) || (c >= 48 && c <= 57)) return JSON.stringify({ t: lastIso, level, msg, ...base, ...fields });
    }
    const own = JSON.stringify(fields);
    if (own.length > 2) tail = `,${own.slice(1)}`;
  }
  return `{"t":"${lastIso}","level":${JSON.stringify(level)},"msg":${JSON.stringify(msg)}${json}${tail}`;
}

/** A line queued as its parts (log.infoLater), serialised when its batch is written: the same characters as logLine at the call. */
class Later {
  constructor(
    readonly msg: string,
    readonly fields: PlainFields,
    readonly now: number,
    readonly context: Context,
  ) {}
  line(): string {
    return `${logLine('info', this.msg, this.fields, this.now, this.context)}\n`;
  }
}
/** What a queued Later counts towards FLUSH_BYTES (an access-log line is ≈ 250 characters). */
const LATER_BYTES = 256;

/** A batch waits at most FLUSH_MS after the previous write, or until FLUSH_BYTES are queued. */
const FLUSH_MS = 10;
const FLUSH_BYTES = 64 * 1024;
let queued: (string | Later)[] = [];
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
  let text = '';
  for (const q of queued) text += typeof q === 'string' ? q : q.line();
  const data = Buffer.from(text);
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

function toStdout(line: string | Later, bytes: number): void {
  queued.push(line);
  queuedBytes += bytes;
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

/**
 * PIXMESH_LOG=silent drops every line. Read at the first line a process logs, not per line (each
 * read of process.env is a getenv and two string conversions, ≈ 1 µs of an access-log line).
 */
let silent: boolean | undefined;

function write(level: 'info' | 'warn' | 'error', msg: string, fields: Fields = {}): void {
  if ((silent ??= process.env.PIXMESH_LOG === 'silent')) return;
  const line = logLine(level, msg, fields) + '\n';
  if (level === 'error') {
    flush(); // what was logged before it comes first where stdout and stderr share a file
    process.stderr.write(line);
  } else toStdout(line, line.length);
}

/**
 * log.info, with the line serialised when its batch is written (≤ FLUSH_MS later, in its place
 * among the other lines) instead of now: same characters — the call's time and context, fields
 * that are primitives — and a hit answer does not build its access-log line on its way back to
 * the event loop; a batch builds its lines in one warm loop (docs/benchmarks.md "Round 7 (hit path").
 */
function infoLater(msg: string, fields: PlainFields): void {
  if ((silent ??= process.env.PIXMESH_LOG === 'silent')) return;
  toStdout(new Later(msg, fields, Date.now(), ctx), LATER_BYTES);
}

export const log = {
  info: (msg: string, fields?: Fields) => write('info', msg, fields),
  infoLater,
  warn: (msg: string, fields?: Fields) => write('warn', msg, fields),
  error: (msg: string, fields?: Fields) => write('error', msg, fields),
};
