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
