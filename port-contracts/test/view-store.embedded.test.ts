import { EmbeddedViewStore } from '../src/index.js';
import { describeViewStoreContract } from './contracts/view-store-contract.js';
import { makeTempDir } from './helpers/temp-dir.js';

for (const fsync of ['always', 'never'] as const) {
  describeViewStoreContract({
    name: `the embedded view store (fsync ${fsync})`,
    async prepare() {
      const dir = await makeTempDir('views-contract');
      return {
        open: () => EmbeddedViewStore.open({ directory: dir.path, fsync }),
        cleanUp: dir.remove,
      };
    },
  });
}
