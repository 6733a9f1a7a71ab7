// Runs anywhere. What kind of buffer a value is, told by its tag rather than instanceof: an
// ArrayBuffer made in another realm (a frame, a worker's message) is still one, and a
// SharedArrayBuffer is not an ArrayBuffer even where both share a prototype chain shape.

/** An ArrayBuffer of any realm, not a SharedArrayBuffer. */
export function isArrayBuffer(x: unknown): x is ArrayBuffer {
  return Object.prototype.toString.call(x) === '[object ArrayBuffer]';
}

/** A SharedArrayBuffer of any realm. */
export function isSharedArrayBuffer(x: unknown): x is SharedArrayBuffer {
  return Object.prototype.toString.call(x) === '[object SharedArrayBuffer]';
}
