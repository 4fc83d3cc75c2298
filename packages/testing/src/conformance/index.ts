export { type ConformanceOptions, conformanceCaseNames, conformanceCases, describeStorageConformance } from "./suite.js";
export {
  type CaseContext,
  ConformanceFailure,
  type ConformanceCase,
  expectBytes,
  expectRejects,
  randomPrefix,
  readAll,
} from "./helpers.js";
export { ILLEGAL_KEYS } from "./keys.js";
export { FAIRNESS_MIN_TICKS_PER_SECOND, fairestOf, fairnessBar, timerTicksDuring, writersUnderPollingReader } from "./fairness.js";
