#!/usr/bin/env node
/**
 * `npm run engines:up` / `npm run engines:down`: starts (or stops) a local Apache Kafka and Apache
 * Cassandra, brought from Maven Central, for the Kafka and Cassandra adapters and their contract tests.
 * Progress goes to stderr; `up` prints the settings to export on stdout (and writes them to
 * infra/engines/.engines/run/engines.env), so `eval "$(node infra/dist/bin/engines.js up)"` sets them.
 * Name engines to start or stop only those. KAFKA_PORT and CASSANDRA_PORT fix the client ports.
 */
import { Argument, Command } from 'commander';
import { ENGINE_NAMES, enginesDown, enginesUp, exportLines } from '../engines/engines.js';
import type { EngineName } from '../engines/engine-paths.js';

const report = (line: string) => console.error(line);
const enginesArgument = () => new Argument('[engines...]', 'which engines (all by default)').choices(ENGINE_NAMES);
const chosen = (names: EngineName[]) => (names.length > 0 ? names : ENGINE_NAMES);

const program = new Command().name('engines').description('Local Kafka and Cassandra for the production adapters');

program
  .command('up')
  .description('start the engines and print the settings to export')
  .addArgument(enginesArgument())
  .action(async (names: EngineName[]) => {
    try {
      console.log(exportLines(await enginesUp(chosen(names), report)).join('\n'));
    } catch (error) {
      console.error((error as Error).message);
      process.exitCode = 1;
    }
  });

program
  .command('down')
  .description('stop the engines and delete their data')
  .addArgument(enginesArgument())
  .action(async (names: EngineName[]) => {
    await enginesDown(chosen(names), report);
  });

await program.parseAsync();
