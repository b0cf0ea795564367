// Type-aware lint at zero warnings; Nx module boundaries that really restrict who imports whom.
import js from '@eslint/js';
import nx from '@nx/eslint-plugin';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const pureDocumentCode = ['@nestjs/*', '@nats-io/*', '@prisma/*', 'pg'];

/** Who may import whom. `tests` lets a library's own spec files use the test kit too. */
function boundaries({ tests }) {
  // A library's tests may use the test kit and migrate their scratch databases.
  const kit = tests ? ['type:test-kit', 'type:migrations'] : [];
  return {
    enforceBuildableLibDependency: false,
    allow: [],
    depConstraints: [
      {
        sourceTag: 'type:contracts',
        onlyDependOnLibsWithTags: ['type:contracts', ...kit],
        bannedExternalImports: [...pureDocumentCode, 'pino', '@opentelemetry/*'],
      },
      { sourceTag: 'type:config', onlyDependOnLibsWithTags: ['type:contracts', ...kit] },
      { sourceTag: 'type:telemetry', onlyDependOnLibsWithTags: ['type:contracts', 'type:config', ...kit] },
      {
        sourceTag: 'type:messaging',
        onlyDependOnLibsWithTags: ['type:contracts', 'type:config', 'type:telemetry', ...kit],
        bannedExternalImports: ['@prisma/*', 'pg'],
      },
      {
        sourceTag: 'type:persistence',
        onlyDependOnLibsWithTags: ['type:contracts', 'type:config', 'type:telemetry', ...kit],
        bannedExternalImports: ['@nats-io/*'],
      },
      {
        // Migration tooling: for ops, tests and deploy checks only; no running service imports it.
        sourceTag: 'type:migrations',
        onlyDependOnLibsWithTags: [...kit],
        bannedExternalImports: ['@nats-io/*', '@nestjs/*'],
      },
      {
        sourceTag: 'type:domain',
        onlyDependOnLibsWithTags: ['type:contracts', ...kit],
        bannedExternalImports: pureDocumentCode,
      },
      {
        sourceTag: 'type:net',
        onlyDependOnLibsWithTags: ['type:contracts', ...kit],
        bannedExternalImports: pureDocumentCode,
      },
      { sourceTag: 'type:test-kit', onlyDependOnLibsWithTags: ['type:contracts'] },
      {
        // The client library users install: self-contained, nothing of Quarry's own code in it (ADR 37).
        sourceTag: 'type:sdk',
        onlyDependOnLibsWithTags: [...kit],
        bannedExternalImports: ['@nestjs/*', '@nats-io/*', '@prisma/*', 'pg', 'zod'],
      },
      {
        sourceTag: 'type:testing',
        onlyDependOnLibsWithTags: [
          'type:contracts',
          'type:config',
          'type:telemetry',
          'type:messaging',
          'type:persistence',
          'type:migrations',
          'type:test-kit',
        ],
      },
      {
        sourceTag: 'type:app',
        onlyDependOnLibsWithTags: [
          'type:sdk',
          'type:contracts',
          'type:config',
          'type:telemetry',
          'type:messaging',
          'type:persistence',
          'type:migrations',
          'type:domain',
          'type:net',
          'type:testing',
          'type:test-kit',
        ],
      },
      {
        // deploy/'s tests check compose files, manifests and dashboards against the config schema,
        // the message topology and the metric catalogue.
        sourceTag: 'type:deploy',
        onlyDependOnLibsWithTags: ['type:config', 'type:telemetry', 'type:contracts', 'type:migrations'],
      },
      {
        sourceTag: 'type:e2e',
        // type:telemetry: the one-process trace harness starts the apps' own tracing set-up.
        onlyDependOnLibsWithTags: [
          'type:sdk',
          'type:contracts',
          'type:testing',
          'type:test-kit',
          'type:config',
          'type:telemetry',
        ],
      },
      { sourceTag: 'scope:ingest', onlyDependOnLibsWithTags: ['scope:ingest', 'scope:shared'] },
      { sourceTag: 'scope:analysis', onlyDependOnLibsWithTags: ['scope:analysis', 'scope:shared'] },
      { sourceTag: 'scope:gateway', onlyDependOnLibsWithTags: ['scope:gateway', 'scope:shared'] },
      { sourceTag: 'scope:ops', onlyDependOnLibsWithTags: ['scope:ops', 'scope:shared'] },
      // The `quarry` CLI is a client of the API: it reaches Quarry through the SDK only (ADR 37).
      { sourceTag: 'scope:cli', onlyDependOnLibsWithTags: ['scope:cli', 'scope:shared'] },
      // The web console runs in browsers: it reaches Quarry through the SDK only (ADR 38).
      { sourceTag: 'scope:console', onlyDependOnLibsWithTags: ['scope:console', 'scope:shared'] },
      // The bench measures a step's library against its raw engine (the local embedding model against the model
      // called directly), so it may read the analysis scope; it is a tool, nothing imports it.
      {
        sourceTag: 'scope:bench',
        onlyDependOnLibsWithTags: ['scope:bench', 'scope:ops', 'scope:shared', 'scope:analysis'],
      },
      {
        sourceTag: 'scope:shared',
        onlyDependOnLibsWithTags: ['scope:shared', 'scope:ingest', 'scope:analysis'],
      },
    ],
  };
}

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '**/dist/**',
      '**/tmp/**',
      'libs/persistence/src/generated/**',
      'libs/sdk/src/generated/**',
      'coverage/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
  },
  {
    files: ['**/*.ts'],
    plugins: { '@nx': nx },
    rules: {
      '@nx/enforce-module-boundaries': ['error', boundaries({ tests: false })],
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[object.name='process'][property.name='env']",
          message: 'Read configuration through @quarry/config, which reads the environment once at boot.',
        },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-empty': ['error', { allowEmptyCatch: false }],
      '@typescript-eslint/no-floating-promises': 'error',
    },
  },
  {
    // The one place allowed to read the environment, plus tests and tooling that set it up for child processes.
    files: [
      'libs/config/src/**/*.ts',
      '**/*.spec.ts',
      '**/*.int-spec.ts',
      'e2e/**/*.ts',
      'libs/testing/src/**/*.ts',
      'libs/test-kit/src/**/*.ts',
      'apps/*/src/testing/**/*.ts',
      // The CLI reads its own environment (QUARRY_URL, QUARRY_API_KEY, NO_COLOR, XDG_CONFIG_HOME) in one file.
      'apps/cli/src/config.ts',
      'bench/**/*.ts',
      'prisma.config.ts',
    ],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    // Apps talk to NATS only through @quarry/messaging (its Nest transport, client and ports), so delivery
    // semantics live in one place; and no running service or runtime library carries the migration tooling,
    // which only ops, tests and deploy checks use (the project graph counts tests, so Nx's tag constraints cannot
    // say this: a library's tests migrate scratch databases). Tests and test harnesses are exempt.
    files: ['apps/**/*.ts', 'libs/*/src/**/*.ts'],
    ignores: [
      '**/*.spec.ts',
      '**/*.int-spec.ts',
      '**/__fixtures__/**',
      'apps/*/src/testing/**/*.ts',
      'apps/ops/**',
      'libs/migrations/**',
      'libs/testing/**',
      'libs/test-kit/**',
    ],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@nats-io/*', 'nats'],
              message: 'Apps use NATS through @quarry/messaging (JetStreamServer, JetStreamClient, ports).',
            },
            {
              group: ['@quarry/migrations'],
              message: 'Migration tooling is for ops, tests and deploy checks, not for running services.',
            },
          ],
        },
      ],
    },
  },
  {
    // The messaging library is where NATS is used; only the migration ban applies to it.
    files: ['libs/messaging/src/**/*.ts'],
    ignores: ['**/*.spec.ts', '**/*.int-spec.ts', '**/__fixtures__/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@quarry/migrations'],
              message: 'Migration tooling is for ops, tests and deploy checks, not for running services.',
            },
          ],
        },
      ],
    },
  },
  {
    // A library's own tests may use the test kit (fixtures, waiting, scratch databases), which
    // depends on no Quarry library, so no cycle can form.
    files: ['libs/**/*.spec.ts', 'libs/**/*.int-spec.ts', 'libs/**/__fixtures__/**/*.ts'],
    rules: { '@nx/enforce-module-boundaries': ['error', boundaries({ tests: true })] },
  },
  {
    files: ['**/*.spec.ts', '**/*.int-spec.ts', 'e2e/**/*.ts'],
    rules: {
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    // The web console (apps/console): browser code with Preact's JSX, bound by the same module boundaries.
    files: ['apps/console/**/*.ts', 'apps/console/**/*.tsx', 'apps/console/**/*.mts'],
    plugins: { '@nx': nx },
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      '@nx/enforce-module-boundaries': ['error', boundaries({ tests: false })],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-floating-promises': 'error',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { ...globals.node, jest: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  prettier,
);
