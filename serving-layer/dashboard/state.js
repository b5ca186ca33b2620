// The dashboard's shared state (the selection and the latest answers) and what the panels derive from it.
// One object for all panels, so the console handle `window.dashboard.state` shows everything.
import { isNumericSchema } from './format.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

export const state = {
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

export const numberOrNull = (value) => (typeof value === 'number' && Number.isFinite(value) ? value : null);
export const currentView = () => state.views.find((view) => view.name === state.viewName) ?? null;
export const isWindowed = (view) => Boolean(view?.definition.window);
export const numericAggregates = (view) =>
  Object.entries(view?.schema.values ?? {})
    .filter(([, schema]) => isNumericSchema(schema))
    .map(([name]) => name);
export const definitionOf = (view, aggregate) => view?.definition.aggregates[aggregate] ?? '';
export const displayKey = (key) => (key === '' ? '(empty)' : key);
/** Windows starting in the last hour: from the start of the minute an hour ago (so it moves once a minute). */
export const lastHourFrom = () => Math.floor((Date.now() - HOUR) / MINUTE) * MINUTE;
