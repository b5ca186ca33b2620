import { InvalidArgumentError } from '../errors/errors.js';

const IDENTIFIER = /^[A-Za-z][A-Za-z0-9_]{0,62}$/;
const RESERVED = new Set(['and', 'or', 'not', 'is', 'null', 'true', 'false', 'in', 'case', 'when', 'then', 'else', 'end', 'event_time']);

/**
 * A field, derived field or aggregate name: a letter, then letters, digits or '_', and no keyword. Names
 * are written into generated SQL as quoted identifiers, so this rule is what keeps SQL text safe.
 */
export function validateIdentifier(name: unknown, what: string): string {
  if (typeof name !== 'string' || !IDENTIFIER.test(name) || RESERVED.has(name.toLowerCase())) {
    throw new InvalidArgumentError(
      `Invalid ${what} ${JSON.stringify(name)}: use a letter, then up to 62 letters, digits or '_', and not a keyword or event_time`,
      { name },
    );
  }
  return name;
}

/** A validated identifier as a DuckDB quoted identifier. */
export function quoteIdentifier(name: string): string {
  return `"${name}"`;
}
