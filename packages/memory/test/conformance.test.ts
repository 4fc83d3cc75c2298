import { MemoryStorage } from "@pepperpy/storage-memory";
import { describeStorageConformance } from "@pepperpy/storage-testing";

describeStorageConformance("memory", ({ clock }) => new MemoryStorage({ clock: clock.now }));
