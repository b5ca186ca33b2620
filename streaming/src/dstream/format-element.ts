/**
 * How records print in pprint and saveAsTextFiles: strings as they are, pairs and other arrays as Spark
 * prints Scala tuples, `(word,3)`, anything else as JSON.
 */
export function formatElement(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return `(${value.map(formatElement).join(',')})`;
  if (value === undefined) return 'undefined';
  if (typeof value === 'bigint') return value.toString();
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return JSON.stringify(value) ?? String(value);
}

const RULE = '-------------------------------------------';

/** Spark's pprint block: a rule, the batch time, a rule, the first `count` elements, `...` if more, a blank line. */
export function formatPrint(time: number, records: readonly unknown[], count: number): string {
  const lines = [RULE, `Time: ${time} ms`, RULE, ...records.slice(0, count).map(formatElement)];
  if (records.length > count) lines.push('...');
  return `${lines.join('\n')}\n\n`;
}
