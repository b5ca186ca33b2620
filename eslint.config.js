// One lint config for every package: typescript-eslint's recommended rules, plus a few that keep ports honest.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  // Generated and runtime folders are not even walked: the engines' data and the test reports change
  // while tests run beside the lint (a topic directory deleted mid-walk failed a CI run).
  {
    ignores: ['**/dist/**', '**/node_modules/**', '**/.turbo/**', '**/coverage/**', '**/.engines/', '**/.venv/', '**/.vitest/', '**/.artifacts/', '**/__pycache__/'],
  },
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
  // The package list is the architecture: each package may import only the packages below it, and only
  // through their barrels. `boundaries` lists, per package, what its source and its tests may import.
  ...Object.entries(boundaries()).flatMap(([pkg, { src, test }]) => [
    { files: [`${pkg}/src/**/*.ts`, `${pkg}/bench/**/*.ts`], rules: { 'no-restricted-imports': ['error', { patterns: restrictTo(pkg, src) }] } },
    { files: [`${pkg}/test/**/*.ts`], rules: { 'no-restricted-imports': ['error', { patterns: restrictTo(pkg, test) }] } },
  ]),
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

/** What each package's source and tests may import of the other packages (their package.json agrees). */
function boundaries() {
  const layers = ['speed-layer', 'batch-layer', 'serving-layer'];
  const layerRule = { src: ['core'], test: ['core', 'adapters', 'test-kit'] };
  return {
    'test-kit': { src: [], test: [] },
    core: { src: [], test: ['test-kit'] },
    'port-contracts': { src: ['core', 'test-kit'], test: ['core', 'test-kit'] },
    adapters: { src: ['core'], test: ['core', 'port-contracts', 'test-kit'] },
    streaming: { src: ['core'], test: ['core', 'test-kit'] },
    'kafka-protocol': { src: ['core'], test: ['core', 'test-kit'] },
    ...Object.fromEntries(layers.map((layer) => [layer, layerRule])),
    infra: { src: ['core', 'adapters', 'streaming', 'kafka-protocol', ...layers], test: ['core', 'adapters', 'streaming', 'kafka-protocol', 'test-kit', ...layers] },
  };
}

/** no-restricted-imports patterns that let `pkg` import only the packages in `allowed`, through their barrels. */
function restrictTo(pkg, allowed) {
  const all = Object.keys(boundaries());
  const forbidden = all.filter((name) => name !== pkg && !allowed.includes(name)).map((name) => `@lambda/${name}`);
  return [
    ...(forbidden.length > 0
      ? [{ group: forbidden, message: `${pkg} may import only ${allowed.length > 0 ? allowed.map((name) => `@lambda/${name}`).join(', ') : 'no package of ours'} (see boundaries() in eslint.config.js and docs/architecture.md).` }]
      : []),
    { group: ['@lambda/*/*'], message: "Import a package through its barrel ('@lambda/<name>'), not its internals." },
    { group: ['../../*/src/**', '../../../*/src/**', '../../*/test/**', '../../../*/test/**'], message: "Import another package through its barrel ('@lambda/<name>'), not by a relative path." },
  ];
}
