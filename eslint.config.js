// One lint config for every package: typescript-eslint's recommended rules, plus a few that keep ports honest.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '**/.turbo/**', '**/coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': ['error', { allow: ['warn', 'error'] }],
      eqeqeq: ['error', 'smart'],
    },
  },
  // The package list is the architecture: a layer never imports another layer, and nothing reaches into a
  // package past its barrel (its index). Source only for now: tests still share a few set-ups across layers.
  ...['speed-layer', 'batch-layer', 'serving-layer'].map((layer) => ({
    files: [`${layer}/src/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@lambda/speed-layer', '@lambda/batch-layer', '@lambda/serving-layer'].filter((name) => name !== `@lambda/${layer}`),
              message: 'A layer never imports another layer: share through @lambda/common (ports, the model), and let infra wire the layers.',
            },
            { group: ['@lambda/*/*'], message: "Import a package through its barrel ('@lambda/<name>'), not its internals." },
            { group: ['../../*/src/**', '../../../*/src/**'], message: "Import another package through its barrel ('@lambda/<name>'), not by a relative path." },
          ],
        },
      ],
    },
  })),
  {
    files: ['common/src/**/*.ts', 'infra/src/**/*.ts', 'infra/bench/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@lambda/*/*'], message: "Import a package through its barrel ('@lambda/<name>'), not its internals." },
            { group: ['../../*/src/**', '../../../*/src/**'], message: "Import another package through its barrel ('@lambda/<name>'), not by a relative path." },
          ],
        },
      ],
    },
  },
  {
    // common is the core: it imports no layer and no runnable process.
    files: ['common/src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['@lambda/*'], message: 'common is the core every package builds on: it imports none of them.' }] },
      ],
    },
  },
  {
    // Entry points and tests talk to the terminal on purpose.
    files: ['**/bin/**', '**/test/**', '**/bench/**', '**/examples/**'],
    rules: { 'no-console': 'off' },
  },
  {
    // The dashboard runs in the browser (Chart.js is loaded by its page as a global).
    files: ['**/dashboard/**/*.js'],
    languageOptions: { globals: { ...globals.browser, Chart: 'readonly' } },
  },
);
