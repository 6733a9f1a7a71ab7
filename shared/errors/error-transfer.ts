// Runs on every thread that speaks comlink: the page, the dom0 worker, guest workers.
// Comlink's own 'throw' handler sends an Error as {name, message, stack} and rebuilds a
// plain Error, so `instanceof` and `code` are lost on the way. This handler sends the
// error's class (by its key in the registry), its own fields (`code`, `dataset`, `status`,
// …) and its `cause` chain, and rebuilds an instance of the same class on the other side.
// Both ends must call installErrorTransfer(), each with the classes it may receive or
// throw: the page and dom0 every class (shared/errors/all-error-classes.ts), a guest worker
// only the device, ring, channel and SQLite-format errors its runtime raises (guest/bootstrap.ts). Every
// class a realm loads costs it memory (its prototype, shapes and code): the pool's and the
// archive's 25 error classes took about 36 KiB in every guest worker (V8 heap snapshots,
// 2026-11-30), where no pool or archive error is ever raised. An error of a class this
// realm does not register still arrives as an Error with its name, message and fields,
// and keeps its class key, so passed on it becomes its class again where that is known.
import { transferHandlers, type TransferHandler } from 'comlink';

/** Any error class, abstract ones included; constructed only through Reflect.construct. */
type ErrorClass = abstract new (...args: never[]) => Error;

const isErrorClass = (v: unknown): v is ErrorClass => typeof v === 'function' && v.prototype instanceof Error;

const registry = new Map<string, ErrorClass>(
  Object.entries({ Error, TypeError, RangeError, SyntaxError, ReferenceError }) as [string, ErrorClass][],
);

/**
 * Every error class this realm rebuilds by class, keyed by its exported name (an object
 * key, so a minifier that renames classes does not change it). Built-in error types are
 * always here, so a RangeError stays a RangeError.
 */
export const REGISTRY: ReadonlyMap<string, ErrorClass> = registry;

/** Add the error classes among `exports` (a module's exports: other values are skipped). */
function registerErrorClasses(...exports: Record<string, unknown>[]): void {
  for (const set of exports) for (const [key, v] of Object.entries(set)) if (isErrorClass(v)) registry.set(key, v);
}

/** On an error rebuilt from a class this realm does not register: the class key it came with. */
const WIRE_CLASS = Symbol('tabvisor.wireClass');

/** An error as it travels: structured-cloneable, no prototype needed. */
export interface WireError {
  readonly wire: 'tabvisor-error';
  /** Key in REGISTRY of the nearest registered class on the error's prototype chain. */
  readonly cls: string;
  readonly name: string;
  readonly message: string;
  readonly stack: string | undefined;
  /** Own enumerable fields (code, dataset, status, …), nested errors in wire form. */
  readonly fields: Record<string, unknown>;
  readonly hasCause: boolean;
  readonly cause: unknown;
}

const hasDOMException = typeof DOMException === 'function';

function classKey(err: Error): string {
  // A DOMException (QuotaExceededError, the cause of PoolFullError) is rebuilt from its name.
  if (hasDOMException && err instanceof DOMException) return 'DOMException';
  const carried = (err as { [WIRE_CLASS]?: string })[WIRE_CLASS];
  if (carried !== undefined) return carried;
  for (let proto: unknown = Object.getPrototypeOf(err); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const [key, cls] of registry) if (cls.prototype === proto) return key;
  }
  return 'Error';
}

function cloneable(v: unknown): boolean {
  try {
    structuredClone(v);
    return true;
  } catch {
    return false;
  }
}

/** A value ready for postMessage: errors become WireErrors, anything uncloneable is dropped (undefined). */
function toWireValue(v: unknown, depth: number): unknown {
  if (v instanceof Error) return depth > 8 ? { wire: 'tabvisor-error', cls: 'Error', name: v.name, message: v.message, stack: undefined, fields: {}, hasCause: false, cause: undefined } : toWire(v, depth);
  if (Array.isArray(v)) return v.map((x) => toWireValue(x, depth + 1));
  if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toWireValue(x, depth + 1)]));
  }
  return cloneable(v) ? v : undefined;
}

export function toWire(err: Error, depth = 0): WireError {
  const fields: Record<string, unknown> = {};
  for (const key of Object.keys(err)) {
    if (key === 'name' || key === 'message' || key === 'stack' || key === 'cause') continue;
    fields[key] = toWireValue((err as unknown as Record<string, unknown>)[key], depth + 1);
  }
  const hasCause = 'cause' in err;
  return {
    wire: 'tabvisor-error',
    cls: classKey(err),
    name: err.name,
    message: err.message,
    stack: err.stack,
    fields,
    hasCause,
    cause: hasCause ? toWireValue(err.cause, depth + 1) : undefined,
  };
}

function isWireError(v: unknown): v is WireError {
  return v !== null && typeof v === 'object' && (v as { wire?: unknown }).wire === 'tabvisor-error';
}

function fromWireValue(v: unknown): unknown {
  if (isWireError(v)) return fromWire(v);
  if (Array.isArray(v)) return v.map(fromWireValue);
  if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fromWireValue(x)]));
  }
  return v;
}

/**
 * The same class again, without running its constructor (its arguments are gone): a real
 * Error whose prototype is the class's, then its fields as they were.
 */
export function fromWire(w: WireError): Error {
  if (w.cls === 'DOMException' && hasDOMException) return new DOMException(w.message, w.name);
  const cls = registry.get(w.cls);
  const err = Reflect.construct(Error, [w.message], (cls ?? Error) as unknown as new () => Error) as Error;
  if (!cls) Object.defineProperty(err, WIRE_CLASS, { value: w.cls, enumerable: false });
  for (const [k, v] of Object.entries(w.fields)) {
    Object.defineProperty(err, k, { value: fromWireValue(v), writable: true, enumerable: true, configurable: true });
  }
  if (err.name !== w.name) Object.defineProperty(err, 'name', { value: w.name, writable: true, enumerable: false, configurable: true });
  if (w.stack !== undefined) Object.defineProperty(err, 'stack', { value: w.stack, writable: true, enumerable: false, configurable: true });
  if (w.hasCause) Object.defineProperty(err, 'cause', { value: fromWireValue(w.cause), writable: true, enumerable: false, configurable: true });
  return err;
}

type Thrown = { value: unknown };
type SerializedThrow = { isError: true; value: WireError } | { isError: false; value: unknown };

const INSTALLED = Symbol.for('tabvisor.errorTransfer');

/**
 * Register the error classes among `exports` (module namespaces or objects of classes) and
 * replace comlink's 'throw' handler with one that keeps classes and fields. Idempotent;
 * a later call only adds classes.
 */
export function installErrorTransfer(...exports: Record<string, unknown>[]): void {
  registerErrorClasses(...exports);
  const current = transferHandlers.get('throw') as (TransferHandler<Thrown, SerializedThrow> & { [INSTALLED]?: true }) | undefined;
  if (!current || current[INSTALLED]) return;
  const handler: TransferHandler<Thrown, SerializedThrow> & { [INSTALLED]: true } = {
    [INSTALLED]: true,
    // Comlink marks a thrown value with a symbol it does not export: ask its own handler.
    canHandle: (value): value is Thrown => current.canHandle(value),
    serialize: ({ value }) => [value instanceof Error ? { isError: true, value: toWire(value) } : { isError: false, value }, []],
    deserialize: (s) => {
      throw s.isError ? fromWire(s.value) : s.value;
    },
  };
  transferHandlers.set('throw', handler as TransferHandler<unknown, unknown>);
}
