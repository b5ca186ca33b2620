// The top-10 table: the selected view's keys ranked by the selected aggregate (GET /views/:name/top),
// over the last hour or all time; clicking a row charts that key.
import { api, path } from './api.js';
import { $, h } from './dom.js';
import { clearError, reportError } from './errors.js';
import { aggregateLabel, formatClock, formatNumber, formatWithUnit, unitOf } from './format.js';
import { begin, refreshing } from './sequence.js';
import { currentView, definitionOf, displayKey, isWindowed, lastHourFrom, numberOrNull, numericAggregates, state } from './state.js';

const TOP_N = 10;

const ui = {
  topTitle: $('top-title'),
  topRange: $('top-range'),
  topSubtitle: $('top-subtitle'),
  topTable: $('top-table'),
  topNote: $('top-note'),
};

/** Set by wireTop: choosing a key refreshes other panels, which the entry module owns. */
let chooseKey = () => {};

export function wireTop(handlers) {
  chooseKey = handlers.chooseKey;
  ui.topRange.addEventListener('change', () => refreshTop());
}

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
export const refreshTop = refreshing('top', loadTop);

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

