// Node: the browser finder looks where the README says, in that order, and when it finds
// nothing says exactly how to get a browser.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { HOW_TO_GET_ONE, findChromium } from '../../scripts/chromium.mjs';

const node = process.execPath;
const here = process.execPath; // a file that exists, standing in for a browser binary

describe('findChromium', () => {
  it('prefers the environment variable, then a system Chromium, then Playwright\'s own', () => {
    expect(findChromium({ env: { TABVISOR_CHROMIUM: here }, candidates: [] })).toEqual({ path: here, source: 'env' });
    expect(findChromium({ env: {}, candidates: ['/nope', here] })).toEqual({ path: here, source: 'system' });
    expect(findChromium({ env: {}, candidates: ['/nope'], playwrightPath: () => here })).toEqual({ path: undefined, source: 'playwright' });
    expect(findChromium({ env: {}, candidates: [], playwrightPath: () => undefined })).toBeNull();
  });

  it('says what is wrong when the variable points nowhere', () => {
    expect(() => findChromium({ env: { TABVISOR_CHROMIUM: '/no/such/chromium' } })).toThrow(/points at \/no\/such\/chromium, which does not exist/);
  });

  it('the --check command exits 1 and prints how to get a browser', () => {
    let out = '';
    let code = 0;
    try {
      execFileSync(node, ['scripts/chromium.mjs', '--check'], { env: { ...process.env, TABVISOR_CHROMIUM: '/no/such/chromium' }, stdio: 'pipe', encoding: 'utf8' });
    } catch (err) {
      const e = err as { status: number; stderr: string };
      code = e.status;
      out = e.stderr;
    }
    expect(code).toBe(1);
    expect(out).toContain('apt-get install -y chromium');
    expect(out).toContain('npx playwright install chromium');
    expect(HOW_TO_GET_ONE).toContain('TABVISOR_CHROMIUM=');
  });
});
