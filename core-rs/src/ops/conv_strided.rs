//! The im2col of strided convolutions (ResNet's downsampling 3x3 layers) through a
//! polyphase split: the image is cut once into its phase planes, P_rq[a, b] = x[s_h a + r,
//! s_w b + q], after which every row of the column matrix is a phase plane shifted by a
//! constant, one contiguous copy (as `im2col_same` does for stride 1), instead of a gather
//! with a stride per element. A strided 3x3 convolution is thus a sum of stride-1
//! convolutions of the phase planes with 2x2, 2x1, 1x2 and 1x1 kernels, and the column matrix
//! keeps the weight's (channel, ki, kj) order, so the GEMM after it is unchanged. The gather
//! cost 30-45% of these layers' time at 1 thread (perf, 8x128x56² to 8x512x14², stride 2).
//!
//! The input gradient of images with long output rows runs the same planes backwards
//! (`col2im`): each column row is added into its phase plane along contiguous runs, then the
//! planes are interleaved into the image.
use super::conv::Geo;

/// Where the samples of kernel tap `i` along one axis lie: x[s (o + shift) + phase residue]
/// for output position o, i.e. plane `phase` (an index into `Axis::residues`) at o + shift.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Tap {
    phase: usize,
    shift: isize,
}

/// The polyphase geometry of one axis: the residues some tap reads, each tap's phase and
/// shift, and the plane length along the axis (`len` samples, the first at phase index 0).
#[derive(Debug)]
struct Axis {
    residues: Vec<usize>,
    taps: Vec<Tap>,
    len: usize,
}

/// The axis of `k` taps with dilation `d`, padding `p`, stride `s` and `out` output samples;
/// the plane holds `out` samples plus as many as the largest forward shift reaches past them.
fn axis(k: usize, d: usize, p: usize, s: usize, out: usize) -> Axis {
    let mut residues = Vec::new();
    let mut taps = Vec::with_capacity(k);
    let mut ext = 0isize;
    for i in 0..k {
        let t = (i * d) as isize - p as isize;
        let (r, shift) = (t.rem_euclid(s as isize) as usize, t.div_euclid(s as isize));
        let phase = residues.iter().position(|&v| v == r).unwrap_or_else(|| {
            residues.push(r);
            residues.len() - 1
        });
        taps.push(Tap { phase, shift });
        ext = ext.max(shift);
    }
    Axis { residues, taps, len: out + ext as usize }
}

/// Whether the strided im2col applies: a stride above 1, more than one tap, and no tap
/// reading past the last output column in its plane ((kw - 1) dw - pw < sw), so that each
/// plane is exactly OW wide and a tap is one shifted copy of it. That holds for ResNet's
/// strided 3x3 layers, not for the 7x7 stem (6 - 3 >= 2), which keeps the gathering im2col.
/// A 1x1 strided layer's one plane is its whole column matrix: splitting and then copying it
/// is two passes where the gather makes one (2-5% slower at 1 thread on ResNet's three 1x1
/// stride-2 layers), so it keeps the gather too. The choice depends on the shape only.
pub(super) fn applies(g: &Geo) -> bool {
    let p = g.p;
    p.stride != (1, 1)
        && g.kh * g.kw > 1
        && (((g.kw - 1) * p.dilation.1) as isize - (p.padding.1 as isize)) < p.stride.1 as isize
}

/// Whether the input gradient scatters through phase planes too: only for output rows of at
/// least 16 samples. Zeroing the planes and interleaving them afterwards are two passes the
/// direct strided scatter does not make, and they pay off only with long contiguous runs; at
/// 1 thread, 8x512x14² stride 2 (rows of 7) took 14.2 ms against 13.0 ms scattering directly,
/// 8x256x28² (rows of 14) the same either way, 8x128x56² (rows of 28) 11.0 against 11.7 ms.
pub(super) fn col2im_applies(g: &Geo) -> bool {
    applies(g) && g.ow >= 16
}

/// The two axes of `g` (rows, columns) and the length of one phase plane.
fn axes(g: &Geo) -> (Axis, Axis, usize) {
    let p = g.p;
    let ay = axis(g.kh, p.dilation.0, p.padding.0, p.stride.0, g.oh);
    let ax = axis(g.kw, p.dilation.1, p.padding.1, p.stride.1, g.ow);
    debug_assert_eq!(ax.len, g.ow);
    let len = ay.len * g.ow;
    (ay, ax, len)
}

/// Cuts one image [C, H, W] into its phase planes [C, phases_y, phases_x, len_y, OW] in `planes`,
/// zero where a plane sample falls outside the image.
fn split<T: Copy + Default>(img: &[T], g: &Geo, ay: &Axis, ax: &Axis, planes: &mut Vec<T>) {
    let (sh, sw, ow) = (g.p.stride.0, g.p.stride.1, g.ow);
    let (ny, nx) = (ay.residues.len(), ax.residues.len());
    let plane = ay.len * ow;
    planes.resize(g.c * ny * nx * plane, T::default());
    let mut spare = vec![T::default(); if nx == 1 && sw == 2 { ow } else { 0 }];
    for ci in 0..g.c {
        let src_plane = &img[ci * g.h * g.w..(ci + 1) * g.h * g.w];
        let dst_c = &mut planes[ci * ny * nx * plane..(ci + 1) * ny * nx * plane];
        for (iy, &r) in ay.residues.iter().enumerate() {
            for a in 0..ay.len {
                let y = sh * a + r;
                let at = |ix: usize| (iy * nx + ix) * plane + a * ow;
                if y >= g.h {
                    for ix in 0..nx {
                        dst_c[at(ix)..at(ix) + ow].fill(T::default());
                    }
                    continue;
                }
                let src = &src_plane[y * g.w..(y + 1) * g.w];
                if sw == 2 && (nx == 2 || ax.residues[0] == 0) {
                    // both column phases in one pass (a 1x1 stride-2 layer discards the odd one)
                    let (e, o) = if nx == 2 {
                        let (lo, hi) = dst_c.split_at_mut(at(1));
                        let (lo, hi) = (&mut lo[at(0)..at(0) + ow], &mut hi[..ow]);
                        if ax.residues[0] == 0 { (lo, hi) } else { (hi, lo) }
                    } else {
                        (&mut dst_c[at(0)..at(0) + ow], &mut spare[..])
                    };
                    deinterleave(src, e, o);
                    continue;
                }
                for (ix, &q) in ax.residues.iter().enumerate() {
                    let d = &mut dst_c[at(ix)..at(ix) + ow];
                    for (b, v) in d.iter_mut().enumerate() {
                        let x = sw * b + q;
                        *v = if x < g.w { src[x] } else { T::default() };
                    }
                }
            }
        }
    }
}

/// `even[b] = src[2b]`, `odd[b] = src[2b + 1]` (zero past the end of `src`) for b < the
/// lengths of `even` and `odd` (equal).
fn deinterleave<T: Copy + Default>(src: &[T], even: &mut [T], odd: &mut [T]) {
    let n = even.len().min(odd.len());
    // b < full: both samples inside src
    let full = (src.len() / 2).min(n);
    #[cfg(target_arch = "x86_64")]
    let b = deinterleave_simd(src, even, odd, full);
    #[cfg(not(target_arch = "x86_64"))]
    let b = 0;
    for i in b..full {
        even[i] = src[2 * i];
        odd[i] = src[2 * i + 1];
    }
    for i in full..n {
        even[i] = if 2 * i < src.len() { src[2 * i] } else { T::default() };
        odd[i] = T::default();
    }
}

/// The vector part of `deinterleave` for 4- and 8-byte elements (bits moved, never computed
/// on): returns how many leading outputs it wrote (a multiple of the vector length, < `full`).
#[cfg(target_arch = "x86_64")]
fn deinterleave_simd<T: Copy>(src: &[T], even: &mut [T], odd: &mut [T], full: usize) -> usize {
    use super::rows::{avx2, avx512};
    let size = std::mem::size_of::<T>();
    if size != 4 && size != 8 {
        return 0;
    }
    let (s, e, o) = (src.as_ptr() as *const u8, even.as_mut_ptr() as *mut u8, odd.as_mut_ptr() as *mut u8);
    // SAFETY: each copy reads src[..2 * done] and writes even/odd[..done], done <= full, and
    // 2 * full <= src.len(), full <= even.len(), odd.len() (the caller's bounds).
    unsafe {
        if avx512() {
            return if size == 4 { x86::split32_512(s, e, o, full) } else { x86::split64_512(s, e, o, full) };
        }
        if avx2() {
            return if size == 4 { x86::split32_256(s, e, o, full) } else { x86::split64_256(s, e, o, full) };
        }
    }
    0
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// 16 pairs of 4-byte elements at a time.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn split32_512(s: *const u8, e: *mut u8, o: *mut u8, n: usize) -> usize {
        let ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        let io = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
        let mut b = 0;
        while b + 16 <= n {
            let lo = _mm512_loadu_si512(s.add(8 * b) as *const _);
            let hi = _mm512_loadu_si512(s.add(8 * b + 64) as *const _);
            _mm512_storeu_si512(e.add(4 * b) as *mut _, _mm512_permutex2var_epi32(lo, ie, hi));
            _mm512_storeu_si512(o.add(4 * b) as *mut _, _mm512_permutex2var_epi32(lo, io, hi));
            b += 16;
        }
        b
    }

    /// 8 pairs of 8-byte elements at a time.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn split64_512(s: *const u8, e: *mut u8, o: *mut u8, n: usize) -> usize {
        let ie = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
        let io = _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15);
        let mut b = 0;
        while b + 8 <= n {
            let lo = _mm512_loadu_si512(s.add(16 * b) as *const _);
            let hi = _mm512_loadu_si512(s.add(16 * b + 64) as *const _);
            _mm512_storeu_si512(e.add(8 * b) as *mut _, _mm512_permutex2var_epi64(lo, ie, hi));
            _mm512_storeu_si512(o.add(8 * b) as *mut _, _mm512_permutex2var_epi64(lo, io, hi));
            b += 8;
        }
        b
    }

    /// 8 pairs of 4-byte elements at a time.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn split32_256(s: *const u8, e: *mut u8, o: *mut u8, n: usize) -> usize {
        let mut b = 0;
        while b + 8 <= n {
            let lo = _mm256_loadu_ps(s.add(8 * b) as *const f32);
            let hi = _mm256_loadu_ps(s.add(8 * b + 32) as *const f32);
            // [lo0 lo2 hi0 hi2 | lo4 lo6 hi4 hi6], then the 64-bit lanes in order 0 2 1 3
            let ev = _mm256_castps_pd(_mm256_shuffle_ps::<0x88>(lo, hi));
            let od = _mm256_castps_pd(_mm256_shuffle_ps::<0xDD>(lo, hi));
            _mm256_storeu_pd(e.add(4 * b) as *mut f64, _mm256_permute4x64_pd::<0xD8>(ev));
            _mm256_storeu_pd(o.add(4 * b) as *mut f64, _mm256_permute4x64_pd::<0xD8>(od));
            b += 8;
        }
        b
    }

    /// 4 pairs of 8-byte elements at a time.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn split64_256(s: *const u8, e: *mut u8, o: *mut u8, n: usize) -> usize {
        let mut b = 0;
        while b + 4 <= n {
            let lo = _mm256_loadu_pd(s.add(16 * b) as *const f64);
            let hi = _mm256_loadu_pd(s.add(16 * b + 32) as *const f64);
            // [lo0 hi0 lo2 hi2] -> [lo0 lo2 hi0 hi2]
            _mm256_storeu_pd(e.add(8 * b) as *mut f64, _mm256_permute4x64_pd::<0xD8>(_mm256_unpacklo_pd(lo, hi)));
            _mm256_storeu_pd(o.add(8 * b) as *mut f64, _mm256_permute4x64_pd::<0xD8>(_mm256_unpackhi_pd(lo, hi)));
            b += 4;
        }
        b
    }
}

/// The range of positions t in l0..l1 (t = oi * w + oj over an [oh, w] output) whose sample
/// plane[t + dy * w + dx] of a [rows, w] plane lies inside it, ignoring the column wrap:
/// (a, b) with l0 <= a <= b <= l1.
fn inside(rows: isize, w: isize, oh: isize, dy: isize, dx: isize, l0: usize, l1: usize) -> (isize, isize) {
    let (l0, l1) = (l0 as isize, l1 as isize);
    let t_lo = ((-dy).max(0) * w).clamp(l0, l1);
    let t_hi = ((rows - dy).min(oh) * w).clamp(t_lo, l1);
    let shift = dy * w + dx;
    ((-shift).clamp(t_lo, t_hi), (rows * w - shift).clamp(t_lo, t_hi))
}

/// The columns [c0, c1) of each output row that a horizontal shift dx wraps into the
/// neighbouring row (to be zeroed or skipped).
fn wrapped(w: isize, dx: isize) -> (isize, isize) {
    let (c0, c1) = if dx < 0 { (0, -dx) } else { (w - dx, w) };
    (c0.clamp(0, w), c1.clamp(0, w))
}

/// One row of an im2col matrix, positions `l0..l0 + dst.len()`, from a plane of rows `w` long
/// read at a constant offset: `src[t + shift]` for positions `a..b` (those whose source lies
/// in the plane), zero elsewhere, and zero at the columns that wrapped around a row edge
/// (output columns `oj` with `oj + dx` outside `0..w`). One contiguous copy and a few fills
/// instead of a run per output row. `b <= a`: every position is zero (the tap sees only padding).
#[allow(clippy::too_many_arguments)]
pub(super) fn shifted_row<T: Copy + Default>(dst: &mut [T], src: &[T], l0: usize, a: isize, b: isize, shift: isize, w: isize, dx: isize) {
    if b <= a {
        dst.fill(T::default());
        return;
    }
    let rel = |t: isize| (t - l0 as isize) as usize;
    dst[..rel(a)].fill(T::default());
    dst[rel(a)..rel(b)].copy_from_slice(&src[(a + shift) as usize..(b + shift) as usize]);
    dst[rel(b)..].fill(T::default());
    if dx != 0 {
        let (c0, c1) = wrapped(w, dx);
        let mut r0 = a / w * w;
        while r0 < b {
            let (z0, z1) = ((r0 + c0).max(a), (r0 + c1).min(b));
            if z1 > z0 {
                dst[rel(z0)..rel(z1)].fill(T::default());
            }
            r0 += w;
        }
    }
}

/// Fills columns `off..off + (l1 - l0)` of `col` (rows of stride `ld`, one per (channel, ki,
/// kj)) with the im2col columns of output positions l0..l1 of one image, from its phase planes
/// in `planes`, which this call fills first when l0 == 0 (callers walk an image's tiles in
/// order from position 0, and each worker has its own `planes`).
#[allow(clippy::too_many_arguments)]
pub(super) fn im2col<T: Copy + Default>(img: &[T], g: &Geo, l0: usize, l1: usize, col: &mut [T], ld: usize, off: usize, planes: &mut Vec<T>) {
    let (ay, ax, plane) = axes(g);
    if l0 == 0 {
        split(img, g, &ay, &ax, planes);
    }
    let (rows, w, oh) = (ay.len as isize, g.ow as isize, g.oh as isize);
    let nx = ax.residues.len();
    let nph = ay.residues.len() * nx;
    let mut row = 0;
    for ci in 0..g.c {
        for ty in &ay.taps {
            for tx in &ax.taps {
                let p0 = (ci * nph + ty.phase * nx + tx.phase) * plane;
                let src = &planes[p0..p0 + plane];
                let dst = &mut col[row * ld + off..row * ld + off + (l1 - l0)];
                row += 1;
                let (a, b) = inside(rows, w, oh, ty.shift, tx.shift, l0, l1);
                shifted_row(dst, src, l0, a, b, ty.shift * w + tx.shift, w, tx.shift);
            }
        }
    }
}

/// The input gradient's scatter: adds columns `off..off + OH*OW` of `col` (rows of stride
/// `ld`, one per (channel, ki, kj)) into one image gradient [C, H, W], through phase planes
/// (`planes` is scratch): each row adds into its plane along contiguous runs, then the planes
/// are interleaved into `img` (every input sample lies on exactly one phase; samples no tap
/// reads get zero).
pub(super) fn col2im<T: Copy + Default + std::ops::AddAssign>(col: &[T], g: &Geo, img: &mut [T], ld: usize, off: usize, planes: &mut Vec<T>) {
    let (ay, ax, plane) = axes(g);
    let (ny, nx) = (ay.residues.len(), ax.residues.len());
    planes.clear();
    planes.resize(g.c * ny * nx * plane, T::default());
    let (rows, w, oh) = (ay.len as isize, g.ow as isize, g.oh as isize);
    let mut row = 0;
    for ci in 0..g.c {
        for ty in &ay.taps {
            for tx in &ax.taps {
                let p0 = (ci * ny * nx + ty.phase * nx + tx.phase) * plane;
                let dst = &mut planes[p0..p0 + plane];
                let src = &col[row * ld + off..row * ld + off + g.l()];
                row += 1;
                let (a, b) = inside(rows, w, oh, ty.shift, tx.shift, 0, g.l());
                let shift = ty.shift * w + tx.shift;
                let (c0, c1) = if tx.shift != 0 { wrapped(w, tx.shift) } else { (0, 0) };
                // output row by output row, skipping the wrapped columns
                let mut r0 = a / w * w;
                while r0 < b {
                    let mut add = |z0: isize, z1: isize| {
                        let (z0, z1) = (z0.max(a).max(r0), z1.min(b).min(r0 + w));
                        if z1 > z0 {
                            let d = &mut dst[(z0 + shift) as usize..(z1 + shift) as usize];
                            for (d, &v) in d.iter_mut().zip(&src[z0 as usize..z1 as usize]) {
                                *d += v;
                            }
                        }
                    };
                    if c1 > c0 {
                        add(r0, r0 + c0);
                        add(r0 + c1, r0 + w);
                    } else {
                        add(r0, r0 + w);
                    }
                    r0 += w;
                }
            }
        }
    }
    // interleave: img[ci, s_h a + r, s_w b + q] = plane (r, q)[a, b]
    let (sh, sw, ow) = (g.p.stride.0, g.p.stride.1, g.ow);
    img.fill(T::default());
    for ci in 0..g.c {
        let out = &mut img[ci * g.h * g.w..(ci + 1) * g.h * g.w];
        for (iy, &r) in ay.residues.iter().enumerate() {
            for a in 0..ay.len {
                let y = sh * a + r;
                if y >= g.h {
                    break;
                }
                let orow = &mut out[y * g.w..(y + 1) * g.w];
                for (ix, &q) in ax.residues.iter().enumerate() {
                    // samples b with q + sw b < W
                    if q >= g.w {
                        continue;
                    }
                    let nb = (g.w - q).div_ceil(sw).min(ow);
                    let p0 = ((ci * ny + iy) * nx + ix) * plane + a * ow;
                    for (d, &v) in orow[q..].iter_mut().step_by(sw).zip(&planes[p0..p0 + nb]) {
                        *d = v;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taps_of_resnet_strided_3x3() {
        // 3x3, stride 2, padding 1: taps 0 and 2 on the odd phase (shifts -1, 0), tap 1 on the even one
        let a = axis(3, 1, 1, 2, 28);
        assert_eq!(a.residues, [1, 0]);
        assert_eq!(a.taps, [Tap { phase: 0, shift: -1 }, Tap { phase: 1, shift: 0 }, Tap { phase: 0, shift: 0 }]);
        assert_eq!(a.len, 28);
        // no padding: tap 2 reads one sample past the output's end
        assert_eq!(axis(3, 1, 0, 2, 27).len, 28);
    }

    #[test]
    fn deinterleave_every_length() {
        for n in 0..40usize {
            let src: Vec<f32> = (0..n).map(|i| i as f32 + 1.0).collect();
            let src64: Vec<f64> = (0..n).map(|i| i as f64 + 1.0).collect();
            for m in [n / 2, n.div_ceil(2), n.div_ceil(2) + 3] {
                let (mut e, mut o) = (vec![-1f32; m], vec![-1f32; m]);
                deinterleave(&src, &mut e, &mut o);
                let (mut e64, mut o64) = (vec![-1f64; m], vec![-1f64; m]);
                deinterleave(&src64, &mut e64, &mut o64);
                for b in 0..m {
                    let want = |x: usize| if x < n { x as f32 + 1.0 } else { 0.0 };
                    assert_eq!((e[b], o[b]), (want(2 * b), want(2 * b + 1)), "n {n} m {m} b {b}");
                    assert_eq!((e64[b] as f32, o64[b] as f32), (want(2 * b), want(2 * b + 1)));
                }
            }
        }
    }
}
