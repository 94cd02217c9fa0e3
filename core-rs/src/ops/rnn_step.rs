//! The per-step products of the fused recurrent kernels against weights packed once per
//! sequence: `out += h W^T` for a step's few rows (the batch) against thousands of columns
//! (`Packed`), and for LSTM's forward the product with the whole cell behind it (`LstmPacked`:
//! the four gates of 16 hidden units side by side, so one register tile holds i, f, g and o of
//! the same units and the cell runs on the accumulators before they are stored).
//!
//! A general GEMM would repack the weights (or read them at a page-sized stride) at every step;
//! packed once, a step streams them once, in order, at 64-byte alignment. Float32 on AVX-512
//! runs register tiles written with intrinsics (up to 24 zmm accumulators, the h values
//! broadcast); other types and CPUs run `panel_block`, which the compiler vectorises.
use super::rnn_act::{activate_f32, Isa};
use super::rows::{par_rows, simd_fn, Fl};
use crate::dtype::DType;
use crate::kernels::SendPtr;

/// Columns per packed panel (one AVX-512 float32 vector).
pub(super) const PW: usize = 16;
/// Batch rows per block of the portable product (their accumulators stay in registers).
const RB: usize = 8;

/// Storage for packed panels whose first element sits on a 64-byte boundary (full-width loads
/// then never straddle two cache lines).
struct Aligned<T> {
    buf: Vec<T>,
    off: usize,
}

impl<T: Fl> Aligned<T> {
    fn zeros(len: usize) -> Self {
        let pad = 64 / std::mem::size_of::<T>();
        let buf = vec![T::zero(); len + pad];
        let off = buf.as_ptr().align_offset(64).min(pad);
        Aligned { buf, off }
    }
    fn data(&self) -> &[T] {
        &self.buf[self.off..]
    }
    fn data_mut(&mut self) -> &mut [T] {
        &mut self.buf[self.off..]
    }
}

/// `s` as the f32 slice it is (panics unless T is f32).
pub(super) fn f32s<T: Fl>(s: &[T]) -> &[f32] {
    assert!(T::DT == DType::F32);
    // SAFETY: T is f32
    unsafe { std::slice::from_raw_parts(s.as_ptr() as *const f32, s.len()) }
}

/// `s` as the mutable f32 slice it is (panics unless T is f32).
pub(super) fn f32s_mut<T: Fl>(s: &mut [T]) -> &mut [f32] {
    assert!(T::DT == DType::F32);
    // SAFETY: T is f32
    unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr() as *mut f32, s.len()) }
}

/// Whether the float32 AVX-512 tiles run for `T` here.
fn wide_f32<T: Fl>() -> bool {
    T::DT == DType::F32 && super::rows::avx512()
}

/// A step's weight matrix `w` [cols, k] (out = h w^T) as panels of PW columns, each [k][PW].
pub(super) struct Packed<T> {
    data: Aligned<T>,
    cols: usize,
    k: usize,
}

impl<T: Fl> Packed<T> {
    /// Packs the [cols, k] matrix whose element (j, kk) is `w[j * js + kk * ks]`.
    pub(super) fn new(w: &[T], cols: usize, k: usize, js: usize, ks: usize) -> Self {
        let mut data = Aligned::zeros(cols.div_ceil(PW) * k * PW);
        let d = data.data_mut();
        for j in 0..cols {
            let base = (j / PW) * k * PW + j % PW;
            for kk in 0..k {
                d[base + kk * PW] = w[j * js + kk * ks];
            }
        }
        Packed { data, cols, k }
    }

    /// `out [n, cols] += h [n, k] @ w^T`, column groups split across the threads.
    pub(super) fn step(&self, h: &[T], n: usize, out: &mut [T]) {
        self.step_by(wide_f32::<T>(), h, n, out)
    }

    /// `step` by the AVX-512 tiles (`wide`: f32 on a CPU with AVX-512 only) or the portable loop.
    fn step_by(&self, wide: bool, h: &[T], n: usize, out: &mut [T]) {
        assert!(!wide || wide_f32::<T>());
        let (k, cols) = (self.k, self.cols);
        assert!(h.len() >= n * k && out.len() >= n * cols);
        if n == 0 || cols == 0 {
            return;
        }
        let panels = cols.div_ceil(PW);
        let po = SendPtr(out.as_mut_ptr() as *mut u8);
        let (hp, pp) = (SendPtr(h.as_ptr() as *mut u8), SendPtr(self.data.data().as_ptr() as *mut u8));
        #[cfg(target_arch = "x86_64")]
        if wide {
            // rows per tile: at most 12, as even as the batch allows; 4 panels (64 columns)
            // per tile up to 6 rows, 2 above, so a tile keeps <= 24 accumulators
            let blocks = n.div_ceil(12);
            let mr = n.div_ceil(blocks);
            let np = if mr <= 6 { 4 } else { 2 };
            par_rows(panels.div_ceil(np), k * n * PW * np, |g0, g1| {
                for g in g0..g1 {
                    let (p0, p1) = (g * np, ((g + 1) * np).min(panels));
                    let last = cols - (p1 - 1) * PW;
                    let mask = if last >= PW { u16::MAX } else { (1u16 << last) - 1 };
                    let mut r0 = 0;
                    while r0 < n {
                        let rows = mr.min(n - r0);
                        // SAFETY: f32 (checked by wide_f32) with AVX-512; the tile reads panels
                        // p0..p1 and h's rows r0.., and writes only its own block of out
                        unsafe {
                            let w = (pp.get() as *const f32).add(p0 * k * PW);
                            let hr = (hp.get() as *const f32).add(r0 * k);
                            let o = (po.get() as *mut f32).add(r0 * cols + p0 * PW);
                            x512::tile(rows, p1 - p0, w, k, hr, k, o, cols, mask);
                        }
                        r0 += rows;
                    }
                }
            });
            return;
        }
        par_rows(panels, k * n * PW, |p0, p1| {
            for p in p0..p1 {
                let (j0, width) = (p * PW, PW.min(cols - p * PW));
                for r0 in (0..n).step_by(RB) {
                    // SAFETY: each panel writes its own columns of out; h and the panels are read
                    unsafe {
                        let panel = std::slice::from_raw_parts((pp.get() as *const T).add(p * k * PW), k * PW);
                        let rows = RB.min(n - r0);
                        let hb = std::slice::from_raw_parts((hp.get() as *const T).add(r0 * k), rows * k);
                        panel_block::<T>(panel, hb, k, rows, po.get() as *mut T, cols, r0 * cols + j0, width);
                    }
                }
            }
        });
    }
}

simd_fn! {
    /// `out[r, j] += Σ_kk h[r, kk] panel[kk, j]` for the `rows` (<= RB) rows of `h` and the
    /// `width` (<= PW) columns of one panel; out's row r, column j is at `out + off + r * ldo + j`.
    fn panel_block<T: Fl>(panel: &[T], h: &[T], k: usize, rows: usize, out: *mut T, ldo: usize, off: usize, width: usize) {
        let mut acc = [[T::zero(); PW]; RB];
        if rows == RB {
            for kk in 0..k {
                let w: &[T; PW] = panel[kk * PW..kk * PW + PW].try_into().unwrap();
                for r in 0..RB {
                    // SAFETY: r * k + kk < RB * k = h.len()
                    let x = unsafe { *h.get_unchecked(r * k + kk) };
                    for j in 0..PW {
                        acc[r][j] += x * w[j];
                    }
                }
            }
        } else {
            for kk in 0..k {
                let w: &[T; PW] = panel[kk * PW..kk * PW + PW].try_into().unwrap();
                for r in 0..rows {
                    let x = h[r * k + kk];
                    for j in 0..PW {
                        acc[r][j] += x * w[j];
                    }
                }
            }
        }
        for (r, a) in acc.iter().enumerate().take(rows) {
            // SAFETY: the caller's out holds these rows and columns, and no one else writes them
            let o = unsafe { std::slice::from_raw_parts_mut(out.add(off + r * ldo), width) };
            for (d, &v) in o.iter_mut().zip(a) {
                *d += v;
            }
        }
    }
}

/// LSTM's W_hh [4H, k] packed for the fused float32 step: per block of PW hidden units, the
/// panels of gates i, f, g, o ([k][PW] each) one after another.
pub(super) struct LstmPacked {
    data: Aligned<f32>,
    h: usize,
    k: usize,
}

/// One LSTM step's operands and results for `LstmPacked::step`, all rows contiguous.
pub(super) struct LstmStep<'a> {
    /// x's part of the pre-activations (bias included) [n, 4H]
    pub x: &'a [f32],
    /// the next step's x [n, 4H], fetched into the cache meanwhile (the input projection of
    /// a long sequence is far larger than the cache)
    pub x_next: Option<&'a [f32]>,
    /// b_hh [4H], when not folded into x
    pub bias: Option<&'a [f32]>,
    /// h_{t-1} [n, k]
    pub h_prev: &'a [f32],
    /// c_{t-1} [n, H]
    pub c_prev: &'a [f32],
    /// c_t [n, H]
    pub c: &'a mut [f32],
    /// o * tanh(c_t) [n, H]
    pub h: &'a mut [f32],
    /// the activated gates i, f, g, o [n, 4H], kept for the backward
    pub gates: Option<&'a mut [f32]>,
}

impl LstmPacked {
    /// Whether the fused step runs for `T` on this CPU.
    pub(super) fn available<T: Fl>() -> bool {
        cfg!(target_arch = "x86_64") && wide_f32::<T>()
    }

    /// Packs `w` [4H, k] (row-major).
    pub(super) fn new(w: &[f32], h: usize, k: usize) -> Self {
        let blocks = h.div_ceil(PW);
        let mut data = Aligned::zeros(blocks * 4 * k * PW);
        let d = data.data_mut();
        for q in 0..4 {
            for j in 0..h {
                let base = ((j / PW) * 4 + q) * k * PW + j % PW;
                let row = &w[(q * h + j) * k..(q * h + j + 1) * k];
                for (kk, &v) in row.iter().enumerate() {
                    d[base + kk * PW] = v;
                }
            }
        }
        LstmPacked { data, h, k }
    }

    /// One step over `n` rows: the gates' pre-activations x + b + h_prev W_hh^T and the cell
    /// after them; hidden blocks split across the threads.
    pub(super) fn step(&self, n: usize, s: LstmStep) {
        let (h, k) = (self.h, self.k);
        assert!(s.x.len() >= n * 4 * h && s.h_prev.len() >= n * k && s.c_prev.len() >= n * h && s.c.len() >= n * h && s.h.len() >= n * h);
        assert!(s.bias.is_none_or(|b| b.len() >= 4 * h) && s.gates.as_ref().is_none_or(|g| g.len() >= n * 4 * h));
        assert!(s.x_next.is_none_or(|x| x.len() >= n * 4 * h));
        if n == 0 || h == 0 {
            return;
        }
        let blocks = h.div_ceil(PW);
        let mr = n.div_ceil(n.div_ceil(6));
        let ptr = |v: &[f32]| SendPtr(v.as_ptr() as *mut u8);
        let (x, hp, cp, w) = (ptr(s.x), ptr(s.h_prev), ptr(s.c_prev), ptr(self.data.data()));
        let (bias, x_next) = (s.bias.map(ptr), s.x_next.map(ptr));
        let (c, hn) = (SendPtr(s.c.as_mut_ptr() as *mut u8), SendPtr(s.h.as_mut_ptr() as *mut u8));
        let gates = s.gates.map(|g| SendPtr(g.as_mut_ptr() as *mut u8));
        par_rows(blocks, k * n * PW * 4, |b0, b1| {
            for b in b0..b1 {
                let j0 = b * PW;
                let width = PW.min(h - j0);
                let mut r0 = 0;
                while r0 < n {
                    let rows = mr.min(n - r0);
                    #[cfg(target_arch = "x86_64")]
                    // SAFETY: `available` checked AVX-512; the tile reads its panels and rows
                    // and writes columns j0..j0 + width of rows r0..r0 + rows only
                    unsafe {
                        let f = |p: SendPtr| p.get() as *mut f32;
                        let t = x512::LstmTile {
                            w: f(w).add(b * 4 * k * PW),
                            k,
                            h,
                            x: f(x).add(r0 * 4 * h + j0),
                            x_next: x_next.map_or(std::ptr::null(), |p| f(p).add(r0 * 4 * h + j0) as *const f32),
                            bias: bias.map_or(std::ptr::null(), |p| f(p).add(j0) as *const f32),
                            h_prev: f(hp).add(r0 * k),
                            c_prev: f(cp).add(r0 * h + j0),
                            c: f(c).add(r0 * h + j0),
                            hn: f(hn).add(r0 * h + j0),
                            gates: gates.map_or(std::ptr::null_mut(), |p| f(p).add(r0 * 4 * h + j0)),
                            mask: if width >= PW { u16::MAX } else { (1u16 << width) - 1 },
                        };
                        t.run(rows);
                    }
                    r0 += rows;
                }
            }
        });
    }
}

/// One LSTM row in float32 where the fused tile does not run: `g` holds the pre-activations
/// i, f, g, o and gets their activations (by `isa`'s copy); c = f * c_prev + i * g and
/// hpre = o * tanh(c).
pub(super) fn lstm_cell_f32(isa: Isa, g: &mut [f32], c_prev: &[f32], c: &mut [f32], hpre: &mut [f32]) {
    let h = c.len();
    activate_f32(isa, false, &mut g[..2 * h]);
    activate_f32(isa, true, &mut g[2 * h..3 * h]);
    activate_f32(isa, false, &mut g[3 * h..4 * h]);
    let (i, rest) = g.split_at(h);
    let (f, rest) = rest.split_at(h);
    let (gv, o) = rest.split_at(h);
    for j in 0..h {
        c[j] = f[j] * c_prev[j] + i[j] * gv[j];
    }
    hpre[..h].copy_from_slice(c);
    activate_f32(isa, true, &mut hpre[..h]);
    hpre[..h].iter_mut().zip(o).for_each(|(v, &o)| *v *= o);
}

/// The AVX-512 float32 register tiles.
#[cfg(target_arch = "x86_64")]
mod x512 {
    use super::super::rnn_act::x512::{sigmoid, tanh};
    use super::PW;
    use std::arch::x86_64::*;

    /// `out[r, :] += Σ_kk h[r * ldh + kk] w[p][kk]` for MR rows and NP panels (the last one's
    /// columns masked by `mask`), out's rows `ldo` apart.
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn tile_mn<const MR: usize, const NP: usize>(w: *const f32, k: usize, h: *const f32, ldh: usize, out: *mut f32, ldo: usize, mask: u16) {
        let mut acc = [[_mm512_setzero_ps(); NP]; MR];
        for kk in 0..k {
            let mut wv = [_mm512_setzero_ps(); NP];
            for (p, v) in wv.iter_mut().enumerate() {
                *v = _mm512_load_ps(w.add((p * k + kk) * PW));
            }
            for (r, a) in acc.iter_mut().enumerate() {
                let x = _mm512_set1_ps(*h.add(r * ldh + kk));
                for p in 0..NP {
                    a[p] = _mm512_fmadd_ps(x, wv[p], a[p]);
                }
            }
        }
        for (r, a) in acc.iter().enumerate() {
            for (p, &v) in a.iter().enumerate() {
                let m = if p + 1 == NP { mask } else { u16::MAX };
                let o = out.add(r * ldo + p * PW);
                _mm512_mask_storeu_ps(o, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, o), v));
            }
        }
    }

    /// `tile_mn` for a runtime row count (1..=12) and panel count (1..=4, <= 2 above 6 rows).
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn tile(rows: usize, np: usize, w: *const f32, k: usize, h: *const f32, ldh: usize, out: *mut f32, ldo: usize, mask: u16) {
        macro_rules! go {
            ($($r:literal => [$($p:literal),*]),*) => {
                match (rows, np) {
                    $($(($r, $p) => tile_mn::<$r, $p>(w, k, h, ldh, out, ldo, mask),)*)*
                    _ => unreachable!("rnn step tile {rows}x{np}"),
                }
            };
        }
        go!(1 => [1, 2, 3, 4], 2 => [1, 2, 3, 4], 3 => [1, 2, 3, 4], 4 => [1, 2, 3, 4], 5 => [1, 2, 3, 4], 6 => [1, 2, 3, 4],
            7 => [1, 2], 8 => [1, 2], 9 => [1, 2], 10 => [1, 2], 11 => [1, 2], 12 => [1, 2])
    }

    /// One tile of the fused LSTM step: rows of the batch by the PW hidden units of one block
    /// (pointers at the tile's first row and unit; `h` = hidden size, the rows' stride).
    pub(super) struct LstmTile {
        pub w: *const f32,
        pub k: usize,
        pub h: usize,
        pub x: *const f32,
        /// the next step's `x` (or null), to prefetch
        pub x_next: *const f32,
        pub bias: *const f32,
        pub h_prev: *const f32,
        pub c_prev: *const f32,
        pub c: *mut f32,
        pub hn: *mut f32,
        pub gates: *mut f32,
        pub mask: u16,
    }

    impl LstmTile {
        /// # Safety
        /// AVX-512F is present and the pointers hold the tile's rows and columns.
        pub(super) unsafe fn run(&self, rows: usize) {
            match rows {
                1 => self.rows::<1>(),
                2 => self.rows::<2>(),
                3 => self.rows::<3>(),
                4 => self.rows::<4>(),
                5 => self.rows::<5>(),
                6 => self.rows::<6>(),
                _ => unreachable!("lstm step tile of {rows} rows"),
            }
        }

        /// x + b + h_prev W^T for the tile, in registers. Kept out of line: inlined into the
        /// cell's epilogue, whose register pressure made the compiler store every
        /// accumulator back to the stack at every k.
        #[inline(never)]
        #[target_feature(enable = "avx512f")]
        unsafe fn product<const MR: usize>(&self) -> [[__m512; 4]; MR] {
            let (k, h, m) = (self.k, self.h, self.mask);
            let mut acc = [[_mm512_setzero_ps(); 4]; MR];
            for (r, a) in acc.iter_mut().enumerate() {
                for (q, v) in a.iter_mut().enumerate() {
                    *v = _mm512_maskz_loadu_ps(m, self.x.add(r * 4 * h + q * h));
                    if !self.bias.is_null() {
                        *v = _mm512_add_ps(*v, _mm512_maskz_loadu_ps(m, self.bias.add(q * h)));
                    }
                }
            }
            for kk in 0..k {
                let w = self.w.add(kk * PW);
                let wv = [_mm512_load_ps(w), _mm512_load_ps(w.add(k * PW)), _mm512_load_ps(w.add(2 * k * PW)), _mm512_load_ps(w.add(3 * k * PW))];
                for (r, a) in acc.iter_mut().enumerate() {
                    let x = _mm512_set1_ps(*self.h_prev.add(r * k + kk));
                    for q in 0..4 {
                        a[q] = _mm512_fmadd_ps(x, wv[q], a[q]);
                    }
                }
            }
            acc
        }

        #[target_feature(enable = "avx512f")]
        unsafe fn rows<const MR: usize>(&self) {
            let (h, m) = (self.h, self.mask);
            if !self.x_next.is_null() {
                for r in 0..MR {
                    for q in 0..4 {
                        // the 16 floats may straddle two cache lines
                        let p = self.x_next.add(r * 4 * h + q * h) as *const i8;
                        _mm_prefetch::<_MM_HINT_T0>(p);
                        _mm_prefetch::<_MM_HINT_T0>(p.add(63));
                    }
                }
            }
            let acc = self.product::<MR>();
            for (r, a) in acc.iter().enumerate() {
                let (i, f, g, o) = (sigmoid(a[0]), sigmoid(a[1]), tanh(a[2]), sigmoid(a[3]));
                let cp = _mm512_maskz_loadu_ps(m, self.c_prev.add(r * h));
                let c = _mm512_fmadd_ps(f, cp, _mm512_mul_ps(i, g));
                _mm512_mask_storeu_ps(self.c.add(r * h), m, c);
                _mm512_mask_storeu_ps(self.hn.add(r * h), m, _mm512_mul_ps(o, tanh(c)));
                if !self.gates.is_null() {
                    let gp = self.gates.add(r * 4 * h);
                    for (q, v) in [i, f, g, o].into_iter().enumerate() {
                        _mm512_mask_storeu_ps(gp.add(q * h), m, v);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reproducible pseudo-random sequence in [-1, 1).
    fn noise(len: usize, seed: u64) -> Vec<f64> {
        let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (0..len)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
            })
            .collect()
    }

    /// out0 + h w^T in f64, w [cols, k] row-major.
    fn reference(h: &[f64], w: &[f64], out0: &[f64], n: usize, cols: usize, k: usize) -> Vec<f64> {
        let mut out = out0.to_vec();
        for r in 0..n {
            for j in 0..cols {
                out[r * cols + j] += (0..k).map(|kk| h[r * k + kk] * w[j * k + kk]).sum::<f64>();
            }
        }
        out
    }

    /// Every tile shape (row counts 1-13 and past, panel tails) by each copy against f64.
    #[test]
    fn packed_step_matches_f64() {
        for (n, cols, k) in [(1, 1, 1), (1, 16, 7), (2, 17, 3), (3, 100, 64), (5, 64, 33), (6, 65, 9), (7, 40, 5), (12, 129, 16), (13, 48, 20), (16, 31, 64), (33, 70, 11), (64, 256, 8)] {
            let (h, w, o) = (noise(n * k, 1), noise(cols * k, 2), noise(n * cols, 3));
            let want = reference(&h, &w, &o, n, cols, k);
            let p64 = Packed::new(&w, cols, k, k, 1);
            let mut got = o.clone();
            p64.step(&h, n, &mut got);
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-12 * (k as f64), "f64 {n}x{cols}x{k}: {g} vs {w}");
            }
            let f = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
            // the transposed packing (element (j, kk) at kk * cols + j) gives the same product
            let wt: Vec<f32> = (0..k * cols).map(|i| w[(i % cols) * k + i / cols] as f32).collect();
            for (p32, wide) in [(Packed::new(&f(&w), cols, k, k, 1), false), (Packed::new(&wt, cols, k, 1, cols), wide_f32::<f32>())] {
                let mut got = f(&o);
                p32.step_by(wide, &f(&h), n, &mut got);
                for (g, w) in got.iter().zip(&want) {
                    assert!((*g as f64 - w).abs() < 1e-5 * (k as f64), "f32 wide={wide} {n}x{cols}x{k}: {g} vs {w}");
                }
            }
        }
    }

    fn sig(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }

    /// The fused LSTM step (where it runs) and the unfused f32 cell by each copy against f64.
    #[test]
    fn lstm_step_matches_f64() {
        for (n, h, k, bias, keep) in [(1, 1, 1, false, false), (2, 16, 16, true, true), (5, 17, 8, false, true), (6, 40, 3, true, false), (13, 33, 24, false, true), (8, 64, 64, true, true)] {
            let (x, w, b) = (noise(n * 4 * h, 4), noise(4 * h * k, 5), noise(4 * h, 6));
            let (hp, cp) = (noise(n * k, 7), noise(n * h, 8));
            let mut pre = reference(&hp, &w, &x, n, 4 * h, k);
            if bias {
                pre.iter_mut().enumerate().for_each(|(i, v)| *v += b[i % (4 * h)]);
            }
            let mut want_c = vec![0.0; n * h];
            let mut want_h = vec![0.0; n * h];
            let mut want_g = vec![0.0; n * 4 * h];
            for r in 0..n {
                for j in 0..h {
                    let p = |q: usize| pre[r * 4 * h + q * h + j];
                    let (i, f, g, o) = (sig(p(0)), sig(p(1)), p(2).tanh(), sig(p(3)));
                    let c = f * cp[r * h + j] + i * g;
                    want_c[r * h + j] = c;
                    want_h[r * h + j] = o * c.tanh();
                    for (q, v) in [i, f, g, o].into_iter().enumerate() {
                        want_g[r * 4 * h + q * h + j] = v;
                    }
                }
            }
            let f = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
            let close = |got: &[f32], want: &[f64], what: &str| {
                for (g, w) in got.iter().zip(want) {
                    assert!((*g as f64 - w).abs() < 2e-5 * (k as f64).sqrt(), "{what} n={n} h={h} k={k}: {g} vs {w}");
                }
            };
            if LstmPacked::available::<f32>() {
                let p = LstmPacked::new(&f(&w), h, k);
                let (x32, b32, hp32, cp32) = (f(&x), f(&b), f(&hp), f(&cp));
                let (mut c, mut hn, mut g) = (vec![0f32; n * h], vec![0f32; n * h], vec![0f32; n * 4 * h]);
                p.step(n, LstmStep { x: &x32, x_next: Some(&x32), bias: bias.then_some(&b32[..]), h_prev: &hp32, c_prev: &cp32, c: &mut c, h: &mut hn, gates: keep.then_some(&mut g[..]) });
                close(&c, &want_c, "fused c");
                close(&hn, &want_h, "fused h");
                if keep {
                    close(&g, &want_g, "fused gates");
                }
            }
            let mut isas = vec![Isa::Portable];
            if super::super::rows::avx2() {
                isas.push(Isa::Avx2);
            }
            if super::super::rows::avx512() {
                isas.push(Isa::Avx512);
            }
            for isa in isas {
                let (mut c, mut hn) = (vec![0f32; n * h], vec![0f32; n * h]);
                let mut g = f(&pre);
                for r in 0..n {
                    let rows = r * h..(r + 1) * h;
                    lstm_cell_f32(isa, &mut g[r * 4 * h..(r + 1) * 4 * h], &f(&cp[rows.clone()]), &mut c[rows.clone()], &mut hn[rows]);
                }
                close(&c, &want_c, &format!("{isa:?} cell c"));
                close(&hn, &want_h, &format!("{isa:?} cell h"));
                close(&g, &want_g, &format!("{isa:?} cell gates"));
            }
        }
    }
}
