/** The demo's scenarios by their `--scenario` name. */
import { InvalidArgumentError } from '@lambda/core';
import type { Scenario } from './scenario.js';
import { socialNetworkScenario } from './social-network-scenario.js';
import { stockMarketScenario } from './stock-market-scenario.js';
import { webAnalyticsScenario } from './web-analytics-scenario.js';

export const SCENARIOS: ReadonlyMap<string, Scenario> = new Map(
  [webAnalyticsScenario, socialNetworkScenario, stockMarketScenario].map((scenario) => [scenario.name, scenario]),
);

export function scenarioNamed(name: string): Scenario {
  const scenario = SCENARIOS.get(name);
  if (!scenario) throw new InvalidArgumentError(`Unknown scenario "${name}"; known: ${[...SCENARIOS.keys()].join(', ')}`, { scenario: name });
  return scenario;
}
