// Runs in Node, checked by the type checker (`npm run typecheck` covers tests): the
// Hypervisor's public surface is the facades, nothing of comlink or dom0's RPC object
// shows through, and callbacks are plain functions.
import { describe, expectTypeOf, it } from 'vitest';
import type { Remote } from 'comlink';
import type { GuestHandle, GuestsApi, Hypervisor, SpawnOptions } from '../../host/page/hypervisor';
import type { ArchiveApi, IntegrityApi, MemoryApi, MirrorApi, PoolApi } from '../../host/page/facades';
import type { DatasetInfo, ImportProgress } from '../../host/pool';
import type { ArchiveProgress } from '../../host/archive/pool-archive';

describe('the Hypervisor surface', () => {
  it('is the facades plus transport, storage, the fault and end hooks and abort; no dom0, no plumbing', () => {
    expectTypeOf<keyof Hypervisor>().toEqualTypeOf<
      'pool' | 'guests' | 'archive' | 'mirror' | 'integrity' | 'memory' | 'channels' | 'hostTransport' | 'storage' | 'onGuestFault' | 'onGuestEnded' | 'shutdown' | 'abort' | 'dom0Gone'
    >();
    expectTypeOf<Hypervisor['pool']>().toEqualTypeOf<PoolApi>();
    expectTypeOf<Hypervisor['guests']>().toEqualTypeOf<GuestsApi>();
    expectTypeOf<Hypervisor['archive']>().toEqualTypeOf<ArchiveApi>();
    expectTypeOf<Hypervisor['mirror']>().toEqualTypeOf<MirrorApi>();
    expectTypeOf<Hypervisor['integrity']>().toEqualTypeOf<IntegrityApi>();
    expectTypeOf<Hypervisor['memory']>().toEqualTypeOf<MemoryApi>();
  });

  it('names verbs on nouns', () => {
    expectTypeOf<keyof PoolApi>().toEqualTypeOf<'import' | 'create' | 'export' | 'snapshot' | 'clone' | 'destroy' | 'list' | 'stats' | 'ownership' | 'fsck' | 'compact'>();
    expectTypeOf<keyof GuestsApi>().toEqualTypeOf<'spawn' | 'list' | 'get' | 'kill'>();
    expectTypeOf<keyof ArchiveApi>().toEqualTypeOf<'save' | 'restore' | 'clean' | 'tier' | 'stats' | 'destroy'>();
    expectTypeOf<keyof MirrorApi>().toEqualTypeOf<'start' | 'stop' | 'stats' | 'drained'>();
    expectTypeOf<keyof IntegrityApi>().toEqualTypeOf<'scrub' | 'stats'>();
    expectTypeOf<keyof MemoryApi>().toEqualTypeOf<'frames' | 'pageMap'>();
  });

  it('returns promises of plain values, and takes progress as a plain function', () => {
    expectTypeOf<PoolApi['import']>().parameter(2).toEqualTypeOf<
      { blockSize?: number; group?: string; onProgress?: (p: ImportProgress) => void; transfer?: boolean } | undefined
    >();
    expectTypeOf<PoolApi['import']>().returns.toEqualTypeOf<Promise<DatasetInfo>>();
    expectTypeOf<NonNullable<Parameters<ArchiveApi['save']>[1]>['onProgress']>().toEqualTypeOf<((p: ArchiveProgress) => void) | undefined>();
    expectTypeOf<PoolApi['list']>().returns.toEqualTypeOf<Promise<DatasetInfo[]>>();
    // Every facade method is async: no method of any facade returns a non-promise.
    type Returns<T> = { [K in keyof T]: T[K] extends (...a: never[]) => infer R ? R : never }[keyof T];
    expectTypeOf<Returns<PoolApi>>().toExtend<Promise<unknown>>();
    expectTypeOf<Returns<ArchiveApi>>().toExtend<Promise<unknown>>();
    expectTypeOf<Returns<MirrorApi>>().toExtend<Promise<unknown>>();
    expectTypeOf<Returns<IntegrityApi>>().toExtend<Promise<unknown>>();
    expectTypeOf<Returns<MemoryApi>>().toExtend<Promise<unknown>>();
    expectTypeOf<Returns<Pick<GuestsApi, 'spawn' | 'kill'>>>().toExtend<Promise<unknown>>();
  });

  it('spawns typed guests; their API is comlink-typed (the guest module is the caller’s own)', () => {
    expectTypeOf<GuestsApi['spawn']>().toBeCallableWith({ base: 'img@base', module: 'x.ts' } satisfies SpawnOptions);
    interface Api {
      hello(): string;
    }
    expectTypeOf<GuestHandle<Api>['api']>().toEqualTypeOf<Remote<Api>>();
  });
});
