// The Layers panel: the event log and the speed layer's lag per partition (GET /status), and the batch
// layer per view: its version and horizon (GET /views), last and next run (GET /batch/jobs).
import { api } from './api.js';
import { $, h } from './dom.js';
import { clearError, reportError } from './errors.js';
import { DASH, formatClock, formatDateTime, formatDuration, formatNumber, formatRelative } from './format.js';
import { begin, refreshing } from './sequence.js';
import { state } from './state.js';
import { askForToken, tokenReason } from './token.js';

const ui = {
  logTable: $('log-table'),
  batchTable: $('batch-table'),
  batchAuth: $('batch-auth'),
};

async function loadStatus() {
  const current = begin('status');
  try {
    const answer = await api('status');
    if (!current()) return;
    clearError('status');
    renderLog(answer);
  } catch (error) {
    if (current()) reportError('status', error);
  }
}
export const refreshStatus = refreshing('status', loadStatus);

function renderLog(status) {
  const rows = [];
  for (const topic of status.topics) {
    const total = (field) => topic.partitions.reduce((sum, partition) => sum + (partition[field] ?? 0), 0);
    rows.push(
      h(
        'tr',
        { class: 'group', 'data-topic': topic.topic },
        h('th', { scope: 'row' }, topic.topic, h('span', { class: 'muted small' }, ` · ${topic.partitions.length} partition${topic.partitions.length === 1 ? '' : 's'}`)),
        h('td', { class: 'num', 'data-value': total('endOffset') }, formatNumber(total('endOffset'))),
        h('td', { class: 'num', 'data-value': total('committed') }, formatNumber(total('committed'))),
        h('td', { class: 'num', 'data-value': total('lag') }, formatNumber(total('lag'))),
      ),
    );
    for (const partition of topic.partitions) {
      rows.push(
        h(
          'tr',
          { 'data-topic': topic.topic, 'data-partition': partition.partition },
          h('td', { class: 'partition' }, `partition ${partition.partition}`),
          h('td', { class: 'num end-offset', 'data-value': partition.endOffset }, formatNumber(partition.endOffset)),
          h('td', { class: 'num committed', 'data-value': partition.committed ?? '' }, partition.committed === null ? 'none yet' : formatNumber(partition.committed)),
          h('td', { class: `num lag ${lagClass(partition.lag)}`, 'data-value': partition.lag }, formatNumber(partition.lag)),
        ),
      );
    }
  }
  if (rows.length === 0) rows.push(h('tr', {}, h('td', { colspan: 4, class: 'empty' }, 'No source topic has been created yet.')));
  ui.logTable.tBodies[0].replaceChildren(...rows);
}

function lagClass(lag) {
  if (lag > 10_000) return 'bad';
  if (lag > 1000) return 'warn';
  return 'ok';
}

/** A badge after a view's name when /health says it is stalled, or cannot tell. */
function viewHealthBadge(name) {
  const progress = state.health?.views?.[name];
  if (!progress || progress.status === 'ok') return null;
  const badge = h('span', { class: `badge ${progress.status}`, 'data-health': progress.status, title: progress.reason ?? '' }, progress.status === 'degraded' ? 'stalled' : 'unknown');
  return [' ', badge];
}

export async function refreshJobs() {
  const current = begin('jobs');
  try {
    const answer = await api('batch/jobs?limit=1');
    if (!current()) return;
    state.jobs = answer.jobs;
    ui.batchAuth.hidden = true;
    clearError('jobs');
  } catch (error) {
    if (!current()) return;
    state.jobs = null;
    if (error.needsToken) {
      // Not an outage: the platform asks for a token. Said here and in the token form, not as an error.
      clearError('jobs');
      ui.batchAuth.hidden = false;
      ui.batchAuth.replaceChildren(
        `Runs and schedules need the API token (${error.status === 403 ? 'the one given was refused' : 'none given'}). `,
        h('button', { type: 'button', class: 'link', id: 'token-ask', onclick: () => askForToken(tokenReason(error), { force: true }) }, 'Enter token'),
      );
      askForToken(tokenReason(error));
    } else {
      reportError('jobs', error);
    }
  }
  renderBatchLayer();
}

export function renderBatchLayer() {
  const jobs = new Map((state.jobs ?? []).map((job) => [job.view, job]));
  const rows = state.views.map((view) => {
    const batch = view.status.batch;
    const job = jobs.get(view.name);
    return h(
      'tr',
      { 'data-view': view.name, class: view.name === state.viewName ? 'selected' : undefined },
      h('th', { scope: 'row', class: 'view-name' }, view.name, viewHealthBadge(view.name)),
      h('td', { class: 'num version', 'data-value': batch?.version ?? '' }, batch ? `v${batch.version}` : h('span', { class: 'muted' }, 'none')),
      h(
        'td',
        { class: 'horizon', 'data-value': batch ? batch.horizon.join(',') : '' },
        batch
          ? [
              h('span', { class: 'nowrap' }, `${formatNumber(batch.horizon.reduce((sum, offset) => sum + offset, 0))} records`),
              h('span', { class: 'muted small block', title: 'Per partition: the version counts the records below these offsets' }, batch.horizon.map(formatNumber).join(' · ')),
              h('span', { class: 'muted small block', title: formatDateTime(batch.publishedAt) }, `published ${formatRelative(batch.publishedAt)}`),
            ]
          : h('span', { class: 'muted' }, 'speed layer only'),
      ),
      lastRunCell(job),
      nextRunCell(job),
    );
  });
  if (rows.length === 0) rows.push(h('tr', {}, h('td', { colspan: 5, class: 'empty' }, 'No views.')));
  ui.batchTable.tBodies[0].replaceChildren(...rows);
}

function lastRunCell(job) {
  if (!state.jobs) return h('td', { class: 'muted' }, 'unknown');
  if (!job) return h('td', { class: 'muted' }, 'not scheduled here');
  const running = job.running;
  if (running) {
    return h(
      'td',
      { class: 'last-run', 'data-state': 'running' },
      h('span', { class: 'badge running' }, `running ${formatNumber(running.progress.percent)}%`),
      h('span', { class: 'muted small block' }, running.progress.message ?? ''),
    );
  }
  const last = job.lastFinished;
  if (!last) return h('td', { class: 'last-run muted', 'data-state': '' }, 'no run yet');
  return h(
    'td',
    { class: 'last-run', 'data-state': last.state, 'data-duration-ms': last.durationMs ?? '' },
    h('span', { class: `badge ${last.state}` }, last.state),
    h('span', { class: 'duration block' }, `took ${formatDuration(last.durationMs)}`),
    h('span', { class: 'muted small block', title: formatDateTime(last.finishedAt) }, `${formatRelative(last.finishedAt)}${last.trigger === 'manual' ? ', manual' : ''}`),
    last.error ? h('span', { class: 'error-text small block' }, last.error) : null,
  );
}

function nextRunCell(job) {
  if (!state.jobs) return h('td', { class: 'muted' }, 'unknown');
  if (!job) return h('td', { class: 'muted' }, DASH);
  const every = job.repeat && 'everyMs' in job.repeat ? `every ${formatDuration(job.repeat.everyMs)}` : job.repeat?.cron ? `cron ${job.repeat.cron}` : 'not repeated';
  return h(
    'td',
    { class: 'next-run', 'data-value': job.nextRunAt ?? '' },
    job.nextRunAt === null ? 'none' : h('span', { class: 'nowrap', title: formatDateTime(job.nextRunAt) }, formatClock(job.nextRunAt)),
    h('span', { class: 'muted small block' }, job.nextRunAt === null ? every : `${formatRelative(job.nextRunAt)}, ${every}`),
  );
}
