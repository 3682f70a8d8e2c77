/** CPU time of a process or one of its threads, from /proc (Linux); shared by the runner and the raw sharp worker. */
import fs from 'node:fs';

/**
 * CPU time (user + system) a process has used so far, ms — all its threads, or with `thread` only
 * that one (its main thread, the event loop, is `thread` = pid); null where /proc is unavailable.
 */
export function cpuMsOf(pid: number | undefined, thread?: number): number | null {
  const t = cpuSplitMsOf(pid, thread);
  return t === null ? null : t.user + t.system;
}

/** cpuMsOf split: time in user space and in the kernel (system calls, page faults, interrupts taken on its time), ms. */
export function cpuSplitMsOf(pid: number | undefined, thread?: number): { user: number; system: number } | null {
  if (!pid) return null;
  try {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const stat = fs.readFileSync(thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: (Number(f[11]) * 1000) / CLOCK_TICKS, system: (Number(f[12]) * 1000) / CLOCK_TICKS };
  } catch {
    return null;
  }
}
/** Linux's USER_HZ (clock ticks per second of /proc/<pid>/stat), 100 on every common kernel. */
const CLOCK_TICKS = 100;

/**
 * CPU time (ms) of a process's threads so far, summed by thread name (/proc/<pid>/task/<tid>/comm:
 * "node" is the main thread, "libuv-worker" the thread pool, "V8 DefaultWorke" V8's GC and compiler
 * helpers — on Node 20 every Node thread is named "node", so `byTid` appends "#<tid − pid>": the V8
 * platform workers are started first (low numbers), the thread-pool threads on first use —, others
 * libvips' own); {} where /proc is unavailable.
 */
export function cpuMsByThreadName(pid: number, byTid = false): Record<string, number> {
  const out: Record<string, number> = {};
  let tids: string[] = [];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    const ms = cpuMsOf(pid, Number(tid));
    if (ms === null) continue;
    let name = '?';
    try {
      name = Number(tid) === pid ? 'main' : fs.readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim() + (byTid ? `#${Number(tid) - pid}` : '');
    } catch {
      // the thread ended meanwhile
    }
    out[name] = (out[name] ?? 0) + ms;
  }
  return out;
}

/**
 * Context switches of a process's thread so far (/proc/<pid>/task/<tid>/status): `involuntary` —
 * the thread was preempted (e.g. by the client it just woke on the same core), `voluntary` — it
 * went to sleep (epoll, a lock); null where /proc is unavailable.
 */
export function contextSwitchesOf(pid: number | undefined, thread: number | undefined = pid): { voluntary: number; involuntary: number } | null {
  if (!pid || !thread) return null;
  try {
    const s = fs.readFileSync(`/proc/${pid}/task/${thread}/status`, 'utf8');
    const v = /^voluntary_ctxt_switches:\s+(\d+)/m.exec(s);
    const i = /^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(s);
    return v && i ? { voluntary: Number(v[1]), involuntary: Number(i[1]) } : null;
  } catch {
    return null;
  }
}
