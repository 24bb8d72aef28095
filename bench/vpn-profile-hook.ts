// Preloaded into a member (`--require`, via NODE_OPTIONS, which refuses --cpu-prof) when the
// benchmark runs with --profile: samples the CPU from start-up and writes a .cpuprofile on exit.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import path from 'node:path';

const directory = process.env.MESHBOI_BENCH_PROFILE_DIR;
if (directory) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.start');
  // A same-thread inspector session answers synchronously, so the profile is written before exit ends.
  process.on('exit', () => {
    session.post('Profiler.stop', (error, result) => {
      if (!error) writeFileSync(path.join(directory, `member.${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
