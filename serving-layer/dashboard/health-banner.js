// The health banner: GET /health, shown above the panels when the platform is degraded or down, with
// the reasons. The per-view badges it also feeds are drawn by the batch table (layers.js).
import { apiUrl } from './api.js';
import { $, h } from './dom.js';
import { clearError, reportError } from './errors.js';
import { renderBatchLayer } from './layers.js';
import { begin, refreshing } from './sequence.js';
import { state } from './state.js';

const ui = {
  healthBanner: $('health-banner'),
  healthTitle: $('health-title'),
  healthReasons: $('health-reasons'),
};

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
export const refreshHealth = refreshing('health', loadHealth);

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
