/**
 * The view sink: the query becomes a view of the platform, defined once. Its view definition
 * (`toViewDefinition`) goes in the catalog, and the sink feeds the view's source topic through the log:
 * each batch's input rows, as the view's source declares them (after any `explode`, which a view cannot
 * express). The speed and batch layers then maintain the view, merged and exact, like any other. When the
 * query reads that very topic as it is, there is nothing to forward: the layers read it themselves.
 */
import { type EventLog, type LogMessage, validateTopicName, type SourceDefinition, type ViewDefinition } from '@lambda/core';
import type { SinkBatch, StructuredSink } from './structured-sink.js';

export interface ViewSinkOptions {
  eventLog: EventLog;
  /** The view's name in the catalog. */
  viewName: string;
  /** The topic the view reads; by default the input topic (only when the query reads a topic). */
  topic?: string;
}

export class ViewSink implements StructuredSink {
  readonly idempotent = false;
  readonly outputModes = ['update', 'complete'] as const;
  /** Set when the query starts: the catalog entries to add. */
  view: ViewDefinition | undefined;
  source: SourceDefinition | undefined;
  /** False when the query reads the view's topic directly, so nothing is forwarded. */
  forwarding = true;

  constructor(readonly options: ViewSinkOptions) {
    if (options.topic !== undefined) validateTopicName(options.topic);
  }

  get description(): string {
    return `view:${this.options.viewName}${this.source ? ` (topic ${this.source.topic})` : ''}`;
  }

  bind(view: ViewDefinition, source: SourceDefinition, forwarding: boolean): void {
    this.view = view;
    this.source = source;
    this.forwarding = forwarding;
  }

  async addBatch(batch: SinkBatch): Promise<void> {
    if (!this.forwarding || batch.rows.length === 0) return;
    const messages: LogMessage[] = batch.rows.map((row) => ({ key: null, value: JSON.stringify(row), headers: { 'batch-id': String(batch.batchId) } }));
    await this.options.eventLog.append(this.source!.topic, messages);
  }
}
