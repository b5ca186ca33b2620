// The recompute button and its progress: POST /batch/run for the selected view, then GET /batch/jobs/:id
// every 300 ms until the run completes or fails.
import { api } from './api.js';
import { $ } from './dom.js';
import { clearError, reportError } from './errors.js';
import { DASH, formatDuration, formatNumber } from './format.js';
import { state } from './state.js';

const JOB_POLL_MS = 300;

const ui = {
  recomputeButton: $('recompute-button'),
  recomputeProgress: $('recompute-progress'),
  recomputePercent: $('recompute-percent'),
  recomputeMessage: $('recompute-message'),
  recomputeState: $('recompute-state'),
};

/** Set by wireRecompute: a finished run refreshes every panel, which the entry module owns. */
let refresh = async () => {};

export function wireRecompute(handlers) {
  refresh = handlers.refresh;
  ui.recomputeButton.addEventListener('click', () => startRecompute());
}

export function renderRecomputeButton() {
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
