/** Opens the view-store adapter the config names. */
import { InvalidArgumentError, type PlatformConfig, EmbeddedViewStore, type ViewStore } from '@lambda/core';
import { join, resolve } from 'node:path';
import type { PortDependencies } from './port-dependencies.js';
import { CassandraViewStore } from './cassandra/cassandra-view-store.js';

export async function openViewStore(config: PlatformConfig, dependencies: PortDependencies): Promise<{ viewStore: ViewStore; location: string }> {
  switch (config.viewStore.adapter) {
    case 'embedded': {
      const directory = join(resolve(config.dataDir), 'views');
      const viewStore = await EmbeddedViewStore.open({
        directory,
        fsync: config.viewStore.fsync,
        fsyncIntervalMs: config.viewStore.fsyncIntervalMs,
        logger: dependencies.logger,
      });
      return { viewStore, location: directory };
    }
    case 'cassandra': {
      const cassandra = config.viewStore.cassandra;
      const viewStore = await CassandraViewStore.open({
        contactPoints: cassandra.contactPoints,
        localDataCenter: cassandra.localDataCenter,
        keyspace: cassandra.keyspace,
        consistency: cassandra.consistency,
        applySchema: cassandra.applySchema,
        replicationFactor: cassandra.replicationFactor,
        username: cassandra.username,
        password: cassandra.password,
        logger: dependencies.logger,
      });
      // Where the views live, for status pages: never the credentials.
      return { viewStore, location: `cassandra://${cassandra.contactPoints.join(',')}/${cassandra.keyspace}` };
    }
    default:
      throw new InvalidArgumentError(`The view-store adapter "${config.viewStore.adapter}" is not available yet`, {});
  }
}
