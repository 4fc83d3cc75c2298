export { type ConformanceOptions, conformanceCaseNames, conformanceCases, describeStorageConformance, expiryCaseNames } from "./suite.js";
export {
  type CaseContext,
  type ConformanceClock,
  type ConformanceEnv,
  ConformanceFailure,
  type ConformanceCase,
  expectBytes,
  expectRejects,
  manualClock,
  randomPrefix,
  realClock,
  readAll,
} from "./helpers.js";
export { ILLEGAL_KEYS } from "./keys.js";
