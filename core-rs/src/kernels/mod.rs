//! CPU kernel machinery: the thread pool, strided loops over several operands, and the
//! element traits kernels are written against.
pub mod float;
pub mod erf;
pub mod elementwise;
pub mod special;

use rayon::prelude::*;
use std::sync::{Arc, RwLock};

/// Work below this many elements runs on the calling thread: splitting costs more than it saves.
pub const PAR_GRAIN: usize = 1 << 15;

static POOL: RwLock<Option<Arc<rayon::ThreadPool>>> = RwLock::new(None);

fn build_pool(n: usize) -> Arc<rayon::ThreadPool> {
    Arc::new(rayon::ThreadPoolBuilder::new().num_threads(n.max(1)).build().expect("thread pool"))
}

pub fn pool() -> Arc<rayon::ThreadPool> {
    if let Some(p) = POOL.read().unwrap().as_ref() {
        return p.clone();
    }
    let mut w = POOL.write().unwrap();
    w.get_or_insert_with(|| build_pool(num_cpus::get_physical().max(1))).clone()
}

pub fn set_num_threads(n: usize) {
    *POOL.write().unwrap() = Some(build_pool(n));
}

pub fn num_threads() -> usize {
    pool().current_num_threads()
}

/// A raw pointer that may cross threads; each kernel guarantees disjoint writes.
#[derive(Clone, Copy)]
pub struct SendPtr(pub *mut u8);
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}
impl SendPtr {
    /// Taking the whole wrapper (not its field) keeps closures Send + Sync.
    #[inline(always)]
    pub fn get(self) -> *mut u8 {
        self.0
    }
}

/// Several operands of one (broadcast) shape walked together, with their dims coalesced.
pub struct StridedLoop<const K: usize> {
    shape: Vec<usize>,
    strides: [Vec<isize>; K],
}

impl<const K: usize> StridedLoop<K> {
    pub fn new(shape: &[usize], strides: [&[isize]; K]) -> Self {
        let v: Vec<Vec<isize>> = strides.iter().map(|s| s.to_vec()).collect();
        let (shape, st) = crate::layout::Layout::coalesce(shape, &v);
        let strides: [Vec<isize>; K] = std::array::from_fn(|i| st[i].clone());
        StridedLoop { shape, strides }
    }
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
    pub fn inner(&self) -> usize {
        *self.shape.last().unwrap()
    }
    pub fn inner_strides(&self) -> [isize; K] {
        std::array::from_fn(|i| *self.strides[i].last().unwrap())
    }
    fn rows(&self) -> usize {
        self.shape[..self.shape.len() - 1].iter().product()
    }
    /// Calls `body(offsets, len, inner_strides)` for rows [start, end).
    fn run_rows(&self, start: usize, end: usize, body: &mut impl FnMut([isize; K], usize, [isize; K])) {
        let nd = self.shape.len();
        let outer = &self.shape[..nd - 1];
        let n = self.inner();
        let ist = self.inner_strides();
        let mut idx = vec![0usize; outer.len()];
        let mut rem = start;
        for d in (0..outer.len()).rev() {
            idx[d] = rem % outer[d];
            rem /= outer[d];
        }
        let mut off: [isize; K] = [0; K];
        for k in 0..K {
            for d in 0..outer.len() {
                off[k] += idx[d] as isize * self.strides[k][d];
            }
        }
        for _ in start..end {
            body(off, n, ist);
            // odometer increment
            let mut d = outer.len();
            while d > 0 {
                d -= 1;
                idx[d] += 1;
                for k in 0..K {
                    off[k] += self.strides[k][d];
                }
                if idx[d] < outer[d] {
                    break;
                }
                for k in 0..K {
                    off[k] -= self.strides[k][d] * outer[d] as isize;
                }
                idx[d] = 0;
            }
        }
    }
    /// Runs every row, in parallel when the work is large enough. `body` must only write
    /// to locations that no other row writes.
    pub fn run(&self, body: impl Fn([isize; K], usize, [isize; K]) + Sync) {
        let total = self.numel();
        if total == 0 {
            return;
        }
        let rows = self.rows();
        let threads = if total >= PAR_GRAIN { num_threads() } else { 1 };
        if threads <= 1 || rows == 1 {
            if rows == 1 && total >= PAR_GRAIN && threads > 1 {
                // One long row: split it.
                let n = self.inner();
                let ist = self.inner_strides();
                let chunk = n.div_ceil(threads * 4).max(4096);
                let nchunks = n.div_ceil(chunk);
                pool().install(|| {
                    (0..nchunks).into_par_iter().for_each(|c| {
                        let s = c * chunk;
                        let len = chunk.min(n - s);
                        let off: [isize; K] = std::array::from_fn(|k| s as isize * ist[k]);
                        body(off, len, ist);
                    })
                });
                return;
            }
            self.run_rows(0, rows, &mut |o, n, s| body(o, n, s));
            return;
        }
        let per = rows.div_ceil(threads * 4).max(1);
        let nchunks = rows.div_ceil(per);
        pool().install(|| {
            (0..nchunks).into_par_iter().for_each(|c| {
                let s = c * per;
                let e = (s + per).min(rows);
                self.run_rows(s, e, &mut |o, n, st| body(o, n, st));
            })
        });
    }
}

/// Splits `0..n` into chunks processed in parallel when `n * cost` is large.
pub fn parallel_for(n: usize, cost_per_item: usize, f: impl Fn(usize, usize) + Sync) {
    let work = n.saturating_mul(cost_per_item.max(1));
    let threads = num_threads();
    if work < PAR_GRAIN || threads <= 1 || n <= 1 {
        f(0, n);
        return;
    }
    let per = n.div_ceil(threads * 4).max(1);
    let nchunks = n.div_ceil(per);
    pool().install(|| {
        (0..nchunks).into_par_iter().for_each(|c| {
            let s = c * per;
            f(s, (s + per).min(n));
        })
    });
}
