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
export { FAIRNESS_MIN_TICKS_PER_SECOND, fairestOf, fairnessBar, timerTicksDuring, writersUnderPollingReader } from "./fairness.js";
export { type OutcomeBackend, type OutcomeCase, describeOutcomeConformance, outcomeCases } from "./outcomes.js";
