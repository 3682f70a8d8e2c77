/**
 * JSON lines on stdout/stderr; one object per event. Lines to stdout (info, warn: the access log
 * among them) are written off the event loop: appended to a buffer and written in order by one
 * fs.write at a time on the thread pool (a busy moment's lines go out in one write), instead of
 * a synchronous write per line on the serving thread (Node writes files and pipes synchronously
 * on Linux; that was ≈ 30 µs of every cache hit). What is still buffered when the process exits
 * is written synchronously then. Errors go to stderr synchronously, at once.
 */
import fs from 'node:fs';

type Fields = Record<string, unknown>;
let base: Fields = {};

export function setLogContext(fields: Fields): void {
  base = { ...base, ...fields };
}

/** Lines waiting for the write in flight; at most one write at a time keeps them in order. */
let queued: string[] = [];
let writing = false;
let hooked = false;

function drain(): void {
  if (!queued.length) return;
  const data = Buffer.from(queued.join(''));
  queued = [];
  writing = true;
  const rest = (from: number) => {
    fs.write(1, data, from, data.length - from, null, (err, written) => {
      if (err) {
        // Not writable from the thread pool (e.g. a non-blocking pipe): the stream's own synchronous write.
        process.stdout.write(data.subarray(from));
        writing = false;
        return drain();
      }
      if (from + written < data.length) return rest(from + written);
      writing = false;
      drain();
    });
  };
  rest(0);
}

function toStdout(line: string): void {
  queued.push(line);
  if (!hooked) {
    hooked = true;
    // process.exit() (shutdown) and a normal exit: whatever is still queued, synchronously.
    process.on('exit', () => {
      if (queued.length) fs.writeSync(1, queued.join(''));
    });
  }
  if (!writing) drain();
}

function write(level: 'info' | 'warn' | 'error', msg: string, fields: Fields = {}): void {
  if (process.env.PIXMESH_LOG === 'silent') return;
  const line = JSON.stringify({ t: new Date().toISOString(), level, msg, ...base, ...fields }) + '\n';
  if (level === 'error') process.stderr.write(line);
  else toStdout(line);
}

export const log = {
  info: (msg: string, fields?: Fields) => write('info', msg, fields),
  warn: (msg: string, fields?: Fields) => write('warn', msg, fields),
  error: (msg: string, fields?: Fields) => write('error', msg, fields),
};
