// Boundary rules for the workspace (issue 14, ADR 0104). Run with `pnpm check:boundaries`.
// Paths are relative to the repository root; workspace packages resolve through pnpm's symlinks to
// their real folders (apps/*, packages/*, infra/*), third-party packages to node_modules/.pnpm/….

/** Test files, test harnesses and scripts: what never ships in a deployable. */
const TEST_OR_SCRIPT = [
  '\\.test\\.ts$',
  '\\.test-support\\.ts$',
  '(^|/)test/',
  '(^|/)testing/',
  '^packages/db/src/testing\\.ts$',
  '(^|/)bench/',
  '^(apps|packages|infra)/[^/]+/bin/',
  '^(apps|packages|infra)/[^/]+/scripts/',
  '^(apps|packages|infra)/[^/]+/[^/]+\\.config\\.ts$',
];

/** Modules that exist only for tests: never reached from shipping code. */
const TEST_ONLY_MODULES = [
  '^packages/testkit/',
  '^packages/fixtures/',
  '^packages/db/src/testing(\\.ts$|/)',
  '\\.test\\.ts$',
  '\\.test-support\\.ts$',
  '(^|/)testing/',
  '(^|/)test/',
  // Test runners and test-only libraries.
  '(^|/)node_modules/(vitest|@vitest/[^/]+|fast-check|aws-sdk-client-mock|playwright-core)/',
];

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'core-imports-only-zod',
      comment:
        'packages/core is the pure core (house style): it takes data and returns data, so outside its tests it ' +
        'imports nothing but zod and its own files: no node: builtins, no other workspace package, no other library.',
      severity: 'error',
      from: { path: '^packages/core/src/', pathNot: TEST_OR_SCRIPT },
      to: { pathNot: ['^packages/core/src/', '(^|/)node_modules/zod/'] },
    },
    {
      name: 'no-infra-at-run-time',
      comment:
        'infra/* (@vsh/customer-role, @vsh/central-stack) describes deployments; apps and packages must not ' +
        'import it at run time. The role contract they need lives in @vsh/role-contract. Tests and scripts may.',
      severity: 'error',
      from: { path: '^(apps|packages)/', pathNot: TEST_OR_SCRIPT },
      to: { path: '^infra/' },
    },
    {
      name: 'packages-never-import-apps',
      comment:
        'packages/* are the libraries the apps are built from; a package importing an app inverts the ' +
        'layering (and drags the app into every other app that uses the package).',
      severity: 'error',
      from: { path: '^packages/' },
      to: { path: '^apps/' },
    },
    {
      name: 'no-circular',
      comment:
        'A cycle makes module load order matter and couples the modules in it into one; break it by moving ' +
        'the shared part into a module both import.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-workspace-internals',
      comment:
        'Another workspace package is imported through its name and the entry points its package.json ' +
        '"exports" declares (house style: nobody imports another package\'s src/...). A relative path into ' +
        'a sibling package, or a deep path around its exports, couples to its internals.',
      severity: 'error',
      from: { path: '^(apps|packages|infra)/([^/]+)/' },
      to: {
        path: '^(apps|packages|infra)/',
        pathNot: '^$1/$2/',
        dependencyTypes: [
          'local',
          'aliased-tsconfig-paths',
          'aliased-tsconfig-base-url',
          'aliased-subpath-import',
        ],
      },
    },
    {
      name: 'no-test-only-modules-in-shipping-code',
      comment:
        'Shipping code never imports what exists only for tests (@vsh/testkit, @vsh/fixtures, @vsh/db/testing, ' +
        '*.test.ts, testing/ and test/ folders, vitest, fast-check, aws-sdk-client-mock, playwright-core): it would ship test servers and generators, and tie run time ' +
        'to test helpers. apps/local is the exception: it runs the simulated local stack, which is testkit.',
      severity: 'error',
      from: {
        path: '^(apps|packages|infra)/',
        pathNot: [...TEST_OR_SCRIPT, '^apps/local/', '^packages/testkit/', '^packages/fixtures/'],
      },
      to: { path: TEST_ONLY_MODULES },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'An import that cannot be resolved is a missing dependency or a typo.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    // Only the TypeScript sources of the workspace: not its build output, local data or other files. (Modules
    // outside it, third-party and node: builtins, stay in the graph as targets, so the rules above see them.)
    exclude: {
      path: [
        '^(apps|packages|infra)/[^/]+/(node_modules|cdk\\.out|dist|\\.data)/',
        '^(apps|packages|infra)/.+\\.(?!ts$)[^./]+$',
      ],
    },
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.base.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.json', '.d.ts'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
