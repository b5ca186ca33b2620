#!/usr/bin/env node
/**
 * `npm run engines:up` / `npm run engines:down`: starts (or stops) a local Apache Kafka and Apache
 * Cassandra, brought from Maven Central, for the Kafka and Cassandra adapters and their contract tests.
 * Progress goes to stderr; `up` prints the settings to export on stdout (and writes them to
 * infra/engines/.engines/run/engines.env), so `eval "$(node infra/dist/bin/engines.js up)"` sets them.
 * Name engines to start or stop only those. KAFKA_PORT and CASSANDRA_PORT fix the client ports.
 * `stop` and `start` take engines away and bring them back on the same port with the same data, for
 * fault tests: clients of the engines (a running platform, another test) reconnect to where they were.
 */
import { Argument, Command } from 'commander';
import { ENGINE_NAMES, enginesDown, enginesUp, exportLines, startEngine, stopEngine } from '../engines/engines.js';
import type { EngineName } from '../engines/engine-paths.js';

const report = (line: string) => console.error(line);
const enginesArgument = () => new Argument('[engines...]', 'which engines (all by default)').choices(ENGINE_NAMES);
const chosen = (names: EngineName[]) => (names.length > 0 ? names : ENGINE_NAMES);

/** Runs `action`, printing its error's message (not a stack) and exiting 1 when it fails. */
const reporting =
  <A extends unknown[]>(action: (...args: A) => Promise<void>) =>
  async (...args: A) => {
    try {
      await action(...args);
    } catch (error) {
      console.error((error as Error).message);
      process.exitCode = 1;
    }
  };

const program = new Command().name('engines').description('Local Kafka and Cassandra for the production adapters');

program
  .command('up')
  .description('start the engines and print the settings to export')
  .addArgument(enginesArgument())
  .action(
    reporting(async (names: EngineName[]) => {
      console.log(exportLines(await enginesUp(chosen(names), report)).join('\n'));
    }),
  );

program
  .command('down')
  .description('stop the engines and delete their data')
  .addArgument(enginesArgument())
  .action(async (names: EngineName[]) => {
    await enginesDown(chosen(names), report);
  });

program
  .command('stop')
  .description('stop engines that up started, keeping their config and data for start')
  .addArgument(enginesArgument())
  .action(
    reporting(async (names: EngineName[]) => {
      for (const name of chosen(names)) {
        if ((await stopEngine(name, report)) === 'not running') report(`${name}: not running`);
      }
    }),
  );

program
  .command('start')
  .description('start stopped engines again on their port, with their data, and print the settings to export')
  .addArgument(enginesArgument())
  .action(
    reporting(async (names: EngineName[]) => {
      // One at a time: each start is short, and the machine may be busy with the engines' clients.
      const started = [];
      for (const name of chosen(names)) started.push(await startEngine(name, report));
      console.log(exportLines(started).join('\n'));
    }),
  );

await program.parseAsync();
