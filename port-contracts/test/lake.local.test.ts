import { LocalLake } from '../src/index.js';
import { describeLakeContract } from './contracts/lake-contract.js';
import { makeTempDir } from './helpers/temp-dir.js';

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
