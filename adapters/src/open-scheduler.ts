/** Opens the scheduler adapter the config names. */
import { InvalidArgumentError, type PlatformConfig, InProcessScheduler, type Scheduler } from '@lambda/core';
import type { PortDependencies } from './port-dependencies.js';
import { BullmqScheduler } from './bullmq/bullmq-scheduler.js';
import { redactPassword } from './bullmq/redis-connection.js';

export async function openScheduler(config: PlatformConfig, dependencies: PortDependencies): Promise<{ scheduler: Scheduler; location: string }> {
  switch (config.scheduler.adapter) {
    case 'in-process':
      return { scheduler: new InProcessScheduler({ historyLimit: config.scheduler.historyLimit, logger: dependencies.logger }), location: 'in this process' };
    case 'bullmq': {
      const { redisUrl, prefix } = config.scheduler.bullmq;
      const scheduler = await BullmqScheduler.open({ redisUrl, prefix, historyLimit: config.scheduler.historyLimit, logger: dependencies.logger });
      return { scheduler, location: `BullMQ on ${redactPassword(redisUrl)}, key prefix "${prefix}"` };
    }
    default:
      throw new InvalidArgumentError(`The scheduler adapter "${String(config.scheduler.adapter)}" is not available yet`, {});
  }
}

