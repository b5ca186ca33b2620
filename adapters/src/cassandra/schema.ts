/**
 * The Cassandra view store's schema: `infra/cassandra/schema.cql` is its one source. The file is found by
 * walking up from this module to the repository root, which works from `common/src` (tsx, vitest) and from
 * `common/dist` alike, and in the docker image (which holds the whole repository). Reading the file rather
 * than embedding a copy keeps one schema that operators can also apply by hand.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '@lambda/core';

/** The schema file's path relative to the repository root. */
export const SCHEMA_FILE = join('infra', 'cassandra', 'schema.cql');

/** A plain lower-case CQL identifier: the only text from config that ever enters a CQL statement. */
const KEYSPACE_NAME = /^[a-z][a-z0-9_]{0,47}$/;

/** Returns `keyspace` if it is a plain identifier; throws a ConfigError naming it otherwise. */
export function validateKeyspace(keyspace: unknown): string {
  if (typeof keyspace !== 'string' || !KEYSPACE_NAME.test(keyspace)) {
    throw new ConfigError([
      {
        path: 'viewStore.cassandra.keyspace',
        source: 'the Cassandra view store options',
        message: `${JSON.stringify(keyspace)} is not a plain keyspace name: use a lower-case letter, then up to 47 lower-case letters, digits or '_'`,
      },
    ]);
  }
  return keyspace;
}

export function validateReplicationFactor(replicationFactor: unknown): number {
  if (typeof replicationFactor !== 'number' || !Number.isInteger(replicationFactor) || replicationFactor < 1 || replicationFactor > 16) {
    throw new ConfigError([
      {
        path: 'viewStore.cassandra.replicationFactor',
        source: 'the Cassandra view store options',
        message: `${JSON.stringify(replicationFactor)} is not a replication factor: use an integer from 1 to 16`,
      },
    ]);
  }
  return replicationFactor;
}

/** Finds `infra/cassandra/schema.cql` in the nearest ancestor directory of `from` that has it. */
export function findSchemaFile(from: string = dirname(fileURLToPath(import.meta.url))): string {
  for (let directory = from; ; directory = dirname(directory)) {
    const candidate = join(directory, SCHEMA_FILE);
    if (existsSync(candidate)) return candidate;
    if (dirname(directory) === directory) break;
  }
  throw new ConfigError([
    {
      path: 'viewStore.cassandra.applySchema',
      source: 'the Cassandra view store',
      message: `cannot find ${SCHEMA_FILE} in any directory above ${from}; run from the repository or pass schemaFile`,
    },
  ]);
}

export interface SchemaParameters {
  keyspace: string;
  replicationFactor: number;
}

/**
 * The schema's statements, comments removed, with the keyspace and replication factor put in. Both are
 * validated first; any other `${...}` left in the text is an error, so the file cannot smuggle in a value.
 */
export function schemaStatements(text: string, parameters: SchemaParameters): string[] {
  const keyspace = validateKeyspace(parameters.keyspace);
  const replicationFactor = validateReplicationFactor(parameters.replicationFactor);
  const withoutComments = text
    .split('\n')
    .map((line) => line.replace(/(--|\/\/).*$/, ''))
    .join('\n');
  return withoutComments
    .split(';')
    .map((statement) => statement.replace(/\s+/g, ' ').trim())
    .filter((statement) => statement.length > 0)
    .map((statement) => {
      const filled = statement.replaceAll('${keyspace}', keyspace).replaceAll('${replication_factor}', String(replicationFactor));
      const unknown = /\$\{[^}]*\}/.exec(filled);
      if (unknown) {
        throw new ConfigError([
          { path: 'viewStore.cassandra.applySchema', source: SCHEMA_FILE, message: `unknown placeholder ${unknown[0]} in: ${statement}` },
        ]);
      }
      return filled;
    });
}

/** Reads the schema file and returns its statements for `parameters`. */
export async function loadSchemaStatements(parameters: SchemaParameters, schemaFile: string = findSchemaFile()): Promise<string[]> {
  return schemaStatements(await readFile(schemaFile, 'utf8'), parameters);
}
