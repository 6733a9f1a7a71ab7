// What waits on a guest in the console waits a bounded time: a guest is not trusted to
// answer at all, and a console that hangs on one would stop drawing every other.

/** `p`'s value, or undefined once `ms` have passed without it settling; its timer is cleared either way. */
export function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
