/**
 * The console, log-topic and foreachBatch sinks, the processing-time trigger, and the socket and
 * directory sources end to end (a real TCP server, real files).
 */
import { once } from 'node:events';
import { rename, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EmbeddedEventLog } from '@lambda/core';
import { F, MemoryTables, QueueSource, Trigger, formatTable, readStream, type OutputRow } from '../src/index.js';
import { makeTempDir } from '@lambda/test-kit';
import { BASE, MINUTE, TICK_SCHEMA, jsonQueue, randomTicks } from './structured-helpers.js';

const { count, explode, split, sum, window } = F;

let dir: { path: string; remove: () => Promise<void> };
beforeEach(async () => {
  dir = await makeTempDir('structured-sinks');
});
afterEach(async () => {
  await dir.remove();
});

describe('the console sink', () => {
  describe('when a word count runs in complete mode', () => {
    it("should print each batch under a banner as Spark's table", async () => {
      let printed = '';
      const lines = [['b a', 'a'], ['c']];
      const query = await readStream
        .source(new QueueSource(lines), { format: 'text' })
        .select(explode(split('value', ' ')).as('word'))
        .groupBy('word')
        .count()
        .orderBy('word')
        .writeStream.outputMode('complete')
        .format('console', { write: (text) => (printed += text) })
        .trigger(Trigger.availableNow())
        .start();
      await query.awaitTermination();
      const banner = '-------------------------------------------';
      const table = (rows: [string, number][]) =>
        ['+----+-----+', '|word|count|', '+----+-----+', ...rows.map(([w, n]) => `|${w.padStart(4)}|${String(n).padStart(5)}|`), '+----+-----+'].join('\n');
      expect(printed).toBe(
        `${banner}\nBatch: 0\n${banner}\n${table([['a', 2], ['b', 1]])}\n\n` + `${banner}\nBatch: 1\n${banner}\n${table([['a', 2], ['b', 1], ['c', 1]])}\n\n`,
      );
    });
  });

  describe('when a table has windows, nulls, long cells and more rows than shown', () => {
    it('should format windows in UTC, cut cells at 20 characters and say how many rows it shows', () => {
      const rows: OutputRow[] = [
        { window: { start: BASE, end: BASE + MINUTE }, note: 'x'.repeat(25) },
        { window: { start: BASE + MINUTE, end: BASE + 2 * MINUTE }, note: null },
      ];
      const text = formatTable([{ name: 'window', type: 'window' }, { name: 'note', type: 'string' }], rows, { numRows: 1 });
      const start = new Date(BASE).toISOString().slice(0, 19).replace('T', ' ');
      const end = new Date(BASE + MINUTE).toISOString().slice(0, 19).replace('T', ' ');
      // Spark's default truncation cuts windows too (truncate: false shows them whole).
      const cell = `{${start}, ${end}}`.slice(0, 17) + '...';
      expect(formatTable([{ name: 'window', type: 'window' }], rows, { truncate: false })).toContain(`|{${start}, ${end}}|`);
      expect(text.split('\n')).toEqual([
        `+${'-'.repeat(cell.length)}+${'-'.repeat(20)}+`,
        `|${'window'.padStart(cell.length)}|${'note'.padStart(20)}|`,
        `+${'-'.repeat(cell.length)}+${'-'.repeat(20)}+`,
        `|${cell}|${'x'.repeat(17)}...|`,
        `+${'-'.repeat(cell.length)}+${'-'.repeat(20)}+`,
        'only showing top 1 row',
        '',
      ]);
    });
  });
});

describe('the log-topic sink', () => {
  describe('when an aggregation writes its updates to a topic', () => {
    it('should append each output row as a JSON value, keyed by a column, with its batch id', async () => {
      const log = await EmbeddedEventLog.open({ directory: join(dir.path, 'log'), fsync: 'never' });
      try {
        await log.createTopic('totals', { partitions: 2 });
        const batches = randomTicks(3, 2, 10);
        const query = await readStream
          .source(jsonQueue(batches), { format: 'json', schema: TICK_SCHEMA })
          .groupBy('symbol')
          .agg(sum('price').as('total'))
          .writeStream.outputMode('update')
          .format('topic', { eventLog: log, topic: 'totals', keyColumn: 'symbol' })
          .trigger(Trigger.availableNow())
          .start();
        await query.awaitTermination();
        const records = [];
        for (const partition of [0, 1]) records.push(...(await log.read('totals', partition, 0, { maxRecords: 100 })).records);
        const received = records.map((r) => ({ batch: r.headers['batch-id']!.toString(), key: r.key!.toString(), value: JSON.parse(r.value.toString()) as OutputRow }));
        const expected: { batch: string; key: string; value: OutputRow }[] = [];
        const totals = new Map<string, number>();
        batches.forEach((batch, i) => {
          for (const t of batch) totals.set(t.symbol, (totals.get(t.symbol) ?? 0) + t.price);
          for (const symbol of new Set(batch.map((t) => t.symbol))) expected.push({ batch: String(i), key: symbol, value: { symbol, total: totals.get(symbol)! } });
        });
        const order = (a: { batch: string; key: string }, b: { batch: string; key: string }) => (a.batch + a.key < b.batch + b.key ? -1 : 1);
        expect(received.sort(order)).toEqual(expected.sort(order));
      } finally {
        await log.close();
      }
    });
  });
});

describe('the processing-time trigger', () => {
  describe('when input keeps arriving on a running query', () => {
    it('should process it in later batches, and stop after the batch in flight', async () => {
      const source = new QueueSource<string>();
      const seen: number[][] = [];
      const query = await readStream
        .source(source, { format: 'json', schema: TICK_SCHEMA })
        .groupBy(window('ts', '1 minute'))
        .agg(count().as('n'))
        .writeStream.outputMode('complete')
        .foreachBatch((rows) => void seen.push(rows.map((row) => row.n as number)))
        .trigger(Trigger.processingTime('20 milliseconds'))
        .start();
      try {
        const batches = randomTicks(8, 3, 5, 1);
        for (const batch of batches) {
          source.push(batch.map((t) => JSON.stringify(t)));
          await query.processAllAvailable();
        }
        expect(seen).toEqual(batches.map((_, i) => [(i + 1) * 5]));
        expect(query.status.isActive).toBe(true);
      } finally {
        await query.stop();
      }
      expect(query.isActive).toBe(false);
      await expect(query.awaitTermination()).resolves.toBeUndefined();
    });
  });
});

describe('the socket source', () => {
  let server: Server;
  let peers: Socket[] = [];
  beforeEach(async () => {
    peers = [];
    server = createServer((socket) => void peers.push(socket));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
  });
  afterEach(async () => {
    for (const peer of peers) peer.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  describe('when a word count reads lines from a TCP server', () => {
    it('should count the words the server sent', async () => {
      const port = (server.address() as { port: number }).port;
      const tables = new MemoryTables();
      const query = await readStream
        .socket({ host: '127.0.0.1', port })
        .select(explode(split('value', ' ')).as('word'))
        .groupBy('word')
        .count()
        .writeStream.outputMode('complete')
        .format('memory', { tables })
        .queryName('words')
        .trigger(Trigger.processingTime('10 milliseconds'))
        .start();
      try {
        const text = 'the quick fox\nthe lazy dog\nthe end\n';
        while (peers.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
        peers[0]!.write(text);
        const expected: Record<string, number> = {};
        for (const word of text.split(/\s+/).filter(Boolean)) expected[word] = (expected[word] ?? 0) + 1;
        const counts = () => Object.fromEntries(tables.table('words').rows().map((row) => [row.word, row.count]));
        const total = () => Object.values(counts()).reduce((a: number, b) => a + (b as number), 0);
        for (let i = 0; i < 200 && total() < text.split(/\s+/).filter(Boolean).length; i++) {
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        expect(counts()).toEqual(expected);
      } finally {
        await query.stop();
      }
    });
  });
});

describe('the directory source', () => {
  describe('when JSON files land in a watched directory', () => {
    it('should read each file once and aggregate its rows', async () => {
      const input = join(dir.path, 'in');
      const { mkdir } = await import('node:fs/promises');
      await mkdir(input);
      const batches = randomTicks(4, 2, 6);
      for (const [i, batch] of batches.entries()) {
        await writeFile(join(input, `.part-${i}`), batch.map((t) => JSON.stringify(t)).join('\n'));
        await rename(join(input, `.part-${i}`), join(input, `ticks-${i}.json`));
      }
      const tables = new MemoryTables();
      const query = await readStream
        .directory({ directory: input, settleMs: 0, format: 'json', schema: TICK_SCHEMA })
        .groupBy('symbol')
        .agg(count().as('n'))
        .writeStream.outputMode('complete')
        .format('memory', { tables })
        .queryName('files')
        .trigger(Trigger.once())
        .start();
      await query.awaitTermination();
      const expected: Record<string, number> = {};
      for (const t of batches.flat()) expected[t.symbol] = (expected[t.symbol] ?? 0) + 1;
      expect(Object.fromEntries(tables.table('files').rows().map((row) => [row.symbol, row.n]))).toEqual(expected);
      expect(query.recentProgress).toHaveLength(1);
    });
  });
});

describe('stopping a running query', () => {
  describe('when stop() is called while a batch is being written', () => {
    it('should let that batch finish and commit before it resolves', async () => {
      const checkpointLocation = join(dir.path, 'checkpoint');
      const source = new QueueSource<string>();
      let entered!: () => void;
      const sinkEntered = new Promise<void>((resolve) => (entered = resolve));
      const written: number[] = [];
      const query = await readStream
        .source(source, { format: 'json', schema: TICK_SCHEMA })
        .select('symbol')
        .writeStream.foreachBatch(async (rows, batchId) => {
          entered();
          await new Promise((resolve) => setTimeout(resolve, 50));
          written.push(batchId, rows.length);
        })
        .trigger(Trigger.processingTime('5 milliseconds'))
        .checkpointLocation(checkpointLocation)
        .runtime({ fsync: false })
        .start();
      const batch = randomTicks(2, 1, 7)[0]!;
      source.push(batch.map((t) => JSON.stringify(t)));
      await sinkEntered;
      await query.stop();
      expect(written).toEqual([0, batch.length]);
      const { readFile } = await import('node:fs/promises');
      const committed = JSON.parse(await readFile(join(checkpointLocation, 'commit.json'), 'utf8')) as { batchId: number; sourcePosition: number };
      expect(committed).toMatchObject({ batchId: 0, sourcePosition: 1 });
    });
  });

  describe('when a batch fails', () => {
    it('should stop the query and report the error from processAllAvailable and awaitTermination', async () => {
      const source = new QueueSource<string>();
      const query = await readStream
        .source(source, { format: 'text' })
        .writeStream.foreachBatch(() => {
          throw new Error('sink is down');
        })
        .trigger(Trigger.processingTime('1 hour'))
        .start();
      source.push(['a line']);
      await expect(query.processAllAvailable()).rejects.toThrow('sink is down');
      await expect(query.awaitTermination()).rejects.toThrow('sink is down');
      expect(query.isActive).toBe(false);
      expect(query.status.message).toMatch(/Terminated with error: sink is down/);
    });
  });
});
