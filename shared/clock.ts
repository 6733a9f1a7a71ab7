// Runs on both sides of the boundary. The clock the hot loops read (dom0's ring loop, the
// ring worker's, a guest's completion pump, spin gauge and inter-domain channels, the
// integrity stamps). Tests that freeze it stub `performance.now` on the object (vi.spyOn),
// which this reference sees; replacing the global object would not reach it.
//
// Why a module of its own: in a Chromium worker the global `performance` is an accessor on
// WorkerGlobalScope.prototype, and reading it is a call into the browser each time. Measured
// in a dedicated worker and in a guest (Chromium 156, the sixth host, 2026-12-03, three
// runs): `performance.now()` 231–515 ns a call, `p.now()` with `p` read once 104–122 ns. The
// loops above read the clock once a turn or more, hundreds of thousands of times a second.
export const perf: Performance = performance;
