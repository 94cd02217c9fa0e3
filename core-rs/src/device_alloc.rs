//! The caching allocator of a plugin device, over the plugin's raw `alloc`/`free`.
//!
//! Device pointers are opaque handles, so blocks are (handle, byte offset) pairs: tensors
//! address inside a buffer through the descriptors' offsets and the copies' byte offsets.
//! - Small requests (up to 1 MiB) are carved from 2 MiB segments: best fit among the free
//!   blocks, split when the rest is worth keeping, and merged with free neighbours on release.
//! - Large requests get a segment of their size class each, reused whole.
//! - Free segments stay cached for reuse; when the plugin reports out of memory the cache is
//!   returned to the plugin and the allocation retried once.
//! - The core runs every kernel and copy on the device's default in-order stream, so a block
//!   freed by one op can be reused by the next without waiting (stream-ordered reuse); per-
//!   stream pools come with stream support in dispatch.
//!
//! Statistics use PyTorch's `memory_stats` names, as the host allocator's do.
use crate::alloc::{human, size_class, Stats};
use crate::error::{Error, Result};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Requests up to this size share segments.
pub const SMALL_LIMIT: usize = 1 << 20;
/// Size of a segment that small blocks are carved from.
pub const SMALL_SEGMENT: usize = 2 << 20;
/// Block sizes and offsets are multiples of this (so any element type is aligned).
pub const ROUND: usize = 512;

/// One allocation handed out: where it lives and how it is accounted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    pub handle: usize,
    pub offset: usize,
    pub size: usize,
    pub small: bool,
    pub requested: usize,
}

#[derive(Default)]
struct Segment {
    size: usize,
    /// offset -> (size, in use)
    blocks: BTreeMap<usize, (usize, bool)>,
    used: usize,
}

#[derive(Default)]
struct Pools {
    segments: HashMap<usize, Segment>,
    /// Free small blocks for best fit: (size, handle, offset).
    free_small: BTreeSet<(usize, usize, usize)>,
    /// Cached large segments by size class.
    free_large: HashMap<usize, Vec<usize>>,
    stats: Stats,
}

/// The raw memory of one device (a plugin's `alloc`/`free`, or a test double).
pub trait RawDevice: Send + Sync {
    /// A new buffer; `Ok(None)` when the device is out of memory.
    fn alloc(&self, nbytes: usize) -> Result<Option<usize>>;
    fn free(&self, handle: usize);
}

pub struct DeviceAllocator {
    raw: Box<dyn RawDevice>,
    label: String,
    pools: Mutex<Pools>,
    caching: AtomicBool,
}

impl DeviceAllocator {
    pub fn new(raw: Box<dyn RawDevice>, label: String) -> Self {
        DeviceAllocator { raw, label, pools: Mutex::new(Pools::default()), caching: AtomicBool::new(true) }
    }

    /// Raw allocation with one retry after returning the cache; a clear error on failure.
    fn fresh(&self, size: usize, nbytes: usize) -> Result<usize> {
        if let Some(h) = self.raw.alloc(size)? {
            return Ok(h);
        }
        self.empty_cache();
        self.pools.lock().unwrap().stats.num_alloc_retries += 1;
        if let Some(h) = self.raw.alloc(size)? {
            return Ok(h);
        }
        let mut p = self.pools.lock().unwrap();
        p.stats.num_ooms += 1;
        Err(Error::Memory(format!(
            "{} out of memory: tried to allocate {} ({} allocated by tensors, {} reserved by deepseek's allocator after freeing its cache)",
            self.label,
            human(nbytes),
            human(p.stats.allocated_bytes.current as usize),
            human(p.stats.reserved_bytes.current as usize)
        )))
    }

    pub fn allocate(&self, nbytes: usize) -> Result<Block> {
        let size = nbytes.max(1).div_ceil(ROUND) * ROUND;
        if size > SMALL_LIMIT {
            return self.allocate_large(nbytes);
        }
        {
            let mut p = self.pools.lock().unwrap();
            if let Some(b) = take_best_fit(&mut p, size, nbytes) {
                p.stats.cache_hits += 1;
                return Ok(b);
            }
        }
        // a shared segment, or, on a device too full for one, a segment of just this block
        let (handle, seg_size) = match self.raw.alloc(SMALL_SEGMENT)? {
            Some(h) => (h, SMALL_SEGMENT),
            None => (self.fresh(size, nbytes)?, size),
        };
        let mut p = self.pools.lock().unwrap();
        p.stats.reserved_bytes.add(seg_size as i64);
        p.stats.segment.add(1);
        let mut seg = Segment { size: seg_size, ..Default::default() };
        seg.blocks.insert(0, (seg_size, false));
        p.segments.insert(handle, seg);
        p.free_small.insert((seg_size, handle, 0));
        Ok(take_best_fit(&mut p, size, nbytes).expect("a fresh segment fits a small block"))
    }

    fn allocate_large(&self, nbytes: usize) -> Result<Block> {
        let class = size_class(nbytes);
        let cached = if self.caching.load(Ordering::Relaxed) {
            self.pools.lock().unwrap().free_large.get_mut(&class).and_then(|v| v.pop())
        } else {
            None
        };
        let handle = match cached {
            Some(h) => {
                self.pools.lock().unwrap().stats.cache_hits += 1;
                h
            }
            None => {
                let h = self.fresh(class, nbytes)?;
                let mut p = self.pools.lock().unwrap();
                p.stats.reserved_bytes.add(class as i64);
                p.stats.segment.add(1);
                h
            }
        };
        let mut p = self.pools.lock().unwrap();
        p.stats.on_alloc(class, nbytes);
        Ok(Block { handle, offset: 0, size: class, small: false, requested: nbytes })
    }

    pub fn release(&self, b: Block) {
        let caching = self.caching.load(Ordering::Relaxed);
        let mut to_free = None;
        {
            let mut p = self.pools.lock().unwrap();
            p.stats.on_release(b.size, b.requested);
            if !b.small {
                if caching {
                    p.free_large.entry(b.size).or_default().push(b.handle);
                } else {
                    p.stats.reserved_bytes.sub(b.size as i64);
                    p.stats.segment.sub(1);
                    to_free = Some(b.handle);
                }
            } else {
                let p = &mut *p;
                let seg = p.segments.get_mut(&b.handle).expect("block of a known segment");
                seg.used -= b.size;
                let (mut off, mut size) = (b.offset, b.size);
                // merge with the free block after, then the one before
                if let Some((&noff, &(nsize, used))) = seg.blocks.range(off + size..).next() {
                    if !used && noff == off + size {
                        seg.blocks.remove(&noff);
                        p.free_small.remove(&(nsize, b.handle, noff));
                        size += nsize;
                    }
                }
                if let Some((&poff, &(psize, used))) = seg.blocks.range(..off).next_back() {
                    if !used && poff + psize == off {
                        seg.blocks.remove(&off);
                        p.free_small.remove(&(psize, b.handle, poff));
                        off = poff;
                        size += psize;
                    }
                }
                seg.blocks.insert(off, (size, false));
                if seg.used == 0 && !caching {
                    let ssize = seg.size;
                    p.segments.remove(&b.handle);
                    p.stats.reserved_bytes.sub(ssize as i64);
                    p.stats.segment.sub(1);
                    to_free = Some(b.handle);
                } else {
                    p.free_small.insert((size, b.handle, off));
                }
            }
        }
        // outside the lock: a plugin's free may call back into Python
        if let Some(h) = to_free {
            self.raw.free(h);
        }
    }

    /// Returns every cached segment (large ones, and small ones with no block in use).
    pub fn empty_cache(&self) {
        let mut handles = Vec::new();
        {
            let mut p = self.pools.lock().unwrap();
            let p = &mut *p;
            for (class, v) in std::mem::take(&mut p.free_large) {
                for h in v {
                    p.stats.reserved_bytes.sub(class as i64);
                    p.stats.segment.sub(1);
                    handles.push(h);
                }
            }
            let idle: Vec<usize> = p.segments.iter().filter(|(_, s)| s.used == 0).map(|(&h, _)| h).collect();
            for h in idle {
                let seg = p.segments.remove(&h).unwrap();
                for (&off, &(size, _)) in &seg.blocks {
                    p.free_small.remove(&(size, h, off));
                }
                p.stats.reserved_bytes.sub(seg.size as i64);
                p.stats.segment.sub(1);
                handles.push(h);
            }
        }
        for h in handles {
            self.raw.free(h);
        }
    }

    pub fn set_caching(&self, on: bool) {
        self.caching.store(on, Ordering::Relaxed);
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

/// Takes the smallest free small block of at least `size`, splitting off the rest.
fn take_best_fit(p: &mut Pools, size: usize, requested: usize) -> Option<Block> {
    let &(bsize, handle, off) = p.free_small.range((size, 0, 0)..).next()?;
    p.free_small.remove(&(bsize, handle, off));
    let seg = p.segments.get_mut(&handle).expect("free block of a known segment");
    if bsize - size >= ROUND {
        seg.blocks.insert(off, (size, true));
        seg.blocks.insert(off + size, (bsize - size, false));
        p.free_small.insert((bsize - size, handle, off + size));
    } else {
        seg.blocks.insert(off, (bsize, true));
    }
    let taken = seg.blocks[&off].0;
    seg.used += taken;
    p.stats.on_alloc(taken, requested);
    Some(Block { handle, offset: off, size: taken, small: true, requested })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    /// A device with `cap` bytes, counting allocations and frees.
    struct Fake {
        cap: usize,
        used: Arc<AtomicUsize>,
        next: AtomicUsize,
        sizes: Mutex<HashMap<usize, usize>>,
    }
    impl RawDevice for Fake {
        fn alloc(&self, n: usize) -> Result<Option<usize>> {
            if self.used.load(Ordering::Relaxed) + n > self.cap {
                return Ok(None);
            }
            self.used.fetch_add(n, Ordering::Relaxed);
            let h = self.next.fetch_add(1, Ordering::Relaxed) + 1;
            self.sizes.lock().unwrap().insert(h, n);
            Ok(Some(h))
        }
        fn free(&self, h: usize) {
            let n = self.sizes.lock().unwrap().remove(&h).expect("double free");
            self.used.fetch_sub(n, Ordering::Relaxed);
        }
    }
    fn fake(cap: usize) -> (DeviceAllocator, Arc<AtomicUsize>) {
        let used = Arc::new(AtomicUsize::new(0));
        let f = Fake { cap, used: used.clone(), next: AtomicUsize::new(0), sizes: Mutex::new(HashMap::new()) };
        (DeviceAllocator::new(Box::new(f), "fake:0".into()), used)
    }

    #[test]
    fn small_blocks_split_one_segment_and_merge_back() {
        let (a, used) = fake(64 << 20);
        let b1 = a.allocate(1000).unwrap();
        let b2 = a.allocate(3000).unwrap();
        let b3 = a.allocate(512).unwrap();
        assert_eq!(used.load(Ordering::Relaxed), SMALL_SEGMENT, "one segment serves all three");
        assert!(b1.handle == b2.handle && b2.handle == b3.handle);
        let mut spans = [(b1.offset, b1.size), (b2.offset, b2.size), (b3.offset, b3.size)];
        spans.sort();
        assert!(spans.windows(2).all(|w| w[0].0 + w[0].1 <= w[1].0), "blocks do not overlap: {spans:?}");
        assert!(spans.iter().all(|&(o, _)| o % ROUND == 0));
        a.release(b2);
        let b4 = a.allocate(2000).unwrap();
        assert_eq!((b4.handle, b4.offset), (b2.handle, b2.offset), "best fit reuses the hole");
        for b in [b1, b3, b4] {
            a.release(b);
        }
        let s = a.stats();
        assert_eq!((s.allocated_bytes.current, s.reserved_bytes.current), (0, SMALL_SEGMENT as i64));
        let whole = a.allocate(SMALL_LIMIT).unwrap();
        assert_eq!(whole.offset, 0, "neighbours merged back into one free block");
        a.release(whole);
        a.empty_cache();
        assert_eq!(used.load(Ordering::Relaxed), 0);
        assert_eq!(a.stats().reserved_bytes.current, 0);
    }

    #[test]
    fn a_device_too_small_for_a_segment_still_gets_small_blocks() {
        let (a, used) = fake(1 << 20);
        let b = a.allocate(1000).unwrap();
        assert_eq!((b.offset, b.size), (0, 1024));
        assert_eq!(used.load(Ordering::Relaxed), 1024);
        a.release(b);
    }

    #[test]
    fn out_of_memory_frees_the_cache_retries_then_reports() {
        let (a, used) = fake(8 << 20);
        let big = a.allocate(5 << 20).unwrap();
        a.release(big); // cached, still held from the device
        assert!(used.load(Ordering::Relaxed) >= 5 << 20);
        let other = a.allocate(6 << 20).unwrap(); // needs the cache returned first
        assert_eq!(a.stats().num_alloc_retries, 1);
        let err = a.allocate(7 << 20).unwrap_err().to_string();
        assert!(err.starts_with("fake:0 out of memory: tried to allocate 7.00 MiB"), "{err}");
        assert_eq!(a.stats().num_ooms, 1);
        a.release(other);
        a.set_caching(false);
        assert_eq!(used.load(Ordering::Relaxed), 0);
    }
}
