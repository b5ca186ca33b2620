// How the dashboard writes numbers, times, durations and units. Displayed text only: the raw values
// stay in the chart's data and in the tables' data-value attributes.

const integerFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', hour12: false });
const clockFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });

export const DASH = '—';

/** A number for people: thousands separated, at most 3 significant decimals below 10, 1 below 1000. */
export function formatNumber(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return DASH;
  if (typeof value !== 'number') return String(value);
  if (Number.isInteger(value)) return integerFormat.format(value);
  const magnitude = Math.abs(value);
  const digits = magnitude >= 1000 ? 0 : magnitude >= 10 ? 1 : magnitude >= 1 ? 2 : 3;
  return new Intl.NumberFormat(undefined, { maximumFractionDigits: digits }).format(value);
}

/** A number with its unit, e.g. "1,234 events", "412.5 ms". */
export function formatWithUnit(value, unit) {
  const number = formatNumber(value);
  return number === DASH || !unit ? number : `${number} ${unit}`;
}

/** Milliseconds as "70 ms", "4.2 s", "3 min 5 s", "2 h 10 min". */
export function formatDuration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return DASH;
  const value = Math.max(0, ms);
  if (value < 1000) return `${Math.round(value)} ms`;
  if (value < 60_000) return `${(value / 1000).toFixed(value < 10_000 ? 1 : 0)} s`;
  if (value < 600_000) {
    const minutes = Math.floor(value / 60_000);
    const seconds = Math.floor((value % 60_000) / 1000);
    return seconds ? `${minutes} min ${seconds} s` : `${minutes} min`;
  }
  if (value < 3_600_000) return `${Math.round(value / 60_000)} min`;
  const hours = Math.floor(value / 3_600_000);
  const minutes = Math.round((value % 3_600_000) / 60_000);
  return minutes ? `${hours} h ${minutes} min` : `${hours} h`;
}

/** "in 59 min" or "3 s ago", from now. */
export function formatRelative(at, now = Date.now()) {
  if (at === null || at === undefined) return DASH;
  const delta = at - now;
  if (Math.abs(delta) < 1000) return 'now';
  return delta > 0 ? `in ${formatDuration(delta)}` : `${formatDuration(-delta)} ago`;
}

/** Epoch ms as a local "14:05". */
export function formatTime(ms) {
  return timeFormat.format(ms);
}

/** Epoch ms as a local "14:05:09". */
export function formatClock(ms) {
  return ms === null || ms === undefined ? DASH : clockFormat.format(ms);
}

export function formatDateTime(ms) {
  return ms === null || ms === undefined ? DASH : dateTimeFormat.format(ms);
}

/** A window's label: its start ("14:05"), or "all time" for a view without windows. */
export function formatWindowStart(windowStart, windowed) {
  return windowed ? formatTime(windowStart) : 'all time';
}

/** A window's range for tooltips: "14:05 – 14:15" (local). */
export function formatWindowRange(windowStart, windowEnd) {
  if (windowEnd === null || windowEnd === undefined) return 'all time (the view has no windows)';
  return `${formatDateTime(windowStart)} – ${formatTime(windowEnd)}`;
}

/** Whether an aggregate's result schema (JSON schema) is a number. */
export function isNumericSchema(schema) {
  const types = Array.isArray(schema?.type) ? schema.type : [schema?.type];
  return types.includes('number') || types.includes('integer');
}

/**
 * What an aggregate's numbers are, from its name and definition: "ms" for *_ms, "s" for *_seconds,
 * "events" for count(), "distinct, est." for approx_distinct(); "" when nothing can be said.
 */
export function unitOf(name, definition = '') {
  if (/_ms$/.test(name)) return 'ms';
  if (/_(seconds|secs|s)$/.test(name)) return 's';
  if (/_bytes$/.test(name)) return 'bytes';
  const fn = /^\s*([a-z_]+)\s*\(/i.exec(definition)?.[1]?.toLowerCase();
  if (fn === 'count') return 'events';
  if (fn === 'approx_distinct') return 'distinct, est.';
  if (fn === 'count_distinct' || fn === 'distinct') return 'distinct';
  return '';
}

/** A label for people: "avg latency (ms)" for avg_latency_ms. */
export function aggregateLabel(name, definition) {
  const unit = unitOf(name, definition);
  const words = name.replace(/_(ms|seconds|secs|bytes)$/, '').replace(/_/g, ' ');
  return unit ? `${words} (${unit})` : words;
}

/** Whether the batch and real-time parts of an aggregate add up to the merged answer (count, sum). */
export function isAdditive(definition = '') {
  const fn = /^\s*([a-z_]+)\s*\(/i.exec(definition)?.[1]?.toLowerCase();
  return fn === 'count' || fn === 'sum';
}
