// Real Chromium: a console card's file list, filled from what its guest answers. The guest is
// not trusted, so whatever its list() gives back (or a refusal), the card's `listed` settles
// (the story's boot step waits on it) and its chooser holds only names that are strings.
import { describe, expect, test } from 'vitest';
import type { TarGuestApi } from '../../guest/workloads/tar-guest';
import { GuestCard } from '../../host/console/guest-card';
import type { GuestHandle } from '../../host/page/hypervisor';

/** A stand-in for a running guest whose list() answers `answer` (resolving, or rejecting with it when `reject`). */
function fakeGuest(answer: unknown, reject = false): GuestHandle<TarGuestApi> {
  const api = {
    attachConsole: () => Promise.resolve(),
    list: () => (reject ? Promise.reject(answer) : Promise.resolve(answer)),
  };
  // Only what GuestCard touches: a whole GuestHandle needs a hypervisor and a worker.
  return { id: 7, dataset: 'image/vm-1', transport: 'zero-copy', state: 'running', fault: null, endReason: null, api } as unknown as GuestHandle<TarGuestApi>;
}

const hooks = { kill: () => Promise.resolve(), dismiss: () => undefined, log: () => undefined };

async function listedCard(answer: unknown, reject = false): Promise<GuestCard> {
  const card = new GuestCard(fakeGuest(answer, reject), 'vm-1', '', hooks);
  document.body.append(card.root);
  await card.listed;
  return card;
}

function options(card: GuestCard): string[] {
  return [...card.root.querySelectorAll('select[aria-label="File to edit"] option')].map((o) => o.textContent ?? '');
}

describe('a card lists what its guest answers, and settles whatever that is', () => {
  test('a well-formed listing fills the chooser and says how many', async () => {
    const card = await listedCard([{ name: 'etc/motd', size: 3 }, { name: 'usr/bin/sh', size: 9 }]);
    expect(options(card)).toEqual(['etc/motd', 'usr/bin/sh']);
    expect(card.root.dataset.files).toBe('2');
  });

  test.each([
    ['a refusal', new Error('no image'), true],
    ['not an array', { length: 3, 0: { name: 'x' } }, false],
    ['null', null, false],
    ['a string', 'etc/passwd', false],
  ])('%s: an empty chooser, and listed settles', async (_what, answer, reject) => {
    const card = await listedCard(answer, reject);
    expect(options(card)).toEqual([]);
    expect(card.root.dataset.files).toBe('0');
  });

  test('entries without a string name are left out; names are text, never markup', async () => {
    const card = await listedCard([null, 5, { name: 42 }, { size: 1 }, { name: '<img src=x onerror=alert(1)>' }, { name: 'ok.txt' }]);
    expect(options(card)).toEqual(['<img src=x onerror=alert(1)>', 'ok.txt']);
    expect(card.root.querySelector('img')).toBeNull();
    expect(card.root.dataset.files).toBe('2');
  });
});
