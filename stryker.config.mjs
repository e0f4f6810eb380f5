// Mutation testing of the core files (docs/notes/mutation-testing.md), outside CI: `npm run mutation`
// (niced, one worker, cpu device unless a set adds one). Five sets, chosen with MUTATION_SET (default `core`):
//   core: the op table, the engine, gradcheck, spectral norm and parametrize, against the autograd tests;
//   engine: the engine alone, against the autograd tests that exercise it (each mutant runs fast);
//   norm: the normalization layers (src/nn/norm/), against the normalization tests;
//   ops: the op table (src/tensor/ops.ts) alone, against the tests of its rules (and gpu:cpu for its gpu.js paths);
//   normalize: the normalize primitive (src/tensor/normalize.ts), against its tests and the layers'.
// Restrict further with `npm run mutation -- --mutate src/autograd/gradcheck.ts`.
// Stryker instruments the TypeScript sources in a sandbox (.stryker-tmp/), builds them with
// tsconfig.mutation.json and runs mocha over the compiled tests of the set; each mutant runs only
// the tests that cover it (coverageAnalysis perTest). Reports go to out/mutation/ (not committed).
const sets = {
  core: {
    mutate: [
      'src/tensor/ops.ts',
      'src/autograd/engine.ts',
      'src/autograd/gradcheck.ts',
      'src/nn/utils/spectral.ts',
      'src/nn/utils/parametrize.ts',
    ],
    tests: [
      'autograd/optable',
      'autograd/pytorch-rules',
      'autograd/semantics',
      'autograd/gradcheck-jacobians',
      'autograd/gradcheck-checks',
      'autograd/functional',
      'nn/spectral',
      'nn/parametrize',
      'nn/mutation-kills',
      'autograd/engine-kills',
      'tensor/golden',
      'tensor/special-values',
      'tensor/regressions',
    ],
  },
  // the engine alone, against the autograd tests only: every engine mutant is covered by almost
  // every test, so a smaller set keeps each mutant's run short
  engine: {
    mutate: ['src/autograd/engine.ts'],
    tests: [
      'autograd/semantics',
      'autograd/pytorch-rules',
      'autograd/mutation',
      'autograd/functional',
      'autograd/trace',
      'autograd/engine-kills',
    ],
  },
  norm: {
    mutate: ['src/nn/norm/*.ts'],
    tests: [
      'nn/normalization',
      'nn/norm-extremes',
      'nn/switchable',
      'nn/norm-kills',
      // the other tests that reach the layers: isNormLayer, printed forms, old checkpoints, argument checks
      'nn/lazy',
      'nn/repr',
      'autograd/pytorch-rules',
      'safety/options',
      'safety/unknown-options',
      // the refusals of non-float parameters with PyTorch's messages (checkParamDtypes)
      'nn/probe-fixes',
    ],
    // the layers' gradchecks (100 of the set's 130 s) check the fused ops' backward, which the
    // goldens' input and parameter gradients already pin for these files: left out of this set
    grep: '^(?!normalization: gradcheck \\(float64\\) (?!BatchNorm2d \\(train\\): gradgradcheck))',
  },
  // the op table alone, against the tests of its rules (run it in line ranges: --mutate src/tensor/ops.ts:200-300)
  ops: {
    mutate: ['src/tensor/ops.ts'],
    tests: [
      'autograd/optable',
      'autograd/pytorch-rules',
      'autograd/semantics',
      'autograd/forward-ad',
      'tensor/golden',
      'tensor/special-values',
      'tensor/regressions',
      'tensor/ops-kills',
    ],
    // a 34 s stack-depth test that every primitive's mutant would run: left out of this set; and
    // of the gpu:cpu tests, only ops-kills' "op table on a gpu.js device" (the paths the cpu
    // device does not take: cast's truncation, the int32 product, amax's composed backward)
    grep: '^(?!autograd.grad a 100,000-op chain)(?!(?!op table on a gpu\\.js device).*\\[device=gpu:)',
    devices: 'cpu,gpu:cpu',
  },
  // the normalize primitive (batch, instance, layer and group norm's output and backward) against
  // its own tests (the composed chain's values and gradients on the cpu, gradcheck and gradgradcheck
  // in float64) and the layers' (PyTorch's goldens, extremes, the mutation-run kills)
  normalize: {
    mutate: ['src/tensor/normalize.ts'],
    tests: ['nn/normalize', 'nn/normalize-kills', 'nn/normalize-fast', 'nn/normalization', 'nn/norm-extremes', 'nn/norm-kills', 'nn/switchable'],
  },
};
const setName = process.env.MUTATION_SET ?? 'core';
const set = sets[setName];
if (!set) throw new Error(`MUTATION_SET must be one of ${Object.keys(sets).join(', ')}`);
// the devices the set's tests run on (test/helpers/devices.ts; default the cpu alone, as `npm run mutation` sets);
// the test runners Stryker starts inherit this process's environment
if (set.devices) process.env.GPUGRAD_TEST_DEVICES = set.devices;

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  mutate: set.mutate,
  testRunner: 'mocha',
  mochaOptions: { spec: set.tests.map((t) => `dist/test/${t}.test.js`), 'no-config': true, ...(set.grep ? { grep: set.grep } : {}) },
  buildCommand: 'npx tsc -p tsconfig.mutation.json',
  ignorePatterns: ['dist', 'out', 'docs', 'playground', 'bench', 'test/browser', 'test/examples'],
  coverageAnalysis: 'perTest',
  // a static mutant (run only while a module loads) needs a fresh process and every test: skipped
  ignoreStatic: true,
  concurrency: 1,
  timeoutMS: 10000,
  // event-recorder: one JSON file per tested mutant as it finishes, so survivors can be read during a run
  reporters: ['clear-text', 'progress-append-only', 'html', 'json', 'event-recorder'],
  eventReporter: { baseDir: `out/mutation/events-${setName}` },
  htmlReporter: { fileName: `out/mutation/${setName}.html` },
  jsonReporter: { fileName: `out/mutation/${setName}.json` },
  incremental: true,
  incrementalFile: `out/mutation/${setName}-incremental.json`,
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
};
