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
    fn disjoint_lifetimes_share_memory() {
        let reqs = [BufferReq { size: 100, start: 0, end: 1 }, BufferReq { size: 100, start: 2, end: 3 }];
        assert_eq!(plan_arena(&reqs).size, 128);
    }
}
