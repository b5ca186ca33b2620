import { Cron } from 'croner';
import { InvalidArgumentError } from '../../errors/errors.js';
import type { JobOptions, JobProgress, JobRun, Repeat } from './scheduler.js';

const JOB_NAME = /^[A-Za-z0-9][A-Za-z0-9:._@-]{0,127}$/;

export function validateJobName(name: unknown): string {
  if (typeof name !== 'string' || !JOB_NAME.test(name)) {
    throw new InvalidArgumentError(
      `Invalid job name ${JSON.stringify(name)}: use 1 to 128 characters from A-Z, a-z, 0-9, ':', '.', '_', '@' and '-'`,
      { name },
    );
  }
  return name;
}

export function validateRepeat(repeat: Repeat, name: string): void {
  if ('everyMs' in repeat) {
    if (!Number.isSafeInteger(repeat.everyMs) || repeat.everyMs < 1) {
      throw new InvalidArgumentError(`Invalid repeat of job "${name}": everyMs ${JSON.stringify(repeat.everyMs)} must be a positive integer`, {
        name,
        everyMs: repeat.everyMs,
      });
    }
  } else if (typeof repeat?.cron !== 'string' || repeat.cron.trim() === '') {
    throw new InvalidArgumentError(`Invalid repeat of job "${name}": give everyMs or a cron expression`, { name });
  } else {
    checkCron(repeat, name);
  }
}

/**
 * Refuses a cron expression or timezone that cannot give a next date, before a scheduler touches the
 * schedule: a bad timezone only shows when a date is computed.
 */
function checkCron(repeat: { cron: string; timezone?: string }, name: string): void {
  let cron: Cron | undefined;
  try {
    cron = new Cron(repeat.cron, { timezone: repeat.timezone, paused: true });
    cron.nextRun();
  } catch (error) {
    const zone = repeat.timezone === undefined ? '' : ` in timezone ${JSON.stringify(repeat.timezone)}`;
    throw new InvalidArgumentError(`Invalid cron expression ${JSON.stringify(repeat.cron)}${zone} for job "${name}": ${(error as Error).message}`, {
      name,
      cron: repeat.cron,
      timezone: repeat.timezone,
    });
  } finally {
    cron?.stop();
  }
}

export function validateJobOptions(options: JobOptions, name: string): void {
  if (options.attempts !== undefined && (!Number.isSafeInteger(options.attempts) || options.attempts < 1)) {
    throw new InvalidArgumentError(`Invalid attempts ${JSON.stringify(options.attempts)} for job "${name}": must be a positive integer`, {
      name,
    });
  }
  if (options.backoffMs !== undefined && (!Number.isSafeInteger(options.backoffMs) || options.backoffMs < 0)) {
    throw new InvalidArgumentError(`Invalid backoffMs ${JSON.stringify(options.backoffMs)} for job "${name}": must be a non-negative integer`, {
      name,
    });
  }
}

/** A progress report as stored: a percentage clamped to 0..100, with its message if any. */
export function normalizeProgress(progress: number | JobProgress): JobProgress {
  const value = typeof progress === 'number' ? { percent: progress } : progress;
  if (!Number.isFinite(value?.percent)) throw new InvalidArgumentError(`Progress must be a number from 0 to 100`, { progress });
  return { ...value, percent: Math.min(100, Math.max(0, value.percent)) };
}

/** A run's number within its job: the last part of its id (`<job>.<n>`). */
export function runNumber(run: JobRun): number {
  return Number(run.id.slice(run.id.lastIndexOf('.') + 1));
}
