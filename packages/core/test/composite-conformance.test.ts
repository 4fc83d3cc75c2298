import { CompositeStorage } from "@pepperpy/storage-core";
import { MemoryStorage } from "@pepperpy/storage-memory";
// Relative import: a devDependency on @pepperpy/storage-testing would make a workspace
// cycle (the testing kit depends on core).
import { describeStorageConformance } from "../../testing/src/index.js";

describeStorageConformance("composite(memory, memory)", () => new CompositeStorage([new MemoryStorage(), new MemoryStorage()]));

describeStorageConformance(
  "composite(memory, memory) without read repair",
  () => new CompositeStorage([new MemoryStorage(), new MemoryStorage()], { readRepair: false }),
);
