// The error list at the top of the page: one entry per source (a panel, a request), cleared when that
// source succeeds again, so one failing panel never hides the others.
import { $, h } from './dom.js';
import { formatClock } from './format.js';
import { askForToken, tokenReason } from './token.js';

const list = $('errors');
const errors = new Map();

export function reportError(source, error) {
  const message = error instanceof Error ? error.message : String(error);
  errors.set(source, { message, at: Date.now() });
  if (error?.needsToken) askForToken(tokenReason(error), { force: true });
  renderErrors();
}

export function clearError(source) {
  if (errors.delete(source)) renderErrors();
}

export const hasErrors = () => errors.size > 0;

function renderErrors() {
  list.replaceChildren(
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
