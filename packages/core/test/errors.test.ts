import * as core from "@pepperpy/storage-core";
import {
  StorageAbortedError,
  StorageConfigError,
  StorageConflictError,
  StorageError,
  type StorageErrorCode,
  StorageIOError,
  StorageIntegrityError,
  StorageNotFoundError,
  StorageOutcomeUnknownError,
  StoragePartialWriteError,
  StoragePermissionError,
  StorageQuotaError,
  StorageTimeoutError,
  StorageUnavailableError,
  StorageUnsupportedError,
  StorageValidationError,
  errorClassFor,
  fromAbortSignal,
  fromNodeError,
  isStorageError,
} from "@pepperpy/storage-core";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { describe, expect, expectTypeOf, it } from "vitest";

const CLASSES: [typeof StorageError, StorageErrorCode, boolean][] = [
  [StorageNotFoundError, "NOT_FOUND", false],
  [StorageValidationError, "VALIDATION", false],
  [StorageConfigError, "CONFIG", false],
  [StoragePermissionError, "PERMISSION", false],
  [StorageConflictError, "CONFLICT", false],
  [StorageIntegrityError, "INTEGRITY", false],
  [StorageUnavailableError, "UNAVAILABLE", true],
  [StorageTimeoutError, "TIMEOUT", true],
  [StorageAbortedError, "ABORTED", false],
  [StorageQuotaError, "QUOTA", false],
  [StorageUnsupportedError, "UNSUPPORTED", false],
  [StorageIOError, "IO", false],
  [StorageOutcomeUnknownError, "OUTCOME_UNKNOWN", false],
];

type Core = typeof core;
/** The names of every error class the package exports (the base class included). */
type ErrorClassName = {
  [K in keyof Core]: Core[K] extends abstract new (...args: never) => StorageError ? K : never;
}[keyof Core];
/** `true` when `T` is one member, not a union (`StorageErrorCode` itself is a union). */
type IsUnion<T, U = T> = T extends unknown ? ([U] extends [T] ? false : true) : never;
type IsOneLiteral<T> = [T] extends [never] ? false : [IsUnion<T>] extends [false] ? (string extends T ? false : true) : false;
type Equal<A, B> = (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false;
/**
 * The exported subclasses of `StorageError` whose `code` is not one literal, or whose
 * instance `code` and static `code` differ: `never` when every class has its own code.
 * A class added without `static override readonly code = "X" as const` and
 * `declare readonly code: "X"` shows up here by name, and the type check fails.
 */
type ClassesWithoutLiteralCode = {
  [K in ErrorClassName]: K extends "StorageError"
    ? never
    : [CodeOf<Core[K]>] extends [never]
      ? never
      : K;
}[ErrorClassName];
/** `never` when the class's instance and static `code` are the same single literal, else the class's code type. */
type CodeOf<C> = C extends { readonly code: infer S; prototype: { readonly code: infer I } }
  ? IsOneLiteral<I> extends true
    ? Equal<S, I> extends true
      ? never
      : I
    : I
  : C;

/**
 * What a second installed copy of the package would throw: its own classes (not ours),
 * the same `Symbol.for` brand and the same shape.
 */
class OtherCopyError extends Error {
  readonly code: StorageErrorCode;
  retryable = true;
  key: string | undefined;
  operation: string | undefined;
  backend: string | undefined;
  constructor(code: StorageErrorCode) {
    super("from another copy");
    this.code = code;
    (this as unknown as Record<symbol, unknown>)[Symbol.for("@pepperpy/storage.error")] = code;
  }
  withContext(ctx: { key?: string; operation?: string; backend?: string }): this {
    this.key ??= ctx.key;
    this.operation ??= ctx.operation;
    this.backend ??= ctx.backend;
    return this;
  }
}

function foreignError(code: StorageErrorCode): Error {
  return new OtherCopyError(code);
}

describe("error classes", () => {
  it.each(CLASSES)("%o has its code, default retryable and the base class", (Cls, code, retryable) => {
    const e = new Cls("detail", { key: "k", operation: "get", backend: "memory" });
    expect(e).toBeInstanceOf(Cls);
    expect(e).toBeInstanceOf(StorageError);
    expect(e).toBeInstanceOf(Error);
    expect(e.code).toBe(code);
    expect(e.name).toBe(Cls.name);
    expect(e.retryable).toBe(retryable);
    expect(isStorageError(e)).toBe(true);
    expect(isStorageError(e, code)).toBe(true);
    expect(errorClassFor(code)).toBe(Cls);
    expect(e.stack).toBeTypeOf("string");
  });

  it("subclasses do not match each other", () => {
    const e = new StorageNotFoundError("x");
    expect(e).not.toBeInstanceOf(StorageValidationError);
    expect(isStorageError(e, "VALIDATION")).toBe(false);
    expect(new StorageError("base")).not.toBeInstanceOf(StorageNotFoundError);
  });

  it("messages name the key, the operation and the backend", () => {
    const e = new StorageNotFoundError("Key not found", { key: "users/1", operation: "get", backend: "file" });
    expect(e.message).toBe('Key not found [get "users/1" on file]');
    expect(e.detail).toBe("Key not found");
    expect(new StorageError("plain").message).toBe("plain");
  });

  it("withContext fills in what is missing and keeps what is known", () => {
    const e = new StorageUnavailableError("down", { backend: "s3" });
    e.withContext({ key: "k", operation: "put", backend: "cache(s3)" });
    expect(e.backend).toBe("s3");
    expect(e.key).toBe("k");
    expect(e.message).toBe('down [put "k" on s3]');
  });

  it("retryable and cause can be set", () => {
    const cause = new Error("socket");
    const e = new StorageUnavailableError("x", { retryable: false, cause });
    expect(e.retryable).toBe(false);
    expect(e.cause).toBe(cause);
  });

  it("StoragePartialWriteError lists the failures and is retryable only when all are", () => {
    const failures = [
      { index: 1, backend: "s3", error: new StorageUnavailableError("down") },
      { index: 2, backend: "file", error: new StorageQuotaError("full") },
    ];
    const e = new StoragePartialWriteError("partial", { failures, succeeded: [0] });
    expect(e.code).toBe("PARTIAL_WRITE");
    expect(e.retryable).toBe(false);
    expect(e).toBeInstanceOf(StorageError);
    expect(new StoragePartialWriteError("p", { failures: failures.slice(0, 1), succeeded: [0] }).retryable).toBe(true);
  });
  it("StoragePartialWriteError also carries per-key failures of a batch on one backend", () => {
    const e = new StoragePartialWriteError("batch", {
      backend: "s3",
      failures: [{ backend: "s3", key: "a", error: new StoragePermissionError("denied", { key: "a" }) }],
    });
    expect(e.succeeded).toStrictEqual([]);
    expect(e.failures[0]!.key).toBe("a");
    expect(e.failures[0]!.index).toBeUndefined();
    expect(e.retryable).toBe(false);
  });
});

describe("errors from another copy of the package", () => {
  it("instanceof and isStorageError use the shared Symbol.for brand", () => {
    const e = foreignError("NOT_FOUND");
    expect(e).toBeInstanceOf(StorageError);
    expect(e).toBeInstanceOf(StorageNotFoundError);
    expect(e).not.toBeInstanceOf(StorageTimeoutError);
    expect(isStorageError(e)).toBe(true);
    expect(isStorageError(e, "NOT_FOUND")).toBe(true);
    expect(isStorageError(e, "TIMEOUT")).toBe(false);
  });

  it("plain errors and non-objects are not storage errors", () => {
    expect(new Error("x")).not.toBeInstanceOf(StorageError);
    expect(isStorageError(new Error("x"))).toBe(false);
    expect(isStorageError(null)).toBe(false);
    expect(isStorageError("NOT_FOUND")).toBe(false);
    expect({ code: "NOT_FOUND" }).not.toBeInstanceOf(StorageNotFoundError);
  });

  it("a storage rethrows a foreign storage error as is, with context", async () => {
    const storage = new MemoryStorage();
    // A listener-free way to make a call fail with a foreign error: a driver that throws it.
    const driver = (storage as unknown as { driver: { read: () => Promise<never> } }).driver;
    driver.read = async () => {
      throw foreignError("UNAVAILABLE");
    };
    const error = (await storage.get("k").catch((e: unknown) => e)) as StorageError;
    expect(error).toBeInstanceOf(OtherCopyError);
    expect(error).toBeInstanceOf(StorageUnavailableError);
    expect(error.key).toBe("k");
    expect(error.operation).toBe("get");
    expect(error.backend).toBe("memory");
  });
});

describe("fromNodeError", () => {
  it.each([
    ["ENOENT", StorageNotFoundError, false],
    ["EACCES", StoragePermissionError, false],
    ["EPERM", StoragePermissionError, false],
    ["ENOSPC", StorageQuotaError, false],
    ["EEXIST", StorageConflictError, false],
    ["EMFILE", StorageUnavailableError, true],
    ["ECONNRESET", StorageUnavailableError, true],
    ["ETIMEDOUT", StorageTimeoutError, true],
  ] as const)("maps %s", (code, Cls, retryable) => {
    const native = Object.assign(new Error(`${code}: something, open '/secret/path'`), { code });
    const e = fromNodeError(native, { key: "k", operation: "get", backend: "file" });
    expect(e).toBeInstanceOf(Cls);
    expect(e.retryable).toBe(retryable);
    expect(e.cause).toBe(native);
    expect(e.message).toContain(code);
    expect(e.message).toContain('"k"');
    expect(e.message).not.toContain("/secret/path");
  });

  it("maps unknown errors to StorageIOError and passes storage errors through", () => {
    expect(fromNodeError(new Error("weird"))).toBeInstanceOf(StorageIOError);
    expect(fromNodeError("a string")).toBeInstanceOf(StorageIOError);
    const known = new StorageConflictError("c");
    expect(fromNodeError(known, { key: "k" })).toBe(known);
    expect(known.key).toBe("k");
  });
});

describe("fromAbortSignal", () => {
  it("a timeout reason is a StorageTimeoutError, anything else a StorageAbortedError", () => {
    const timeout = new Error("t");
    timeout.name = "TimeoutError";
    expect(fromAbortSignal(AbortSignal.abort(timeout))).toBeInstanceOf(StorageTimeoutError);
    expect(fromAbortSignal(AbortSignal.abort())).toBeInstanceOf(StorageAbortedError);
    expect(fromAbortSignal(AbortSignal.abort("why"), { key: "k" }).key).toBe("k");
    const own = new StorageUnavailableError("shutting down");
    expect(fromAbortSignal(AbortSignal.abort(own))).toBe(own);
  });
});

describe("instanceof checks the class, not only the code", () => {
  class SpecialIOError extends StorageIOError {}
  it("a plain error of the parent class is not an instance of a subclass with the same code", () => {
    const plain = new StorageIOError("x");
    expect(plain instanceof SpecialIOError).toBe(false);
    expect(plain instanceof StorageIOError).toBe(true);
  });
  it("a subclass instance is an instance of itself, its parent and the base", () => {
    const special = new SpecialIOError("y");
    expect(special instanceof SpecialIOError).toBe(true);
    expect(special instanceof StorageIOError).toBe(true);
    expect(special instanceof StorageError).toBe(true);
    expect(special instanceof StorageNotFoundError).toBe(false);
  });
  it("an error from another installed copy (same class names, other prototypes) still matches", () => {
    // Simulate a second copy: a structurally identical class family from a fresh module graph.
    const foreign = Object.create(null) as Record<symbol, unknown>;
    foreign[Symbol.for("@pepperpy/storage.error")] = "NOT_FOUND";
    Object.defineProperty(foreign, Symbol.for("@pepperpy/storage.error.classes"), {
      value: ["StorageNotFoundError", "StorageError"],
    });
    expect(foreign instanceof StorageNotFoundError).toBe(true);
    expect(foreign instanceof StorageError).toBe(true);
    expect(foreign instanceof StorageIOError).toBe(false);
  });
  it("a partial failure from another copy (an S3 per-key one) matches StoragePartialWriteError by name", () => {
    const foreign = Object.create(null) as Record<symbol, unknown>;
    foreign[Symbol.for("@pepperpy/storage.error")] = "PARTIAL_WRITE";
    Object.defineProperty(foreign, Symbol.for("@pepperpy/storage.error.classes"), {
      value: ["S3DeleteManyError", "StoragePartialWriteError", "StorageError"],
    });
    expect(foreign instanceof StoragePartialWriteError).toBe(true);
    expect(foreign instanceof StorageIOError).toBe(false);
  });
  it("every exported error class has its own literal code, in its type and at run time", () => {
    // Type level: fails `pnpm typecheck`, naming the class, if one has the whole union.
    expectTypeOf<ClassesWithoutLiteralCode>().toEqualTypeOf<never>();
    // The same as a plain assignment, whose error names the class ("… not assignable to 'StorageXError'").
    const everyClass: [ClassesWithoutLiteralCode] extends [never] ? "every class" : ClassesWithoutLiteralCode = "every class";
    expect(everyClass).toBe("every class");
    expectTypeOf(new StorageOutcomeUnknownError("x").code).toEqualTypeOf<"OUTCOME_UNKNOWN">();
    expectTypeOf(new StoragePartialWriteError("x", { failures: [] }).code).toEqualTypeOf<"PARTIAL_WRITE">();
    // Run time: every exported subclass is in the table above, its instances carry its static
    // code, and no two classes share a code.
    const exported = Object.entries(core).filter(
      ([name, value]) => typeof value === "function" && name !== "StorageError" && Object.prototype.isPrototypeOf.call(StorageError, value),
    ) as [string, typeof StorageError][];
    expect(exported.length).toBeGreaterThanOrEqual(CLASSES.length + 1);
    const codes = new Set<string>();
    for (const [name, Cls] of exported) {
      const e = new (Cls as unknown as new (m: string, o: { failures: [] }) => StorageError)("x", { failures: [] });
      expect(e.code, name).toBe(Cls.code);
      expect(codes.has(e.code), `${name} shares its code`).toBe(false);
      codes.add(e.code);
      if (Cls !== StoragePartialWriteError) expect(CLASSES.map(([c]) => c), name).toContain(Cls);
    }
  });

  it("isStorageError with a code narrows the code", () => {
    const error: unknown = new StorageOutcomeUnknownError("x");
    if (isStorageError(error, "OUTCOME_UNKNOWN")) {
      expectTypeOf(error.code).toEqualTypeOf<"OUTCOME_UNKNOWN">();
      expect(error.code).toBe("OUTCOME_UNKNOWN");
    } else {
      expect.unreachable();
    }
    const other: unknown = new StorageOutcomeUnknownError("y");
    if (isStorageError(other)) expectTypeOf(other.code).toEqualTypeOf<StorageErrorCode>();
  });

  it("each class has a literal code type", () => {
    const e = new StorageNotFoundError("gone");
    const code: "NOT_FOUND" = e.code;
    expect(code).toBe("NOT_FOUND");
    expect(StorageNotFoundError.code).toBe("NOT_FOUND");
  });
});
