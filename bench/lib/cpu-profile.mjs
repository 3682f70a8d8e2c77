/**
 * Preload (`node --import bench/lib/cpu-profile.mjs`, or through NODE_OPTIONS, which refuses
 * --cpu-prof): records a V8 CPU profile and writes `$PIXMESH_CPU_PROFILE_DIR/<pid>[-<n>].cpuprofile`.
 * Used by the transform bench (PIXMESH_BENCH_PROFILE_DIR) to profile an origin under load; open the
 * file in Chrome DevTools or summarise it with `tsx bench/profile-summary.ts <file>`.
 *   default                              the whole process, written when it exits
 *   PIXMESH_CPU_PROFILE_ON_SIGNAL=1      only between signals: SIGUSR2 starts, the next SIGUSR2
 *                                        stops and writes `<pid>-<n>.cpuprofile` (n = 1, 2, …), so
 *                                        a bench can profile one phase (bench:transform --hit-profile)
 */
import fs from 'node:fs';
import inspector from 'node:inspector';
import path from 'node:path';

const dir = process.env.PIXMESH_CPU_PROFILE_DIR;
if (dir) {
  const session = new inspector.Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: Number(process.env.PIXMESH_CPU_PROFILE_INTERVAL_US ?? 500) });
  const write = (name) =>
    // The in-thread session answers synchronously, so this still runs before the process is gone.
    session.post('Profiler.stop', (err, res) => {
      if (err) return;
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, `${name}.cpuprofile`), JSON.stringify(res.profile));
    });
  if (process.env.PIXMESH_CPU_PROFILE_ON_SIGNAL === '1') {
    let running = false;
    let n = 0;
    process.on('SIGUSR2', () => {
      if (running) write(`${process.pid}-${++n}`);
      else session.post('Profiler.start');
      running = !running;
    });
  } else {
    session.post('Profiler.start');
    process.once('exit', () => write(String(process.pid)));
  }
}
