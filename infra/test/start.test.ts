import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { Kafka, logLevel } from 'kafkajs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { logMessages, runEntrypoint, type EntrypointRun } from './helpers/run-entrypoint.js';

/** The topics a kafkajs admin client sees at `broker`. */
async function listTopicsOverKafka(broker: string): Promise<string[]> {
  const admin = new Kafka({ brokers: [broker], logLevel: logLevel.NOTHING, retry: { retries: 2 } }).admin();
  await admin.connect();
  try {
    return await admin.listTopics();
  } finally {
    await admin.disconnect();
  }
}

/** Starts `npm start`'s entrypoint; `onOutput` may send it signals once it prints something. */
function start(env: Record<string, string>, onOutput?: Parameters<typeof runEntrypoint>[2]): Promise<EntrypointRun> {
  return runEntrypoint('start', env, onOutput);
}

describe('npm start', () => {
  let dataDir: string;
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'lambda-start-'));
  });
  afterEach(() => rm(dataDir, { recursive: true, force: true }));

  describe('when the configuration is invalid', () => {
    it('should exit non-zero and name every invalid field', async () => {
      const run = await start({ DATA_DIR: dataDir, HTTP_PORT: 'eighty', EVENT_LOG_FSYNC: 'sometimes', LOG: 'carrier-pigeon' });
      expect(run.code).toBe(1);
      for (const field of ['http.port', 'eventLog.fsync', 'eventLog.adapter']) expect(run.stderr).toContain(field);
      expect(run.stderr).toContain('HTTP_PORT="eighty"');
      // Nothing was opened, so nothing was written.
      expect(await readdir(dataDir)).toEqual([]);
    });
  });

  describe('when the configuration is valid', () => {
    it('should serve the API and the Kafka protocol on the printed addresses, and stop cleanly on SIGINT', async () => {
      let signalled = false;
      let health: number | undefined;
      let kafkaTopics: string[] = [];
      const run = await start({ DATA_DIR: dataDir, HTTP_PORT: '0', KAFKA_SERVER_PORT: '0' }, (stdout, child) => {
        if (!signalled && stdout.includes('platform ready')) {
          signalled = true;
          // The printed addresses answer: the platform really is up before it is stopped.
          const url = /health: +(http:\/\/\S+)"/.exec(stdout)![1]!;
          const broker = /kafka: +(\S+:\d+) /.exec(stdout)![1]!;
          void (async () => {
            try {
              health = (await fetch(url)).status;
              kafkaTopics = await listTopicsOverKafka(broker);
            } finally {
              child.kill('SIGINT');
            }
          })();
        }
      });
      expect(health).toBe(200);
      // The demo's source topic, created in the embedded log, seen by a real Kafka client.
      expect(kafkaTopics).toContain('pageviews');
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const messages = logMessages(run.stdout);
      expect(messages).toContain('stopped cleanly');
      expect((await readdir(dataDir)).sort()).toEqual(['batch-work', 'lake', 'log', 'views']);
      // The locks were released: the directories can be opened again.
      expect(await readdir(join(dataDir, 'log'))).not.toContain('.lock');
      expect(await readdir(join(dataDir, 'views'))).not.toContain('.lock');
    });
  });
  describe('when something else listens on the Kafka port', () => {
    it('should start without the Kafka protocol server and say why', async () => {
      const taken = createServer();
      await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
      const { port } = taken.address() as AddressInfo;
      try {
        let signalled = false;
        const run = await start({ DATA_DIR: dataDir, HTTP_PORT: '0', KAFKA_SERVER_PORT: String(port) }, (stdout, child) => {
          if (!signalled && stdout.includes('platform ready')) {
            signalled = true;
            child.kill('SIGINT');
          }
        });
        expect(run.code).toBe(0);
        const messages = logMessages(run.stdout);
        expect(messages).toContain(`127.0.0.1:${port} is in use: the Kafka protocol server is off (set KAFKA_SERVER_PORT, or KAFKA_SERVER=false)`);
        expect(messages.some((message) => message.startsWith('kafka:'))).toBe(false);
      } finally {
        taken.close();
      }
    });
  });
});
