// The API token form: opens when the platform asks for a token (401) or refuses one (403). The token
// itself is kept and sent by api.js; this module only asks for it and offers to forget it.
import { storeToken, storedToken } from './api.js';
import { $ } from './dom.js';
import { state } from './state.js';

const ui = {
  form: $('token-form'),
  reason: $('token-reason'),
  input: $('token-input'),
  forget: $('token-forget'),
  dismiss: $('token-dismiss'),
};

export function tokenReason(error) {
  return error.status === 403
    ? `The platform refused the API token: ${error.message}. Paste a valid one.`
    : `${error.message}. Paste the platform's API token to use the batch controls and SQL queries.`;
}

/** Shows the token form; the periodic refresh (not forced) leaves it closed once the user dismissed it. */
export function askForToken(reason, { force = false } = {}) {
  if (state.tokenDismissed && !force) return;
  state.tokenDismissed = false;
  ui.reason.textContent = reason;
  if (ui.form.hidden) {
    ui.form.hidden = false;
    ui.input.focus();
  }
}

export function renderTokenState() {
  ui.forget.hidden = !storedToken();
}

/** The form's buttons. The callbacks refresh the page: passed in, since the entry module owns refreshing. */
export function wireTokenForm({ onGiven, onForgotten }) {
  ui.form.addEventListener('submit', (event) => {
    event.preventDefault();
    const token = ui.input.value.trim();
    if (!token) return;
    storeToken(token);
    ui.input.value = '';
    ui.form.hidden = true;
    renderTokenState();
    onGiven();
  });
  ui.dismiss.addEventListener('click', () => {
    state.tokenDismissed = true;
    ui.form.hidden = true;
  });
  ui.forget.addEventListener('click', () => {
    storeToken(null);
    renderTokenState();
    onForgotten();
  });
}
