// Integration and e2e tests wait on real servers and processes.
jest.setTimeout(Number(process.env.QUARRY_TEST_TIMEOUT_MS ?? 60_000));
