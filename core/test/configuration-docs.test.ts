import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ENVIRONMENT_VARIABLES } from '../src/index.js';

describe('docs/configuration.md', () => {
  const docs = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
  const documented = [...docs.matchAll(/^\| `([A-Z][A-Z0-9_]*)` \| *(?:`([^`]+)`)? *\|/gm)].map((match) => [match[1], match[2]] as const);

  it('should document every environment variable with its config path, and no other', () => {
    const expected = Object.entries(ENVIRONMENT_VARIABLES).map(([name, path]) => [name, name === 'CONFIG_FILE' ? undefined : path]);
    expect(documented).toEqual(expected);
  });
});
