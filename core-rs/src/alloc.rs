//! The host caching allocator: size-class pools over the system allocator, with
//! statistics named as PyTorch's `memory_stats` names them.
use crate::error::{Error, Result};
use std::alloc::{GlobalAlloc, Layout as MemLayout, System};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

pub const ALIGN: usize = 64;
/// Free blocks kept for reuse are capped; beyond this, frees go back to the system.
const MAX_CACHED_BYTES: usize = 1 << 30;
/// Blocks of at least this size are mapped straight from the kernel (and unmapped when
/// released), so memory given back really leaves the process.
const MMAP_MIN: usize = 1 << 20;
/// Blocks from this size on are offered huge pages.
const HUGE_MIN: usize = 4 << 20;

#[derive(Default, Clone, Debug)]
pub struct Stat {
    pub current: i64,
    pub peak: i64,
    pub allocated: i64,
    pub freed: i64,
}

impl Stat {
    pub(crate) fn add(&mut self, n: i64) {
        self.current += n;
        self.allocated += n;
        self.peak = self.peak.max(self.current);
    }
    pub(crate) fn sub(&mut self, n: i64) {
        self.current -= n;
        self.freed += n;
    }
}

#[derive(Default, Clone, Debug)]
pub struct Stats {
    pub allocated_bytes: Stat,
    pub reserved_bytes: Stat,
    pub active_bytes: Stat,
    pub requested_bytes: Stat,
    pub allocation: Stat,
    pub segment: Stat,
    pub num_alloc_retries: i64,
    pub num_ooms: i64,
    pub cache_hits: i64,
}

impl Stats {
    /// Counts a block of `size` bytes handed out for a request of `requested`.
    pub(crate) fn on_alloc(&mut self, size: usize, requested: usize) {
        self.allocated_bytes.add(size as i64);
        self.active_bytes.add(size as i64);
        self.requested_bytes.add(requested as i64);
        self.allocation.add(1);
    }
    /// Counts that block given back.
    pub(crate) fn on_release(&mut self, size: usize, requested: usize) {
        self.allocated_bytes.sub(size as i64);
        self.active_bytes.sub(size as i64);
        self.requested_bytes.sub(requested as i64);
        self.allocation.sub(1);
    }
    /// Peaks back to the current values.
    pub fn reset_peak(&mut self) {
        for st in [
            &mut self.allocated_bytes,
            &mut self.reserved_bytes,
            &mut self.active_bytes,
            &mut self.requested_bytes,
            &mut self.allocation,
            &mut self.segment,
        ] {
            st.peak = st.current;
        }
    }
}

struct Pools {
    free: HashMap<usize, Vec<usize>>,
    cached_bytes: usize,
    stats: Stats,
}

pub struct CachingAllocator {
    pools: Mutex<Pools>,
    enabled: AtomicBool,
}

/// Rounds a request up to its size class: 512-byte steps up to 1 MiB, then four classes per
/// power of two, so the waste stays under 25% and reuse is frequent.
pub fn size_class(n: usize) -> usize {
    let n = n.max(1);
    if n <= 1 << 20 {
        return (n + 511) & !511;
    }
    let p = usize::BITS - 1 - n.leading_zeros();
    let step = 1usize << (p - 2);
    (n + step - 1) / step * step
}

impl CachingAllocator {
    pub fn new() -> Self {
        CachingAllocator {
            pools: Mutex::new(Pools { free: HashMap::new(), cached_bytes: 0, stats: zero_stats() }),
            enabled: AtomicBool::new(true),
        }
    }

    /// A fresh block of `class` bytes from the system for a request of `nbytes`; null when it
    /// is out of memory.
    fn raw_alloc(&self, class: usize, nbytes: usize, zeroed: bool) -> Result<*mut u8> {
        if class >= MMAP_MIN {
            // anonymous pages arrive zeroed
            let p = unsafe {
                libc::mmap(std::ptr::null_mut(), class, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0)
            };
            if p == libc::MAP_FAILED {
                return Ok(std::ptr::null_mut());
            }
            #[cfg(target_os = "linux")]
            if nbytes >= HUGE_MIN {
                // Transparent huge pages where the system grants them on request (as NumPy asks
                // for its large arrays): a streaming kernel's hardware prefetch stops at every
                // 4 KiB page boundary, and the TLB covers 512x more of the tensor. Advisory only,
                // and for the requested bytes only: a huge page over the class's unused tail
                // would make it resident (6 MiB of ResNet-50's weights and momentum).
                unsafe { libc::madvise(p, nbytes.next_multiple_of(4096).min(class), libc::MADV_HUGEPAGE) };
            }
            return Ok(p as *mut u8);
        }
        let layout = MemLayout::from_size_align(class, ALIGN)
            .map_err(|_| Error::Memory(format!("cannot allocate {class} bytes: size too large")))?;
        // straight from the C library: this allocator caches its blocks itself (the core's
        // global allocator, `large_blocks`, would cache them a second time)
        Ok(unsafe { if zeroed { System.alloc_zeroed(layout) } else { System.alloc(layout) } })
    }

    fn raw_free(&self, ptr: *mut u8, class: usize) {
        if class >= MMAP_MIN {
            unsafe { libc::munmap(ptr as *mut libc::c_void, class) };
            return;
        }
        unsafe { System.dealloc(ptr, MemLayout::from_size_align_unchecked(class, ALIGN)) }
    }

    /// The memory the process may hold: the most tensors have needed at once (or will, with
    /// this request) plus a sixteenth, at least 32 MiB.
    fn limit(s: &Stats, class: usize) -> usize {
        let peak = (s.allocated_bytes.peak.max(s.allocated_bytes.current + class as i64)) as usize;
        peak + (peak / 16).max(32 << 20)
    }

    /// A large request that missed its class when growing would pass the limit: a cached
    /// block of a larger class (at most half again the size) serves it instead. Its pages are
    /// already mapped, where giving other blocks back and mapping a fresh one would make the
    /// kernel zero every page again on first touch; the block keeps its class and returns to
    /// its own list on release.
    fn take_larger(&self, class: usize, nbytes: usize) -> Option<(*mut u8, usize)> {
        if class < MMAP_MIN {
            return None;
        }
        let mut p = self.pools.lock().unwrap();
        if p.stats.reserved_bytes.current as usize + class <= Self::limit(&p.stats, class) {
            return None;
        }
        let c2 = p.free.iter().filter(|(&c, v)| c > class && 2 * c <= 3 * class && !v.is_empty()).map(|(&c, _)| c).min()?;
        let addr = p.free.get_mut(&c2)?.pop()?;
        p.cached_bytes -= c2;
        p.stats.cache_hits += 1;
        p.stats.on_alloc(c2, nbytes);
        Some((addr as *mut u8, c2))
    }

    /// Before growing for a large block that missed the cache, keeps the memory the process
    /// holds within a sixteenth (at least 32 MiB) of the most tensors have needed at once: when
    /// growing would pass that, cached large blocks of other classes go back to the system
    /// first (the best fitting one, else the largest first). In a steady training loop the
    /// cache then settles on the classes the loop reuses, without holding every class ever
    /// cached at the peak.
    fn make_room(&self, class: usize) {
        if class < MMAP_MIN {
            return;
        }
        let victims = {
            let mut p = self.pools.lock().unwrap();
            let limit = Self::limit(&p.stats, class);
            let after = p.stats.reserved_bytes.current as usize + class;
            if after <= limit {
                return;
            }
            let class = after - limit; // what must go back
            let mut classes: Vec<usize> =
                p.free.iter().filter(|(&c, v)| c >= MMAP_MIN && !v.is_empty()).map(|(&c, _)| c).collect();
            classes.sort_unstable();
            let order: Vec<usize> = match classes.iter().position(|&c| c >= class) {
                Some(i) => vec![classes[i]],
                None => classes.into_iter().rev().collect(),
            };
            let mut victims = Vec::new();
            let mut freed = 0;
            'outer: for c in order {
                while let Some(addr) = p.free.get_mut(&c).and_then(|v| v.pop()) {
                    victims.push((addr, c));
                    freed += c;
                    p.cached_bytes -= c;
                    p.stats.reserved_bytes.sub(c as i64);
                    p.stats.segment.sub(1);
                    if freed >= class {
                        break 'outer;
                    }
                }
            }
            victims
        };
        for (addr, c) in victims {
            self.raw_free(addr as *mut u8, c);
        }
    }

    /// Returns a 64-byte aligned block of at least `nbytes` and the class size actually reserved.
    pub fn allocate(&self, nbytes: usize, zeroed: bool) -> Result<(*mut u8, usize)> {
        let class = size_class(nbytes);
        let caching = self.enabled.load(Ordering::Relaxed);
        {
            let mut p = self.pools.lock().unwrap();
            if caching {
                if let Some(v) = p.free.get_mut(&class) {
                    if let Some(addr) = v.pop() {
                        p.cached_bytes -= class;
                        p.stats.cache_hits += 1;
                        p.stats.on_alloc(class, nbytes);
                        drop(p);
                        let ptr = addr as *mut u8;
                        if zeroed {
                            unsafe { std::ptr::write_bytes(ptr, 0, class) };
                        }
                        return Ok((ptr, class));
                    }
                }
            }
        }
        if caching {
            if let Some((ptr, c2)) = self.take_larger(class, nbytes) {
                if zeroed {
                    unsafe { std::ptr::write_bytes(ptr, 0, c2) };
                }
                return Ok((ptr, c2));
            }
            self.make_room(class);
        }
        let mut ptr = self.raw_alloc(class, nbytes, zeroed)?;
        if ptr.is_null() {
            // Free the cache and retry once.
            self.empty_cache();
            self.pools.lock().unwrap().stats.num_alloc_retries += 1;
            ptr = self.raw_alloc(class, nbytes, zeroed)?;
            if ptr.is_null() {
                let mut p = self.pools.lock().unwrap();
                p.stats.num_ooms += 1;
                return Err(Error::Memory(format!(
                    "CPU out of memory: tried to allocate {} ({} allocated by tensors, {} reserved by deepseek's allocator after freeing its cache)",
                    human(nbytes),
                    human(p.stats.allocated_bytes.current as usize),
                    human(p.stats.reserved_bytes.current as usize)
                )));
            }
        }
        let mut p = self.pools.lock().unwrap();
        p.stats.reserved_bytes.add(class as i64);
        p.stats.segment.add(1);
        p.stats.on_alloc(class, nbytes);
        Ok((ptr, class))
    }

    pub fn release(&self, ptr: *mut u8, class: usize, requested: usize) {
        let mut p = self.pools.lock().unwrap();
        p.stats.on_release(class, requested);
        if self.enabled.load(Ordering::Relaxed) && p.cached_bytes + class <= MAX_CACHED_BYTES {
            p.cached_bytes += class;
            p.free.entry(class).or_default().push(ptr as usize);
        } else {
            p.stats.reserved_bytes.sub(class as i64);
            p.stats.segment.sub(1);
            drop(p);
            self.raw_free(ptr, class);
        }
    }

    /// Returns every cached free block to the system.
    pub fn empty_cache(&self) {
        let free = {
            let mut p = self.pools.lock().unwrap();
            let free = std::mem::take(&mut p.free);
            for (class, v) in &free {
                p.stats.reserved_bytes.sub((class * v.len()) as i64);
                p.stats.segment.sub(v.len() as i64);
            }
            p.cached_bytes = 0;
            free
        };
        // Freed outside the lock: unmapping large blocks need not block other threads.
        for (class, v) in free {
            for addr in v {
                self.raw_free(addr as *mut u8, class);
            }
        }
    }

    pub fn set_caching(&self, on: bool) {
        self.enabled.store(on, Ordering::Relaxed);
        if !on {
            self.empty_cache();
        }
    }

    pub fn stats(&self) -> Stats {
        self.pools.lock().unwrap().stats.clone()
    }

    pub fn reset_peak(&self) {
        self.pools.lock().unwrap().stats.reset_peak();
    }
}

/// "1.5 MiB"-style sizes for messages.
pub fn human(n: usize) -> String {
    let units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 { format!("{n} bytes") } else { format!("{v:.2} {}", units[u]) }
}

const fn zero_stat() -> Stat {
    Stat { current: 0, peak: 0, allocated: 0, freed: 0 }
}
const fn zero_stats() -> Stats {
    Stats {
        allocated_bytes: zero_stat(),
        reserved_bytes: zero_stat(),
        active_bytes: zero_stat(),
        requested_bytes: zero_stat(),
        allocation: zero_stat(),
        segment: zero_stat(),
        num_alloc_retries: 0,
        num_ooms: 0,
        cache_hits: 0,
    }
}

pub static HOST: std::sync::LazyLock<CachingAllocator> = std::sync::LazyLock::new(CachingAllocator::new);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_classes_bound_the_waste() {
        for n in [1usize, 511, 512, 513, 4096, 1 << 20, (1 << 20) + 1, 3 << 22, 12345678] {
            let c = size_class(n);
            assert!(c >= n);
            assert!(c as f64 <= n as f64 * 1.25 + 512.0, "{n} -> {c}");
        }
    }

    #[test]
    fn a_large_miss_gives_back_cached_large_blocks_first() {
        let a = CachingAllocator::new();
        let (small, cs) = a.allocate(4 << 20, false).unwrap();
        a.release(small, cs, 4 << 20);
        let (q, cq) = a.allocate(8 << 20, false).unwrap();
        // within the slack over the peak: the cached block stays for reuse
        assert_eq!(a.stats().reserved_bytes.current, (cs + cq) as i64);
        a.release(q, cq, 8 << 20);
        a.empty_cache();
        let (p40, c40) = a.allocate(40 << 20, false).unwrap();
        a.release(p40, c40, 40 << 20);
        let (p80, c80) = a.allocate(80 << 20, true).unwrap();
        // growing past peak + slack: the cached 40 MiB block went back to the system
        assert_eq!(a.stats().reserved_bytes.current, c80 as i64);
        assert!(unsafe { std::slice::from_raw_parts(p80, c80) }.iter().all(|&b| b == 0));
        a.release(p80, c80, 80 << 20);
        let (r, c) = a.allocate(80 << 20, false).unwrap();
        assert_eq!((r, c), (p80, c80), "a same-class request still reuses the cache");
        a.release(r, c, 80 << 20);
        a.empty_cache();
        assert_eq!(a.stats().reserved_bytes.current, 0);
    }

    #[test]
    fn at_the_limit_a_miss_takes_a_cached_larger_block() {
        let a = CachingAllocator::new();
        let (p64, c64) = a.allocate(64 << 20, false).unwrap();
        let (p48, c48) = a.allocate(48 << 20, false).unwrap();
        a.release(p64, c64, 64 << 20);
        a.release(p48, c48, 48 << 20);
        // 40 MiB misses its class; mapping it would pass peak + slack, and the cached 48 MiB
        // block (the smallest larger one) serves it without giving anything back
        let reserved = a.stats().reserved_bytes.current;
        let (q, cq) = a.allocate(40 << 20, true).unwrap();
        assert_eq!((q, cq), (p48, c48));
        assert!(unsafe { std::slice::from_raw_parts(q, cq) }.iter().all(|&b| b == 0));
        assert_eq!(a.stats().reserved_bytes.current, reserved);
        a.release(q, cq, 40 << 20);
        // within the slack over the peak a miss maps its own block, keeping the cache intact
        let (r, cr) = a.allocate(20 << 20, false).unwrap();
        assert!(r != p48 && r != p64 && cr < c48);
        a.release(r, cr, 20 << 20);
        a.empty_cache();
        assert_eq!(a.stats().reserved_bytes.current, 0);
    }

    #[test]
    fn freed_blocks_are_reused_and_stats_return_to_baseline() {
        let a = CachingAllocator::new();
        let (p, c) = a.allocate(10_000, true).unwrap();
        assert_eq!(a.stats().allocated_bytes.current, c as i64);
        a.release(p, c, 10_000);
        assert_eq!(a.stats().allocated_bytes.current, 0);
        assert_eq!(a.stats().reserved_bytes.current, c as i64);
        let (q, c2) = a.allocate(9_800, true).unwrap();
        assert_eq!((q, c2), (p, c));
        assert!(unsafe { std::slice::from_raw_parts(q, c2) }.iter().all(|&b| b == 0));
        a.release(q, c2, 9_800);
        a.empty_cache();
        assert_eq!(a.stats().reserved_bytes.current, 0);
        assert_eq!(a.stats().allocated_bytes.peak, c as i64);
    }
}
