// ESLint flat config: typescript-eslint's recommended rules, no `any` in src/,
// and the one-way import direction of docs/notes/architecture.md (index → nn →
// core (tensor/ and autograd/) → backend; gpu.js, webgpu and gl only inside
// src/backend). `scripts/check-cycles.mjs` checks the same direction on the
// whole import graph, and that the runtime imports between files have no cycle.
import tseslint from 'typescript-eslint';

/** @eslint/js ships with eslint 9; use its recommended set when it resolves. */
let jsRecommended = [];
try {
  const js = (await import('@eslint/js')).default;
  jsRecommended = [js.configs.recommended];
} catch {
  // eslint without @eslint/js hoisted: typescript-eslint's set alone
}

/** Packages that only src/backend may import. */
const gpuPackages = ['gpu.js', 'webgpu', 'gl'].map((name) => ({
  name,
  message: 'gpu.js, webgpu and gl are used only in src/backend (docs/notes/architecture.md: nothing gpu.js-specific leaks above backend/).',
}));

/** Node's own modules: only src/backend/platform/node.ts imports them (scripts/check-cycles.mjs checks the rest of src/). */
const nodeModules = { regex: '^node:', message: "Node's modules are used only in src/backend/platform/node.ts, so tensor/, autograd/ and nn/ load in any runtime." };

/** A relative import that reaches into one of `dirs` (any depth of ../). */
const into = (dirs, why) => ({
  regex: `^(\\.\\./)+(${dirs.join('|')})(/|$)`,
  message: `imports flow one way: nn → core (tensor, autograd) → backend (${why}).`,
});

/** Per directory: what it must not import. */
const direction = [
  {
    files: ['src/backend/**/*.ts'],
    paths: [],
    patterns: [
      into(['tensor', 'autograd', 'nn'], 'backend knows nothing of tensors or gradients'),
      { regex: '^\\.\\./index\\.js$', message: 'backend must not import the public surface.' },
    ],
  },
  { files: ['src/tensor/**/*.ts', 'src/autograd/**/*.ts'], paths: gpuPackages, patterns: [into(['nn'], 'the core (tensor, autograd) is below nn'), nodeModules] },
  { files: ['src/nn/**/*.ts'], paths: gpuPackages, patterns: [nodeModules] },
  { files: ['src/*.ts', 'test/**/*.ts', 'examples/**/*.ts', 'bench/**/*.ts'], paths: gpuPackages, patterns: [] },
];

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'docs/', 'coverage/', '**/*.d.ts'] },
  ...jsRecommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
      // NOTE: ops.ts backward rules destructure saved inputs and use `!` deliberately (the table guarantees them)
      '@typescript-eslint/no-non-null-assertion': 'off',
      // `const self = this` for getters inside object literals, `const cls = this` in static apply
      '@typescript-eslint/no-this-alias': 'off',
      // the cpu reference device compiles kernel text with `new Function`
      '@typescript-eslint/no-implied-eval': 'off',
      'no-new-func': 'off',
    },
  },
  {
    files: ['src/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'error' },
  },
  {
    files: ['test/**/*.ts', 'examples/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'warn',
      // chai's `expect(x).to.be.true` style
      '@typescript-eslint/no-unused-expressions': 'off',
    },
  },
  ...direction.map(({ files, paths, patterns }) => ({
    files,
    rules: { 'no-restricted-imports': ['error', { paths, patterns }] },
  })),
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly' },
    },
  },
);
