// The "Lambda vs Kappa" card: the newest report of `npm run demo:compare` (GET /reports/latest). Three
// kinds: a single run (its measurements side by side and its SVG charts), a scaling run (the change's cost
// per history size, and its log-log charts), and a run still going (`kind: "live"`: each mode's reprocess
// as a progress bar, side by side, refreshed every second). Hidden while there is no report.
import { api } from './api.js';
import { $, h } from './dom.js';

const MODES = ['lambda', 'kappa'];
const TITLES = { lambda: 'Lambda', kappa: 'Kappa' };
/** A live report not rewritten for this long is from a run that stopped without saying so. */
const STALE_MS = 30_000;
const CHARTS = {
  single: [
    ['freshness.svg', "Freshness of each mode's answers over the run"],
    ['cpu.svg', 'CPU time of each mode'],
    ['storage.svg', 'Bytes on disk of each mode, per store'],
  ],
  scaling: [
    ['reflection-time.svg', 'Time until the logic change shows over all history, against history size, one line per mode'],
    ['change-cpu.svg', 'CPU time of the logic change against history size, one line per mode'],
  ],
};

/** @param {number | null} value */
function ms(value) {
  if (value === null || value === undefined) return 'n/a';
  return value >= 10_000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`;
}

/** @param {number} value */
function size(value) {
  if (value >= 1024 ** 3) return `${(value / 1024 ** 3).toFixed(2)} GiB`;
  if (value >= 1024 ** 2) return `${(value / 1024 ** 2).toFixed(1)} MiB`;
  return `${(value / 1024).toFixed(1)} KiB`;
}

/** @param {number} value */
function count(value) {
  if (value >= 1e6 && value % 1e5 === 0) return `${value / 1e6}M`;
  if (value >= 1e4 && value % 100 === 0) return `${value / 1e3}k`;
  return value.toLocaleString('en');
}

function table(head, rows) {
  const element = $('comparison-table');
  element.tHead.replaceChildren(h('tr', {}, ...head.map((title) => h('th', {}, title))));
  element.tBodies[0].replaceChildren(...rows.map(([label, ...cells]) => h('tr', {}, h('th', {}, label), ...cells.map((cell) => h('td', {}, cell)))));
  element.hidden = false;
}

function charts(kind, writtenAt) {
  $('comparison-charts').replaceChildren(...CHARTS[kind].map(([file, alt]) => h('img', { src: `reports/latest/${file}?t=${writtenAt}`, alt })));
}

function showSingle(report) {
  const { result } = report;
  const lastCheckpoint = result.checkpoints.at(-1);
  const equal = (mode) => (lastCheckpoint ? lastCheckpoint.modes[mode].every((view) => view.equal) : false);
  const history = result.history ? ` after a history of ${count(result.history.count)} events` : '';
  $('comparison-summary').textContent =
    `${result.scenario.title}: ${result.records.total} events${history}, logic change of ${result.scenario.changedView} (${result.scenario.change}). ` +
    `Written ${new Date(report.writtenAt).toLocaleString()}.`;
  const rows = [
    ['answers equal the truth (last checkpoint)', (mode) => (equal(mode) ? 'yes' : 'no')],
    ['freshness p50', (mode) => ms(result.modes[mode].freshnessP50Ms)],
    ['freshness p99', (mode) => ms(result.modes[mode].freshnessP99Ms)],
    ['logic change over all history after', (mode) => ms(result.modes[mode].changeReflectedAfterMs)],
    ['CPU time', (mode) => ms(result.modes[mode].cpuMs.total)],
    ['storage', (mode) => size(result.modes[mode].storage.totalBytes)],
    ['layers', (mode) => result.modes[mode].movingParts.layers.join(', ')],
  ];
  table(['', ...MODES.map((mode) => TITLES[mode])], rows.map(([label, value]) => [label, ...MODES.map(value)]));
  charts('single', report.writtenAt);
}

function showScaling(report) {
  const { result } = report;
  $('comparison-summary').textContent =
    `${result.scenario.title}, as history grows (${result.points.map((point) => count(point.history)).join(', ')} events): ` +
    `logic change of ${result.scenario.changedView} (${result.scenario.change}). ${Math.round(result.wallMs / 1000)} s in all; written ${new Date(report.writtenAt).toLocaleString()}.`;
  const both = (pick) => MODES.map((mode) => `${TITLES[mode]} ${pick(mode)}`).join(' · ');
  table(
    ['history', 'equal to the truth', 'reflected over all history after', 'CPU of the change', 'read (log / lake)', 'peak memory'],
    result.points.map((point) => [
      count(point.history),
      both((mode) => (point.modes[mode].equal ? 'yes' : 'no')),
      both((mode) => ms(point.modes[mode].reflectedAfterMs)),
      both((mode) => ms(point.modes[mode].cpuDuringChangeMs)),
      both((mode) => `${size(point.modes[mode].reads.logBytes)} / ${size(point.modes[mode].reads.lakeBytes)}`),
      both((mode) => size(point.modes[mode].peakRssBytes)),
    ]),
  );
  charts('scaling', report.writtenAt);
}

function showLive(report) {
  const live = report.result;
  const stale = Date.now() - live.updatedAt > STALE_MS;
  const history = live.history === null ? '' : ` (history of ${count(live.history)} events)`;
  const state = live.state === 'failed' ? `failed: ${live.error}` : stale ? 'stopped without a report' : 'running';
  $('comparison-summary').textContent = `${live.scenario.title}${history}: ${state}. Started ${new Date(live.startedAt).toLocaleString()}.`;
  $('comparison-live-phase').textContent = live.building ? `${live.building.phase}: ${Math.round(live.building.percent)}%` : `${live.run.phase} (${Math.round(live.run.percent)}%)`;
  for (const mode of MODES) {
    const progress = live.reprocess[mode];
    $(`comparison-${mode}`).value = progress ? progress.percent : 0;
    $(`comparison-${mode}-text`).textContent = progress ? `${Math.round(progress.percent)}% ${progress.state === 'running' ? progress.phase : progress.state}` : 'not started';
  }
  $('comparison-table').hidden = true;
  $('comparison-charts').replaceChildren();
  return live.state === 'running' && !stale;
}

let shownAt = 0;

/** Shows the newest report when it changed; a run still going is asked again every second, else every 5 s. */
async function refresh() {
  let running = false;
  try {
    const { latest } = await api('reports');
    if (latest && latest.writtenAt !== shownAt) {
      const report = await api('reports/latest');
      const kind = report.result.kind === 'live' ? 'live' : report.result.kind === 'scaling' ? 'scaling' : 'single';
      $('comparison-live').hidden = kind !== 'live';
      if (kind === 'live') running = showLive(report);
      else if (kind === 'scaling') showScaling(report);
      else showSingle(report);
      shownAt = report.writtenAt;
      $('comparison').hidden = false;
    } else if (latest) {
      running = !$('comparison-live').hidden && Date.now() - latest.writtenAt < STALE_MS;
    }
  } catch {
    // The card is an extra: the rest of the page reports API errors.
  }
  window.setTimeout(refresh, running ? 1000 : 5000);
}

void refresh();
