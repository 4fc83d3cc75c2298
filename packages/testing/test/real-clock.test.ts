import { MemoryStorage } from "@pepperpy/storage-memory";
import { conformanceCaseNames, describeStorageConformance, expiryCaseNames } from "../src/index.js";

// The expiry cases' real-clock variant (`expiryClock: "real"`), for backends whose deadlines
// run on a clock the test cannot move: the storage ignores the injected clock and the cases
// sleep. Only the expiry cases run here; the memory suite runs the rest.
const others = conformanceCaseNames.filter((name) => !expiryCaseNames.includes(name));
describeStorageConformance("memory, expiry cases on the real clock", () => new MemoryStorage(), {
  expiryClock: "real",
  expiryTtl: 400,
  skip: Object.fromEntries(others.map((name) => [name, "covered by the memory suite; this run checks the real-clock variant of the expiry cases"])),
});
