// Three tiers, selected with --selectProjects: unit (ports faked), integration (real NATS JetStream
// and PostgreSQL), e2e (the built apps as separate processes, driven over HTTP); plus chaos.
const { swcOptions } = require('./tools/swc-options.cjs');

const common = {
  testEnvironment: 'node',
  transform: { '^.+\\.(t|j)s$': ['@swc/jest', { ...swcOptions({ sourceMaps: 'inline' }), swcrc: false }] },
  moduleNameMapper: {
    '^@quarry/(.*)$': '<rootDir>/libs/$1/src/index.ts',
    // The generated Prisma client imports its siblings as './x.js' (ESM style) while the files are .ts.
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  moduleFileExtensions: ['ts', 'js', 'mjs', 'json'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  rootDir: __dirname,
};

module.exports = {
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/{apps,libs,deploy,bench}/**/*.spec.ts'],
    },
    {
      ...common,
      displayName: 'integration',
      setupFilesAfterEnv: ['<rootDir>/tools/jest-setup-slow.cjs'],
      testMatch: ['<rootDir>/{apps,libs}/**/*.int-spec.ts'],
    },
    {
      ...common,
      displayName: 'e2e',
      setupFilesAfterEnv: ['<rootDir>/tools/jest-setup-slow.cjs'],
      testMatch: ['<rootDir>/e2e/**/*.e2e-spec.ts'],
    },
    {
      // Faults on purpose (SIGKILLs, server restarts, a cluster node lost) against servers of its
      // own; `npm run test:chaos`. A smaller run of it is part of the e2e tier.
      ...common,
      displayName: 'chaos',
      setupFilesAfterEnv: ['<rootDir>/tools/jest-setup-slow.cjs'],
      testMatch: ['<rootDir>/e2e/**/*.chaos-spec.ts'],
    },
  ],
};
