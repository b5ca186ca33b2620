import type { LogFollower, LogFollowerDescriptor } from './event-log.js';
import { EmbeddedLogFollower } from './embedded/log-follower.js';

/** Opens, in this thread, a follower of the log a descriptor names. */
export async function openLogFollower(descriptor: LogFollowerDescriptor): Promise<LogFollower> {
  switch (descriptor.kind) {
    case 'embedded':
      return new EmbeddedLogFollower(descriptor.directory);
  }
}
