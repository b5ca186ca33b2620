import { LocalLake } from '@lambda/core';
import { describeLakeContract } from '../src/lake-contract.js';
import { makeTempDir } from '@lambda/test-kit';

for (const fsync of [true, false]) {
  describeLakeContract({
    name: `the local lake (fsync ${fsync ? 'on' : 'off'})`,
    async prepare() {
      const dir = await makeTempDir('lake-contract');
      return {
        open: () => LocalLake.open({ directory: dir.path, fsync }),
        cleanUp: dir.remove,
      };
    },
  });
}
