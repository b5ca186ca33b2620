// The view, key and aggregate pickers (GET /views, GET /views/:name/keys), and the selection kept in
// the address (#view=…&key=…&aggregate=…) so a reload or a shared link keeps it.
import { api, path } from './api.js';
import { $, h } from './dom.js';
import { clearError, reportError } from './errors.js';
import { aggregateLabel, formatDuration } from './format.js';
import { renderBatchLayer } from './layers.js';
import { begin } from './sequence.js';
import { currentView, definitionOf, displayKey, numericAggregates, state } from './state.js';

const ui = {
  viewSelect: $('view-select'),
  keySelect: $('key-select'),
  keyName: $('key-name'),
  aggregateSelect: $('aggregate-select'),
  viewDescription: $('view-description'),
  viewDefinition: $('view-definition'),
};

export async function loadViews() {
  const current = begin('views');
  try {
    const answer = await api('views');
    if (!current()) return;
    state.views = answer.views;
    clearError('views');
    renderViewOptions();
    renderBatchLayer(); // the batch table lists every view
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

export async function loadKeys({ preferred } = {}) {
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

/** Switches the pickers to another view (its keys still to load), keeping the aggregate if it has it. */
export function showView(name, aggregate) {
  state.viewName = name;
  state.key = null;
  state.keys = [];
  ui.viewSelect.value = name;
  renderViewInfo();
  renderAggregateOptions(aggregate);
  renderKeyOptions();
}

export function showKey(key) {
  state.key = key;
  ui.keySelect.value = key;
}

export function saveSelection() {
  const parameters = new URLSearchParams();
  if (state.viewName) parameters.set('view', state.viewName);
  if (state.key !== null) parameters.set('key', state.key);
  if (state.aggregate) parameters.set('aggregate', state.aggregate);
  history.replaceState(null, '', `#${parameters}`);
}

export function savedSelection() {
  const parameters = new URLSearchParams(location.hash.slice(1));
  return { view: parameters.get('view'), key: parameters.get('key'), aggregate: parameters.get('aggregate') };
}

/** The pickers' changes. Handlers passed in: choosing a view or key refreshes panels this module does not know. */
export function wireSelection({ selectView, chooseKey, aggregateChanged }) {
  ui.viewSelect.addEventListener('change', () => selectView(ui.viewSelect.value));
  ui.keySelect.addEventListener('change', () => chooseKey(ui.keySelect.value));
  ui.aggregateSelect.addEventListener('change', async () => {
    state.aggregate = ui.aggregateSelect.value;
    saveSelection();
    await aggregateChanged();
  });
}
