// Runs on the main thread of any page that bundles Tabvisor: the <tabvisor-console>
// custom element, a full console in the page's own DOM.
//
//   <script type="module" src="…/embed/tabvisor-console.ts"></script>
//   <tabvisor-console pool="docs-demo" compact></tabvisor-console>
//
// Attributes (read once, when the element is first connected): `pool` (IndexedDB name,
// default "tabvisor-element"), `compact` (the widget's layout), `arena-frames`.
// Zero-copy needs the *page* to be cross-origin isolated (COOP+COEP, docs/embedding.md);
// otherwise it runs on the copy transport and says so. One console per document.
import { ConsoleApp } from './console-app';
import './console.css';

export class TabvisorConsoleElement extends HTMLElement {
  app: ConsoleApp | null = null;
  private starting: Promise<ConsoleApp> | null = null;

  connectedCallback(): void {
    this.starting ??= ConsoleApp.mount(this, {
      poolName: this.getAttribute('pool') ?? 'tabvisor-element',
      compact: this.hasAttribute('compact'),
      arenaFrames: Number(this.getAttribute('arena-frames')) || 256,
    }).then((app) => {
      this.app = app;
      this.dispatchEvent(new CustomEvent('tabvisor-ready', { bubbles: true }));
      return app;
    });
  }

  /** Resolves with the console once its hypervisor is running. */
  get ready(): Promise<ConsoleApp> {
    return this.starting ?? Promise.reject(new Error('<tabvisor-console> is not connected'));
  }
}

if (!customElements.get('tabvisor-console')) customElements.define('tabvisor-console', TabvisorConsoleElement);

declare global {
  interface HTMLElementTagNameMap {
    'tabvisor-console': TabvisorConsoleElement;
  }
}
