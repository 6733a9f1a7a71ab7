// Runs on the console's main thread. Says why this console has no shared memory or no
// saved pool, case by case, in words a page author can act on: the page lacks COOP/COEP,
// the iframe lacks allow="cross-origin-isolated", the browser has no SharedArrayBuffer,
// or the browser refused storage to a frame from another site.
import type { TransportKind } from '../../shared/transport';
import type { PoolStorage } from '../dom0/pool-storage';

export type DiagnosisKind = 'headers-missing' | 'embedder-headers-missing' | 'allow-missing' | 'isolation-unknown' | 'no-sab' | 'copy-forced' | 'storage-refused';

export interface Diagnosis {
  kind: DiagnosisKind;
  title: string;
  detail: string;
}

/** What the page can observe about where it runs; a parameter so tests can feed each case. */
export interface EmbeddingFacts {
  framed: boolean;
  crossOriginIsolated: boolean;
  hasSharedArrayBuffer: boolean;
  /** Whether the permissions policy grants cross-origin-isolated to this document (null: the browser cannot say). */
  isolationAllowed: boolean | null;
  /** The embedder's own isolation when it is same-origin and readable (null: cannot know). */
  parentIsolated: boolean | null;
}

export function observeEmbedding(): EmbeddingFacts {
  const framed = window.top !== window;
  type PolicyDoc = Document & { featurePolicy?: { allowsFeature(f: string): boolean }; permissionsPolicy?: { allowsFeature(f: string): boolean } };
  const policy = (document as PolicyDoc).permissionsPolicy ?? (document as PolicyDoc).featurePolicy;
  let isolationAllowed: boolean | null = null;
  try {
    isolationAllowed = policy ? policy.allowsFeature('cross-origin-isolated') : null;
  } catch {
    isolationAllowed = null;
  }
  let parentIsolated: boolean | null = null;
  try {
    parentIsolated = framed ? (window.parent as Window & typeof globalThis).crossOriginIsolated : null;
  } catch {
    parentIsolated = null; // a cross-origin parent: its state is not ours to read
  }
  return { framed, crossOriginIsolated: globalThis.crossOriginIsolated === true, hasSharedArrayBuffer: typeof SharedArrayBuffer === 'function', isolationAllowed, parentIsolated };
}

export function diagnose(transport: TransportKind, storage: PoolStorage, f: EmbeddingFacts): Diagnosis[] {
  const out: Diagnosis[] = [];
  if (transport === 'copy') {
    const copy = ' Everything still works, but every block a guest reads is copied to it instead of shared.';
    if (f.crossOriginIsolated && !f.hasSharedArrayBuffer) {
      out.push({ kind: 'no-sab', title: 'This browser has no SharedArrayBuffer.', detail: `The page is cross-origin isolated, but the browser does not offer shared memory.${copy}` });
    } else if (f.crossOriginIsolated) {
      out.push({ kind: 'copy-forced', title: 'Running on the copy transport.', detail: `The page could share memory; the copy transport was chosen by configuration.${copy}` });
    } else if (!f.framed) {
      out.push({
        kind: 'headers-missing',
        title: 'This page is not cross-origin isolated.',
        detail: `Its server does not send Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp, so the browser withholds SharedArrayBuffer.${copy}`,
      });
    } else if (f.isolationAllowed === false) {
      out.push({
        kind: 'allow-missing',
        title: 'The iframe lacks allow="cross-origin-isolated".',
        detail: `The embedding page${f.parentIsolated ? ' is isolated but' : ''} does not grant this frame cross-origin isolation: add allow="cross-origin-isolated" to the <iframe>${f.parentIsolated === true ? '' : ' (and COOP/COEP to the embedding page, if it does not send them)'}.${copy}`,
      });
    } else if (f.isolationAllowed === true || f.parentIsolated === false) {
      out.push({
        kind: 'embedder-headers-missing',
        title: 'The page embedding this console is not cross-origin isolated.',
        detail: `The frame is allowed isolation, but the embedding page is served without COOP/COEP headers, so the browser withholds SharedArrayBuffer.${copy}`,
      });
    } else {
      out.push({
        kind: 'isolation-unknown',
        title: 'This embedded console is not cross-origin isolated.',
        detail: `Either the embedding page lacks COOP/COEP headers or its <iframe> lacks allow="cross-origin-isolated" (this browser does not say which).${copy}`,
      });
    }
  }
  if (storage.kind === 'memory') {
    out.push({
      kind: 'storage-refused',
      title: 'Nothing is saved.',
      detail: `${storage.reason.charAt(0).toUpperCase()}${storage.reason.slice(1)}. Browsers that block third-party storage do this to a console framed from another site; the pool lives in memory until you leave.`,
    });
  }
  return out;
}

export function diagnoseEmbedding(transport: TransportKind, storage: PoolStorage): Diagnosis[] {
  return diagnose(transport, storage, observeEmbedding());
}
