/** Opens the lake adapter the config names. */
import { join, resolve } from 'node:path';
import { type PlatformConfig, InvalidArgumentError, type Lake, LocalLake } from '@lambda/core';
import type { PortDependencies } from './port-dependencies.js';
import { S3Lake } from './s3/s3-lake.js';

export async function openLake(config: PlatformConfig, dependencies: PortDependencies): Promise<{ lake: Lake; location: string }> {
  switch (config.lake.adapter) {
    case 'local': {
      const directory = resolve(config.lake.dir ?? join(config.dataDir, 'lake'));
      return { lake: await LocalLake.open({ directory }), location: directory };
    }
    case 's3': {
      const s3 = config.lake.s3;
      // The config's refinement guarantees a bucket when the adapter is 's3'.
      const bucket = s3.bucket!;
      if ((s3.accessKeyId === undefined) !== (s3.secretAccessKey === undefined)) {
        // One key without the other would silently fall back to the SDK's own credential chain.
        throw new InvalidArgumentError('lake.s3 needs both accessKeyId and secretAccessKey, or neither (S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY)', {
          bucket,
        });
      }
      const lake = await S3Lake.open({
        bucket,
        prefix: s3.prefix,
        region: s3.region,
        ...(s3.endpoint === undefined ? {} : { endpoint: s3.endpoint }),
        forcePathStyle: s3.forcePathStyle,
        ...(s3.accessKeyId === undefined ? {} : { credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey! } }),
        multipartThresholdBytes: s3.multipartThresholdBytes,
        maxAttempts: s3.maxAttempts,
        logger: dependencies.logger,
      });
      return { lake, location: s3.endpoint === undefined ? lake.location : `${lake.location} at ${s3.endpoint}` };
    }
    default:
      throw new InvalidArgumentError(`The lake adapter "${config.lake.adapter}" is not available yet`, {});
  }
}
