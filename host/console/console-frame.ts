// Runs on the console's main thread. Makes a guest's console: a sandboxed iframe with an
// opaque origin (sandbox="allow-scripts", no allow-same-origin), the strongest isolation
// a DOM can get, connected to the guest's worker by a MessagePort. An opaque frame cannot
// import our modules (module scripts are fetched with CORS and it sends `Origin: null`),
// so its whole program is the source text below, shipped in `srcdoc` — the same trick as
// frameProbeResponderSource in shared/transport-probe.ts.
//
// Handshake: the frame posts { tag: READY } to its parent; the host answers with the port,
// addressed to '*' because an opaque origin cannot be named. The port leads only to this
// guest's shell, and the frame checks that the port came from its parent.
export const CONSOLE_TAG = {
  ready: 'tabvisor:console-ready',
  port: 'tabvisor:console-port',
} as const;

/** The frame's program. Self-contained: no reference to anything outside the function. */
function consoleProgram(): void {
  const log = document.getElementById('log') as HTMLElement;
  const form = document.getElementById('form') as HTMLFormElement;
  const input = document.getElementById('cmd') as HTMLInputElement;
  let port: MessagePort | null = null;
  const history: string[] = [];
  let back = 0;
  const append = (text: string, kind: string): void => {
    const line = document.createElement('div');
    line.className = kind;
    line.textContent = text;
    log.append(line);
    while (log.childElementCount > 400) log.firstElementChild?.remove();
    log.scrollTop = log.scrollHeight;
  };
  addEventListener('message', (ev: MessageEvent) => {
    if (ev.source !== parent || port || ev.data?.tag !== 'tabvisor:console-port' || !ev.ports[0]) return;
    port = ev.ports[0];
    port.onmessage = (m: MessageEvent) => append(String(m.data?.text ?? ''), String(m.data?.kind ?? 'out'));
    input.disabled = false;
  });
  // Enter is handled by hand: a sandbox without allow-forms never fires `submit`.
  form.addEventListener('submit', (ev) => ev.preventDefault());
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter') {
      ev.preventDefault();
      const line = input.value;
      if (!line.trim() || !port) return;
      history.push(line);
      back = history.length;
      port.postMessage({ tag: 'cmd', line });
      input.value = '';
      return;
    }
    if (ev.key !== 'ArrowUp' && ev.key !== 'ArrowDown') return;
    back = Math.max(0, Math.min(history.length, back + (ev.key === 'ArrowUp' ? -1 : 1)));
    input.value = history[back] ?? '';
    ev.preventDefault();
  });
  parent.postMessage({ tag: 'tabvisor:console-ready' }, '*');
}

export function consoleSrcdoc(label: string): string {
  const esc = label.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc}</title><style>
:root{color-scheme:dark}body{margin:0;font:12px/1.35 ui-monospace,monospace;background:#0b1020;color:#d7e0ff;display:flex;flex-direction:column;height:100vh}
#log{flex:1;overflow:auto;padding:6px 8px;white-space:pre-wrap;word-break:break-all}
.echo{color:#8fb3ff}.err{color:#ff9c9c}
form{display:flex;border-top:1px solid #334}label{padding:4px 6px;color:#8fb3ff}
input{flex:1;background:transparent;color:inherit;border:0;font:inherit;padding:4px}
input:focus{outline:2px solid #8fb3ff;outline-offset:-2px}
</style></head><body>
<div id="log" role="log" aria-live="polite" aria-label="${esc} output"></div>
<form id="form"><label for="cmd">$</label><input id="cmd" autocomplete="off" spellcheck="false" disabled aria-label="Command for ${esc}"></form>
<script>(${consoleProgram.toString()})()</script></body></html>`;
}

/**
 * Create the frame and connect it to `port` once it is ready. Returns the iframe at once
 * (insert it into the document; the handshake completes after it loads).
 */
export function createConsoleFrame(label: string, port: MessagePort): HTMLIFrameElement {
  const frame = document.createElement('iframe');
  frame.setAttribute('sandbox', 'allow-scripts');
  frame.title = label;
  frame.className = 'guest-console';
  frame.srcdoc = consoleSrcdoc(label);
  const onMessage = (ev: MessageEvent): void => {
    if (ev.source !== frame.contentWindow || (ev.data as { tag?: unknown })?.tag !== CONSOLE_TAG.ready) return;
    removeEventListener('message', onMessage);
    frame.contentWindow?.postMessage({ tag: CONSOLE_TAG.port }, '*', [port]);
  };
  addEventListener('message', onMessage);
  return frame;
}
