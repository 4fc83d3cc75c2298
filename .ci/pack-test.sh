#!/usr/bin/env bash
# Installs the packed tarballs of every public package into an empty folder with npm, as a
# user would from the registry, and checks that `import`, `require`, the types (both
# module modes) and the CLI bin work. Run after `pnpm build`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d /tmp/pepperpy-pack.XXXXXX)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/packs" "$work/app"

for dir in "$root"/packages/*/; do
  (cd "$dir" && pnpm pack --pack-destination "$work/packs" >/dev/null)
done
ls "$work/packs"

cd "$work/app"
cat > package.json <<'EOF'
{ "name": "pack-test-app", "version": "1.0.0", "private": true }
EOF
# All tarballs in one install: their @pepperpy/* dependencies resolve to each other.
npm install --no-audit --no-fund --loglevel=error "$work"/packs/*.tgz typescript@6.0.3 @types/node@20 >/dev/null

cat > esm.mjs <<'EOF'
import { MemoryStorage, createStorage, StorageNotFoundError, isStorageError } from "@pepperpy/storage";
import { FileStorage } from "@pepperpy/storage-fs";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
const m = new MemoryStorage();
await m.put("a/b", { hello: "esm" });
if ((await m.get("a/b")).hello !== "esm") throw new Error("memory round trip");
const f = new FileStorage(mkdtempSync(join(tmpdir(), "pack-")));
await f.put("x.txt", "file");
if ((await f.get("x.txt")) !== "file") throw new Error("file round trip");
const s = await createStorage({ type: "memory" });
try { await s.get("missing"); throw new Error("no error"); } catch (e) {
  if (!(e instanceof StorageNotFoundError) || !isStorageError(e, "NOT_FOUND")) throw e;
}
console.log("esm ok");
EOF
cat > cjs.cjs <<'EOF'
const { MemoryStorage, createStorage, StorageNotFoundError } = require("@pepperpy/storage");
(async () => {
  const m = new MemoryStorage();
  await m.put("k", new Uint8Array([1, 2, 3]));
  const v = await m.get("k");
  if (v.length !== 3) throw new Error("bytes round trip");
  const s = await createStorage({ type: "file", path: require("node:os").tmpdir() + "/pack-cjs-" + process.pid });
  await s.put("a", "cjs");
  if ((await s.get("a")) !== "cjs") throw new Error("file via config");
  try { await s.get("missing"); throw new Error("no error"); } catch (e) { if (!(e instanceof StorageNotFoundError)) throw e; }
  console.log("cjs ok");
})().catch((e) => { console.error(e); process.exit(1); });
EOF
cat > types.mts <<'EOF'
import { MemoryStorage, type Storage, type ObjectInfo, StorageError } from "@pepperpy/storage";
const s: Storage = new MemoryStorage();
const info: Promise<ObjectInfo> = s.put("k", "v");
const e: StorageError = new StorageError("x", { key: "k" });
export { info, e };
EOF
cat > types.cts <<'EOF'
import { MemoryStorage, type Storage } from "@pepperpy/storage";
const s: Storage = new MemoryStorage();
export const p: Promise<string[]> = s.list("");
EOF
cat > tsconfig.json <<'EOF'
{ "compilerOptions": { "module": "NodeNext", "moduleResolution": "NodeNext", "strict": true, "noEmit": true, "types": ["node"], "skipLibCheck": false }, "files": ["types.mts", "types.cts"] }
EOF

node esm.mjs
node cjs.cjs
npx tsc -p tsconfig.json
npx pepperpy-storage --help >/dev/null

# A fresh TypeScript app that never installed @types/node nor listed it in `types` (TypeScript 6
# defaults `types` to []): the packages bring Node's types themselves (core depends on
# @types/node and its declarations reference it). Checked on TypeScript 5.9 and 6.0, strict.
for ts in 5.9.3 6.0.3; do
  fresh="$work/fresh-ts-$ts"
  mkdir -p "$fresh"
  cat > "$fresh/package.json" <<'EOF2'
{ "name": "fresh-ts-app", "version": "1.0.0", "private": true, "type": "module" }
EOF2
  (cd "$fresh" && npm install --no-audit --no-fund --loglevel=error "$work"/packs/*.tgz "typescript@$ts" >/dev/null)
  cat > "$fresh/app.ts" <<'EOF2'
import { FileStorage, type JsonValue, MemoryStorage, StorageNotFoundError, StorageOutcomeUnknownError, type Storage, createStorage, defineConfig } from "@pepperpy/storage";
interface User { name: string; age: number }
const s: Storage = new MemoryStorage();
const f = new FileStorage("./data");
export async function main(): Promise<void> {
  await s.put("u", { name: "Ada", age: 36 });
  const u = await s.get<User>("u");
  const stream = await f.getStream("u");
  stream.pipe(process.stdout);
  try { await s.get("x"); } catch (e) { if (e instanceof StorageNotFoundError) console.log(e.code, u.name); }
}
// Typed configs from the published declarations: checked by type, extensible by declaration merging.
declare module "@pepperpy/storage-core" {
  interface StorageConfigTypes { "team-kv": { namespace: string } }
}
const config = defineConfig({ type: "file", path: "./data", timeout: "30s", options: { cache: { cacheSize: 10 } } });
export const built: Promise<Storage> = createStorage(config);
export const plugin: Promise<Storage> = createStorage({ type: "team-kv", namespace: "n" });
// @ts-expect-error "fiel" is no storage type
export const typo = createStorage({ type: "fiel" });
// @ts-expect-error capacty is no field of memory
export const field = createStorage({ type: "memory", capacty: 1 });
// put takes a variable typed with an interface (no index signature), on the interface and the class.
interface Profile { name: string; nick?: string | undefined; tags: string[]; address: { city: string } }
const profile: Profile = { name: "Ada", tags: [], address: { city: "London" } };
export const saved: Promise<unknown> = s.put("p", profile);
export const savedOnClass: Promise<unknown> = f.put("p", profile);
interface Dated { name: string; when: Date }
const dated: Dated = { name: "Ada", when: new Date() };
// @ts-expect-error a Date property is not JSON
export const refused = s.put("d", dated);
// A generic wrapper over put compiles.
export const save = <T extends JsonValue>(key: string, value: T) => s.put(key, value);
// Each error class has its literal code.
export const notFound: "NOT_FOUND" = new StorageNotFoundError("x").code;
export const unknownOutcome: "OUTCOME_UNKNOWN" = new StorageOutcomeUnknownError("x").code;
EOF2
  cat > "$fresh/tsconfig.json" <<'EOF2'
{ "compilerOptions": { "module": "NodeNext", "moduleResolution": "NodeNext", "target": "ES2022", "strict": true, "noEmit": true, "skipLibCheck": false }, "files": ["app.ts"] }
EOF2
  if [ -e "$fresh/node_modules/@types/node" ] && ! grep -q '"@types/node"' "$fresh/package.json"; then
    echo "fresh app on TypeScript $ts: @types/node came with the packages"
  fi
  (cd "$fresh" && npx tsc -p tsconfig.json) || { echo "fresh app on TypeScript $ts: type check failed"; exit 1; }
  echo "fresh app on TypeScript $ts: type check ok"
done
echo "pack test ok: $(ls "$work"/packs | wc -l) packages installed from tarballs; import, require, types and bin work"
