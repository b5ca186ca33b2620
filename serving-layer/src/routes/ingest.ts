/**
 * `POST /ingest/:topic`: appends events to a source topic. The body is a JSON array of events, or NDJSON
 * (one event per line). Every record is appended, invalid ones too, so the log keeps all that arrived;
 * the report says which will reach the views and which the speed layer will send to the dead-letter
 * topic, and why, using the same decoder the speed layer runs.
 */
import express, { Router } from 'express';
import { InvalidArgumentError, UnknownTopicError, type Catalog, type EventLog, type LogMessage, type Metrics } from '@lambda/core';
import type { IngestReport } from '../api/schemas.js';

export function ingestRouter(catalog: Catalog, log: EventLog, metrics: Metrics, options: { maxBodyBytes: number }): Router {
  const router = Router();
  const ingested = metrics.counter({
    name: 'lambda_ingest_records_total',
    help: 'Records received through POST /ingest, by what the speed layer will do with them',
    labelNames: ['topic', 'status'],
  });
  const body = express.text({ type: () => true, limit: options.maxBodyBytes });

  router.post('/ingest/:topic', body, async (request, response) => {
    const topic = request.params.topic;
    const source = catalog.sources.get(topic);
    if (!source) throw new UnknownTopicError(`No source topic "${topic}"; ingest accepts: ${[...catalog.sources.keys()].join(', ')}`, { topic });
    const text = typeof request.body === 'string' ? request.body : '';
    // Each event with its index in the body: the array element, or the NDJSON line (blank lines counted,
    // so a client maps every answer back to the line it sent).
    const events = request.is('application/json') ? splitJsonArray(text).map((value, index) => ({ index, value })) : splitLines(text);
    const values = events.map((event) => event.value);
    if (values.length === 0) throw new InvalidArgumentError('The body holds no events: send a JSON array or NDJSON lines', { topic });

    const messages: LogMessage[] = values.map((value) => {
      let key: string | null = null;
      try {
        key = source.partitionKeyOf(JSON.parse(value));
      } catch {
        // not JSON: no key; the report below says why it is dead-lettered
      }
      return { key, value };
    });
    const appended = await log.append(topic, messages);
    const report: IngestReport = { topic, accepted: 0, deadLettered: 0, records: [] };
    appended.forEach(({ partition, offset }, i) => {
      const { index, value } = events[i]!;
      const decoded = source.decode({ topic, partition, offset, timestamp: Date.now(), key: null, value: Buffer.from(value), headers: {} });
      if (decoded.ok) {
        report.accepted++;
        report.records.push({ index, partition, offset, status: 'accepted' });
      } else {
        report.deadLettered++;
        report.records.push({ index, partition, offset, status: 'dead-letter', reason: decoded.reason });
      }
    });
    ingested.inc({ topic, status: 'accepted' }, report.accepted);
    ingested.inc({ topic, status: 'dead-letter' }, report.deadLettered);
    response.json(report);
  });

  return router;
}

/** The non-blank lines, each with its line number from 0. */
function splitLines(text: string): { index: number; value: string }[] {
  return text
    .split(/\r?\n/)
    .map((value, index) => ({ index, value }))
    .filter((line) => line.value.trim() !== '');
}

function splitJsonArray(text: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new InvalidArgumentError(`The body is not valid JSON: ${(error as Error).message}`, {});
  }
  if (!Array.isArray(parsed)) throw new InvalidArgumentError('A JSON body must be an array of events', {});
  return arrayElements(text);
}

/**
 * The text of each element of `text`, a valid JSON array, as sent: serializing the parsed values again
 * would change what the log keeps (integers beyond 2^53 rounded, 1.50 written 1.5, a repeated field dropped).
 */
function arrayElements(text: string): string[] {
  const elements: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      for (i++; text[i] !== '"'; i++) if (text[i] === '\\') i++;
    } else if (c === '[' || c === '{') {
      if (depth++ === 0) start = i + 1;
    } else if (c === ']' || c === '}') {
      if (--depth === 0 && text.slice(start, i).trim() !== '') elements.push(text.slice(start, i).trim());
    } else if (c === ',' && depth === 1) {
      elements.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  return elements;
}
