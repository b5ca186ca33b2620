import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { partitionForKey, silentLogger, type LogRecord, type Ports } from '@lambda/core';
import { createServer, listen, type ErrorBody, type IngestReport, type RunningServer } from '../src/index.js';
import { BASE, openTestPorts, testCatalog } from './helpers.js';

const TOPIC = 'pageviews';
const PARTITIONS = 4;
const MAX_INGEST_BYTES = 4096;

const partitionOf = (user: string) => partitionForKey(Buffer.from(user, 'utf8'), PARTITIONS);

describe('the ingest API', () => {
  let ports: Ports;
  let closePorts: () => Promise<void>;
  let server: RunningServer;

  beforeEach(async () => {
    let metrics;
    ({ ports, metrics, close: closePorts } = await openTestPorts());
    await ports.eventLog.createTopic(TOPIC, { partitions: PARTITIONS });
    const app = createServer({ ports, catalog: testCatalog(), metrics, logger: silentLogger(), maxIngestBytes: MAX_INGEST_BYTES });
    server = await listen(app, { host: '127.0.0.1', port: 0 });
  });

  afterEach(async () => {
    await server.close();
    await closePorts();
  });

  const post = async (topic: string, body: string, contentType?: string) => {
    const response = await fetch(`${server.url}/ingest/${encodeURIComponent(topic)}`, {
      method: 'POST',
      body,
      headers: contentType ? { 'content-type': contentType } : {},
    });
    return { status: response.status, type: response.headers.get('content-type'), body: (await response.json()) as unknown };
  };

  /** Every record of the topic, by partition, as the log holds them. */
  const readLog = async (): Promise<LogRecord[][]> => {
    const partitions: LogRecord[][] = [];
    for (let partition = 0; partition < PARTITIONS; partition++) {
      partitions.push((await ports.eventLog.read(TOPIC, partition, 0, { maxRecords: 10_000 })).records);
    }
    return partitions;
  };

  const logIsEmpty = async () => expect(await ports.eventLog.endOffsets(TOPIC)).toEqual([0, 0, 0, 0]);

  /** Per partition, the report's offsets in input order must be 0, 1, 2...: appended in order, none lost. */
  const expectConsecutiveOffsets = (report: IngestReport, from: number[] = [0, 0, 0, 0]) => {
    const next = [...from];
    for (const record of report.records) {
      expect(record.partition).toBeGreaterThanOrEqual(0);
      expect(record.partition).toBeLessThan(PARTITIONS);
      expect(record.offset).toBe(next[record.partition]);
      next[record.partition]! += 1;
    }
  };

  const event = (i: number, user: string | number) => ({
    user,
    url: `/page/${i % 5}`,
    latency: 100 + i,
    referrer: i % 3 === 0 ? null : 'google',
    ts: BASE + i * 1000,
  });

  describe('a JSON array', () => {
    it('should append every event, keyed by the partition key, and report where each landed', async () => {
      const users = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi'];
      const events = Array.from({ length: 24 }, (_, i) => event(i, users[(i * 5) % users.length]!));
      // A number where the source declares a string: still appended, keyed by "42", but dead-lettered.
      events.push(event(24, 42) as never);

      const { status, type, body } = await post(TOPIC, JSON.stringify(events), 'application/json');
      expect(status).toBe(200);
      expect(type).toMatch(/^application\/json/);
      const report = body as IngestReport;

      // Where each event must land, computed here: Kafka's partitioner on the key, offsets in order.
      const next = [0, 0, 0, 0];
      const expected = events.map((e, index) => {
        const partition = partitionOf(String(e.user));
        const offset = next[partition]!++;
        return typeof e.user === 'string'
          ? { index, partition, offset, status: 'accepted' }
          : { index, partition, offset, status: 'dead-letter', reason: 'field "user" must be a string, got 42' };
      });
      expect(report).toEqual({ topic: TOPIC, accepted: 24, deadLettered: 1, records: expected });
      expect(new Set(expected.map((r) => r.partition)).size).toBeGreaterThan(1); // the keys spread

      // Same key, same partition.
      const partitionsByUser = new Map<string, Set<number>>();
      events.forEach((e, i) => partitionsByUser.set(String(e.user), (partitionsByUser.get(String(e.user)) ?? new Set()).add(report.records[i]!.partition)));
      for (const partitions of partitionsByUser.values()) expect(partitions.size).toBe(1);

      // In the log, as sent, with the key.
      const log = await readLog();
      expect(log.flat()).toHaveLength(events.length);
      events.forEach((e, i) => {
        const { partition, offset } = report.records[i]!;
        const record = log[partition]!.find((r) => r.offset === offset)!;
        expect(JSON.parse(record.value.toString('utf8'))).toEqual(e);
        expect(record.key?.toString('utf8')).toBe(String(e.user));
      });
    });

    it('should keep each event as sent, not as JavaScript would write it again', async () => {
      const elements = [
        `{"user":"alice","ts":${BASE},"id":12345678901234567890,"price":1.50,"note":"a, \\"quoted\\" ]} value"}`,
        `{\n    "user": "bob",\n    "ts": ${BASE + 1},\n    "tags": [1, [2, 3]],\n    "nested": {"a": {"b": ","}},\n    "ts2": 1e400\n  }`,
        `{"user":"carol","ts":${BASE + 2},"ts":${BASE + 3},"x":-0}`,
      ];
      const { status, body } = await post(TOPIC, `[\n  ${elements.join(',\n  ')}\n]\n`, 'application/json');
      expect(status).toBe(200);
      const report = body as IngestReport;
      expect(report.accepted).toBe(3);
      const log = await readLog();
      elements.forEach((element, i) => {
        const { partition, offset } = report.records[i]!;
        expect(log[partition]!.find((r) => r.offset === offset)!.value.toString('utf8')).toBe(element);
      });
    });

    it('should keep any JSON array element byte for byte', async () => {
      const element = fc.oneof(
        fc.tuple(fc.jsonValue(), fc.constantFrom(undefined, 2, '\t')).map(([value, indent]) => JSON.stringify(value, null, indent)),
        fc.constantFrom('12345678901234567890', '1.50', '-0', '1E+2', '"a\\"]},["', '{"user":"x","n":0.1000}', '[ ]', '{ }', '""'),
      );
      let next = [0, 0, 0, 0];
      await fc.assert(
        fc.asyncProperty(fc.array(element, { minLength: 1, maxLength: 6 }), fc.constantFrom('', ' ', '\n', '\r\n\t'), async (elements, space) => {
          const { status, body } = await post(TOPIC, `${space}[${space}${elements.join(`${space},${space}`)}${space}]${space}`, 'application/json');
          expect(status).toBe(200);
          const report = body as IngestReport;
          expect(report.records).toHaveLength(elements.length);
          const log = await readLog();
          elements.forEach((text, i) => {
            const { partition, offset } = report.records[i]!;
            expect(offset).toBe(next[partition]);
            next[partition]! += 1;
            expect(log[partition]!.find((r) => r.offset === offset)!.value.toString('utf8')).toBe(text);
          });
          next = (await ports.eventLog.endOffsets(TOPIC)).slice();
        }),
        { numRuns: 25 },
      );
    });

    it('should accept a content type with parameters', async () => {
      const { status, body } = await post(TOPIC, JSON.stringify([event(1, 'alice')]), 'application/json; charset=utf-8');
      expect(status).toBe(200);
      expect((body as IngestReport).records).toEqual([{ index: 0, partition: partitionOf('alice'), offset: 0, status: 'accepted' }]);
    });

    it('should append values that are not objects too, and dead-letter them', async () => {
      const values = [event(0, 'alice'), 42, 'text', null, [1, 2], { user: 'bob', url: '/x' }];
      const { status, body } = await post(TOPIC, JSON.stringify(values), 'application/json');
      expect(status).toBe(200);
      const report = body as IngestReport;
      expect(report.accepted).toBe(1);
      expect(report.deadLettered).toBe(5);
      expect(report.records.map((r) => r.status)).toEqual(['accepted', 'dead-letter', 'dead-letter', 'dead-letter', 'dead-letter', 'dead-letter']);
      for (const record of report.records.slice(1, 5)) expect(record.reason).toMatch(/not a JSON object/);
      expect(report.records[5]!.reason).toContain('"ts" is missing');
      expect(report.records[5]!.partition).toBe(partitionOf('bob'));
      expectConsecutiveOffsets(report);

      const log = await readLog();
      values.forEach((value, i) => {
        const { partition, offset } = report.records[i]!;
        expect(JSON.parse(log[partition]!.find((r) => r.offset === offset)!.value.toString('utf8'))).toEqual(value);
      });
    });
  });

  describe('NDJSON', () => {
    it('should append every line byte for byte, dead-lettering the invalid ones with the reason', async () => {
      const lines = [
        JSON.stringify(event(0, 'alice')),
        'this is not JSON',
        '{"user":"bob","url":"/a","latency":5}',
        '{"user":"carol","url":"/b","ts":"yesterday"}',
        `{"user":"dave","url":"/c","ts":${BASE},"latency":"slow"}`,
        '{ "user": "erin", "url": "/d", "ts": "2024-01-01T12:00:30Z", "referrer": "ddg" }',
        '7',
        JSON.stringify(event(7, 'alice')),
      ];
      // CRLF and LF line ends, blank lines and a trailing newline are all fine.
      const body = `${lines.slice(0, 3).join('\r\n')}\n\n${lines.slice(3).join('\n')}\n   \n`;
      const { status, body: answer } = await post(TOPIC, body, 'application/x-ndjson');
      expect(status).toBe(200);
      const report = answer as IngestReport;

      expect(report.topic).toBe(TOPIC);
      // Indexes are body lines: the blank line after the third event counts.
      expect(report.records.map((r) => r.index)).toEqual([0, 1, 2, 4, 5, 6, 7, 8]);
      expect(report.records.map((r) => r.status)).toEqual([
        'accepted',
        'dead-letter',
        'dead-letter',
        'dead-letter',
        'dead-letter',
        'accepted',
        'dead-letter',
        'accepted',
      ]);
      expect(report.accepted).toBe(3);
      expect(report.deadLettered).toBe(5);
      expect(report.records[1]!.reason).toMatch(/^value is not JSON/);
      expect(report.records[2]!.reason).toBe('event-time field "ts" is missing');
      expect(report.records[3]!.reason).toMatch(/event-time field "ts" must be .*"yesterday"/);
      expect(report.records[4]!.reason).toBe('field "latency" must be a number, got "slow"');
      expect(report.records[6]!.reason).toMatch(/not a JSON object/);
      for (const record of report.records.filter((r) => r.status === 'accepted')) expect(record).not.toHaveProperty('reason');
      expectConsecutiveOffsets(report);

      // Keyed lines land by their key, even the invalid ones; lines without one have no key.
      const users = ['alice', null, 'bob', 'carol', 'dave', 'erin', null, 'alice'];
      const log = await readLog();
      expect(log.flat()).toHaveLength(lines.length);
      lines.forEach((line, i) => {
        const { partition, offset } = report.records[i]!;
        const record = log[partition]!.find((r) => r.offset === offset)!;
        expect(record.value.equals(Buffer.from(line, 'utf8')), `line ${i}`).toBe(true);
        const user = users[i];
        if (user === null) {
          expect(record.key).toBeNull();
        } else {
          expect(record.key?.toString('utf8')).toBe(user);
          expect(partition).toBe(partitionOf(user!));
        }
      });
    });

    it('should take a body without a content type as NDJSON', async () => {
      const line = JSON.stringify(event(3, 'zoe'));
      const response = await fetch(`${server.url}/ingest/${TOPIC}`, { method: 'POST', body: Buffer.from(`${line}\n${line}`) });
      expect(response.status).toBe(200);
      const report = (await response.json()) as IngestReport;
      expect(report.records).toEqual([
        { index: 0, partition: partitionOf('zoe'), offset: 0, status: 'accepted' },
        { index: 1, partition: partitionOf('zoe'), offset: 1, status: 'accepted' },
      ]);
    });

    it('should number NDJSON answers by body line, blank lines counted, so each maps back to its line', async () => {
      const good = JSON.stringify(event(1, 'zoe'));
      const body = `\n${good}\n\n   \nnot json\r\n${good}\n`;
      const { status, body: report } = await post(TOPIC, body, 'application/x-ndjson');
      expect(status).toBe(200);
      const lines = body.split(/\r?\n/);
      const records = (report as IngestReport).records;
      expect(records.map((r) => [r.index, r.status])).toEqual([
        [1, 'accepted'],
        [4, 'dead-letter'],
        [5, 'accepted'],
      ]);
      expect(records.map((r) => lines[r.index])).toEqual([good, 'not json', good]);
    });

    it('should keep appending after earlier requests', async () => {
      const line = JSON.stringify(event(1, 'alice'));
      await post(TOPIC, `${line}\n${line}\n${line}`, 'application/x-ndjson');
      const { body } = await post(TOPIC, `${line}\n${line}`, 'application/x-ndjson');
      expect((body as IngestReport).records.map((r) => r.offset)).toEqual([3, 4]);
    });
  });

  describe('a request it refuses', () => {
    it('should answer 404 for a topic that is not a source, naming it', async () => {
      const { status, type, body } = await post('nope', '{}');
      expect(status).toBe(404);
      expect(type).toMatch(/^application\/json/);
      const { error } = body as ErrorBody;
      expect(error.code).toBe('UNKNOWN_TOPIC');
      expect(error.message).toContain('"nope"');
      expect(error.context).toEqual({ topic: 'nope' });
    });

    it('should answer 404 for a source whose topic the log does not have', async () => {
      const { status, body } = await post('clicks', '{"at":1}');
      expect(status).toBe(404);
      expect((body as ErrorBody).error).toMatchObject({ code: 'UNKNOWN_TOPIC', context: { topic: 'clicks' } });
    });

    it('should treat SQL in a topic name as plain text', async () => {
      const name = "x'; DROP TABLE events;--";
      const { status, body } = await post(name, '{}');
      expect(status).toBe(404);
      expect(body).toEqual({ error: { code: 'UNKNOWN_TOPIC', message: expect.stringContaining(JSON.stringify(name)), context: { topic: name } } });
      await logIsEmpty();
    });

    it.each([
      { title: 'an empty body', body: '', type: undefined },
      { title: 'blank lines only', body: '\n  \r\n\n', type: 'application/x-ndjson' },
      { title: 'an empty JSON array', body: '[]', type: 'application/json' },
    ])('should answer 400 for $title', async ({ body, type }) => {
      const { status, body: answer } = await post(TOPIC, body, type);
      expect(status).toBe(400);
      const { error } = answer as ErrorBody;
      expect(error.code).toBe('INVALID_ARGUMENT');
      expect(error.message).toContain('no events');
      await logIsEmpty();
    });

    it('should answer 400 for a JSON body that is not JSON, and append nothing', async () => {
      const { status, body } = await post(TOPIC, `[${JSON.stringify(event(1, 'alice'))}, {oops}]`, 'application/json');
      expect(status).toBe(400);
      const { error } = body as ErrorBody;
      expect(error.code).toBe('INVALID_ARGUMENT');
      expect(error.message).toMatch(/^The body is not valid JSON/);
      await logIsEmpty();
    });

    it('should answer 400 for a JSON body that is not an array', async () => {
      const { status, body } = await post(TOPIC, JSON.stringify(event(1, 'alice')), 'application/json');
      expect(status).toBe(400);
      expect((body as ErrorBody).error.message).toContain('array');
      await logIsEmpty();
    });

    it('should answer 413 with a JSON error for a body over the limit, and append nothing', async () => {
      const line = JSON.stringify(event(1, 'alice'));
      const lines = Array.from({ length: Math.ceil(MAX_INGEST_BYTES / line.length) + 1 }, () => line).join('\n');
      expect(Buffer.byteLength(lines)).toBeGreaterThan(MAX_INGEST_BYTES);
      const { status, type, body } = await post(TOPIC, lines, 'application/x-ndjson');
      expect(status).toBe(413);
      expect(type).toMatch(/^application\/json/);
      expect((body as ErrorBody).error.message).toMatch(/too large/);
      await logIsEmpty();
    });

    it('should accept a body of exactly the limit', async () => {
      const line = JSON.stringify(event(1, 'alice'));
      const count = Math.floor((MAX_INGEST_BYTES + 1) / (line.length + 1));
      let text = Array.from({ length: count }, () => line).join('\n');
      text += ' '.repeat(MAX_INGEST_BYTES - Buffer.byteLength(text));
      expect(Buffer.byteLength(text)).toBe(MAX_INGEST_BYTES);
      const { status, body } = await post(TOPIC, text, 'application/x-ndjson');
      expect(status).toBe(200);
      expect((body as IngestReport).accepted).toBe(count);
    });
  });
});
