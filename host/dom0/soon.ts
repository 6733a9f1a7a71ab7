// Runs in any realm. A macrotask that comes sooner than setTimeout(0) (which browsers clamp
// to ≥ 4 ms once nested). Used to gather a batch of requests before one pool read or one
// commit, and to let IndexedDB events and control-plane messages run between ring batches.
//
// Where the platform has it (Chromium, Firefox), a task posted with `scheduler.postTask` at
// the default priority: it goes straight onto this thread's own task queue, behind what is
// already queued at that priority, so the events waiting run first. Otherwise a
// MessageChannel message to ourselves, which takes a trip through the browser's message
// pipes (measured in a Chromium worker, 2026-11-30: postTask 10–23 µs a round, the
// channel 12–48 µs, idle; in the bench's ring phase dom0's yields took 0.10–0.17 ms each
// against 0.12–0.65 with the channel, four runs each, the ring's own figures unchanged
// within the noise).
interface TaskScheduler {
  postTask(callback: () => void, options?: { priority?: 'user-blocking' | 'user-visible' | 'background' }): Promise<void>;
}
const found = (globalThis as { scheduler?: Partial<TaskScheduler> }).scheduler;
/** The platform's task scheduler, or null where there is none (WebKit, Node). */
const tasks = typeof found?.postTask === 'function' ? (found as TaskScheduler) : null;

let channel: MessageChannel | null = null;
const queue: (() => void)[] = [];
const nothing = (): void => undefined;

export function soon(): Promise<void> {
  if (tasks) return tasks.postTask(nothing, { priority: 'user-visible' });
  return new Promise((resolve) => {
    if (typeof MessageChannel === 'undefined') {
      setTimeout(resolve, 0);
      return;
    }
    if (!channel) {
      channel = new MessageChannel();
      channel.port1.onmessage = () => {
        const run = queue.splice(0, queue.length);
        for (const fn of run) fn();
      };
    }
    queue.push(resolve);
    if (queue.length === 1) channel.port2.postMessage(0);
  });
}
