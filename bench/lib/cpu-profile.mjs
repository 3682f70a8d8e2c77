/**
 * Preload (`node --import bench/lib/cpu-profile.mjs`, or through NODE_OPTIONS, which refuses
 * --cpu-prof): records a V8 CPU profile of the whole process and writes
 * `$PIXMESH_CPU_PROFILE_DIR/<pid>.cpuprofile` when it exits. Used by the transform bench
 * (PIXMESH_BENCH_PROFILE_DIR) to profile an origin under load; open the file in Chrome DevTools
 * or summarise it with `tsx bench/profile-summary.ts <file>`.
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
  session.post('Profiler.start');
  process.once('exit', () => {
    // The in-thread session answers synchronously, so this still runs before the process is gone.
    session.post('Profiler.stop', (err, res) => {
      if (err) return;
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, `${process.pid}.cpuprofile`), JSON.stringify(res.profile));
    });
  });
}
