// The "Lambda vs Kappa" card: the newest report of `npm run demo:compare` (GET /reports/latest), its
// measurements side by side and its SVG charts. Hidden while there is no report.
import { api } from './api.js';

const MODES = ['lambda', 'kappa'];

/** @param {number | null} value */
function ms(value) {
  return value === null || value === undefined ? 'n/a' : `${Math.round(value)} ms`;
}

/** @param {number} value */
function kib(value) {
  return `${(value / 1024).toFixed(1)} KiB`;
}

function cell(tag, text) {
  const element = document.createElement(tag);
  element.textContent = text;
  return element;
}

async function showLatestReport() {
  const card = document.getElementById('comparison');
  let report;
  try {
    const { latest } = await api('reports');
    if (!latest) return; // no report yet: the card stays hidden
    report = await api('reports/latest');
  } catch {
    return; // the card is an extra: the rest of the page reports API errors
  }
  const { result } = report;
  const lastCheckpoint = result.checkpoints.at(-1);
  const equal = (mode) => (lastCheckpoint ? lastCheckpoint.modes[mode].every((view) => view.equal) : false);
  document.getElementById('comparison-summary').textContent =
    `${result.scenario.title}: ${result.records.total} events, logic change of ${result.scenario.changedView} (${result.scenario.change}). ` +
    `Written ${new Date(report.writtenAt).toLocaleString()}.`;
  const table = document.getElementById('comparison-table');
  const head = document.createElement('tr');
  for (const title of ['', 'Lambda', 'Kappa']) head.append(cell('th', title));
  table.tHead.replaceChildren(head);
  const rows = [
    ['answers equal the truth (last checkpoint)', (mode) => (equal(mode) ? 'yes' : 'no')],
    ['freshness p50', (mode) => ms(result.modes[mode].freshnessP50Ms)],
    ['freshness p99', (mode) => ms(result.modes[mode].freshnessP99Ms)],
    ['logic change over all history after', (mode) => ms(result.modes[mode].changeReflectedAfterMs)],
    ['CPU time', (mode) => ms(result.modes[mode].cpuMs.total)],
    ['storage', (mode) => kib(result.modes[mode].storage.totalBytes)],
    ['layers', (mode) => result.modes[mode].movingParts.layers.join(', ')],
  ];
  table.tBodies[0].replaceChildren(
    ...rows.map(([label, value]) => {
      const row = document.createElement('tr');
      row.append(cell('th', label), ...MODES.map((mode) => cell('td', value(mode))));
      return row;
    }),
  );
  // Loaded only once a report exists: with none, the page asks for nothing that would fail.
  for (const image of card.querySelectorAll('img[data-src]')) image.src = `${image.dataset.src}?t=${report.writtenAt}`;
  card.hidden = false;
}

void showLatestReport();
