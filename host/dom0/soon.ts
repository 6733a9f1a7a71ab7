// Runs in any realm. A macrotask that comes sooner than setTimeout(0) (which browsers clamp
// to ≥ 4 ms once nested): a MessageChannel message. Used to gather a batch of requests
// before one pool read or one commit, and to let IndexedDB events run between ring batches.
let channel: MessageChannel | null = null;
const queue: (() => void)[] = [];

export function soon(): Promise<void> {
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
