// The public API of @lambda/test-kit: set-ups shared by the tests of every package. Tests only.
export { describeWhenAvailable } from './describe-when-available.js';
export { shareEngines, takeEnginesExclusively, useSharedEngines } from './engine-lease.js';
export { startFaultProxy } from './fault-proxy.js';
export type { FaultProxy, ProxiedRequest } from './fault-proxy.js';
export { RedisServer, redisServerSkipReason } from './redis-server.js';
export { S3RVER_CREDENTIALS, startS3Server } from './s3-server.js';
export type { S3TestServer, S3TestServerOptions } from './s3-server.js';
export { REDIS_URL, keysUnder, redisSkipReason, removeKeysUnder } from './shared-redis.js';
export { makeTempDir } from './temp-dir.js';
export type { TempDir } from './temp-dir.js';
export { snapshotTree } from './tree-snapshot.js';
