// @ts-check
// Runs in Node (bench/run.mjs) and in the chart page. The scaling curves: each line is a
// metric per x value, named by `key(x)`, so every point is an ordinary metric (and gets a
// median and spread over runs like any other). Points a run did not measure (quick mode
// measures fewer) are left out.

/** @typedef {{ label: string, key: (x: number) => string }} Line */
/** @typedef {{ name: string, title: string, xLabel: string, unit: string, x: number[], lines: Line[] }} Series */

export const GUEST_COUNTS = [1, 2, 4, 8, 16, 32];
export const VOLUME_MIB = [16, 64, 256, 1024];
export const WORKING_SET_X = [0.5, 1, 2, 4];
const ws = (/** @type {number} */ x) => String(x).replace('.', 'p');

/** @type {Series[]} */
export const SERIES = [
  {
    name: 'guests_memory', title: 'Guests reading one 64 MiB image: memory', xLabel: 'guests', unit: 'bytes', x: GUEST_COUNTS,
    lines: [
      { label: 'total memory', key: (x) => `scale_guests_${x}_memory_bytes` },
      { label: 'per added guest', key: (x) => `scale_guests_${x}_per_added_bytes` },
    ],
  },
  {
    name: 'guests_reads', title: 'Guests reading one 64 MiB image: aggregate cached reads/s', xLabel: 'guests', unit: 'reads/s', x: GUEST_COUNTS,
    lines: [{ label: 'reads/s, all guests', key: (x) => `scale_guests_${x}_reads_per_s` }],
  },
  {
    name: 'volume_mb_s', title: 'Volume size: import and cold read', xLabel: 'MiB', unit: 'MB/s', x: VOLUME_MIB,
    lines: [
      { label: 'import', key: (x) => `scale_volume_${x}m_import_mb_s` },
      { label: 'cold read', key: (x) => `scale_volume_${x}m_cold_read_mb_s` },
    ],
  },
  {
    name: 'volume_open', title: 'Volume size: pool open time', xLabel: 'MiB', unit: 'ms', x: VOLUME_MIB,
    lines: [{ label: 'Pool.open', key: (x) => `scale_volume_${x}m_open_ms` }],
  },
  {
    name: 'volume_metadata', title: 'Volume size: pool metadata in memory per GiB of volume', xLabel: 'MiB', unit: 'bytes', x: VOLUME_MIB,
    lines: [{ label: 'metadata bytes per GiB', key: (x) => `scale_volume_${x}m_metadata_bytes_per_gib` }],
  },
  {
    name: 'ws_hit', title: 'Working set ÷ arena: hit rate', xLabel: 'working set ÷ arena', unit: 'ratio', x: WORKING_SET_X,
    lines: [
      { label: '1 guest', key: (x) => `scale_ws_${ws(x)}x_1g_hit_rate` },
      { label: '4 guests', key: (x) => `scale_ws_${ws(x)}x_4g_hit_rate` },
    ],
  },
  {
    name: 'ws_reads', title: 'Working set ÷ arena: reads/s', xLabel: 'working set ÷ arena', unit: 'reads/s', x: WORKING_SET_X,
    lines: [
      { label: '1 guest', key: (x) => `scale_ws_${ws(x)}x_1g_reads_per_s` },
      { label: '4 guests', key: (x) => `scale_ws_${ws(x)}x_4g_reads_per_s` },
    ],
  },
  {
    name: 'ws_evictions', title: 'Working set ÷ arena: evictions/s', xLabel: 'working set ÷ arena', unit: 'evictions/s', x: WORKING_SET_X,
    lines: [
      { label: '1 guest', key: (x) => `scale_ws_${ws(x)}x_1g_evictions_per_s` },
      { label: '4 guests', key: (x) => `scale_ws_${ws(x)}x_4g_evictions_per_s` },
    ],
  },
];

/** The metric key of a working-set point (shared with the suite). @param {number} x @param {number} guests @param {string} what */
export function wsKey(x, guests, what) {
  return `scale_ws_${ws(x)}x_${guests}g_${what}`;
}
