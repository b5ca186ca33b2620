import { EmbeddedViewStore } from '@lambda/core';
import { describeViewStoreContract } from '../src/view-store-contract.js';
import { makeTempDir } from '@lambda/test-kit';

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
