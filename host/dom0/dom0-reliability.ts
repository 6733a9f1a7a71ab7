// Runs in the dom0 driver worker. What dom0-service.ts exposes of reliability, in one
// place: frame integrity (always on: checksums at fill, scrub on demand) and the mirror
// routine (started by the host with a channel name). Node tests build it around a driver
// directly, with an in-memory mirror link.
import type { Dom0Driver } from './driver';
import { FrameIntegrity, type IntegrityCounters, type ScrubReport } from './integrity';
import { MirrorSource, type MirrorOptions, type MirrorStats } from './mirror-source';
import { broadcastLink, type MirrorLink } from '../mirror/mirror-protocol';

export interface StartMirrorOptions extends MirrorOptions {
  /** BroadcastChannel name (prefixed with tabvisor-mirror:) the remote listens on. */
  channel: string;
}

export class Dom0Reliability {
  readonly integrity: FrameIntegrity;
  private mirror: MirrorSource | null = null;

  constructor(private readonly driver: Dom0Driver) {
    this.integrity = new FrameIntegrity(driver);
  }

  async startMirror(opts: StartMirrorOptions, link: MirrorLink = broadcastLink(opts.channel)): Promise<void> {
    if (this.mirror) throw new Error('a mirror is already running: stop it first');
    this.mirror = new MirrorSource(this.driver, link, opts);
    await this.mirror.initialSync();
  }

  stopMirror(): void {
    this.mirror?.close();
    this.mirror = null;
  }

  mirrorStats(): MirrorStats | null {
    return this.mirror?.stats() ?? null;
  }

  /** Resolves when every page dirty now is durable in the remote (or the mirror is degraded). */
  async mirrorDrained(): Promise<void> {
    await this.mirror?.drained();
  }

  scrub(): Promise<ScrubReport> {
    return this.integrity.scrub();
  }

  integrityStats(): IntegrityCounters {
    return { ...this.integrity.counters, incidents: { ...this.integrity.counters.incidents } };
  }
}
