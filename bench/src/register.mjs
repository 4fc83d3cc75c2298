// Loads the TypeScript sources of the workspace packages for `pnpm bench`.
//
// Why not tsx: tsx always compiles with esbuild's `keepNames`, which wraps every function
// expression in a `__name(fn, "…")` call (an `Object.defineProperty`). Our packages create
// closures on every call, so under tsx they pay a cost their published build (tsup, no
// keepNames) does not — while the peers, plain JavaScript, pay nothing. This hook compiles
// `.ts` with esbuild as tsup does, so we measure the code users run.
import { register } from "node:module";

register("./ts-hooks.mjs", import.meta.url);
