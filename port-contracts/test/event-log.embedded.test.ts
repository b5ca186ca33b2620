import { EmbeddedEventLog } from '@lambda/core';
import { describeEventLogContract } from '../src/event-log-contract.js';
import { makeTempDir } from '@lambda/test-kit';

for (const fsync of ['always', 'never'] as const) {
  describeEventLogContract({
    name: `the embedded log (fsync ${fsync}, small segments)`,
    async prepare() {
      const dir = await makeTempDir('log-contract');
      return {
        // Small segments and index intervals, so the suite crosses segment and index boundaries.
        open: () => EmbeddedEventLog.open({ directory: dir.path, fsync, segmentBytes: 16 * 1024, indexIntervalBytes: 512 }),
        cleanUp: dir.remove,
      };
    },
  });
}
