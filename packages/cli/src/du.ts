import type { ListEntry } from "@pepperpy/storage";

/** Objects and bytes under one prefix. */
export interface UsageGroup {
  /** The prefix (ends with `/`), or the listed prefix itself for objects directly under it. */
  prefix: string;
  objects: number;
  bytes: number;
}

/** What `du` reports. */
export interface UsageReport {
  prefix: string;
  depth: number;
  objects: number;
  bytes: number;
  /** Sorted by prefix; empty at depth 0. */
  groups: UsageGroup[];
}

/**
 * Adds up objects and bytes per prefix, `depth` segments below `prefix` (like `du -d`):
 * at depth 1 under `logs/`, `logs/2024/01/a.log` counts toward `logs/2024/`. An object
 * with fewer segments counts toward its own parent prefix, so nothing is left out and the
 * groups add up to the total. Memory grows with the number of groups, not of objects.
 */
export async function diskUsage(entries: AsyncIterable<ListEntry>, prefix: string, depth: number): Promise<UsageReport> {
  const groups = new Map<string, UsageGroup>();
  const base = prefix.split("/").length - 1;
  const report: UsageReport = { prefix, depth, objects: 0, bytes: 0, groups: [] };
  for await (const entry of entries) {
    report.objects++;
    report.bytes += entry.size;
    if (depth === 0) continue;
    const segments = entry.key.split("/");
    const take = Math.min(base + depth, segments.length - 1);
    let group = take === 0 ? "" : `${segments.slice(0, take).join("/")}/`;
    if (group.length < prefix.length) group = prefix;
    let g = groups.get(group);
    if (!g) {
      g = { prefix: group, objects: 0, bytes: 0 };
      groups.set(group, g);
    }
    g.objects++;
    g.bytes += entry.size;
  }
  // Keys arrive sorted, but "a/" and "a.txt" groups interleave differently; sort once.
  report.groups = [...groups.values()].sort((x, y) => (x.prefix < y.prefix ? -1 : x.prefix > y.prefix ? 1 : 0));
  return report;
}
