import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { z } from 'zod';
import { ConfigError, type ConfigIssue } from '../errors/errors.js';
import { isJsonObject, type JsonObject } from '../records/json.js';
import { configSchema, type PlatformConfig, type PlatformConfigInput } from './config-schema.js';
import { ENVIRONMENT_VARIABLES } from './environment.js';

export interface LoadConfigOptions {
  /** Environment to read; `process.env` by default. */
  env?: Record<string, string | undefined>;
  /** A JSON config file; defaults to the `CONFIG_FILE` environment variable. */
  configFile?: string;
  /** Settings that win over everything else (tests, command-line flags). */
  overrides?: PlatformConfigInput;
}

/**
 * Builds the config from defaults, then the config file, then environment variables, then overrides,
 * and validates it. Throws one ConfigError listing every invalid field and where its value came from.
 */
export function loadConfig(options: LoadConfigOptions = {}): PlatformConfig {
  const env = options.env ?? process.env;
  const input: JsonObject = {};
  const sources = new Map<string, string>();
  const issues: ConfigIssue[] = [];

  const configFile = options.configFile ?? env.CONFIG_FILE;
  if (configFile) {
    const fromFile = readConfigFile(configFile, issues);
    if (fromFile) merge(input, fromFile, `config file ${configFile}`, sources, []);
  }
  for (const [variable, path] of Object.entries(ENVIRONMENT_VARIABLES)) {
    const value = env[variable];
    if (variable === 'CONFIG_FILE' || value === undefined || value === '') continue;
    setPath(input, path.split('.'), value);
    sources.set(path, `env ${variable}=${JSON.stringify(value)}`);
  }
  if (options.overrides) merge(input, options.overrides as JsonObject, 'override', sources, []);

  const parsed = configSchema.safeParse(input);
  if (!parsed.success) issues.push(...parsed.error.issues.flatMap((issue) => describeIssue(issue, sources)));
  if (issues.length > 0 || !parsed.success) throw new ConfigError(issues);
  return parsed.data;
}

function readConfigFile(path: string, issues: ConfigIssue[]): JsonObject | undefined {
  const source = `config file ${path}`;
  let text: string;
  try {
    text = readFileSync(resolve(path), 'utf8');
  } catch (error) {
    issues.push({ path: '(file)', source, message: `cannot be read: ${(error as Error).message}` });
    return undefined;
  }
  try {
    const value: unknown = JSON.parse(text);
    if (isJsonObject(value)) return value;
    issues.push({ path: '(file)', source, message: 'must hold a JSON object' });
  } catch (error) {
    issues.push({ path: '(file)', source, message: `is not valid JSON: ${(error as Error).message}` });
  }
  return undefined;
}

function merge(target: JsonObject, from: JsonObject, source: string, sources: Map<string, string>, prefix: string[]): void {
  for (const [key, value] of Object.entries(from)) {
    if (value === undefined) continue;
    const path = [...prefix, key];
    if (isJsonObject(value) && (target[key] === undefined || isJsonObject(target[key]))) {
      target[key] ??= {};
      if (!sources.has(path.join('.'))) sources.set(path.join('.'), source);
      merge(target[key] as JsonObject, value, source, sources, path);
    } else {
      target[key] = value;
      sources.set(path.join('.'), source);
    }
  }
}

function setPath(target: JsonObject, path: string[], value: string): void {
  let node = target;
  for (const segment of path.slice(0, -1)) {
    if (!isJsonObject(node[segment])) node[segment] = {};
    node = node[segment] as JsonObject;
  }
  node[path.at(-1)!] = value;
}

function describeIssue(issue: z.core.$ZodIssue, sources: Map<string, string>): ConfigIssue[] {
  const path = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => {
      const keyPath = path ? `${path}.${key}` : key;
      return { path: keyPath, source: sources.get(keyPath) ?? 'input', message: 'is not a known setting' };
    });
  }
  return [{ path: path || '(root)', source: sources.get(path) ?? 'default', message: issue.message }];
}
