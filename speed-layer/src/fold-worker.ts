/**
 * A worker thread of the speed layer: hosts the folders of the partitions the main thread sends it,
 * reading them through its own follower of the log, so decoding and folding run on another core.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Catalog, isRetriable, openLogFollower, type CatalogDefinition, type LogFollowerDescriptor } from '@lambda/core';
import { FolderHost, type FolderOptions } from './folder-host.js';

export interface FoldWorkerData {
  catalog: CatalogDefinition;
  follower: LogFollowerDescriptor;
  options: FolderOptions;
}

export type FoldWorkerRequest =
  | { id: number; op: 'restore'; args: Parameters<FolderHost['restore']> }
  | { id: number; op: 'fold'; args: Parameters<FolderHost['fold']> }
  | { id: number; op: 'settle'; args: Parameters<FolderHost['settle']> }
  /** Answered by nobody: a hint only starts background folding. */
  | { id: 0; op: 'hint'; args: Parameters<FolderHost['hint']> };

export type FoldWorkerResponse = { id: number; result: unknown } | { id: number; error: { message: string; stack?: string; retriable: boolean } };

const data = workerData as FoldWorkerData;
const follower = await openLogFollower(data.follower);
const host = new FolderHost(Catalog.compile(data.catalog), (...scan) => follower.scan(...scan), data.options);

parentPort!.on('message', (request: FoldWorkerRequest) => {
  if (request.op === 'hint') {
    host.hint(...request.args);
    return;
  }
  const run = (): Promise<unknown> => {
    switch (request.op) {
      case 'restore':
        return host.restore(...request.args);
      case 'fold':
        return host.fold(...request.args);
      case 'settle':
        return host.settle(...request.args);
    }
  };
  run().then(
    (result) => parentPort!.postMessage({ id: request.id, result } satisfies FoldWorkerResponse),
    (error: Error) =>
      parentPort!.postMessage({
        id: request.id,
        // Whether it may be retried crosses the thread boundary: the pipeline narrows down only what is not.
        error: { message: error.message, stack: error.stack, retriable: isRetriable(error) },
      } satisfies FoldWorkerResponse),
  );
});
parentPort!.postMessage({ ready: true });
