/**
 * The operator's dashboard: a live chart of one view's key over time with the batch and real-time parts
 * told apart, the top keys, the state of every layer, and a batch recompute with its progress.
 *
 * Plain ES modules, no build step; Chart.js 4 comes from the server as the global `Chart`. Every panel
 * refreshes on its own (a failure shows in the error list and leaves the other panels working), and
 * each keeps only its newest answer, so a slow response never paints over a newer one.
 */
import { api, apiUrl, path, storeToken, storedToken } from './api.js';
import {
  DASH,
  aggregateLabel,
  formatClock,
  formatDateTime,
  formatDuration,
  formatNumber,
  formatRelative,
  formatWindowRange,
  formatWindowStart,
  formatWithUnit,
  isAdditive,
  isNumericSchema,
  unitOf,
} from './format.js';

const REFRESH_MS = 3000;
/** Keys are listed again every this many refreshes (and whenever the view has none yet). */
const KEYS_EVERY = 10;
const JOB_POLL_MS = 300;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const TOP_N = 10;
const MAX_WINDOWS = 1000;
const COLORS = { batch: '#2f6bd8', realtime: '#f29a2e', merged: '#1f2937' };

const $ = (id) => document.getElementById(id);
const ui = {
  viewSelect: $('view-select'),
  keySelect: $('key-select'),
  keyName: $('key-name'),
  aggregateSelect: $('aggregate-select'),
  viewDescription: $('view-description'),
  viewDefinition: $('view-definition'),
  chartTitle: $('chart-title'),
  chartSubtitle: $('chart-subtitle'),
  chartSource: $('chart-source'),
  chartEmpty: $('chart-empty'),
  chartNote: $('chart-note'),
  chartProvenance: $('chart-provenance'),
  topTitle: $('top-title'),
  topRange: $('top-range'),
  topSubtitle: $('top-subtitle'),
  topTable: $('top-table'),
  topNote: $('top-note'),
  logTable: $('log-table'),
  batchTable: $('batch-table'),
  batchAuth: $('batch-auth'),
  recomputeButton: $('recompute-button'),
  recomputeProgress: $('recompute-progress'),
  recomputePercent: $('recompute-percent'),
  recomputeMessage: $('recompute-message'),
  recomputeState: $('recompute-state'),
  liveToggle: $('live-toggle'),
  refreshButton: $('refresh-button'),
  lastUpdated: $('last-updated'),
  errors: $('errors'),
  healthBanner: $('health-banner'),
  healthTitle: $('health-title'),
  healthReasons: $('health-reasons'),
  tokenForm: $('token-form'),
  tokenReason: $('token-reason'),
  tokenInput: $('token-input'),
  tokenForget: $('token-forget'),
  tokenDismiss: $('token-dismiss'),
};

const state = {
  /** GET /views: every view's definition, schema and status. */
  views: [],
  viewName: null,
  key: null,
  aggregate: null,
  keys: [],
  keysTruncated: false,
  /** GET /batch/jobs, or null while it is unknown (not loaded, or it needs a token). */
  jobs: null,
  /** GET /health: the overall status, why it is not up, and each view's progress; null until loaded. */
  health: null,
  live: true,
  refreshes: 0,
  lastSuccessAt: null,
  /** The run started from this page: { id, view, done }. */
  recompute: null,
  /** The user closed the token form: the periodic refresh does not open it again (a recompute does). */
  tokenDismissed: false,
};

// ---------------------------------------------------------------------------------------------------
// Small helpers

/** An element with attributes (`class`, `data-*`, `title`...) and children (nodes or text). */
function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') element.className = value;
    else if (name.startsWith('on') && typeof value === 'function') element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** A sequence per panel: `const current = begin('chart')`, then `if (!current()) return` after awaits. */
const sequences = new Map();
function begin(panel) {
  const number = (sequences.get(panel) ?? 0) + 1;
  sequences.set(panel, number);
  return () => sequences.get(panel) === number;
}

/**
 * A panel's refresh that, when a newer one overtakes it (the timer fires while it waits), resolves only
 * once that newer one has: awaiting any refresh means the panel shows data at least as new as the call.
 */
const newestRuns = new Map();
function refreshing(panel, load) {
  return async () => {
    let awaited = load();
    newestRuns.set(panel, awaited);
    await awaited;
    while (newestRuns.get(panel) !== awaited) {
      awaited = newestRuns.get(panel);
      await awaited;
    }
  };
}

const numberOrNull = (value) => (typeof value === 'number' && Number.isFinite(value) ? value : null);
const currentView = () => state.views.find((view) => view.name === state.viewName) ?? null;
const isWindowed = (view) => Boolean(view?.definition.window);
const numericAggregates = (view) => Object.entries(view?.schema.values ?? {}).filter(([, schema]) => isNumericSchema(schema)).map(([name]) => name);
const definitionOf = (view, aggregate) => view?.definition.aggregates[aggregate] ?? '';
const displayKey = (key) => (key === '' ? '(empty)' : key);
/** Windows starting in the last hour: from the start of the minute an hour ago (so it moves once a minute). */
const lastHourFrom = () => Math.floor((Date.now() - HOUR) / MINUTE) * MINUTE;

// ---------------------------------------------------------------------------------------------------
// Errors and the API token

const errors = new Map();

function reportError(source, error) {
  const message = error instanceof Error ? error.message : String(error);
  errors.set(source, { message, at: Date.now() });
  if (error?.needsToken) askForToken(tokenReason(error), { force: true });
  renderErrors();
}

function clearError(source) {
  if (errors.delete(source)) renderErrors();
}

function renderErrors() {
  ui.errors.replaceChildren(
    ...[...errors].map(([source, { message, at }]) =>
      h(
        'div',
        { class: 'error', 'data-source': source },
        h('strong', {}, 'Error'),
        ' ',
        message,
        h('span', { class: 'muted small' }, ` · ${formatClock(at)}`),
        h('button', { type: 'button', class: 'link dismiss', title: 'Dismiss', 'aria-label': 'Dismiss', onclick: () => clearError(source) }, '×'),
      ),
    ),
  );
}

function tokenReason(error) {
  return error.status === 403
    ? `The platform refused the API token: ${error.message}. Paste a valid one.`
    : `${error.message}. Paste the platform's API token to use the batch controls.`;
}

/** Shows the token form; the periodic refresh (not forced) leaves it closed once the user dismissed it. */
function askForToken(reason, { force = false } = {}) {
  if (state.tokenDismissed && !force) return;
  state.tokenDismissed = false;
  ui.tokenReason.textContent = reason;
  if (ui.tokenForm.hidden) {
    ui.tokenForm.hidden = false;
    ui.tokenInput.focus();
  }
}

function renderTokenState() {
  ui.tokenForget.hidden = !storedToken();
}

// ---------------------------------------------------------------------------------------------------
// Views, keys and aggregates

async function loadViews() {
  const current = begin('views');
  try {
    const answer = await api('views');
    if (!current()) return;
    state.views = answer.views;
    clearError('views');
    renderViewOptions();
    renderBatchLayer();
  } catch (error) {
    reportError('views', error);
  }
}

function renderViewOptions() {
  const names = state.views.map((view) => view.name);
  const shown = [...ui.viewSelect.options].map((option) => option.value);
  if (names.join('\n') !== shown.join('\n')) {
    ui.viewSelect.replaceChildren(...state.views.map((view) => h('option', { value: view.name }, view.name)));
  }
  ui.viewSelect.disabled = names.length === 0;
  if (state.viewName) ui.viewSelect.value = state.viewName;
}

function renderViewInfo() {
  const view = currentView();
  ui.viewDescription.textContent = view?.description ?? '';
  if (!view) return ui.viewDefinition.replaceChildren();
  const spec = view.definition.window;
  const parts = [
    `source ${view.source}`,
    `key ${view.definition.key.join(', ')}`,
    spec ? `${spec.type} windows of ${formatDuration(spec.sizeMs)}${spec.type === 'hopping' ? ` every ${formatDuration(spec.slideMs)}` : ''}` : 'no windows (all time)',
  ];
  if (view.definition.filter) parts.push(`where ${view.definition.filter}`);
  ui.viewDefinition.textContent = parts.join(' · ');
  ui.keyName.textContent = `(${view.definition.key.join(', ')})`;
}

function renderAggregateOptions(preferred) {
  const view = currentView();
  const numeric = numericAggregates(view);
  ui.aggregateSelect.replaceChildren(
    ...numeric.map((name) => h('option', { value: name }, `${aggregateLabel(name, definitionOf(view, name))} = ${definitionOf(view, name)}`)),
  );
  state.aggregate = numeric.includes(preferred) ? preferred : (numeric[0] ?? null);
  ui.aggregateSelect.disabled = numeric.length === 0;
  if (state.aggregate) ui.aggregateSelect.value = state.aggregate;
}

async function loadKeys({ preferred } = {}) {
  const view = state.viewName;
  if (!view) return;
  const current = begin('keys');
  try {
    const answer = await api(path(`views/${encodeURIComponent(view)}/keys`, { limit: 1000 }));
    if (!current() || view !== state.viewName) return;
    clearError('keys');
    state.keys = answer.keys;
    state.keysTruncated = answer.next !== null;
    let key = preferred ?? state.key;
    if (key === null || !state.keys.includes(key)) key = await defaultKey(view);
    if (!current() || view !== state.viewName) return;
    state.key = key;
    renderKeyOptions();
  } catch (error) {
    reportError('keys', error);
  }
}

/** The key with the most of the selected aggregate: the liveliest chart. */
async function defaultKey(view) {
  if (state.keys.length === 0) return null;
  try {
    const answer = await api(path(`views/${encodeURIComponent(view)}/top`, { n: 1, by: state.aggregate ?? undefined }));
    const top = answer.top[0]?.key;
    if (top !== undefined && state.keys.includes(top)) return top;
  } catch (error) {
    reportError('keys', error);
  }
  return state.keys[0];
}

function renderKeyOptions() {
  if (state.keys.length === 0) {
    ui.keySelect.dataset.signature = '';
    ui.keySelect.replaceChildren(h('option', { value: '' }, 'no keys yet'));
    ui.keySelect.disabled = true;
    return;
  }
  // Rebuilt only when the keys changed, so a periodic reload does not close the list under the user's pointer.
  const signature = `${state.keysTruncated}\n${state.keys.join('\n')}`;
  if (ui.keySelect.dataset.signature !== signature) {
    const options = state.keys.map((key) => h('option', { value: key }, displayKey(key)));
    if (state.keysTruncated) options.push(h('option', { value: '', disabled: true }, '… only the first 1,000 keys are listed'));
    ui.keySelect.replaceChildren(...options);
    ui.keySelect.dataset.signature = signature;
  }
  ui.keySelect.disabled = false;
  if (state.key !== null) ui.keySelect.value = state.key;
}

async function selectView(name, { key, aggregate } = {}) {
  state.viewName = name;
  state.key = null;
  state.keys = [];
  ui.viewSelect.value = name;
  renderViewInfo();
  renderAggregateOptions(aggregate ?? state.aggregate);
  renderKeyOptions();
  resetChart();
  renderRecomputeButton();
  saveSelection();
  await loadKeys({ preferred: key });
  saveSelection();
  await refresh();
}

// The selection lives in the address (#view=...&key=...&aggregate=...), so a reload or a shared link keeps it.
function saveSelection() {
  const parameters = new URLSearchParams();
  if (state.viewName) parameters.set('view', state.viewName);
  if (state.key !== null) parameters.set('key', state.key);
  if (state.aggregate) parameters.set('aggregate', state.aggregate);
  history.replaceState(null, '', `#${parameters}`);
}

function savedSelection() {
  const parameters = new URLSearchParams(location.hash.slice(1));
  return { view: parameters.get('view'), key: parameters.get('key'), aggregate: parameters.get('aggregate') };
}

// ---------------------------------------------------------------------------------------------------
// The chart: one bar per window start, the batch part and the speed layer's part stacked

let chart = null;

function makeChart() {
  const canvas = $('chart');
  return new Chart(canvas, {
    type: 'bar',
    data: { labels: [], datasets: [] },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      interaction: { mode: 'index', intersect: false },
      scales: {
        x: {
          stacked: true,
          title: { display: true, text: 'window start (local time)' },
          grid: { display: false },
          ticks: {
            maxRotation: 0,
            autoSkip: true,
            autoSkipPadding: 12,
            callback(value) {
              return formatWindowStart(this.getLabelForValue(value), isWindowed(currentView()));
            },
          },
        },
        y: {
          stacked: true,
          beginAtZero: true,
          title: { display: true, text: '' },
          ticks: { callback: (value) => formatNumber(value) },
        },
      },
      plugins: {
        legend: { position: 'top', align: 'end', labels: { boxWidth: 14, boxHeight: 14, sort: (a, b) => a.datasetIndex - b.datasetIndex } },
        tooltip: {
          callbacks: {
            title: (items) => {
              const shown = chart?.$windows?.[items[0]?.dataIndex];
              return shown ? formatWindowRange(shown.windowStart, shown.windowEnd) : '';
            },
            label: (item) => `${item.dataset.label}: ${formatWithUnit(item.raw, chart?.$unit)}`,
            footer: (items) => {
              const shown = chart?.$windows?.[items[0]?.dataIndex];
              const merged = shown ? numberOrNull(shown.values[state.aggregate]) : null;
              return `merged answer: ${formatWithUnit(merged, chart?.$unit)}`;
            },
          },
        },
      },
    },
  });
}

function resetChart() {
  if (!chart) return;
  chart.data.labels = [];
  chart.data.datasets = [];
  chart.$windows = [];
  chart.update('none');
  ui.chartProvenance.textContent = '';
  ui.chartEmpty.hidden = true;
}

async function loadChart() {
  const view = currentView();
  const { key, aggregate } = state;
  if (!view || key === null || !aggregate) {
    resetChart();
    ui.chartEmpty.hidden = false;
    ui.chartEmpty.textContent = view && state.keys.length === 0 ? 'This view has no keys yet: waiting for data.' : 'Pick a view and a key.';
    return;
  }
  const windowed = isWindowed(view);
  const from = windowed ? lastHourFrom() : undefined;
  const query = path(`views/${encodeURIComponent(view.name)}`, { key, from, limit: MAX_WINDOWS, contributions: 'true' });
  const current = begin('chart');
  let answer;
  try {
    answer = await api(query);
  } catch (error) {
    if (current()) reportError('chart', error);
    return;
  }
  if (!current() || view.name !== state.viewName || key !== state.key || aggregate !== state.aggregate) return;
  clearError('chart');
  drawChart(view, aggregate, answer, { from, query });
}
const refreshChart = refreshing('chart', loadChart);

function drawChart(view, aggregate, answer, { from, query }) {
  chart ??= makeChart();
  const windows = answer.windows.filter((win) => win.key === state.key);
  const definition = definitionOf(view, aggregate);
  const additive = isAdditive(definition);
  const unit = unitOf(aggregate, definition);
  const batch = answer.provenance.batch;

  const datasets = [
    {
      role: 'batch',
      label: batch ? `batch version ${batch.version}` : 'batch (no version yet)',
      data: windows.map((win) => numberOrNull(win.batch?.[aggregate])),
      backgroundColor: COLORS.batch,
      stack: 'layers',
      order: 2,
      maxBarThickness: 56,
    },
    {
      role: 'realtime',
      label: 'speed layer',
      data: windows.map((win) => numberOrNull(win.realtime?.[aggregate])),
      backgroundColor: COLORS.realtime,
      stack: 'layers',
      order: 2,
      maxBarThickness: 56,
    },
  ];
  // The parts of an average, a maximum or a distinct count do not add up: draw the merged answer too.
  if (!additive) {
    datasets.push({
      role: 'merged',
      type: 'line',
      label: 'merged answer',
      data: windows.map((win) => numberOrNull(win.values[aggregate])),
      borderColor: COLORS.merged,
      backgroundColor: COLORS.merged,
      borderWidth: 2,
      pointRadius: 2.5,
      stack: 'merged',
      order: 1,
    });
  }
  // Keep the dataset objects when their roles are the same, so legend toggles survive a refresh.
  const roles = chart.data.datasets.map((dataset) => dataset.role).join(',');
  if (roles === datasets.map((dataset) => dataset.role).join(',')) {
    datasets.forEach((dataset, index) => Object.assign(chart.data.datasets[index], dataset));
  } else {
    chart.data.datasets = datasets;
  }
  chart.data.labels = windows.map((win) => win.windowStart);
  chart.$windows = windows;
  chart.$unit = unit;
  chart.options.scales.y.title.text = aggregateLabel(aggregate, definition);
  chart.options.scales.x.title.text = isWindowed(view) ? 'window start (local time)' : 'the view has no windows';
  chart.update('none');

  const canvas = $('chart');
  canvas.dataset.view = view.name;
  canvas.dataset.key = state.key;
  canvas.dataset.aggregate = aggregate;
  canvas.dataset.from = from === undefined ? '' : String(from);
  ui.chartSource.href = apiUrl(query);
  ui.chartSource.textContent = 'API answer ↗';
  ui.chartEmpty.hidden = windows.length > 0;
  ui.chartEmpty.textContent = 'No windows for this key in the last hour.';
  ui.chartTitle.textContent = `${aggregateLabel(aggregate, definition)} of ${displayKey(state.key)}`;
  ui.chartSubtitle.textContent =
    `${view.name}: per window start${from === undefined ? '' : ` since ${formatClock(from)}`}, the part the batch version holds and the part the speed layer's slices add, stacked.`;
  ui.chartNote.hidden = additive;
  ui.chartNote.textContent = additive
    ? ''
    : `${definition} does not add up across layers: the line is the merged answer, which the serving layer computes from both parts' states.`;
  if (answer.next !== null) {
    ui.chartNote.hidden = false;
    ui.chartNote.textContent = `${ui.chartNote.textContent} Only the first ${formatNumber(MAX_WINDOWS)} windows are drawn.`.trim();
  }
  renderProvenance(answer.provenance, windows.length);
}

function renderProvenance(provenance, windowCount) {
  const { batch, slices, position, freshnessMs } = provenance;
  const sum = (offsets) => offsets.reduce((total, offset) => total + offset, 0);
  const text = [
    batch ? `batch version ${batch.version} (horizon ${formatNumber(sum(batch.horizon))} records, published ${formatRelative(batch.publishedAt)})` : 'no batch version yet',
    `+ ${formatNumber(slices.length)} speed-layer slice${slices.length === 1 ? '' : 's'}`,
    `counts ${formatNumber(sum(position))} records (offsets below ${position.map(formatNumber).join(' · ')})`,
    `freshness ${formatDuration(freshnessMs)}`,
    `${formatNumber(windowCount)} window${windowCount === 1 ? '' : 's'}`,
  ];
  ui.chartProvenance.textContent = `Answer: ${text.join(' · ')}`;
}

// ---------------------------------------------------------------------------------------------------
// Top N

async function loadTop() {
  const view = currentView();
  const aggregate = state.aggregate;
  if (!view || !aggregate) return;
  const windowed = isWindowed(view);
  ui.topRange.closest('label').hidden = !windowed; // a view without windows is all time
  const from = windowed && ui.topRange.value === 'hour' ? lastHourFrom() : undefined;
  const current = begin('top');
  let answer;
  try {
    answer = await api(path(`views/${encodeURIComponent(view.name)}/top`, { n: TOP_N, by: aggregate, from }));
  } catch (error) {
    if (current()) reportError('top', error);
    return;
  }
  if (!current() || view.name !== state.viewName || aggregate !== state.aggregate) return;
  clearError('top');
  renderTop(view, answer, from);
}
const refreshTop = refreshing('top', loadTop);

function renderTop(view, answer, from) {
  const by = answer.by;
  const others = numericAggregates(view).filter((name) => name !== by);
  const unit = unitOf(by, definitionOf(view, by));
  const max = Math.max(0, ...answer.top.map((row) => numberOrNull(row.values[by]) ?? 0));

  ui.topTitle.textContent = `Top ${TOP_N} by ${aggregateLabel(by, definitionOf(view, by))}`;
  ui.topSubtitle.textContent = !isWindowed(view)
    ? `${view.name}: all time (the view has no windows), both layers merged. Click a row to chart it.`
    : from === undefined
      ? `${view.name}: every window, both layers merged. Click a row to chart it.`
      : `${view.name}: windows starting since ${formatClock(from)}, both layers merged. Click a row to chart it.`;
  ui.topTable.dataset.view = view.name;
  ui.topTable.dataset.by = by;
  ui.topTable.dataset.from = from === undefined ? '' : String(from);

  ui.topTable.tHead.replaceChildren(
    h(
      'tr',
      {},
      h('th', { scope: 'col', class: 'num rank' }, '#'),
      h('th', { scope: 'col' }, view.definition.key.join(', ')),
      h('th', { scope: 'col', class: 'num' }, aggregateLabel(by, definitionOf(view, by))),
      h('th', { scope: 'col', class: 'share' }, h('span', { class: 'visually-hidden' }, 'share of the first')),
    ),
  );
  const rows = answer.top.map((row, index) => {
    const value = numberOrNull(row.values[by]);
    const share = max > 0 && value !== null ? Math.max(0, value / max) : 0;
    const details = others.map((name) => `${aggregateLabel(name, definitionOf(view, name))}: ${formatNumber(numberOrNull(row.values[name]))}`);
    return h(
      'tr',
      {
        'data-key': row.key,
        class: row.key === state.key ? 'selected clickable' : 'clickable',
        title: [`${displayKey(row.key)} (click to chart it)`, ...details].join('\n'),
        onclick: () => chooseKey(row.key),
      },
      h('td', { class: 'num rank' }, index + 1),
      h('td', { class: 'key' }, h('span', { class: 'ellipsis' }, displayKey(row.key))),
      h('td', { class: 'num value', 'data-value': value ?? '' }, formatWithUnit(value, unit)),
      h('td', { class: 'share', 'aria-hidden': 'true' }, h('span', { class: 'bar', style: `width:${(share * 100).toFixed(1)}%` })),
    );
  });
  if (rows.length === 0) rows.push(h('tr', {}, h('td', { colspan: 4, class: 'empty' }, 'No keys in this range yet.')));
  ui.topTable.tBodies[0].replaceChildren(...rows);

  const spec = view.definition.window;
  ui.topNote.hidden = spec?.type !== 'hopping';
  if (spec?.type === 'hopping') {
    ui.topNote.textContent = `Hopping windows overlap: each event falls in ${formatNumber(spec.sizeMs / spec.slideMs)} windows, so totals over several windows count it that many times.`;
  }
}

async function chooseKey(key) {
  if (key === state.key) return;
  if (!state.keys.includes(key)) await loadKeys({ preferred: key });
  state.key = key;
  ui.keySelect.value = key;
  saveSelection();
  resetChart();
  await Promise.all([refreshChart(), refreshTop()]);
}

// ---------------------------------------------------------------------------------------------------
// Layers: the log and the speed layer (GET /status), the batch layer (GET /views, GET /batch/jobs)

async function loadStatus() {
  const current = begin('status');
  try {
    const answer = await api('status');
    if (!current()) return;
    clearError('status');
    renderLog(answer);
  } catch (error) {
    if (current()) reportError('status', error);
  }
}
const refreshStatus = refreshing('status', loadStatus);

function renderLog(status) {
  const rows = [];
  for (const topic of status.topics) {
    const total = (field) => topic.partitions.reduce((sum, partition) => sum + (partition[field] ?? 0), 0);
    rows.push(
      h(
        'tr',
        { class: 'group', 'data-topic': topic.topic },
        h('th', { scope: 'row' }, topic.topic, h('span', { class: 'muted small' }, ` · ${topic.partitions.length} partition${topic.partitions.length === 1 ? '' : 's'}`)),
        h('td', { class: 'num', 'data-value': total('endOffset') }, formatNumber(total('endOffset'))),
        h('td', { class: 'num', 'data-value': total('committed') }, formatNumber(total('committed'))),
        h('td', { class: 'num', 'data-value': total('lag') }, formatNumber(total('lag'))),
      ),
    );
    for (const partition of topic.partitions) {
      rows.push(
        h(
          'tr',
          { 'data-topic': topic.topic, 'data-partition': partition.partition },
          h('td', { class: 'partition' }, `partition ${partition.partition}`),
          h('td', { class: 'num end-offset', 'data-value': partition.endOffset }, formatNumber(partition.endOffset)),
          h('td', { class: 'num committed', 'data-value': partition.committed ?? '' }, partition.committed === null ? 'none yet' : formatNumber(partition.committed)),
          h('td', { class: `num lag ${lagClass(partition.lag)}`, 'data-value': partition.lag }, formatNumber(partition.lag)),
        ),
      );
    }
  }
  if (rows.length === 0) rows.push(h('tr', {}, h('td', { colspan: 4, class: 'empty' }, 'No source topic has been created yet.')));
  ui.logTable.tBodies[0].replaceChildren(...rows);
}

function lagClass(lag) {
  if (lag > 10_000) return 'bad';
  if (lag > 1000) return 'warn';
  return 'ok';
}

// ---------------------------------------------------------------------------------------------------
// Health: GET /health, shown as a banner when it is not up and as a badge on each view not ok

async function loadHealth() {
  const current = begin('health');
  try {
    // Not api(): a dependency down answers 503 with the same report, which is what to show.
    const response = await fetch(apiUrl('health'), { headers: { accept: 'application/json' }, cache: 'no-store' });
    const body = await response.json().catch(() => null);
    if (typeof body?.status !== 'string') throw new Error(`GET /health answered ${response.status} without a health report`);
    if (!current()) return;
    state.health = body;
    clearError('health');
  } catch (error) {
    if (!current()) return;
    state.health = null;
    reportError('health', error);
  }
  renderHealth();
  renderBatchLayer();
}
const refreshHealth = refreshing('health', loadHealth);

function renderHealth() {
  const health = state.health;
  const banner = ui.healthBanner;
  banner.dataset.status = health?.status ?? '';
  banner.hidden = !health || health.status === 'up';
  if (banner.hidden) return;
  banner.className = `health-banner ${health.status}`;
  ui.healthTitle.textContent =
    health.status === 'down'
      ? 'Down: a dependency does not answer.'
      : 'Degraded: answers are still served, but some data has stopped advancing.';
  ui.healthReasons.replaceChildren(...health.reasons.map((reason) => h('li', {}, reason)));
}

/** A badge after a view's name when /health says it is stalled, or cannot tell. */
function viewHealthBadge(name) {
  const progress = state.health?.views?.[name];
  if (!progress || progress.status === 'ok') return null;
  const badge = h('span', { class: `badge ${progress.status}`, 'data-health': progress.status, title: progress.reason ?? '' }, progress.status === 'degraded' ? 'stalled' : 'unknown');
  return [' ', badge];
}

async function refreshJobs() {
  const current = begin('jobs');
  try {
    const answer = await api('batch/jobs?limit=1');
    if (!current()) return;
    state.jobs = answer.jobs;
    ui.batchAuth.hidden = true;
    clearError('jobs');
  } catch (error) {
    if (!current()) return;
    state.jobs = null;
    if (error.needsToken) {
      // Not an outage: the platform asks for a token. Said here and in the token form, not as an error.
      clearError('jobs');
      ui.batchAuth.hidden = false;
      ui.batchAuth.replaceChildren(
        `Runs and schedules need the API token (${error.status === 403 ? 'the one given was refused' : 'none given'}). `,
        h('button', { type: 'button', class: 'link', id: 'token-ask', onclick: () => askForToken(tokenReason(error), { force: true }) }, 'Enter token'),
      );
      askForToken(tokenReason(error));
    } else {
      reportError('jobs', error);
    }
  }
  renderBatchLayer();
}

function renderBatchLayer() {
  const jobs = new Map((state.jobs ?? []).map((job) => [job.view, job]));
  const rows = state.views.map((view) => {
    const batch = view.status.batch;
    const job = jobs.get(view.name);
    return h(
      'tr',
      { 'data-view': view.name, class: view.name === state.viewName ? 'selected' : undefined },
      h('th', { scope: 'row', class: 'view-name' }, view.name, viewHealthBadge(view.name)),
      h('td', { class: 'num version', 'data-value': batch?.version ?? '' }, batch ? `v${batch.version}` : h('span', { class: 'muted' }, 'none')),
      h(
        'td',
        { class: 'horizon', 'data-value': batch ? batch.horizon.join(',') : '' },
        batch
          ? [
              h('span', { class: 'nowrap' }, `${formatNumber(batch.horizon.reduce((sum, offset) => sum + offset, 0))} records`),
              h('span', { class: 'muted small block', title: 'Per partition: the version counts the records below these offsets' }, batch.horizon.map(formatNumber).join(' · ')),
              h('span', { class: 'muted small block', title: formatDateTime(batch.publishedAt) }, `published ${formatRelative(batch.publishedAt)}`),
            ]
          : h('span', { class: 'muted' }, 'speed layer only'),
      ),
      lastRunCell(job),
      nextRunCell(job),
    );
  });
  if (rows.length === 0) rows.push(h('tr', {}, h('td', { colspan: 5, class: 'empty' }, 'No views.')));
  ui.batchTable.tBodies[0].replaceChildren(...rows);
}

function lastRunCell(job) {
  if (!state.jobs) return h('td', { class: 'muted' }, 'unknown');
  if (!job) return h('td', { class: 'muted' }, 'not scheduled here');
  const running = job.running;
  if (running) {
    return h(
      'td',
      { class: 'last-run', 'data-state': 'running' },
      h('span', { class: 'badge running' }, `running ${formatNumber(running.progress.percent)}%`),
      h('span', { class: 'muted small block' }, running.progress.message ?? ''),
    );
  }
  const last = job.lastFinished;
  if (!last) return h('td', { class: 'last-run muted', 'data-state': '' }, 'no run yet');
  return h(
    'td',
    { class: 'last-run', 'data-state': last.state, 'data-duration-ms': last.durationMs ?? '' },
    h('span', { class: `badge ${last.state}` }, last.state),
    h('span', { class: 'duration block' }, `took ${formatDuration(last.durationMs)}`),
    h('span', { class: 'muted small block', title: formatDateTime(last.finishedAt) }, `${formatRelative(last.finishedAt)}${last.trigger === 'manual' ? ', manual' : ''}`),
    last.error ? h('span', { class: 'error-text small block' }, last.error) : null,
  );
}

function nextRunCell(job) {
  if (!state.jobs) return h('td', { class: 'muted' }, 'unknown');
  if (!job) return h('td', { class: 'muted' }, DASH);
  const every = job.repeat && 'everyMs' in job.repeat ? `every ${formatDuration(job.repeat.everyMs)}` : job.repeat?.cron ? `cron ${job.repeat.cron}` : 'not repeated';
  return h(
    'td',
    { class: 'next-run', 'data-value': job.nextRunAt ?? '' },
    job.nextRunAt === null ? 'none' : h('span', { class: 'nowrap', title: formatDateTime(job.nextRunAt) }, formatClock(job.nextRunAt)),
    h('span', { class: 'muted small block' }, job.nextRunAt === null ? every : `${formatRelative(job.nextRunAt)}, ${every}`),
  );
}

// ---------------------------------------------------------------------------------------------------
// Recompute: POST /batch/run, then GET /batch/jobs/:id until the run finishes

function renderRecomputeButton() {
  const busy = state.recompute !== null && !state.recompute.done;
  ui.recomputeButton.disabled = !state.viewName || busy;
  ui.recomputeButton.textContent = busy ? `Recomputing ${state.recompute.view}…` : `Recompute ${state.viewName ?? ''}`.trim();
}

function showRun({ id, view, stateName, percent, message, text, version }) {
  ui.recomputeProgress.value = Math.max(0, Math.min(100, percent ?? 0));
  ui.recomputePercent.textContent = percent === null || percent === undefined ? DASH : `${formatNumber(Math.round(percent))}%`;
  ui.recomputeMessage.textContent = message;
  const element = ui.recomputeState;
  element.dataset.state = stateName;
  element.dataset.jobId = id ?? '';
  element.dataset.view = view ?? '';
  element.dataset.version = version ?? '';
  element.className = `state ${stateName}`;
  element.textContent = text;
}

async function startRecompute() {
  const view = state.viewName;
  if (!view) return;
  state.recompute = { id: null, view, done: false };
  renderRecomputeButton();
  showRun({ view, stateName: 'starting', percent: 0, message: `Asking the batch layer to recompute ${view}…`, text: 'starting' });
  try {
    const answer = await api('batch/run', { method: 'POST', body: { view } });
    const run = answer.runs[0];
    if (!run) throw new Error(`POST /batch/run answered no run for ${view}`);
    state.recompute.id = run.id;
    clearError('recompute');
    showJob(run);
    if (run.state === 'completed' || run.state === 'failed') return finishRecompute(run);
    pollJob(run.id, 0);
  } catch (error) {
    state.recompute.done = true;
    renderRecomputeButton();
    showRun({ view, stateName: 'error', percent: 0, message: error.message, text: error.needsToken ? 'needs the API token' : 'could not start' });
    reportError('recompute', error);
  }
}

async function pollJob(id, failures) {
  try {
    const run = await api(`batch/jobs/${encodeURIComponent(id)}`);
    clearError('recompute');
    showJob(run);
    if (run.state === 'completed' || run.state === 'failed') return finishRecompute(run);
    window.setTimeout(() => pollJob(id, 0), JOB_POLL_MS);
  } catch (error) {
    reportError('recompute', error);
    if (failures + 1 >= 10 || error.needsToken) {
      state.recompute.done = true;
      renderRecomputeButton();
      showRun({ id, view: state.recompute.view, stateName: 'error', percent: ui.recomputeProgress.value, message: error.message, text: 'lost track of the run' });
      return;
    }
    window.setTimeout(() => pollJob(id, failures + 1), JOB_POLL_MS * 2);
  }
}

function showJob(run) {
  const percent = run.progress?.percent ?? 0;
  const message = run.progress?.message ?? run.progress?.stage ?? (run.state === 'waiting' ? 'waiting for the run in progress' : '');
  const duration = run.durationMs === null ? '' : ` in ${formatDuration(run.durationMs)}`;
  const text =
    run.state === 'completed'
      ? `completed${duration}: published batch version ${run.version ?? '?'}`
      : run.state === 'failed'
        ? `failed${duration}: ${run.error ?? 'no reason given'}`
        : run.state;
  showRun({ id: run.id, view: run.view, stateName: run.state, percent, message: `${run.id}: ${message || run.state}`, text, version: run.version });
}

function finishRecompute(run) {
  state.recompute.done = true;
  renderRecomputeButton();
  if (run.state === 'failed') reportError('recompute', new Error(`The recompute ${run.id} failed: ${run.error ?? 'no reason given'}`));
  // The new version changes what the chart's batch part holds: show it now.
  return refresh();
}

// ---------------------------------------------------------------------------------------------------
// Refreshing

async function refresh() {
  if (!state.viewName && state.views.length > 0) return selectView(state.views[0].name); // the first load of /views failed
  state.refreshes += 1;
  const keys = state.viewName && (state.keys.length === 0 || state.refreshes % KEYS_EVERY === 0) ? loadKeys() : Promise.resolve();
  await Promise.all([loadViews(), refreshStatus(), refreshHealth(), refreshJobs(), keys.then(() => Promise.all([refreshChart(), refreshTop()]))]);
  if (errors.size === 0) state.lastSuccessAt = Date.now();
  renderLastUpdated();
}

function renderLastUpdated() {
  const at = state.lastSuccessAt;
  ui.lastUpdated.textContent = at === null ? 'not updated yet' : `updated ${formatClock(at)}${state.live ? '' : ' · paused'}`;
  ui.lastUpdated.classList.toggle('stale', at === null || Date.now() - at > 3 * REFRESH_MS);
}

let timer = null;
function schedule() {
  window.clearTimeout(timer);
  if (!state.live) return;
  timer = window.setTimeout(async () => {
    await refresh();
    schedule();
  }, REFRESH_MS);
}

// ---------------------------------------------------------------------------------------------------
// Wiring

function wire() {
  ui.viewSelect.addEventListener('change', () => selectView(ui.viewSelect.value));
  ui.keySelect.addEventListener('change', () => chooseKey(ui.keySelect.value));
  ui.aggregateSelect.addEventListener('change', async () => {
    state.aggregate = ui.aggregateSelect.value;
    saveSelection();
    await Promise.all([refreshChart(), refreshTop()]);
  });
  ui.topRange.addEventListener('change', () => refreshTop());
  ui.liveToggle.addEventListener('change', () => {
    state.live = ui.liveToggle.checked;
    renderLastUpdated();
    if (state.live) refresh().then(schedule);
    else window.clearTimeout(timer);
  });
  ui.refreshButton.addEventListener('click', () => refresh());
  ui.recomputeButton.addEventListener('click', () => startRecompute());
  ui.tokenForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const token = ui.tokenInput.value.trim();
    if (!token) return;
    storeToken(token);
    ui.tokenInput.value = '';
    ui.tokenForm.hidden = true;
    renderTokenState();
    clearError('jobs');
    clearError('recompute');
    refresh();
  });
  ui.tokenDismiss.addEventListener('click', () => {
    state.tokenDismissed = true;
    ui.tokenForm.hidden = true;
  });
  ui.tokenForget.addEventListener('click', () => {
    storeToken(null);
    renderTokenState();
    refresh();
  });
  window.addEventListener('resize', () => chart?.resize());
}

async function start() {
  if (typeof Chart !== 'function') {
    reportError('chart', new Error('Chart.js did not load from /assets/vendor/chart.umd.min.js'));
    return;
  }
  wire();
  renderTokenState();
  chart = makeChart();
  await loadViews();
  const saved = savedSelection();
  const first = state.views.find((view) => view.name === saved.view) ?? state.views[0];
  if (first) await selectView(first.name, { key: saved.key ?? undefined, aggregate: saved.aggregate ?? undefined });
  else await refresh();
  schedule();
}

// A handle for the browser console and for tests: refresh on demand, read the state.
window.dashboard = { state, refresh, refreshChart, refreshTop, refreshStatus, refreshHealth, ready: start() };
