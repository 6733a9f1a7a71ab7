// Runs in the browser project's page. What a pool test file needs around each test: fresh
// database names, pools opened on them, and both closed and deleted after every test (an
// `afterEach` this registers in the file that calls it).
import { afterEach } from 'vitest';
import { Pool } from '../../host/pool';
import { deleteDatabase } from './idb';

export function poolFixture(prefix: string, defaults: Parameters<typeof Pool.open>[1] = {}): {
  newName: () => string;
  open: (name: string, opts?: Parameters<typeof Pool.open>[1]) => Promise<Pool>;
} {
  const opened: Pool[] = [];
  const names: string[] = [];
  afterEach(async () => {
    for (const p of opened.splice(0)) p.close();
    for (const n of names.splice(0)) await deleteDatabase(n);
  });
  return {
    newName: () => {
      const n = `${prefix}-${crypto.randomUUID()}`;
      names.push(n);
      return n;
    },
    open: async (name, opts = {}) => {
      const p = await Pool.open(name, { ...defaults, ...opts });
      opened.push(p);
      return p;
    },
  };
}
