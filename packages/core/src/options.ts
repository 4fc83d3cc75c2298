import { StorageConfigError } from "./errors.js";

/** `maxSize` → `max_size`: how a field is spelled in YAML. */
export function toSnakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Edit distance, for "did you mean" (names are short). */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/** ` (did you mean fsync?)` for a name within two edits of a known one, else "". */
export function didYouMean(name: string, known: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = 3;
  for (const k of known) {
    const d = distance(name.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best === undefined ? "" : ` (did you mean ${best}?)`;
}

/** Options every storage accepts (`BaseStorageOptions`). */
export const COMMON_OPTION_NAMES: readonly string[] = ["timeout", "maxSize", "clock", "defaultTtl"];

/**
 * Refuses option names a constructor does not know, with the errors config gives for a
 * misspelt field: `new FileStorage("./store", { fsnc: false })` throws
 * `StorageConfigError: FileStorage options.fsnc: unknown option (did you mean fsync?) (known: …)`
 * instead of running with `fsync` on. A JavaScript caller has no compiler to catch it.
 * Names are the code's camelCase ones; `max_size` gets a hint to write `maxSize`.
 *
 * @param where - the class, as users write it (`MemoryStorage`)
 * @param ownNames - the options the constructor reads besides the common ones, `backend` included for layers
 */
export function checkOptionNames(options: unknown, ownNames: readonly string[], where: string): void {
  if (options === undefined || options === null) return;
  // Every storage takes the common options of BaseStorageOptions.
  const known = [...new Set([...ownNames, ...COMMON_OPTION_NAMES])];
  if (typeof options !== "object" || Array.isArray(options)) {
    throw new StorageConfigError(`${where} options: expected an object, got ${Array.isArray(options) ? "an array" : typeof options}`);
  }
  for (const name of Object.keys(options)) {
    if (known.includes(name)) continue;
    const camel = name.replace(/[_-]([a-z0-9])/g, (_, c: string) => c.toUpperCase());
    const hint = camel !== name && known.includes(camel) ? ` (in code the option is ${camel})` : didYouMean(name, known);
    throw new StorageConfigError(`${where} options.${name}: unknown option${hint} (known: ${[...known].sort().join(", ")})`);
  }
}
