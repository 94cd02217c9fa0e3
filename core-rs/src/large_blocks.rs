//! The Rust heap's large blocks: every allocation the core's Rust code makes of at least
//! `LARGE_MIN` bytes (kernel scratch: im2col columns, Winograd tiles, the GEMM crate's packed
//! panels, per-worker partial sums) comes from one cache of mapped blocks that all threads
//! share; smaller ones go to the C library's `malloc` as before. Tensors never come from here
//! (they have the caching allocator, `alloc.rs`).
//!
//! Why not `malloc`: glibc gives each thread that allocates an arena of its own, and raises its
//! mmap threshold to the largest chunk freed so far (up to 32 MiB), so after the first call
//! every worker's scratch comes from its own arena and stays resident there when freed. Each
//! arena keeps its thread's high-water mark: ResNet-50's traced training step held about
//! 30 MiB of freed scratch in two worker arenas, beside the blocks its caching allocator kept.
//! Here the threads share one cache, a request takes the smallest cached block that holds it,
//! up to twice its size (no page is faulted in again when one does), and the blocks held are bounded by the most
//! scratch ever in use at once plus a little: on a miss that would pass that, cached blocks go
//! back to the system first.
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, Ordering};

/// Allocations from this size on are large blocks.
pub const LARGE_MIN: usize = 256 << 10;
const PAGE: usize = 4096;
/// Blocks from this size on are offered huge pages (as the caching allocator's are).
const HUGE_MIN: usize = 4 << 20;
/// Cached blocks kept at most (a fixed table: this allocator must not allocate itself).
const SLOTS: usize = 64;

/// Counters of the large blocks, in bytes of whole blocks.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stats {
    /// Handed out now, and the most at once since the last `reset_peak`.
    pub in_use: usize,
    pub peak_in_use: usize,
    /// Mapped now (in use + cached), and the most at once since the last `reset_peak`.
    pub reserved: usize,
    pub peak_reserved: usize,
    /// Requests served from the cache, and those that mapped a block.
    pub hits: u64,
    pub misses: u64,
}

struct State {
    cached: [(usize, usize); SLOTS],
    n: usize,
    stats: Stats,
    /// The most bytes in use at once over the process's life: what the cache may keep mapped.
    high_water: usize,
}

/// The global allocator of the core (see the module docs).
pub struct LargeBlocks {
    /// A spin lock rather than a mutex: `fork` must find it free in the child, which
    /// `pthread_atfork` handlers ensure (as glibc does for malloc's arenas), and the holder
    /// never waits on anything (no system call is made under it).
    locked: AtomicBool,
    state: UnsafeCell<State>,
}

unsafe impl Sync for LargeBlocks {}

struct Guard<'a>(&'a LargeBlocks);

impl std::ops::Deref for Guard<'_> {
    type Target = State;
    fn deref(&self) -> &State {
        unsafe { &*self.0.state.get() }
    }
}

impl std::ops::DerefMut for Guard<'_> {
    fn deref_mut(&mut self) -> &mut State {
        unsafe { &mut *self.0.state.get() }
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        self.0.locked.store(false, Ordering::Release);
    }
}

/// Around `fork`: the forking thread takes the global allocator's lock, so no other thread
/// holds it when the process is copied, and both processes release it afterwards.
extern "C" fn before_fork() {
    std::mem::forget(HEAP.lock());
}

extern "C" fn after_fork() {
    HEAP.locked.store(false, Ordering::Release);
}

static FORK_HANDLERS: std::sync::Once = std::sync::Once::new();

/// A block's size: whole pages, four sizes per power of two (at most a quarter more than asked).
pub fn block_size(n: usize) -> usize {
    let p = usize::BITS - 1 - n.max(PAGE).leading_zeros();
    let step = (1usize << p.saturating_sub(2)).max(PAGE);
    n.div_ceil(step) * step
}

fn is_large(l: &Layout) -> bool {
    l.size() >= LARGE_MIN && l.align() <= PAGE
}

/// Bytes the cache may hold beyond the high-water mark of blocks in use: an eighth of it, at
/// least 4 MiB.
fn slack(high_water: usize) -> usize {
    (high_water / 8).max(4 << 20)
}

/// Maps a block of `size` bytes for a request of `asked`: huge pages are offered for the
/// asked part only (as in alloc.rs), so that no huge page makes the unused tail resident.
unsafe fn map(size: usize, asked: usize) -> *mut u8 {
    let p = libc::mmap(std::ptr::null_mut(), size, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0);
    if p == libc::MAP_FAILED {
        return std::ptr::null_mut();
    }
    #[cfg(target_os = "linux")]
    if asked >= HUGE_MIN {
        libc::madvise(p, asked.next_multiple_of(PAGE).min(size), libc::MADV_HUGEPAGE); // advisory
    }
    p as *mut u8
}

unsafe fn unmap(p: usize, size: usize) {
    libc::munmap(p as *mut libc::c_void, size);
}

impl State {
    /// Takes the smallest cached block of at least `size` bytes and at most twice that (a
    /// long-lived vector must not pin a block much larger than itself).
    fn take(&mut self, size: usize) -> Option<(usize, usize)> {
        let fits = |b: usize| b >= size && b <= 2 * size;
        let i = (0..self.n).filter(|&i| fits(self.cached[i].1)).min_by_key(|&i| self.cached[i].1)?;
        let b = self.cached[i];
        self.n -= 1;
        self.cached[i] = self.cached[self.n];
        Some(b)
    }

    /// Cached blocks to unmap so that mapping `size` more stays within the high-water mark
    /// (counting this request) plus the slack: the best fitting one, else the largest first.
    fn victims(&mut self, size: usize, out: &mut [(usize, usize); SLOTS]) -> usize {
        let limit = self.high_water.max(self.stats.in_use + size);
        let limit = limit + slack(limit);
        let mut over = (self.stats.reserved + size).saturating_sub(limit);
        let mut k = 0;
        while over > 0 && self.n > 0 {
            let fit = (0..self.n).filter(|&i| self.cached[i].1 >= over).min_by_key(|&i| self.cached[i].1);
            let i = fit.unwrap_or_else(|| (0..self.n).max_by_key(|&i| self.cached[i].1).unwrap());
            let b = self.cached[i];
            self.n -= 1;
            self.cached[i] = self.cached[self.n];
            self.stats.reserved -= b.1;
            over = over.saturating_sub(b.1);
            out[k] = b;
            k += 1;
        }
        k
    }

    fn hand_out(&mut self, size: usize) {
        let s = &mut self.stats;
        s.in_use += size;
        s.peak_in_use = s.peak_in_use.max(s.in_use);
        s.peak_reserved = s.peak_reserved.max(s.reserved);
        self.high_water = self.high_water.max(s.in_use);
    }
}

impl LargeBlocks {
    pub const fn new() -> Self {
        LargeBlocks { locked: AtomicBool::new(false), state: UnsafeCell::new(State { cached: [(0, 0); SLOTS], n: 0, stats: Stats { in_use: 0, peak_in_use: 0, reserved: 0, peak_reserved: 0, hits: 0, misses: 0 }, high_water: 0 }) }
    }

    fn lock(&self) -> Guard<'_> {
        let mut spins = 0u32;
        while self.locked.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            spins += 1;
            if spins % 64 == 0 {
                std::thread::yield_now(); // the holder may have been preempted
            } else {
                std::hint::spin_loop();
            }
        }
        Guard(self)
    }

    /// A block of at least `size` bytes (page aligned) and its size; null when out of memory.
    pub fn allocate(&self, size: usize) -> (*mut u8, usize) {
        if std::ptr::eq(self, &HEAP) {
            FORK_HANDLERS.call_once(|| unsafe {
                libc::pthread_atfork(Some(before_fork), Some(after_fork), Some(after_fork));
            });
        }
        let want = block_size(size);
        let mut victims = [(0, 0); SLOTS];
        let k = {
            let mut s = self.lock();
            if let Some((p, b)) = s.take(want) {
                s.stats.hits += 1;
                s.hand_out(b);
                return (p as *mut u8, b);
            }
            s.victims(want, &mut victims)
        };
        for &(p, b) in &victims[..k] {
            unsafe { unmap(p, b) };
        }
        let mut p = unsafe { map(want, size) };
        if p.is_null() {
            self.release_cached();
            p = unsafe { map(want, size) };
            if p.is_null() {
                return (p, 0);
            }
        }
        let mut s = self.lock();
        s.stats.misses += 1;
        s.stats.reserved += want;
        s.hand_out(want);
        (p, want)
    }

    /// Gives back a block `allocate` returned (`size` as it returned it).
    pub fn release(&self, p: *mut u8, size: usize) {
        let mut s = self.lock();
        s.stats.in_use -= size;
        if s.n < SLOTS {
            let n = s.n;
            s.cached[n] = (p as usize, size);
            s.n += 1;
            return;
        }
        s.stats.reserved -= size;
        drop(s);
        unsafe { unmap(p as usize, size) };
    }

    /// Unmaps every cached block (`deepseek.memory.empty_cache()` calls it) and lowers the
    /// high-water mark that bounds the cache to what is in use now: a workload that needed
    /// more scratch before (an eager step before a traced one) no longer sets the bound.
    pub fn release_cached(&self) {
        let (blocks, n) = {
            let mut s = self.lock();
            s.high_water = s.stats.in_use;
            let n = std::mem::take(&mut s.n);
            let blocks = s.cached;
            for &(_, b) in &blocks[..n] {
                s.stats.reserved -= b;
            }
            (blocks, n)
        };
        for &(p, b) in &blocks[..n] {
            unsafe { unmap(p, b) };
        }
    }

    pub fn stats(&self) -> Stats {
        self.lock().stats
    }

    /// Peaks back to the current values (the high-water mark that bounds the cache stays).
    pub fn reset_peak(&self) {
        let mut s = self.lock();
        s.stats.peak_in_use = s.stats.in_use;
        s.stats.peak_reserved = s.stats.reserved;
    }
}

/// The process's allocator for the core's Rust code (the extension module and its tests).
#[global_allocator]
pub static HEAP: LargeBlocks = LargeBlocks::new();

impl Default for LargeBlocks {
    fn default() -> Self {
        Self::new()
    }
}

/// The global allocator's large blocks start with a page holding the block's size (the
/// cache hands out any block that fits, so the layout alone does not say which one it was);
/// the caller's memory starts on the next page.
unsafe fn block_of(q: *mut u8) -> (*mut u8, usize) {
    let p = q.sub(PAGE);
    (p, *(p as *const usize))
}

unsafe impl GlobalAlloc for LargeBlocks {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if !is_large(&l) {
            return System.alloc(l);
        }
        let (p, b) = self.allocate(l.size() + PAGE);
        if p.is_null() {
            return p;
        }
        *(p as *mut usize) = b;
        p.add(PAGE)
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        if !is_large(&l) {
            return System.alloc_zeroed(l);
        }
        let q = self.alloc(l);
        if !q.is_null() {
            // a fresh mapping is zero already, a cached block is not: clear what was asked
            std::ptr::write_bytes(q, 0, l.size());
        }
        q
    }
    unsafe fn dealloc(&self, q: *mut u8, l: Layout) {
        if !is_large(&l) {
            return System.dealloc(q, l);
        }
        let (p, b) = block_of(q);
        self.release(p, b)
    }
    unsafe fn realloc(&self, q: *mut u8, l: Layout, new_size: usize) -> *mut u8 {
        let nl = Layout::from_size_align_unchecked(new_size, l.align());
        match (is_large(&l), is_large(&nl)) {
            (false, false) => return System.realloc(q, l, new_size),
            (true, true) if new_size + PAGE <= block_of(q).1 => return q,
            _ => {}
        }
        let r = self.alloc(nl);
        if !r.is_null() {
            std::ptr::copy_nonoverlapping(q, r, l.size().min(new_size));
            self.dealloc(q, l);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_sizes_are_whole_pages_and_bound_the_waste() {
        for n in [LARGE_MIN, LARGE_MIN + 1, 300_000, 1 << 20, (1 << 20) + 1, 9_437_184, 123_456_789] {
            let b = block_size(n);
            assert!(b >= n && b % PAGE == 0, "{n} -> {b}");
            assert!(b as f64 <= n as f64 * 1.25 + PAGE as f64, "{n} -> {b}");
        }
    }

    #[test]
    fn a_freed_block_serves_the_next_request_that_fits() {
        let a = LargeBlocks::new();
        let (p, b) = a.allocate(3 << 20);
        unsafe { std::ptr::write_bytes(p, 7, b) };
        a.release(p, b);
        // a smaller request takes the cached block: no new mapping
        let (q, c) = a.allocate(2 << 20);
        assert_eq!((q, c), (p, b));
        let s = a.stats();
        assert_eq!((s.hits, s.misses, s.in_use, s.reserved), (1, 1, b, b));
        // a larger one cannot: it maps its own
        let (r, d) = a.allocate(5 << 20);
        assert!(r != p && d >= 5 << 20);
        a.release(q, c);
        // nor does one less than half the block's size
        let (t, e) = a.allocate(1 << 20);
        assert!(t != p && e < b);
        a.release(r, d);
        a.release(t, e);
        assert_eq!(a.stats().in_use, 0);
        a.release_cached();
        assert_eq!(a.stats().reserved, 0);
    }

    #[test]
    fn the_cache_stays_within_the_high_water_mark_plus_slack() {
        let a = LargeBlocks::new();
        // two patterns of scratch, one after the other: blocks of 8 MiB, then many of 1 MiB
        // (which an 8 MiB block does not serve); the cache never holds much more than the
        // most in use at once
        for round in 0..4 {
            let big: Vec<_> = (0..2).map(|_| a.allocate(8 << 20)).collect();
            for &(p, b) in &big {
                a.release(p, b);
            }
            let small: Vec<_> = (0..12).map(|_| a.allocate(1 << 20)).collect();
            for &(p, b) in &small {
                a.release(p, b);
            }
            let s = a.stats();
            assert!(s.reserved <= s.peak_in_use + slack(s.peak_in_use), "round {round}: {s:?}");
        }
        // a steady pattern is served from the cache
        a.release_cached();
        let once = |a: &LargeBlocks| {
            let v: Vec<_> = [3 << 20, 1 << 20, 600 << 10, 3 << 20].iter().map(|&n| a.allocate(n)).collect();
            for (p, b) in v {
                a.release(p, b);
            }
        };
        once(&a);
        let misses = a.stats().misses;
        for _ in 0..3 {
            once(&a);
        }
        assert_eq!(a.stats().misses, misses);
        a.release_cached();
        assert_eq!(a.stats().reserved, 0);
    }

    #[test]
    fn vectors_grow_and_shrink_across_the_threshold() {
        // (through the global allocator when it is installed: lib.rs)
        let mut v: Vec<u8> = Vec::new();
        for i in 0..(3 << 20) {
            v.push((i % 251) as u8);
        }
        assert!(v.iter().enumerate().all(|(i, &x)| x == (i % 251) as u8));
        v.truncate(1000);
        v.shrink_to_fit();
        assert!(v.iter().enumerate().all(|(i, &x)| x == (i % 251) as u8));
        let z = vec![0u32; 1 << 20];
        assert!(z.iter().all(|&x| x == 0));
    }
}
