// Dedicated worker that does nothing but say it is up: the platform's memory floor for one
// worker (bench/suites/scaling.ts), which every guest pays before any code of ours runs.
postMessage('ready');
