/** CPU time of a process or one of its threads, from /proc (Linux); shared by the runner and the raw sharp worker. */
import fs from 'node:fs';

/**
 * CPU time (user + system) a process has used so far, ms — all its threads, or with `thread` only
 * that one (its main thread, the event loop, is `thread` = pid); null where /proc is unavailable.
 */
export function cpuMsOf(pid: number | undefined, thread?: number): number | null {
  if (!pid) return null;
  try {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const stat = fs.readFileSync(thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return null;
  }
}
/** Linux's USER_HZ (clock ticks per second of /proc/<pid>/stat), 100 on every common kernel. */
const CLOCK_TICKS = 100;
