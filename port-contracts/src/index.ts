// The public API of @lambda/port-contracts: the contract suite of each port and the helpers its tests share.
export { suiteTitle } from './contract-target.js';
export type { ContractFixture, ContractTarget } from './contract-target.js';
export { describeEventLogContract, readAll } from './event-log-contract.js';
export { byUtf8Bytes, describeLakeContract, getObject, listAll, md5Etag, readStream } from './lake-contract.js';
export { Gate, Gates, PAUSE_MS, WAIT_MS, describeSchedulerContract, waitUntil } from './scheduler-contract.js';
export { RowModel, byKeyThenWindow, describeViewStoreContract, makeManifest, makeSlice, readContent } from './view-store-contract.js';
export type { ViewContent } from './view-store-contract.js';
