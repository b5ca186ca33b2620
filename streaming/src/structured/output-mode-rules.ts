/**
 * The rules a Spark user expects, checked when a query starts, before anything runs. Each names the
 * operation and the output mode. A streaming table never ends, so an operation needing the whole table
 * (limit, distinct, a sort outside complete mode, a second aggregation) has no answer; append mode can
 * emit an aggregate only once it is final, which takes a watermark; complete mode re-emits the whole
 * result table, which only an aggregation keeps bounded.
 */
import { UnsupportedOperationError } from '@lambda/core';
import type { LogicalPlan } from './logical-plan.js';
import type { OutputMode, StructuredSink } from './sinks/structured-sink.js';
import { ViewSink } from './sinks/view-sink.js';

export function checkSupported(plan: LogicalPlan, mode: OutputMode, sink: StructuredSink): void {
  const fail = (operation: string, message: string): never => {
    throw new UnsupportedOperationError(operation, mode, `${message} (${mode} output mode)`);
  };
  let aggregated = false;
  let windowed = false;
  for (const step of plan.steps) {
    switch (step.kind) {
      case 'aggregate':
        if (aggregated) fail('chained aggregation', 'Multiple streaming aggregations (a groupBy().agg() on an aggregated table) are not supported on streaming tables');
        aggregated = true;
        windowed = step.window !== undefined;
        break;
      case 'limit':
        fail('limit', `limit(${step.count}) is not supported on streaming tables`);
        break;
      case 'distinct':
        fail('distinct', 'distinct() is not supported on streaming tables');
        break;
      case 'orderBy':
        if (!aggregated || mode !== 'complete') {
          fail('sort', 'Sorting (orderBy/sort) is not supported on streaming tables, except after an aggregation in complete output mode');
        }
        break;
      default:
        break;
    }
  }
  if (mode === 'complete' && !aggregated) {
    fail('complete output mode', 'Complete output mode is not supported without a streaming aggregation: the result table would hold every input row');
  }
  if (mode === 'append' && aggregated && !(plan.watermark && windowed)) {
    fail(
      'streaming aggregation',
      'Append output mode is not supported for a streaming aggregation without a watermark on an event-time window: no aggregate would ever be final (add withWatermark and window())',
    );
  }
  if (sink.outputModes && !sink.outputModes.includes(mode)) {
    fail(`${sink.description.split(':')[0]} sink`, `The ${sink.description} sink does not support ${mode} output mode; it takes ${sink.outputModes.join(' or ')}`);
  }
  if (sink instanceof ViewSink && !aggregated) fail('view sink', 'The view sink needs an aggregation: a view is a groupBy().agg()');
}
