// Runs in the benchmark page (main thread of a cross-origin-isolated page). Runs every
// suite in turn and leaves the results on `window.__tabvisorBench` for bench/run.mjs.
// A suite that fails is recorded with its error; the others still run.
import { runMemory, runReads, runStream } from './suites/hypervisor';
import { run as runLimits } from './suites/limits';
import { run as runChecksum } from './suites/checksum';
import { run as runScaling } from './suites/scaling';
import { run as runPool } from './suites/pool';
import { run as runCompact } from './suites/compact';
import { run as runCleaning } from './suites/cleaning';
import { run as runReliability } from './suites/reliability';
import { run as runArchive } from './suites/archive';
import { run as runIdc } from './suites/idc';
import { run as runReadsUnderImport } from './suites/reads-under-import';

type Metrics = Record<string, { value: number; unit: string }>;
interface BenchState {
  done: boolean;
  metrics: Metrics;
  errors: { suite: string; error: string }[];
  log: string[];
  seconds: Record<string, number>;
}

const params = new URLSearchParams(location.search);
const quick = params.has('quick');
/** `--only reads,scaling:guests+ws`: suites to run, a suite's parts after a colon (scaling only). */
const only = params.get('only')?.split(',').map((o) => o.split(':')) ?? null;
const partsOf = (suite: string): string[] | undefined => only?.find(([name]) => name === suite)?.[1]?.split('+');
const state: BenchState = { done: false, metrics: {}, errors: [], log: [], seconds: {} };
(window as unknown as { __tabvisorBench: BenchState }).__tabvisorBench = state;

const logEl = document.getElementById('log')!;
const stateEl = document.getElementById('state')!;
const tPage = performance.now();
// Each line carries the seconds since the page started, so a run's log shows where its time goes.
const log = (line: string): void => {
  const stamped = `${((performance.now() - tPage) / 1000).toFixed(1).padStart(6)} s  ${line}`;
  state.log.push(stamped);
  logEl.textContent += `${stamped}\n`;
};

const suites: [string, () => Promise<Metrics>][] = [
  ['limits', () => runLimits({ quick })],
  ['reads', () => runReads({ quick, log })],
  ['stream', () => runStream({ quick, log })],
  ['memory', () => runMemory({ quick, log })],
  ['pool', () => runPool({ quick, log })],
  ['compact', () => runCompact({ quick, log })],
  ['checksum', () => runChecksum({ quick })],
  ['scaling', () => {
    const parts = partsOf('scaling');
    return runScaling({ quick, log, ...(parts ? { parts } : {}) });
  }],
  ['cleaning', () => runCleaning({ quick })],
  ['reliability', () => runReliability({ quick })],
  ['archive', () => runArchive({ quick, log })],
  ['idc', () => runIdc({ quick, log })],
  ['busy', () => runReadsUnderImport({ quick, log })],
];

for (const [name, run] of suites) {
  if (only && !only.some(([o]) => o === name)) continue;
  stateEl.textContent = `running ${name}…`;
  log(`== ${name}`);
  const t0 = performance.now();
  try {
    Object.assign(state.metrics, await run());
  } catch (err) {
    const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    state.errors.push({ suite: name, error: text });
    log(`!! ${name} failed: ${text}`);
  }
  state.seconds[name] = (performance.now() - t0) / 1000;
}
stateEl.textContent = state.errors.length ? `done, ${state.errors.length} suite(s) failed` : 'done';
state.done = true;
