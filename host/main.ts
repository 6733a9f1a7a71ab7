// Runs on the host page's main thread (the control domain's console).
const status = document.getElementById('transport-status');
if (status) {
  const zeroCopy = typeof SharedArrayBuffer === 'function' && globalThis.crossOriginIsolated;
  status.dataset.transport = zeroCopy ? 'zero-copy' : 'copy';
  status.textContent = zeroCopy
    ? 'Cross-origin isolated: guests read shared blocks zero-copy.'
    : 'Not cross-origin isolated: SharedArrayBuffer is unavailable, so guests use the copy transport.';
}
