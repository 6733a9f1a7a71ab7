// Runs on the isolation matrix page (host side, main thread). For each kind of guest
// context: start it, wait for its probe responder, run the real transport probe
// (shared/transport-probe.ts) and record what happened to the SharedArrayBuffer. The
// result is shown as a table and left on `window.__isolationMatrix` for the spec.
import type { Endpoint } from 'comlink';
import { windowTransport, type Transport } from '../../../shared/transport';
import {
  checkHostCapability,
  frameProbeResponderSource,
  probeTransport,
  waitForProbeResponder,
  type GuestContextReport,
  type ProbeResult,
} from '../../../shared/transport-probe';
import { CONTEXTS, EXPECTED, type ContextId, type SabOutcome } from './isolation-expected';

// Compile-time check that a Transport is a comlink Endpoint (STYLE.md: one interface,
// comlink runs over any adapter).
const asComlinkEndpoint = (t: Transport): Endpoint => t;
void asComlinkEndpoint;

export interface MatrixRow {
  readonly id: ContextId;
  readonly label: string;
  readonly outcome: SabOutcome;
  readonly probe: ProbeResult | null;
  readonly guest: GuestContextReport | null;
  readonly error: string | null;
}

export interface MatrixReport {
  readonly page: {
    readonly origin: string;
    readonly crossOriginIsolated: boolean;
    readonly sharedArrayBuffer: string; // typeof SharedArrayBuffer
    readonly userAgent: string;
    readonly hostCapability: ProbeResult | null;
  };
  readonly rows: readonly MatrixRow[];
}

declare global {
  interface Window {
    __isolationMatrix?: Promise<MatrixReport>;
  }
}

const RESPONDER_TIMEOUT_MS = 8_000;

function outcomeOf(probe: ProbeResult): SabOutcome {
  if (probe.kind === 'zero-copy') return 'received';
  if (probe.cause === 'guest-messageerror') return 'messageerror';
  if (probe.cause === 'guest-timeout') return 'timeout';
  return 'other';
}

async function probeRow(id: ContextId, start: () => Promise<Transport>): Promise<MatrixRow> {
  const label = CONTEXTS.find((c) => c.id === id)?.label ?? id;
  try {
    const endpoint = await start();
    const probe = await probeTransport(endpoint);
    return { id, label, outcome: outcomeOf(probe), probe, guest: probe.guest ?? null, error: null };
  } catch (err: unknown) {
    return { id, label, outcome: 'timeout', probe: null, guest: null, error: err instanceof Error ? err.message : String(err) };
  }
}

function otherLoopbackOrigin(): string {
  const other = location.hostname === '127.0.0.1' ? 'localhost' : '127.0.0.1';
  return `${location.protocol}//${other}:${location.port}`;
}

/** Insert a frame and return its transport once its responder has announced itself. */
function frame(attrs: Record<string, string>, targetOrigin: string): () => Promise<Transport> {
  return async () => {
    const el = document.createElement('iframe');
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    document.getElementById('frames')?.append(el);
    const win = el.contentWindow;
    if (!win) throw new Error('iframe has no contentWindow');
    const endpoint = windowTransport(win, targetOrigin);
    // Listening starts in the same task as the insertion, before the frame can run.
    await waitForProbeResponder(endpoint, RESPONDER_TIMEOUT_MS);
    return endpoint;
  };
}

function worker(url: URL): () => Promise<Transport> {
  // A worker queues messages until its script has run: no need to wait for `ready`.
  return () => Promise.resolve(new Worker(url, { type: 'module' }));
}

async function run(): Promise<MatrixReport> {
  const frameUrl = new URL('./isolation-frame.html', import.meta.url);
  const crossOrigin = otherLoopbackOrigin();
  const crossOriginFrameUrl = new URL(frameUrl.pathname, crossOrigin);
  const starters: Record<ContextId, () => Promise<Transport>> = {
    'worker': worker(new URL('./isolation-worker.ts', import.meta.url)),
    'hardened-worker': worker(new URL('../../../guest/bootstrap.ts', import.meta.url)),
    'same-origin-iframe': frame({ src: frameUrl.href }, location.origin),
    'sandboxed-opaque-iframe': frame(
      { sandbox: 'allow-scripts', srcdoc: `<p style="font:12px system-ui">opaque-origin guest frame</p><script>${frameProbeResponderSource()}</script>` },
      '*', // an opaque origin cannot be named as a target origin
    ),
    'sandboxed-opaque-coi-iframe': frame(
      { sandbox: 'allow-scripts', allow: 'cross-origin-isolated', srcdoc: `<p style="font:12px system-ui">opaque-origin guest frame, cross-origin-isolated allowed</p><script>${frameProbeResponderSource()}</script>` },
      '*',
    ),
    'sandboxed-same-origin-iframe': frame({ sandbox: 'allow-scripts allow-same-origin', src: frameUrl.href }, location.origin),
    'cross-origin-iframe': frame({ src: crossOriginFrameUrl.href, allow: 'cross-origin-isolated' }, crossOrigin),
  };
  const rows = await Promise.all(CONTEXTS.map(({ id }) => probeRow(id, starters[id])));
  return {
    page: {
      origin: location.origin,
      crossOriginIsolated,
      sharedArrayBuffer: typeof SharedArrayBuffer,
      userAgent: navigator.userAgent,
      hostCapability: checkHostCapability(),
    },
    rows,
  };
}

function render(report: MatrixReport): void {
  const facts = document.getElementById('page-facts');
  if (facts) {
    facts.textContent =
      `page ${report.page.origin} · crossOriginIsolated=${String(report.page.crossOriginIsolated)} · ` +
      `typeof SharedArrayBuffer=${report.page.sharedArrayBuffer} · ${report.page.userAgent}`;
  }
  const body = document.getElementById('rows');
  if (!body) return;
  for (const row of report.rows) {
    const tr = document.createElement('tr');
    const expected = EXPECTED[row.id];
    const cell = (text: string, cls?: string): HTMLTableCellElement => {
      const td = document.createElement('td');
      td.textContent = text;
      if (cls) td.className = cls;
      return td;
    };
    const decision = cell(row.probe ? row.probe.kind : 'no probe');
    const reason = document.createElement('div');
    reason.className = 'reason';
    reason.textContent = row.probe?.reason ?? row.error ?? '';
    decision.append(reason);
    const guest = row.guest
      ? `${row.guest.origin} · isolated=${String(row.guest.crossOriginIsolated)} · SAB=${String(row.guest.hasSharedArrayBuffer)}`
      : '—';
    tr.append(cell(row.label), cell(expected), cell(row.outcome, row.outcome === expected ? 'ok' : 'bad'), decision, cell(guest));
    body.append(tr);
  }
  document.body.dataset.done = 'true';
}

window.__isolationMatrix = run().then((report) => {
  render(report);
  return report;
});
