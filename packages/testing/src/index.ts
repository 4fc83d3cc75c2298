/**
 * @packageDocumentation
 * The testing kit of @pepperpy/storage: `MockStorage` for unit tests of code that uses a
 * storage, `FaultStorage` / `withFaults` to inject latency and failures into a real
 * storage, and `describeStorageConformance`, the behaviour suite every backend and layer
 * passes (vitest is a peer dependency).
 *
 * @module @pepperpy/storage-testing
 */
export {
  type MockCall,
  type MockErrorOptions,
  type MockOperation,
  MockStorage,
  type MockStorageOptions,
} from "./mock-storage.js";
export {
  type FaultCall,
  FaultDriver,
  type FaultOperation,
  type FaultOptions,
  type FaultStats,
  FaultStorage,
  type FaultStorageOptions,
  withFaults,
} from "./faults.js";
export {
  type CaseContext,
  type ConformanceCase,
  type ConformanceClock,
  type ConformanceEnv,
  ConformanceFailure,
  type ConformanceOptions,
  ILLEGAL_KEYS,
  conformanceCaseNames,
  conformanceCases,
  describeOutcomeConformance,
  describeStorageConformance,
  type OutcomeBackend,
  type OutcomeCase,
  outcomeCases,
  expiryCaseNames,
  expectBytes,
  FAIRNESS_MIN_TICKS_PER_SECOND,
  fairestOf,
  fairnessBar,
  timerTicksDuring,
  writersUnderPollingReader,
  expectRejects,
  manualClock,
  randomPrefix,
  readAll,
  realClock,
} from "./conformance/index.js";
// A real S3-compatible server for tests (added by @pepperpy/storage-s3's helper):
export { type S3Server, type S3ServerOptions, startS3Server } from "./s3-server.js";
// Real Redis and PostgreSQL servers on 127.0.0.1 for tests (added by @pepperpy/storage-redis / -postgres):
export { type RedisServer, type RedisServerOptions, findRedisServer, freePort, startRedisServer } from "./redis-server.js";
export { type PostgresServer, type PostgresServerOptions, findPostgresBinDir, startPostgresServer } from "./postgres-server.js";
