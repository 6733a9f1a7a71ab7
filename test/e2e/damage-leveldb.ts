// Runs in Node (Playwright specs). Damages Chromium's IndexedDB files in a profile the way
// a torn write would: bytes flipped in LevelDB's write-ahead logs, so their records no
// longer match their checksums. Chromium then deletes the site's IndexedDB on the next
// open and reports `dataLoss: 'total'` (measured, Chromium 156).
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    try {
      return statSync(p).isDirectory() ? files(p) : [p];
    } catch {
      return []; // a lock file going away meanwhile
    }
  });
}

/** Flip bytes in every IndexedDB LevelDB log under `profile`; returns how many files. */
export function damageIndexedDbLogs(profile: string): number {
  const logs = files(profile).filter((p) => p.includes('IndexedDB') && /\d+\.log$/.test(p));
  for (const f of logs) {
    const b = readFileSync(f);
    for (let i = 100; i < b.length; i += 997) b[i] = (b[i] ?? 0) ^ 0xff;
    writeFileSync(f, b);
  }
  return logs.length;
}
