import type { z } from 'zod';
import { InvalidArgumentError } from '@lambda/core';

/**
 * Parses request input with a zod schema; on failure, one InvalidArgumentError (a 400) naming every bad
 * parameter and why.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, where: 'query' | 'body' | 'path'): z.output<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => ({ parameter: key, problem: `is not a ${where} parameter here` }));
    return [{ parameter: issue.path.map(String).join('.') || where, problem: issue.message }];
  });
  const message = problems.map((p) => `${where} parameter "${p.parameter}" ${p.problem}`).join('; ');
  throw new InvalidArgumentError(message, { parameters: problems });
}
