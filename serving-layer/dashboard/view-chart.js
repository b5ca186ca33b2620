// The chart (Chart.js, loaded by index.html as the global `Chart`): one bar per window start of the
// selected key, the batch version's part and the speed layer's part stacked, from GET /views/:name.
import { api, apiUrl, path } from './api.js';
import { $ } from './dom.js';
import { clearError, reportError } from './errors.js';
import {
  aggregateLabel,
  formatClock,
  formatDuration,
  formatNumber,
  formatRelative,
  formatWindowRange,
  formatWindowStart,
  formatWithUnit,
  isAdditive,
  unitOf,
} from './format.js';
import { begin, refreshing } from './sequence.js';
import { currentView, definitionOf, displayKey, isWindowed, lastHourFrom, numberOrNull, state } from './state.js';

const MAX_WINDOWS = 1000;
const COLORS = { batch: '#2f6bd8', realtime: '#f29a2e', merged: '#1f2937' };

const ui = {
  chartTitle: $('chart-title'),
  chartSubtitle: $('chart-subtitle'),
  chartSource: $('chart-source'),
  chartEmpty: $('chart-empty'),
  chartNote: $('chart-note'),
  chartProvenance: $('chart-provenance'),
};

let chart = null;

/** Called once Chart.js is known to have loaded. */
export function initChart() {
  chart = makeChart();
}

export function resizeChart() {
  chart?.resize();
}

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

export function resetChart() {
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
export const refreshChart = refreshing('chart', loadChart);

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

