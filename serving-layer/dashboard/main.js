// The dashboard's entry module (index.html loads it): wires the panels together, refreshes them every
// 3 seconds, and exposes `window.dashboard` for the browser console and the browser test.
import { $ } from './dom.js';
import { clearError, hasErrors, reportError } from './errors.js';
import { formatClock } from './format.js';
import { refreshHealth } from './health-banner.js';
import { refreshJobs, refreshStatus } from './layers.js';
import { queryTokenGiven, resizeQueryChart, runQuery, suggestQuery, wireQueryBox } from './query-box.js';
import { renderRecomputeButton, wireRecompute } from './recompute.js';
import { loadKeys, loadViews, saveSelection, savedSelection, showKey, showView, wireSelection } from './selection.js';
import { state } from './state.js';
import { renderTokenState, wireTokenForm } from './token.js';
import { refreshTop, wireTop } from './top-table.js';
import { initChart, refreshChart, resetChart, resizeChart } from './view-chart.js';

const REFRESH_MS = 3000;
/** Keys are listed again every this many refreshes (and whenever the view has none yet). */
const KEYS_EVERY = 10;

const ui = {
  liveToggle: $('live-toggle'),
  refreshButton: $('refresh-button'),
  lastUpdated: $('last-updated'),
};

async function selectView(name, { key, aggregate } = {}) {
  showView(name, aggregate ?? state.aggregate);
  resetChart();
  renderRecomputeButton();
  saveSelection();
  await loadKeys({ preferred: key });
  saveSelection();
  await refresh();
}

async function chooseKey(key) {
  if (key === state.key) return;
  if (!state.keys.includes(key)) await loadKeys({ preferred: key });
  showKey(key);
  saveSelection();
  resetChart();
  await Promise.all([refreshChart(), refreshTop()]);
}

/** Every panel at once; each reports its own failure, so one failing request leaves the others working. */
async function refresh() {
  if (!state.viewName && state.views.length > 0) return selectView(state.views[0].name); // the first load of /views failed
  state.refreshes += 1;
  const keys = state.viewName && (state.keys.length === 0 || state.refreshes % KEYS_EVERY === 0) ? loadKeys() : Promise.resolve();
  await Promise.all([loadViews(), refreshStatus(), refreshHealth(), refreshJobs(), keys.then(() => Promise.all([refreshChart(), refreshTop()]))]);
  suggestQuery(); // once the views are known, when the first load of /views failed
  if (!hasErrors()) state.lastSuccessAt = Date.now();
  renderLastUpdated();
}

function renderLastUpdated() {
  const at = state.lastSuccessAt;
  ui.lastUpdated.textContent = at === null ? 'not updated yet' : `updated ${formatClock(at)}${state.live ? '' : ' · paused'}`;
  ui.lastUpdated.classList.toggle('stale', at === null || Date.now() - at > 3 * REFRESH_MS);
}

// A timeout chained after each refresh rather than an interval, so a slow refresh never overlaps the next.
let timer = null;
function schedule() {
  window.clearTimeout(timer);
  if (!state.live) return;
  timer = window.setTimeout(async () => {
    await refresh();
    schedule();
  }, REFRESH_MS);
}

function wire() {
  wireSelection({ selectView, chooseKey, aggregateChanged: () => Promise.all([refreshChart(), refreshTop()]) });
  wireTop({ chooseKey });
  ui.liveToggle.addEventListener('change', () => {
    state.live = ui.liveToggle.checked;
    renderLastUpdated();
    if (state.live) refresh().then(schedule);
    else window.clearTimeout(timer);
  });
  ui.refreshButton.addEventListener('click', () => refresh());
  wireRecompute({ refresh });
  wireTokenForm({
    onGiven: () => {
      clearError('jobs');
      clearError('recompute');
      refresh();
      queryTokenGiven();
    },
    onForgotten: () => refresh(),
  });
  wireQueryBox();
  window.addEventListener('resize', () => {
    resizeChart();
    resizeQueryChart();
  });
}

async function start() {
  if (typeof Chart !== 'function') {
    reportError('chart', new Error('Chart.js did not load from /assets/vendor/chart.umd.min.js'));
    return;
  }
  wire();
  renderTokenState();
  initChart();
  await loadViews();
  suggestQuery();
  const saved = savedSelection();
  const first = state.views.find((view) => view.name === saved.view) ?? state.views[0];
  if (first) await selectView(first.name, { key: saved.key ?? undefined, aggregate: saved.aggregate ?? undefined });
  else await refresh();
  schedule();
}

// A handle for the browser console and for tests: refresh on demand, read the state.
window.dashboard = { state, refresh, refreshChart, refreshTop, refreshStatus, refreshHealth, runQuery, ready: start() };
