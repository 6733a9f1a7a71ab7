// Runs in the dom0 driver worker. Decodes one request entry (already copied out of guest
// memory) and calls the driver. Shared by the ring port and the copy port, so both
// transports validate identically. Returns null for a request that faults the domain, and
// for every request of a domain that is no longer served (faulted or destroyed).
import { isOp, Op, REQ_ARG0, REQ_ARG1, REQ_LBA, REQ_OP, Status } from '../../shared/protocol';
import type { Completion, Dom0Driver, Domain } from './driver';
import { decodeFrame } from '../../shared/ids';

export type Dispatched = { completion: Promise<Completion> | Completion } | { fault: string };

/** Every no-op's answer (read-only to everyone: completions are copied into the ring). */
const NOOP_COMPLETION: Completion = Object.freeze({ status: Status.OK, frame: -1, generation: 0 });
const NOOP_DONE: Dispatched = Object.freeze({ completion: NOOP_COMPLETION });

/**
 * Serve one request for either port. Every way a request can go wrong — a malformed
 * entry, a throw of ours while dispatching, a completion that rejects — faults `d` alone
 * (never dom0, never another domain) and yields null. Returns the completion now when the
 * driver answered synchronously, or a promise that never rejects.
 */
export function serve(
  driver: Dom0Driver,
  d: Domain,
  entry: Int32Array,
  writeBytes: (slot: number, length: number) => Uint8Array | null,
): Completion | Promise<Completion | null> | null {
  // A ring port hands over a whole batch at once: once one entry of it faulted the domain
  // (and released its mappings), the entries after it must not be served, or a READ of a
  // resident block would pin a frame for a dead domain that nothing ever unpins.
  if (!d.alive) return null;
  const op = entry[REQ_OP]!;
  // A no-op is answered here, before anything else: a batch of them is how the ring's own
  // cost is measured (bench: ring_noop_ops_per_s), and this path allocates nothing.
  if (op === Op.NOOP) {
    d.counters.requests++;
    return NOOP_COMPLETION;
  }
  let r: Dispatched;
  try {
    r = dispatch(driver, d, entry, writeBytes);
  } catch (err) {
    return failed(driver, d, op, err);
  }
  if ('fault' in r) {
    driver.fault(d, r.fault);
    return null;
  }
  return r.completion instanceof Promise ? r.completion.catch((err: unknown) => failed(driver, d, op, err)) : r.completion;
}

function failed(driver: Dom0Driver, d: Domain, op: number, err: unknown): null {
  driver.fault(d, `dom0 error serving opcode ${op}: ${err instanceof Error ? err.message : String(err)}`);
  return null;
}

/**
 * `writeBytes(slot, length)` fetches a WRITE's data: a view of a staging slot (ring port)
 * or the message's bytes (copy port); `Dom0Driver.write` copies it before it awaits
 * anything. Null when the slot is invalid.
 */
function dispatch(
  driver: Dom0Driver,
  d: Domain,
  entry: Int32Array,
  writeBytes: (slot: number, length: number) => Uint8Array | null,
): Dispatched {
  const op = entry[REQ_OP]!;
  if (!isOp(op)) return { fault: `unknown opcode ${op} in request` };
  const lba = entry[REQ_LBA]! >>> 0;
  switch (op) {
    case Op.READ:
      return { completion: driver.read(d, lba) };
    case Op.UNMAP: {
      // ARG0 = frame ref + 1 to drop a pin dom0 kept for LBA's old mapping, 0 to drop the
      // mapping of LBA; ARG1 bit 0: drop every pin kept for LBA.
      const ref = decodeFrame(entry[REQ_ARG0]! >>> 0);
      if (ref >= 0 && !driver.validRef(d, ref)) return { completion: { status: Status.BAD_REQUEST, frame: -1, generation: 0 } };
      return { completion: driver.unmap(d, lba, ref, (entry[REQ_ARG1]! & 1) === 1) };
    }
    case Op.WRITE:
    case Op.WRITE_HELD: {
      const slot = entry[REQ_ARG0]! >>> 0;
      const length = entry[REQ_ARG1]! >>> 0;
      if (length !== d.volume.blockBytes) return { fault: `write of ${length} bytes; blocks are ${d.volume.blockBytes} bytes` };
      const bytes = writeBytes(slot, length);
      if (!bytes) return { fault: `write names staging slot ${slot}, which does not exist or was never allocated` };
      return { completion: op === Op.WRITE ? driver.write(d, lba, bytes) : driver.writeHeld(d, lba, bytes) };
    }
    case Op.COMMIT_HELD:
      return { completion: driver.commitHeld(d) };
    case Op.DISCARD_HELD:
      return { completion: driver.discardHeld(d) };
    case Op.FLUSH:
      return { completion: driver.flush(d) };
    case Op.NOOP:
      // serve() answers a no-op before it calls this; the case keeps the switch total.
      d.counters.requests++;
      return NOOP_DONE;
  }
}
