// A bounded wait on something that may never answer: a guest (not trusted to answer at
// all; a console that hung on one would stop drawing every other) or a browser API that
// can stall (navigator.locks.query while another tab is busy).

/** `p`'s value, or undefined once `ms` have passed without it settling; its timer is cleared either way. */
export function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
