// Runs on the main thread of embed/widget.html: the compact console for iframe embeds.
// Whether it gets shared memory is decided by the embedding page, not by us: the frame
// is cross-origin isolated only when the top-level page is (COOP+COEP) and grants
// allow="cross-origin-isolated". Otherwise the hypervisor detects it and runs on the
// copy transport, and the console shows a banner saying so, with a full-tab link
// (opened top-level, this same page is isolated by our own headers).
import { ConsoleApp } from './console-app';

const root = document.getElementById('console');
if (!root) throw new Error('widget.html has no #console element');
const params = new URLSearchParams(location.search);
const fullTab = new URL(location.href);
fullTab.searchParams.delete('handover');
window.__tabvisor = await ConsoleApp.mount(root, {
  poolName: params.get('pool') ?? 'tabvisor-widget',
  compact: true,
  // Only worth offering when we are framed: top-level, the link would open this very page.
  ...(window.top !== window ? { fullTabHref: fullTab.href } : {}),
  // Opened by a frame's "open in its own tab": take the frame's pool over (console-app.ts).
  handover: params.get('handover') === '1',
  arenaFrames: 256,
});
