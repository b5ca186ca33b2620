// The SQL box: one SELECT over the merged views (POST /query), its rows in a table with each column's
// type, the first numeric column charted against the first other one, and each view's snapshot (the
// position it counts below and its freshness). Errors, the API's code and message, stay in the box.
// Everything shown is text (textContent through dom.js's h), never markup built from data.
import { api, ApiError } from './api.js';
import { $, h } from './dom.js';
import { formatDuration, formatNumber } from './format.js';
import { begin } from './sequence.js';
import { numericAggregates, state } from './state.js';
import { askForToken, tokenReason } from './token.js';

/** The most bars drawn: the table holds every row, the chart the first of them. */
const MAX_BARS = 100;
/** The rows asked for unless the limit field says otherwise. */
const DEFAULT_LIMIT = 1000;
const BAR_COLOR = '#2f6bd8';
/** DuckDB's numeric types, as the API names them (DECIMAL with its width and scale). */
const NUMERIC_TYPE = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|REAL|DOUBLE|DECIMAL(\s*\(\s*\d+\s*,\s*\d+\s*\))?)$/i;
/** Words a column name must be quoted to be used as (DuckDB's reserved keywords that look like names). */
const RESERVED = new Set(
  'all analyse analyze and any array as asc asymmetric both case cast check collate column constraint create default deferrable desc describe distinct do else end except false fetch for foreign from grant group having in initially intersect into lateral leading limit not null offset on only or order pivot placing primary qualify references returning select show summarize symmetric table then to trailing true union unique unpivot using variadic when where window with'.split(
    ' ',
  ),
);

const ui = {
  form: $('query-form'),
  sql: $('query-sql'),
  params: $('query-params'),
  limit: $('query-limit'),
  run: $('query-run'),
  status: $('query-status'),
  error: $('query-error'),
  result: $('query-result'),
  summary: $('query-summary'),
  views: $('query-views'),
  truncated: $('query-truncated'),
  table: $('query-table'),
  chartBox: $('query-chart-box'),
  chartNote: $('query-chart-note'),
};

let chart = null;
/** Whether the user typed in the box: the example is offered only while it is untouched. */
let edited = false;
/** The last run failed for want of a token: giving one runs it again. */
let lastNeededToken = false;
let runs = 0;

/** A column name or view name as SQL: bare when it can be, quoted otherwise. */
export function sqlName(name) {
  return /^[a-z_][a-z0-9_]*$/.test(name) && !RESERVED.has(name) ? name : `"${name.replaceAll('"', '""')}"`;
}

export const isNumericType = (type) => NUMERIC_TYPE.test(String(type).trim());

/** A view's key columns as its SQL table names them (serving-layer src/sql/view-table.ts). */
function keyColumns(view) {
  const aggregates = Object.keys(view.definition?.aggregates ?? {});
  const taken = new Set(['window_start', 'window_end', ...aggregates]);
  const expressions = view.schema?.key?.map((key) => key.expression) ?? view.definition?.key ?? [];
  return expressions.map((expression, index) => (taken.has(expression) ? `key_${index}` : expression));
}

/** How an aggregate's per-window results combine over windows: sum for counts and sums, else its own kind. */
function combiner(definition = '') {
  const fn = /^\s*([a-z_]+)\s*\(/i.exec(definition)?.[1]?.toLowerCase();
  if (fn === 'count' || fn === 'sum') return 'sum';
  if (fn === 'min' || fn === 'max') return fn;
  return 'avg';
}

/** The example the box starts with: a view's top keys by its first numeric aggregate, over every window. */
export function exampleQuery(view) {
  if (!view) return 'SELECT 42 AS answer';
  const table = sqlName(view.name);
  const numeric = numericAggregates(view);
  if (numeric.length === 0) return `-- Every column of ${view.name}\nSELECT *\nFROM ${table}\nLIMIT 20`;
  const aggregate = numeric[0];
  const column = sqlName(aggregate);
  const keys = keyColumns(view).map(sqlName);
  if (keys.length === 0) {
    return `-- ${view.name}: ${aggregate} of the newest windows\nSELECT window_start, ${column}\nFROM ${table}\nORDER BY window_start DESC\nLIMIT 20`;
  }
  const fn = combiner(view.definition.aggregates[aggregate]);
  return [
    `-- The top 10 keys of ${view.name} by ${aggregate}, over every window (both layers merged)`,
    `SELECT ${keys.join(', ')}, ${fn}(${column}) AS ${column}`,
    `FROM ${table}`,
    `GROUP BY ${keys.join(', ')}`,
    `ORDER BY ${column} DESC`,
    'LIMIT 10',
  ].join('\n');
}

/** Fills the box with the example over the catalog's first view, unless the user has typed in it. */
export function suggestQuery() {
  if (edited || ui.sql.value.trim() !== '' || state.views.length === 0) return;
  ui.sql.value = exampleQuery(state.views[0]);
  ui.sql.dataset.example = state.views[0].name;
}

/** A cell as text: strings as they are, NULL, and everything else (numbers, lists, structs) as compact JSON. */
export function cellText(value) {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

function toNumber(value) {
  const number = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN; // BIGINT past 2^53 comes as text
  return Number.isFinite(number) ? number : null;
}

/** A failure the page found before asking the API, shaped like the API's errors. */
class InputError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

function readParams() {
  const text = ui.params.value.trim();
  if (text === '') return [];
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new InputError('INVALID_PARAMS', `Params must be a JSON array, e.g. ["/docs", 10]: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (!Array.isArray(parsed)) throw new InputError('INVALID_PARAMS', 'Params must be a JSON array, e.g. ["/docs", 10]');
  return parsed;
}

function readLimit() {
  const text = ui.limit.value.trim();
  if (text === '') return undefined;
  const limit = Number(text);
  if (!Number.isInteger(limit) || limit < 1) throw new InputError('INVALID_LIMIT', 'The row limit must be a whole number of at least 1 (or empty for the server maximum)');
  return limit;
}

function setState(name, text) {
  ui.result.dataset.state = name;
  ui.form.dataset.state = name;
  ui.form.dataset.run = String(runs);
  ui.form.setAttribute('aria-busy', String(name === 'running'));
  ui.status.textContent = text;
}

/** Runs what the box holds. Never throws: every failure ends in the error area. */
export async function runQuery() {
  runs += 1;
  const current = begin('query');
  try {
    const sql = ui.sql.value;
    if (sql.trim() === '') throw new InputError('EMPTY_QUERY', 'Type a SELECT statement first');
    const body = { sql, params: readParams() };
    const limit = readLimit();
    if (limit !== undefined) body.limit = limit;
    setState('running', 'Running…');
    const startedAt = performance.now();
    const answer = await api('query', { method: 'POST', body });
    if (!current()) return;
    lastNeededToken = false;
    showAnswer(answer, performance.now() - startedAt);
  } catch (error) {
    if (current()) showError(error);
  }
}

function showError(error) {
  const known = error instanceof ApiError || error instanceof InputError;
  const code = known ? error.code : 'DASHBOARD_ERROR';
  const message = error instanceof ApiError ? error.reason : error instanceof Error ? error.message : String(error);
  const status = error instanceof ApiError && error.status > 0 ? `HTTP ${error.status}` : error instanceof InputError ? 'not sent' : '';
  lastNeededToken = error instanceof ApiError && error.needsToken;
  ui.error.dataset.code = code;
  const parts = [h('strong', { class: 'code' }, code), ' ', h('span', { class: 'message' }, message)];
  if (status) parts.push(h('span', { class: 'muted small' }, ` · ${status}`));
  if (lastNeededToken) parts.push(h('span', { class: 'small' }, ' · Paste the API token in the form above; the query runs again once it is given.'));
  ui.error.replaceChildren(...parts);
  ui.error.hidden = false;
  ui.result.hidden = true;
  setState('error', 'Failed');
  if (lastNeededToken) askForToken(tokenReason(error), { force: true });
}

function showAnswer(answer, roundTripMs) {
  const { columns, rows, truncated, views, elapsedMs } = answer;
  ui.error.hidden = true;
  ui.error.replaceChildren();
  delete ui.error.dataset.code;
  ui.result.hidden = false;
  renderTable(columns, rows);
  ui.summary.dataset.rows = String(rows.length);
  ui.summary.dataset.elapsedMs = String(elapsedMs);
  ui.summary.textContent =
    `${formatNumber(rows.length)} row${rows.length === 1 ? '' : 's'} · ${formatNumber(columns.length)} column${columns.length === 1 ? '' : 's'}` +
    ` · ran in ${formatDuration(elapsedMs)} (${formatDuration(roundTripMs)} with loading the views and the round trip)`;
  ui.truncated.hidden = !truncated;
  ui.truncated.textContent = truncated ? `Truncated: more rows matched than the answer holds (${formatNumber(rows.length)}). Raise the row limit, or narrow the query.` : '';
  renderViews(views ?? {});
  drawChart(columns, rows);
  setState('done', `Done · ${formatNumber(rows.length)} row${rows.length === 1 ? '' : 's'}${truncated ? ' (truncated)' : ''}`);
}

function renderTable(columns, rows) {
  const numeric = columns.map((column) => isNumericType(column.type));
  ui.table.tHead.replaceChildren(
    h(
      'tr',
      {},
      columns.map((column, index) =>
        h(
          'th',
          { scope: 'col', class: numeric[index] ? 'num' : undefined, 'data-name': column.name, 'data-type': column.type },
          h('span', { class: 'column-name' }, column.name),
          h('span', { class: 'column-type' }, column.type),
        ),
      ),
    ),
  );
  const body = rows.map((row) =>
    h(
      'tr',
      {},
      columns.map((_, index) => {
        const value = row[index];
        const kind = value === null || value === undefined ? 'null' : typeof value === 'object' ? 'json' : numeric[index] ? 'num' : undefined;
        return h('td', { class: kind }, cellText(value));
      }),
    ),
  );
  if (body.length === 0) body.push(h('tr', {}, h('td', { colspan: Math.max(1, columns.length), class: 'empty' }, 'No rows.')));
  ui.table.tBodies[0].replaceChildren(...body);
}

function renderViews(views) {
  const sum = (offsets) => offsets.reduce((total, offset) => total + offset, 0);
  const entries = Object.entries(views);
  ui.views.replaceChildren(
    ...entries.map(([name, provenance]) => {
      const { batch, slices = [], position = [], freshnessMs = null } = provenance;
      return h(
        'li',
        { 'data-view': name, 'data-position': position.join(','), 'data-freshness-ms': freshnessMs ?? '' },
        h('span', { class: 'mono' }, name),
        `: ${batch ? `batch version ${formatNumber(batch.version)}` : 'no batch version'} + ${formatNumber(slices.length)} slice${slices.length === 1 ? '' : 's'}`,
        ` · counts ${formatNumber(sum(position))} records (offsets below ${position.map(formatNumber).join(' · ') || '—'})`,
        ` · freshness ${formatDuration(freshnessMs)}`,
      );
    }),
  );
  ui.views.hidden = entries.length === 0;
}

function makeChart(canvas) {
  return new Chart(canvas, {
    type: 'bar',
    data: { labels: [], datasets: [] },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      scales: {
        x: {
          title: { display: true, text: '' },
          grid: { display: false },
          ticks: {
            autoSkip: true,
            maxRotation: 45,
            callback(value) {
              const label = String(this.getLabelForValue(value));
              return label.length > 28 ? `${label.slice(0, 27)}…` : label;
            },
          },
        },
        y: { beginAtZero: true, title: { display: true, text: '' }, ticks: { callback: (value) => formatNumber(value) } },
      },
      plugins: { legend: { display: false } },
    },
  });
}

function drawChart(columns, rows) {
  const valueIndex = columns.findIndex((column) => isNumericType(column.type));
  const canvas = $('query-chart');
  const chartable = valueIndex >= 0 && rows.length > 0 && typeof Chart === 'function';
  ui.chartBox.hidden = !chartable;
  if (!chartable) {
    chart?.destroy();
    chart = null;
    canvas.dataset.value = '';
    canvas.dataset.label = '';
    ui.chartNote.hidden = false;
    ui.chartNote.textContent =
      typeof Chart !== 'function' ? 'No chart: Chart.js did not load.' : valueIndex < 0 ? 'No chart: the answer has no numeric column.' : 'No chart: the answer has no rows.';
    return;
  }
  const labelIndex = columns.findIndex((_, index) => index !== valueIndex);
  const shown = rows.slice(0, MAX_BARS);
  chart ??= makeChart(canvas);
  chart.data.labels = shown.map((row, index) => (labelIndex < 0 ? String(index + 1) : cellText(row[labelIndex])));
  chart.data.datasets = [{ label: columns[valueIndex].name, data: shown.map((row) => toNumber(row[valueIndex])), backgroundColor: BAR_COLOR, maxBarThickness: 48 }];
  chart.options.scales.x.title.text = labelIndex < 0 ? 'row' : columns[labelIndex].name;
  chart.options.scales.y.title.text = columns[valueIndex].name;
  chart.update('none');
  canvas.dataset.value = columns[valueIndex].name;
  canvas.dataset.label = labelIndex < 0 ? '' : columns[labelIndex].name;
  canvas.setAttribute('aria-label', `Bars: ${columns[valueIndex].name} per ${labelIndex < 0 ? 'row' : columns[labelIndex].name}`);
  ui.chartNote.hidden = rows.length <= MAX_BARS;
  ui.chartNote.textContent = rows.length > MAX_BARS ? `The chart draws the first ${formatNumber(MAX_BARS)} of ${formatNumber(rows.length)} rows.` : '';
}

export function resizeQueryChart() {
  chart?.resize();
}

/** A token was just given: a query refused for want of one runs again. */
export function queryTokenGiven() {
  if (lastNeededToken) void runQuery();
}

export function wireQueryBox() {
  ui.limit.value = String(DEFAULT_LIMIT);
  ui.sql.addEventListener('input', () => {
    edited = true;
  });
  ui.sql.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      void runQuery();
    }
  });
  ui.form.addEventListener('submit', (event) => {
    event.preventDefault();
    void runQuery();
  });
  setState('idle', 'Ctrl+Enter (⌘+Enter) runs the query');
  suggestQuery();
}
