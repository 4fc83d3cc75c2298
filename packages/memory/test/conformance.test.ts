import { MemoryStorage } from "@pepperpy/storage-memory";
// Relative import: a devDependency on @pepperpy/storage-testing would make a workspace
// cycle (the testing kit depends on this package).
import { describeStorageConformance } from "../../testing/src/index.js";

describeStorageConformance("memory", () => new MemoryStorage());
