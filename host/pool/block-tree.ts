// Runs wherever the pool runs. Copy-on-write block trees with reference-counted nodes
// (Rodeh, "B-trees, shadowing, and clones", 2008): a snapshot or clone shares the root and
// costs one refcount increment; the first write below a shared node copies that node and
// increments its children, so sharing is undone one path at a time and only where written.
import { slotAt } from './tree-math';
import type { PoolState } from './state';
import type { DatasetRecord, NodeRecord } from './schema';

/** Chunk id at `lba` (0 = hole). Pure lookup, no copy. */
export function lookup(state: PoolState, ds: DatasetRecord, lba: number): number {
  let id = ds.root;
  for (let level = ds.levels - 1; id !== 0; level--) {
    const n = state.nodes.get(id);
    if (!n) throw new Error(`pool invariant broken: tree node ${id} missing`);
    id = n.ptrs[slotAt(lba, level)]!;
    if (level === 0) return id;
  }
  return 0;
}

/**
 * Both of the lookups below in one walk, for dom0's serving path: the chunk id at `lba`
 * (0 = hole), negated when the block is not this dataset's alone: some node on its path or the chunk
 * itself has another reference (a snapshot, a clone, a deduplicated block). dom0 keeps such
 * a block out of the trust group's shared arena only when it is alone.
 */
export function lookupOwned(state: PoolState, ds: DatasetRecord, lba: number): number {
  let id = ds.root;
  let alone = true;
  for (let level = ds.levels - 1; id !== 0; level--) {
    const n = state.nodes.get(id);
    if (!n) throw new Error(`pool invariant broken: tree node ${id} missing`);
    if (n.refcount !== 1) alone = false;
    id = n.ptrs[slotAt(lba, level)]!;
    if (level === 0) return id === 0 ? 0 : alone && state.chunks.get(id)?.refcount === 1 ? id : -id;
  }
  return 0;
}

/**
 * A node the dataset owns exclusively, ready to modify: `id` itself when its refcount is
 * 1, else a copy (children incremented, the shared original decremented) that `relink`
 * puts in the parent's slot.
 */
function exclusive(state: PoolState, id: number, relink: (newId: number) => void): NodeRecord {
  const n = state.nodes.get(id);
  if (!n) throw new Error(`pool invariant broken: tree node ${id} missing`);
  if (n.refcount === 1) return state.mutNode(id);
  const copy = state.newNode(n.level);
  copy.ptrs.set(n.ptrs);
  for (const child of n.ptrs) {
    if (child === 0) continue;
    if (n.level === 0) state.increfChunk(child);
    else state.increfNode(child);
  }
  state.decrefNode(id);
  relink(copy.id);
  return copy;
}

function isEmpty(n: NodeRecord): boolean {
  for (const p of n.ptrs) if (p !== 0) return false;
  return true;
}

/**
 * Point `lba` of the (writable) dataset `dsId` at `chunkId` (0 = punch a hole). Takes a
 * reference on the new chunk before dropping the old one, so rewriting a block with its
 * own content never frees it. Nodes emptied by a hole are freed, so unwritten and punched
 * ranges both cost nothing.
 */
export function setBlock(state: PoolState, dsId: number, lba: number, chunkId: number): void {
  const ds = state.mutDataset(dsId);
  if (ds.root === 0) {
    if (chunkId === 0) return;
    ds.root = state.newNode(ds.levels - 1).id;
  }
  const path: NodeRecord[] = [];
  let node = exclusive(state, ds.root, (id) => (ds.root = id));
  path.push(node);
  for (let level = ds.levels - 1; level > 0; level--) {
    const slot = slotAt(lba, level);
    const parent = node;
    const child = parent.ptrs[slot]!;
    if (child === 0) {
      if (chunkId === 0) return; // hole already
      const fresh = state.newNode(level - 1);
      parent.ptrs[slot] = fresh.id;
      node = fresh;
    } else {
      node = exclusive(state, child, (id) => (parent.ptrs[slot] = id));
    }
    path.push(node);
  }
  const slot = slotAt(lba, 0);
  const old = node.ptrs[slot]!;
  if (old === chunkId) return;
  if (chunkId !== 0) state.increfChunk(chunkId);
  node.ptrs[slot] = chunkId;
  if (old !== 0) state.decrefChunk(old);
  if (chunkId !== 0) return;
  // Collapse nodes the hole emptied, bottom-up. Every node on the path is exclusive now.
  for (let i = path.length - 1; i >= 0; i--) {
    const n = path[i]!;
    if (!isEmpty(n)) return;
    state.decrefNode(n.id);
    if (i === 0) ds.root = 0;
    else path[i - 1]!.ptrs[slotAt(lba, n.level + 1)] = 0;
  }
}

/** Visit each node reachable from `root` once (shared subtrees are not revisited). */
export function walkNodes(state: PoolState, root: number, visit: (n: NodeRecord) => void, seen = new Set<number>()): void {
  if (root === 0 || seen.has(root)) return;
  seen.add(root);
  const n = state.nodes.get(root);
  if (!n) throw new Error(`pool invariant broken: tree node ${root} missing`);
  visit(n);
  if (n.level > 0) for (const c of n.ptrs) if (c !== 0) walkNodes(state, c, visit, seen);
}

/** Number of written (non-hole) blocks of a dataset. */
export function countBlocks(state: PoolState, ds: DatasetRecord): number {
  let count = 0;
  walkNodes(state, ds.root, (n) => {
    if (n.level === 0) for (const p of n.ptrs) if (p !== 0) count++;
  });
  return count;
}
