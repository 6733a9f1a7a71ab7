// Runs on the console's main thread. A tiny element builder, so views stay plain DOM
// without a framework: h('button', { type: 'button', onclick }, 'Kill').
type Attrs = Record<string, string | number | boolean | null | undefined | ((ev: Event) => void)>;
type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children) if (c) el.append(c);
  return el;
}

/** Set text only when it changed: polling views redraw often, the DOM should not churn. */
export function setText(el: Element, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10 * 1024 ? 1 : 0)} KiB`;
  return `${(n / 1024 / 1024).toFixed(n < 10 * 1024 * 1024 ? 2 : 1)} MiB`;
}

/** A stable, distinguishable colour for a small integer (domain ids, frame owners). */
export function hue(n: number): string {
  return `hsl(${(n * 137.508) % 360} 65% 50%)`;
}

/**
 * One legend entry: the swatch and its words in one box, so a wrapping legend never leaves
 * a swatch at the end of one line and its meaning at the start of the next.
 */
export function legendKey(swatch: string, label: string): HTMLSpanElement {
  return h('span', { class: 'key' }, h('span', { class: `sw ${swatch}` }), label);
}

/** A legend paragraph; spaces between entries keep its text (and a screen reader's) in words. */
export function legend(...entries: (Node | string)[]): HTMLParagraphElement {
  return h('p', { class: 'legend' }, ...entries.flatMap((e, i) => (i === 0 ? [e] : [' ', e])));
}

/** Children for replaceChildren(), dropping the null/false placeholders of optional parts. */
export function nodes(...children: Child[]): (Node | string)[] {
  return children.filter((c): c is Node | string => !!c);
}
