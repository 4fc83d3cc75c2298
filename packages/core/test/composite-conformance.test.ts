import { CompositeStorage } from "@pepperpy/storage-core";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { describeStorageConformance } from "@pepperpy/storage-testing";

describeStorageConformance(
  "composite(memory, memory)",
  ({ clock }) => new CompositeStorage([new MemoryStorage({ clock: clock.now }), new MemoryStorage({ clock: clock.now })], { clock: clock.now }),
);

describeStorageConformance(
  "composite(memory, memory) without read repair",
  ({ clock }) =>
    new CompositeStorage([new MemoryStorage({ clock: clock.now }), new MemoryStorage({ clock: clock.now })], { readRepair: false, clock: clock.now }),
);
