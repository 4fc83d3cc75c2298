const BRAND = Symbol.for("pepperpy.storage.Secret");
const INSPECT = Symbol.for("nodejs.util.inspect.custom");
/** What every printed form of a {@link Secret} shows. */
const REDACTED = "[redacted]";

/**
 * Holds a secret (a key, a passphrase, a credential) so that it never shows when the object
 * holding it is printed: `util.inspect`, `console.log` / `console.dir`, `JSON.stringify`,
 * `String(…)` and template strings all give `[redacted]`. The value sits in a private field
 * that neither inspection nor enumeration reaches; {@link Secret.reveal} is the one way to
 * read it, so every use of the secret is explicit in the code.
 *
 * Config secret fields (`secret`, `secret-map`) arrive at plugins as `Secret`s; the built-in
 * layers and backends accept a `Secret` wherever they accept the plain value.
 *
 * @example
 * const key = new Secret(process.env.STORAGE_KEY!);
 * console.log({ key }); // { key: Secret([redacted]) }
 * new EncryptedStorage({ backend, key });
 */
export class Secret<T = string> {
  readonly #value: T;

  constructor(value: T) {
    this.#value = value;
    Object.defineProperty(this, BRAND, { value: true });
    Object.freeze(this);
  }

  /** The secret itself. Call it only where the secret is used, never to log or store it. */
  reveal(): T {
    return this.#value;
  }

  /** `[redacted]`: what `JSON.stringify` writes. */
  toJSON(): string {
    return REDACTED;
  }

  /** `[redacted]`: what `String(secret)` and template strings give. */
  toString(): string {
    return REDACTED;
  }

  /** What `util.inspect` and `console.log` / `console.dir` show. */
  [INSPECT](): string {
    return `Secret(${REDACTED})`;
  }

  /** True for a `Secret` of any copy of this package. */
  static isSecret(value: unknown): value is Secret<unknown> {
    return typeof value === "object" && value !== null && (value as { [BRAND]?: unknown })[BRAND] === true;
  }

  /** The value of a `Secret`, or `value` itself when it is not one. */
  static reveal<T>(value: T | Secret<T>): T {
    return Secret.isSecret(value) ? (value as Secret<T>).reveal() : (value as T);
  }
}
