//! The arena planner: given each buffer's size and lifetime (the first and last step of the
//! schedule that touch it), offsets into one arena such that no two buffers alive at the same
//! step overlap. Greedy by size (largest first), each placed at the lowest aligned offset that
//! fits between the buffers already placed whose lifetimes meet its own.

/// One buffer to place: `size` bytes, alive from step `start` to step `end` inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BufferReq {
    pub size: usize,
    pub start: usize,
    pub end: usize,
}

/// Where each request lives in the arena, and the arena's size.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ArenaPlan {
    pub offsets: Vec<usize>,
    pub size: usize,
}

/// Every offset is a multiple of this (enough for any dtype and for SIMD loads).
pub const ALIGN: usize = 64;

fn align(n: usize) -> usize {
    n.div_ceil(ALIGN) * ALIGN
}

/// Plans the arena for `reqs` (see the module docs).
pub fn plan_arena(reqs: &[BufferReq]) -> ArenaPlan {
    let mut order: Vec<usize> = (0..reqs.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(reqs[i].size), reqs[i].start, i));
    let mut offsets = vec![0usize; reqs.len()];
    let mut placed: Vec<usize> = Vec::new();
    let mut size = 0;
    for i in order {
        let r = reqs[i];
        let mut busy: Vec<(usize, usize)> = placed
            .iter()
            .filter(|&&j| reqs[j].start <= r.end && r.start <= reqs[j].end)
            .map(|&j| (offsets[j], offsets[j] + align(reqs[j].size)))
            .collect();
        busy.sort();
        let mut off = 0;
        for (lo, hi) in busy {
            if off + align(r.size) <= lo {
                break;
            }
            off = off.max(hi);
        }
        offsets[i] = off;
        size = size.max(off + align(r.size));
        placed.push(i);
    }
    ArenaPlan { offsets, size }
}

/// Plans the arena when some buffers may take over the memory of a buffer that dies where
/// they are born (an elementwise op writing its result over a dead input): `reuse[o] =
/// Some(i)` offers request `i`'s memory to request `o` (`reqs[i].end == reqs[o].start`,
/// `reqs[i].size >= reqs[o].size`). An offer is taken when `i` is still the last user of its
/// memory (each memory passes to one successor); the buffers sharing memory are planned as
/// one request spanning their lifetimes. Returns the plan and, per request, the request whose
/// memory it took (None when it has its own), and the least arena with those transfers.
pub fn plan_arena_reusing(reqs: &[BufferReq], reuse: &[Option<usize>]) -> (ArenaPlan, Vec<Option<usize>>, usize) {
    let n = reqs.len();
    // group[r]: the chain of requests sharing r's memory; a chain grows at its tail only
    let mut group: Vec<usize> = (0..n).collect();
    let mut tail: Vec<usize> = (0..n).collect();
    let mut took = vec![None; n];
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&o| (reqs[o].start, o));
    for o in order {
        let Some(i) = reuse.get(o).copied().flatten() else { continue };
        let gi = group[i];
        if i == o || i >= n || tail[gi] != i || group[o] != o || tail[o] != o || reqs[i].end != reqs[o].start || reqs[i].size < reqs[o].size {
            continue;
        }
        group[o] = gi;
        tail[gi] = o;
        took[o] = Some(i);
    }
    let mut heads: Vec<usize> = Vec::new();
    let mut merged: Vec<BufferReq> = Vec::new();
    let mut slot = vec![usize::MAX; n];
    for r in 0..n {
        let g = group[r];
        if slot[g] == usize::MAX {
            slot[g] = merged.len();
            heads.push(g);
            merged.push(reqs[r]);
        }
        let m = &mut merged[slot[g]];
        m.size = m.size.max(reqs[r].size);
        m.start = m.start.min(reqs[r].start);
        m.end = m.end.max(reqs[r].end);
    }
    let p = plan_arena(&merged);
    let offsets = (0..n).map(|r| p.offsets[slot[group[r]]]).collect();
    (ArenaPlan { offsets, size: p.size }, took, live_peak(&merged))
}

/// The least arena any plan can have: the largest total size alive at one step.
pub fn live_peak(reqs: &[BufferReq]) -> usize {
    let steps = reqs.iter().map(|r| r.end + 1).max().unwrap_or(0);
    (0..steps).map(|s| reqs.iter().filter(|r| r.start <= s && s <= r.end).map(|r| align(r.size)).sum()).max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator, so the property runs without extra crates.
    fn lcg(seed: &mut u64) -> usize {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (*seed >> 33) as usize
    }

    #[test]
    fn buffers_alive_together_never_overlap() {
        let mut seed = 7u64;
        for _ in 0..300 {
            let n = lcg(&mut seed) % 24;
            let reqs: Vec<BufferReq> = (0..n)
                .map(|_| {
                    let start = lcg(&mut seed) % 20;
                    BufferReq { size: lcg(&mut seed) % 5000, start, end: start + lcg(&mut seed) % 8 }
                })
                .collect();
            let p = plan_arena(&reqs);
            for i in 0..n {
                assert_eq!(p.offsets[i] % ALIGN, 0);
                assert!(p.offsets[i] + reqs[i].size <= p.size);
                for j in 0..i {
                    let (a, b) = (reqs[i], reqs[j]);
                    if a.start <= b.end && b.start <= a.end && a.size > 0 && b.size > 0 {
                        let disjoint = p.offsets[i] + a.size <= p.offsets[j] || p.offsets[j] + b.size <= p.offsets[i];
                        assert!(disjoint, "{a:?} at {} overlaps {b:?} at {}", p.offsets[i], p.offsets[j]);
                    }
                }
            }
            assert!(p.size >= live_peak(&reqs));
        }
    }

    #[test]
    fn reused_memory_is_shared_only_with_the_dead_donor() {
        let mut seed = 11u64;
        for _ in 0..300 {
            let n = 1 + lcg(&mut seed) % 20;
            let reqs: Vec<BufferReq> = (0..n)
                .map(|_| {
                    let start = lcg(&mut seed) % 16;
                    BufferReq { size: 1 + lcg(&mut seed) % 3000, start, end: start + lcg(&mut seed) % 6 }
                })
                .collect();
            // offer each request the memory of a random earlier-born request (valid or not)
            let reuse: Vec<Option<usize>> = (0..n).map(|_| (lcg(&mut seed) % 2 == 0).then(|| lcg(&mut seed) % n)).collect();
            let (p, took, least) = plan_arena_reusing(&reqs, &reuse);
            assert!(p.size >= least); // (a larger donor may raise the least arena: it lives on at its own size)
            let mut donors = vec![0; n];
            for (o, t) in took.iter().enumerate() {
                if let Some(i) = *t {
                    // only offered, valid transfers are taken, each donor gives once
                    assert_eq!(reuse[o], Some(i));
                    assert!(reqs[i].end == reqs[o].start && reqs[i].size >= reqs[o].size);
                    assert_eq!(p.offsets[i], p.offsets[o]);
                    donors[i] += 1;
                    assert!(donors[i] <= 1);
                }
            }
            // memory shared along chains of transfers; any other two buffers alive together are disjoint
            let root = |mut r: usize| {
                while let Some(i) = took[r] {
                    r = i;
                }
                r
            };
            for i in 0..n {
                assert_eq!(p.offsets[i] % ALIGN, 0);
                assert!(p.offsets[i] + reqs[i].size <= p.size);
                for j in 0..i {
                    let (a, b) = (reqs[i], reqs[j]);
                    if root(i) == root(j) {
                        // a chain: lifetimes only touch at the hand-over step
                        let (x, y) = if (a.start, a.end) <= (b.start, b.end) { (a, b) } else { (b, a) };
                        assert!(x.end <= y.start, "{x:?} and {y:?} share memory while both alive");
                        continue;
                    }
                    if a.start <= b.end && b.start <= a.end {
                        let disjoint = p.offsets[i] + a.size <= p.offsets[j] || p.offsets[j] + b.size <= p.offsets[i];
                        assert!(disjoint, "{a:?} at {} overlaps {b:?} at {}", p.offsets[i], p.offsets[j]);
                    }
                }
            }
        }
    }

    #[test]
    fn a_chain_of_in_place_ops_uses_one_buffer() {
        let reqs: Vec<BufferReq> = (0..5).map(|s| BufferReq { size: 100, start: s, end: s + 1 }).collect();
        let reuse: Vec<Option<usize>> = (0..5usize).map(|o| o.checked_sub(1)).collect();
        let (p, took, least) = plan_arena_reusing(&reqs, &reuse);
        assert_eq!((p.size, least), (128, 128));
        assert_eq!(took, [None, Some(0), Some(1), Some(2), Some(3)]);
        assert_eq!(plan_arena(&reqs).size, 256);
    }

    #[test]
    fn disjoint_lifetimes_share_memory() {
        let reqs = [BufferReq { size: 100, start: 0, end: 1 }, BufferReq { size: 100, start: 2, end: 3 }];
        assert_eq!(plan_arena(&reqs).size, 128);
    }
}
