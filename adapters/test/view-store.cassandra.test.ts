/**
 * The view-store contract on Cassandra, when a cluster is given (CASSANDRA_CONTACT_POINTS=host[:port],...;
 * CASSANDRA_LOCAL_DC, default datacenter1). Each run gets its own keyspace, created from
 * infra/cassandra/schema.cql and dropped at the end; each test writes views of its own.
 */
import { randomBytes } from 'node:crypto';
import { Client } from 'cassandra-driver';
import { afterAll } from 'vitest';
import { useSharedEngines } from '@lambda/test-kit';
import { CassandraViewStore } from '../src/index.js';
import { validateKeyspace } from '../src/cassandra/schema.js';
import { describeViewStoreContract } from '@lambda/port-contracts';

const contactPoints = (process.env['CASSANDRA_CONTACT_POINTS'] ?? '')
  .split(',')
  .map((point) => point.trim())
  .filter((point) => point.length > 0);
const localDataCenter = process.env['CASSANDRA_LOCAL_DC'] ?? 'datacenter1';
const keyspace = validateKeyspace(`lambda_test_${randomBytes(6).toString('hex')}`);
let schemaApplied = false;
const skipReason = contactPoints.length === 0 ? 'CASSANDRA_CONTACT_POINTS is not set' : undefined;

// A fault test elsewhere may stop the shared engines: not while this file uses them.
useSharedEngines(skipReason);

describeViewStoreContract({
  name: 'the Cassandra view store',
  skipReason,
  async prepare() {
    return {
      async open() {
        // The first open of the run creates the keyspace from infra/cassandra/schema.cql; later ones reuse it.
        const store = await CassandraViewStore.open({ contactPoints, localDataCenter, keyspace, applySchema: !schemaApplied, replicationFactor: 1 });
        schemaApplied = true;
        return store;
      },
      // Views are unique per test; the whole keyspace goes at the end of the run.
      cleanUp: async () => undefined,
    };
  },
});

afterAll(async () => {
  if (contactPoints.length === 0) return;
  const client = new Client({ contactPoints, localDataCenter });
  try {
    // The keyspace is validated above: a plain identifier, the only text in this statement.
    await client.execute(`DROP KEYSPACE IF EXISTS "${keyspace}"`);
  } finally {
    await client.shutdown();
  }
});
