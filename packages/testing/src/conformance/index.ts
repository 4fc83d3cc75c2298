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
export { type OutcomeCase, describeOutcomeConformance, outcomeCases } from "./outcomes.js";
