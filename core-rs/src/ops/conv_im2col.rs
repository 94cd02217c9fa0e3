//! The im2col + GEMM convolution kernels: forward, input gradient and weight gradient, each an
//! im2col into a per-thread buffer that is reused across the batch, followed by one GEMM per
//! group (1x1 stride-1 unpadded convolutions skip im2col and multiply the input directly).
//! Small images (fewer than `MIN_COLS` output positions) are batched: a chunk of them shares
//! one column matrix, so the GEMMs stay wide at ResNet's 7x7, 4x4 and 2x2 stages.
use super::conv::{Conv2dParams, Geo};
use super::conv_epilogue::Epilogue;
use super::conv_strided;
use crate::error::Result;
use crate::kernels::{num_threads, pool, SendPtr};
use crate::tensor::Tensor;
use gemm::Parallelism;
use rayon::prelude::*;

/// Fills columns `off..off + (l1 - l0)` of `col` (rows of stride `ld`, one row per
/// (channel, kernel offset)) with the im2col columns of output positions l0..l1 of one image,
/// so a tile of the column matrix stays in cache between its construction and the GEMM that
/// reads it, and several small images can share one column matrix. Strided convolutions go
/// through the image's phase planes (`conv_strided`), kept in `phases` from the call with
/// l0 == 0 to the image's later tiles.
#[allow(clippy::too_many_arguments)]
fn im2col_range<T: Copy + Default>(img: &[T], g: &Geo, l0: usize, l1: usize, col: &mut [T], ld: usize, off: usize, phases: &mut Vec<T>) {
    if conv_strided::applies(g) {
        return conv_strided::im2col(img, g, l0, l1, col, ld, off, phases);
    }
    let lt = l1 - l0;
    if g.p.stride == (1, 1) && g.p.dilation.1 == 1 && g.ow == g.w {
        return im2col_same(img, g, l0, l1, col, ld, off);
    }
    let mut row = 0;
    for ci in 0..g.c {
        let plane = &img[ci * g.h * g.w..(ci + 1) * g.h * g.w];
        for ki in 0..g.kh {
            for kj in 0..g.kw {
                let dst = &mut col[row * ld + off..row * ld + off + lt];
                // walk the tile one output row at a time: no division per element
                let (mut oi, mut oj) = (l0 / g.ow, l0 % g.ow);
                let mut t = 0;
                while t < lt {
                    let run = (g.ow - oj).min(lt - t);
                    let y = (oi * g.p.stride.0 + ki * g.p.dilation.0) as isize - g.p.padding.0 as isize;
                    let d = &mut dst[t..t + run];
                    if y < 0 || y >= g.h as isize {
                        d.fill(T::default());
                    } else {
                        let src = &plane[y as usize * g.w..(y as usize + 1) * g.w];
                        let x0 = (oj * g.p.stride.1 + kj * g.p.dilation.1) as isize - g.p.padding.1 as isize;
                        if g.p.stride.1 == 1 && x0 >= 0 && x0 as usize + run <= g.w {
                            d.copy_from_slice(&src[x0 as usize..x0 as usize + run]);
                        } else {
                            gather_row(d, src, x0, g.p.stride.1);
                        }
                    }
                    t += run;
                    oi += 1;
                    oj = 0;
                }
                row += 1;
            }
        }
    }
}

/// `im2col_range` of a stride-1 convolution whose output rows are as long as the input's
/// ("same" padding along x, as every 3x3 stride-1 layer of a ResNet has): each row of the
/// column matrix is then the image shifted by a constant offset, one contiguous copy, with
/// the few columns that wrapped around a row edge zeroed afterwards. The run-by-run copy costs
/// as much as the GEMM on 8x8 and 16x16 images.
fn im2col_same<T: Copy + Default>(img: &[T], g: &Geo, l0: usize, l1: usize, col: &mut [T], ld: usize, off: usize) {
    let (h, w) = (g.h as isize, g.w as isize);
    let hw = h * w;
    let mut row = 0;
    for ci in 0..g.c {
        let plane = &img[ci * g.h * g.w..(ci + 1) * g.h * g.w];
        for ki in 0..g.kh {
            let dy = (ki * g.p.dilation.0) as isize - g.p.padding.0 as isize;
            // output rows oi reading input row oi + dy inside the image, as positions t
            let t_lo = ((-dy).max(0) * w).clamp(l0 as isize, l1 as isize);
            let t_hi = ((h - dy).min(g.oh as isize) * w).clamp(t_lo, l1 as isize);
            for kj in 0..g.kw {
                let dx = kj as isize - g.p.padding.1 as isize;
                let dst = &mut col[row * ld + off..row * ld + off + (l1 - l0)];
                let shift = dy * w + dx;
                // positions whose source index t + shift lies in the plane (the wrapped
                // columns among them are zeroed below)
                let (a, b) = ((-shift).clamp(t_lo, t_hi), (hw - shift).clamp(t_lo, t_hi));
                // (b <= a: a padding wider than the image, this kernel tap sees only zeros)
                conv_strided::shifted_row(dst, plane, l0, a, b, shift, w, dx);
                row += 1;
            }
        }
    }
}

/// `d[q] = src[x0 + q * step]`, zero where that falls outside `src` (the padding): the
/// zero edges first, then the in-bounds run without a test per element (strided
/// convolutions and the 7x7 stem spend most of their im2col here).
fn gather_row<T: Copy + Default>(d: &mut [T], src: &[T], x0: isize, step: usize) {
    let (n, w, s) = (d.len() as isize, src.len() as isize, step as isize);
    // q in lo..hi reads inside src: x0 + q*s >= 0 and x0 + q*s < w
    let lo = if x0 >= 0 { 0 } else { (-x0 + s - 1) / s }.min(n);
    let hi = if x0 >= w { 0 } else { (w - x0 + s - 1) / s }.clamp(lo, n);
    let (lo, hi) = (lo as usize, hi as usize);
    d[..lo].fill(T::default());
    d[hi..].fill(T::default());
    if hi > lo {
        let start = (x0 + lo as isize * s) as usize;
        if step == 1 {
            d[lo..hi].copy_from_slice(&src[start..start + hi - lo]);
            return;
        }
        for (v, &x) in d[lo..hi].iter_mut().zip(src[start..].iter().step_by(step)) {
            *v = x;
        }
    }
}

/// Walks one large image in cache-sized tiles of output positions: fills `col` with the
/// tile's im2col columns ([C*KH*KW, lt], rows of stride lt) and calls `f(l0, lt, col)`.
fn for_each_tile<T: Copy + Default>(img: &[T], g: &Geo, col: &mut Vec<T>, phases: &mut Vec<T>, mut f: impl FnMut(usize, usize, &[T])) {
    let (l, lt_max) = (g.l(), tile_len::<T>(g));
    col.resize(g.c * g.kh * g.kw * lt_max, T::default());
    let mut l0 = 0;
    while l0 < l {
        let l1 = (l0 + lt_max).min(l);
        im2col_range(img, g, l0, l1, col, l1 - l0, 0, phases);
        f(l0, l1 - l0, col);
        l0 = l1;
    }
}

/// Output positions per im2col tile: a [K, tile] block of about 1 MiB (wide enough for the
/// GEMM to run near full speed, small enough to stay in the last-level cache).
fn tile_len<T>(g: &Geo) -> usize {
    let k = g.c * g.kh * g.kw;
    let per = (1024 * 1024 / std::mem::size_of::<T>()) / k.max(1);
    per.clamp(256, g.l().max(256)).min(g.l())
}

/// Accumulates columns `off..off + OH*OW` of `col` (rows of stride `ld`, one per (channel,
/// kernel offset)) back into one image gradient [C, H, W].
fn col2im<T: Copy + std::ops::AddAssign>(col: &[T], g: &Geo, img: &mut [T], ld: usize, off: usize) {
    let ow = g.ow;
    let mut row = 0;
    for ci in 0..g.c {
        let plane = &mut img[ci * g.h * g.w..(ci + 1) * g.h * g.w];
        for ki in 0..g.kh {
            for kj in 0..g.kw {
                let src = &col[row * ld + off..row * ld + off + g.l()];
                for oi in 0..g.oh {
                    let y = (oi * g.p.stride.0 + ki * g.p.dilation.0) as isize - g.p.padding.0 as isize;
                    if y < 0 || y >= g.h as isize {
                        continue;
                    }
                    let dst = &mut plane[y as usize * g.w..(y as usize + 1) * g.w];
                    let s = &src[oi * ow..(oi + 1) * ow];
                    let x0 = (kj * g.p.dilation.1) as isize - g.p.padding.1 as isize;
                    if g.p.stride.1 == 1 && x0 >= 0 && x0 as usize + ow <= g.w {
                        for (d, &v) in dst[x0 as usize..x0 as usize + ow].iter_mut().zip(s) {
                            *d += v;
                        }
                        continue;
                    }
                    for (oj, &v) in s.iter().enumerate() {
                        let x = x0 + (oj * g.p.stride.1) as isize;
                        if x >= 0 && (x as usize) < g.w {
                            dst[x as usize] += v;
                        }
                    }
                }
                row += 1;
            }
        }
    }
}

/// C[m, n] (row stride ldc) (+)= A[m, k] (rs_a, cs_a) * B[k, n] (rs_b, cs_b)
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_into<T: 'static + crate::dtype::Element>(
    m: usize, n: usize, k: usize,
    c: *mut T, ldc: isize, accumulate: bool,
    a: *const T, rs_a: isize, cs_a: isize,
    b: *const T, rs_b: isize, cs_b: isize,
    par: Parallelism,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                for j in 0..n {
                    *c.offset(i as isize * ldc + j as isize) = T::zero_val();
                }
            }
        }
        return;
    }
    gemm::gemm(m, n, k, c, 1, ldc, accumulate, a, cs_a, rs_a, b, cs_b, rs_b, T::one_val(), T::one_val(), false, false, false, par);
}

/// Output positions a GEMM should see at least: the GEMM's vector dimension runs over them,
/// so images smaller than this are batched into one column matrix.
const MIN_COLS: usize = 256;

/// How the batch is cut into chunks of images that share one GEMM: (images per chunk,
/// chunks). Large images go one at a time; small ones in groups of at least `MIN_COLS`
/// output positions, with the chunk count rounded to a multiple of the threads when there
/// is more than one chunk, so the workers get equal shares.
fn chunking(g: &Geo) -> (usize, usize) {
    let l = g.l().max(1);
    if g.n == 0 {
        return (1, 0);
    }
    if l >= MIN_COLS || g.n == 1 {
        return (1, g.n);
    }
    let threads = num_threads();
    let mut chunks = g.n.div_ceil(MIN_COLS.div_ceil(l)).max(1);
    if chunks > 1 && threads > 1 {
        chunks = (chunks.div_ceil(threads) * threads).min(g.n);
    }
    let nb = g.n.div_ceil(chunks);
    (nb, g.n.div_ceil(nb))
}

/// Runs `one(chunk index, scratch, gemm parallelism)` for every chunk: chunks in parallel
/// when there are enough of them (single-threaded GEMMs), else one after the other with
/// multi-threaded GEMMs.
fn run_chunks<S: Default + Send>(g: &Geo, chunks: usize, one: impl Fn(usize, &mut S, Parallelism) + Sync) {
    let threads = num_threads();
    let big = g.n * g.o * g.l() * g.k() >= 1 << 18;
    if threads > 1 && big && chunks >= threads {
        pool().install(|| (0..chunks).into_par_iter().for_each_init(S::default, |s, i| one(i, s, Parallelism::None)));
    } else {
        let par = if threads > 1 && big { Parallelism::Rayon(threads) } else { Parallelism::None };
        let mut s = S::default();
        pool().install(|| (0..chunks).for_each(|i| one(i, &mut s, par)));
    }
}

/// Scratch of one worker: a column matrix, a staging matrix for [O, cols] blocks and the
/// phase planes of a strided convolution's image.
#[derive(Default)]
struct Scratch<T> {
    col: Vec<T>,
    stage: Vec<T>,
    phases: Vec<T>,
}

impl<T: Copy + Default> Scratch<T> {
    /// Images n0..n1 of a [N, R, L] tensor as one [R, (n1-n0)*L] matrix: the tensor itself
    /// for a single image, else gathered into the staging buffer.
    unsafe fn rows_of(&mut self, base: *const T, r: usize, l: usize, n0: usize, n1: usize) -> *const T {
        if n1 - n0 == 1 {
            return base.add(n0 * r * l);
        }
        self.stage.resize(r * (n1 - n0) * l, T::default());
        restage(base as *mut T, r, l, n0, n1, self.stage.as_mut_ptr(), true);
        self.stage.as_ptr()
    }
}

/// Copies images n0..n1 of a [N, R, L] tensor into `dst` [R, (n1-n0)*L] (gather = true),
/// or back (gather = false).
unsafe fn restage<T: Copy>(base: *mut T, r: usize, l: usize, n0: usize, n1: usize, dst: *mut T, gather: bool) {
    let cols = (n1 - n0) * l;
    for (j, ni) in (n0..n1).enumerate() {
        for ri in 0..r {
            let a = base.add((ni * r + ri) * l);
            let b = dst.add(ri * cols + j * l);
            if gather {
                std::ptr::copy_nonoverlapping(a, b, l);
            } else {
                std::ptr::copy_nonoverlapping(b, a, l);
            }
        }
    }
}

/// The forward convolution. `w_strides` are the weight's (row, column) strides as a
/// [O/groups, K] matrix per group: (K, 1) for a weight in its own layout, (1, C/groups) to read a
/// 1x1 weight [C, O] transposed without copying it (the input gradient's GEMM).
pub(super) fn forward_typed<T: crate::dtype::Element + Default + std::ops::AddAssign>(out: &Tensor, x: &Tensor, w: &Tensor, g: &Geo, w_strides: (isize, isize)) {
    forward_with::<T>(out, x, w, g, w_strides, None)
}

/// Output positions per column tile of a 1x1 convolution with an epilogue: a block of about
/// 512 KiB of output, which the epilogue reads back from L2 right after the GEMM wrote it.
fn direct_tile<T>(g: &Geo) -> usize {
    ((512 << 10) / std::mem::size_of::<T>() / g.o.max(1)).next_multiple_of(16).max(64)
}

/// `forward_typed`, with `epi` (`conv_epilogue`) applied to each block of output right after
/// the GEMMs wrote it.
pub(super) fn forward_with<T: crate::dtype::Element + Default + std::ops::AddAssign>(out: &Tensor, x: &Tensor, w: &Tensor, g: &Geo, w_strides: (isize, isize), epi: Option<&Epilogue>) {
    let (wr, wc) = w_strides;
    let (xs, ws) = (x.as_slice::<T>(), w.as_slice::<T>());
    let po = SendPtr(out.data_ptr());
    let (k, l, og, cg) = (g.k(), g.l(), g.og(), g.cg());
    let (nb, chunks) = chunking(g);
    let img_len = g.c * g.h * g.w;
    if nb > 1 {
        // small images: im2col a chunk of them side by side, one GEMM per group into a
        // staging block [O, cols], then copy each image's slice of it to the output
        run_chunks(g, chunks, |ci, sc: &mut Scratch<T>, par| unsafe {
            let (n0, n1) = (ci * nb, ((ci + 1) * nb).min(g.n));
            let cols = (n1 - n0) * l;
            sc.col.resize(g.c * g.kh * g.kw * cols, T::default());
            sc.stage.resize(g.o * cols, T::default());
            for ni in n0..n1 {
                im2col_range(&xs[ni * img_len..(ni + 1) * img_len], g, 0, l, &mut sc.col, cols, (ni - n0) * l, &mut sc.phases);
            }
            for gi in 0..g.p.groups {
                gemm_into(og, cols, k, sc.stage.as_mut_ptr().add(gi * og * cols), cols as isize, false,
                    ws.as_ptr().add(gi * og * k), wr, wc, sc.col.as_ptr().add(gi * k * cols), cols as isize, 1, par);
            }
            restage(po.get() as *mut T, g.o, l, n0, n1, sc.stage.as_mut_ptr(), false);
            if let Some(e) = epi {
                for ni in n0..n1 {
                    for oi in 0..g.o {
                        e.apply((po.get() as *mut T).add((ni * g.o + oi) * l), ni, oi, 0, l);
                    }
                }
            }
        });
        return;
    }
    run_chunks(g, chunks, |ni, sc: &mut Scratch<T>, par| unsafe {
        let img = &xs[ni * img_len..(ni + 1) * img_len];
        if g.direct() {
            // with an epilogue, column tiles whose output is still in cache when it runs
            let lt = if epi.is_some() { direct_tile::<T>(g).min(l) } else { l };
            for l0 in (0..l).step_by(lt.max(1)) {
                let lt = lt.min(l - l0);
                for gi in 0..g.p.groups {
                    let o = (po.get() as *mut T).add(ni * g.o * l + gi * og * l + l0);
                    gemm_into(og, lt, k, o, l as isize, false, ws.as_ptr().add(gi * og * k), wr, wc, img.as_ptr().add(gi * cg * l + l0), l as isize, 1, par);
                }
                if let Some(e) = epi {
                    for oi in 0..g.o {
                        e.apply((po.get() as *mut T).add((ni * g.o + oi) * l + l0), ni, oi, l0, lt);
                    }
                }
            }
            return;
        }
        // tiles of output positions: im2col the tile, then one GEMM per group into out[:, tile]
        for_each_tile(img, g, &mut sc.col, &mut sc.phases, |l0, lt, col| {
            for gi in 0..g.p.groups {
                let o = (po.get() as *mut T).add(ni * g.o * l + gi * og * l + l0);
                gemm_into(og, lt, k, o, l as isize, false, ws.as_ptr().add(gi * og * k), wr, wc, col.as_ptr().add(gi * k * lt), lt as isize, 1, par);
            }
            if let Some(e) = epi {
                for oi in 0..g.o {
                    e.apply((po.get() as *mut T).add((ni * g.o + oi) * l + l0), ni, oi, l0, lt);
                }
            }
        });
    });
}

/// The weight of the stride-1 input gradient as a forward convolution: per group,
/// W2[c, o, i, j] = W[o, c, KH-1-i, KW-1-j] ([C, O/groups, KH, KW]). Copied in 8x8 blocks
/// of (o, c): with power-of-two channel counts a longer run of rows a whole row apart would
/// land in one cache set and evict itself.
fn flip_transpose<T: crate::dtype::Element>(w: &Tensor, g: &Geo) -> Result<Tensor> {
    const B: usize = 8;
    let (og, cg, kk) = (g.og(), g.cg(), g.kh * g.kw);
    let w2 = super::scratch::empty(&[g.c, og, g.kh, g.kw], T::DTYPE)?;
    let (src, dst) = (w.as_slice::<T>(), w2.as_slice_mut::<T>());
    for gi in 0..g.p.groups {
        for c0 in (0..cg).step_by(B) {
            for o0 in (0..og).step_by(B) {
                for c in c0..(c0 + B).min(cg) {
                    for o in o0..(o0 + B).min(og) {
                        let from = ((gi * og + o) * cg + c) * kk;
                        let to = ((gi * cg + c) * og + o) * kk;
                        for i in 0..kk {
                            dst[to + i] = src[from + kk - 1 - i];
                        }
                    }
                }
            }
        }
    }
    Ok(w2)
}

pub(super) fn input_grad_typed<T: crate::dtype::Element + Default + std::ops::AddAssign>(gx: &Tensor, gy: &Tensor, w: &Tensor, g: &Geo) -> Result<()> {
    let (d, p) = (g.p.dilation, g.p.padding);
    if g.p.stride == (1, 1) && p.0 <= d.0 * (g.kh - 1) && p.1 <= d.1 * (g.kw - 1) {
        // Stride 1: gx is the forward convolution of gy with the flipped, transposed weight
        // and the complementary padding, which runs the forward's cache-tiled im2col + GEMM
        // instead of a column matrix 9x the image followed by a scatter-add.
        let p2 = Conv2dParams { stride: (1, 1), padding: (d.0 * (g.kh - 1) - p.0, d.1 * (g.kw - 1) - p.1), dilation: d, groups: g.p.groups };
        let g2 = Geo::new(gy.shape(), &[g.c, g.og(), g.kh, g.kw], p2)?;
        debug_assert!(g2.oh == g.h && g2.ow == g.w);
        if g.kh * g.kw == 1 {
            // a 1x1 weight needs no flip: the GEMM reads it transposed in place
            forward_typed::<T>(gx, gy, w, &g2, (1, g.cg() as isize));
            return Ok(());
        }
        let w2 = flip_transpose::<T>(w, g)?;
        forward_typed::<T>(gx, gy, &w2, &g2, (g2.k() as isize, 1));
        return Ok(());
    }
    let (gys, ws) = (gy.as_slice::<T>(), w.as_slice::<T>());
    let px = SendPtr(gx.data_ptr());
    let (k, l, og) = (g.k(), g.l(), g.og());
    let (nb, chunks) = chunking(g);
    let img_len = g.c * g.h * g.w;
    run_chunks(g, chunks, |ci, sc: &mut Scratch<T>, par| unsafe {
        let (n0, n1) = (ci * nb, ((ci + 1) * nb).min(g.n));
        let cols = (n1 - n0) * l;
        let imgs = std::slice::from_raw_parts_mut((px.get() as *mut T).add(n0 * img_len), (n1 - n0) * img_len);
        // (1x1 stride-1 convolutions took the forward path above)
        let gyc = sc.rows_of(gys.as_ptr(), g.o, l, n0, n1);
        sc.col.resize(g.c * g.kh * g.kw * cols, T::default());
        for gi in 0..g.p.groups {
            // col_g [K, cols] = W_g^T [K, Og] @ gy_g [Og, cols]
            gemm_into(k, cols, og, sc.col.as_mut_ptr().add(gi * k * cols), cols as isize, false,
                ws.as_ptr().add(gi * og * k), 1, k as isize,
                gyc.add(gi * og * cols), cols as isize, 1, par);
        }
        for j in 0..n1 - n0 {
            let img = &mut imgs[j * img_len..(j + 1) * img_len];
            if conv_strided::col2im_applies(g) {
                conv_strided::col2im(&sc.col, g, img, cols, j * l, &mut sc.phases);
            } else {
                img.fill(T::zero_val());
                col2im(&sc.col, g, img, cols, j * l);
            }
        }
    });
    Ok(())
}

/// A row stride for a staged [rows, n] matrix: n, or a little more when n * size_of::<T>()
/// is a multiple of 512 bytes. The weight gradient's GEMM reads both operands along their
/// rows; with such a stride its packing loads rows that share cache sets, and at 256 or
/// 1024 positions it ran at a third of its speed (60 against 180 GFLOP/s).
fn padded_stride<T>(n: usize) -> usize {
    if (n * std::mem::size_of::<T>()) % 512 == 0 { n + 64 / std::mem::size_of::<T>() } else { n }
}

/// gW_g [Og, K] (+)= gy_g [Og, cols] @ col_g^T [cols, K] for one group, computed as its
/// transpose col_g [K, cols] @ gy_g^T [cols, Og] stored column-major into gW: both operands
/// run along the reduction, and the `gemm` crate packs that orientation fastest when K > Og
/// (the other one ran at 60-110 GFLOP/s with Og = 64).
#[allow(clippy::too_many_arguments)]
unsafe fn weight_gemm<T: 'static + crate::dtype::Element>(
    og: usize, k: usize, cols: usize, acc: *mut T, accumulate: bool,
    gy: *const T, ld_gy: usize, col: *const T, ld_col: usize, par: Parallelism,
) {
    gemm::gemm(k, og, cols, acc, k as isize, 1, accumulate, col, 1, ld_col as isize, gy, ld_gy as isize, 1,
        T::one_val(), T::one_val(), false, false, false, par);
}

/// Copies columns c0..c0 + n of a [rows, ld_src] matrix into `dst` [rows, ld_dst].
unsafe fn copy_block<T: Copy>(src: *const T, ld_src: usize, c0: usize, n: usize, rows: usize, dst: *mut T, ld_dst: usize) {
    for r in 0..rows {
        std::ptr::copy_nonoverlapping(src.add(r * ld_src + c0), dst.add(r * ld_dst), n);
    }
}

pub(super) fn weight_grad_typed<T: crate::dtype::Element + Default + std::ops::AddAssign>(out: &Tensor, gy: &Tensor, x: &Tensor, g: &Geo) {
    let (k, l, og, cg) = (g.k(), g.l(), g.og(), g.cg());
    let (gys, xs) = (gy.as_slice::<T>(), x.as_slice::<T>());
    let wsize = g.o * k;
    let threads = num_threads();
    let flops = g.n * g.o * l * k;
    let (nb, chunks) = chunking(g);
    let img_len = g.c * g.h * g.w;
    let kk = g.kh * g.kw;
    // Each worker accumulates over a share of the chunks; then the shares are summed.
    let parts = if threads > 1 && chunks >= 2 && flops >= 1 << 18 { threads.min(chunks) } else { 1 };
    let par = if parts == 1 && threads > 1 && flops >= 1 << 18 { Parallelism::Rayon(threads) } else { Parallelism::None };
    let per = chunks.div_ceil(parts).max(1);
    let po = SendPtr(out.data_ptr());
    // The first share accumulates straight into the output (its first GEMM overwrites it: it
    // always has a chunk), the others into scratch of their own, added to it in order.
    let partial: Vec<Vec<T>> = pool().install(|| {
        (0..parts)
            .into_par_iter()
            .map(|pi| {
                let mut own = if pi == 0 { Vec::new() } else { vec![T::zero_val(); wsize] };
                let acc: &mut [T] = if pi == 0 { unsafe { std::slice::from_raw_parts_mut(po.get() as *mut T, wsize) } } else { &mut own };
                let mut sc = Scratch::<T>::default();
                let mut first = true;
                for ci in pi * per..((pi + 1) * per).min(chunks) {
                    let (n0, n1) = (ci * nb, ((ci + 1) * nb).min(g.n));
                    let cols = (n1 - n0) * l;
                    unsafe {
                        if nb == 1 && g.direct() {
                            // 1x1 stride 1: x and gy of the image are the GEMM's operands as they
                            // are, staged only when their row stride would slow the GEMM down
                            let (mut xp, mut gp, mut ld) = (xs.as_ptr().add(n0 * img_len), gys.as_ptr().add(n0 * g.o * l), l);
                            if padded_stride::<T>(l) != l {
                                ld = padded_stride::<T>(l);
                                sc.col.resize(g.c * ld, T::default());
                                sc.stage.resize(g.o * ld, T::default());
                                copy_block(xp, l, 0, l, g.c, sc.col.as_mut_ptr(), ld);
                                copy_block(gp, l, 0, l, g.o, sc.stage.as_mut_ptr(), ld);
                                (xp, gp) = (sc.col.as_ptr(), sc.stage.as_ptr());
                            }
                            for gi in 0..g.p.groups {
                                weight_gemm(og, k, l, acc.as_mut_ptr().add(gi * og * k), !first,
                                    gp.add(gi * og * ld), ld, xp.add(gi * cg * ld), ld, par);
                            }
                            first = false;
                            continue;
                        }
                        if nb == 1 {
                            // one large image: im2col a cache-sized tile of output positions at a
                            // time, stage gy[:, tile] beside it, accumulate
                            let lt_max = tile_len::<T>(g);
                            let ld = padded_stride::<T>(lt_max);
                            sc.col.resize(g.c * kk * ld, T::default());
                            sc.stage.resize(g.o * ld, T::default());
                            let img = &xs[n0 * img_len..(n0 + 1) * img_len];
                            let mut l0 = 0;
                            while l0 < l {
                                let l1 = (l0 + lt_max).min(l);
                                im2col_range(img, g, l0, l1, &mut sc.col, ld, 0, &mut sc.phases);
                                copy_block(gys.as_ptr().add(n0 * g.o * l), l, l0, l1 - l0, g.o, sc.stage.as_mut_ptr(), ld);
                                for gi in 0..g.p.groups {
                                    weight_gemm(og, k, l1 - l0, acc.as_mut_ptr().add(gi * og * k), !first,
                                        sc.stage.as_ptr().add(gi * og * ld), ld, sc.col.as_ptr().add(gi * k * ld), ld, par);
                                }
                                first = false;
                                l0 = l1;
                            }
                            continue;
                        }
                        // small images side by side: x of the chunk as columns [C*KH*KW, cols],
                        // gy as [O, cols]
                        let ld = padded_stride::<T>(cols);
                        sc.col.resize(g.c * kk * ld, T::default());
                        sc.stage.resize(g.o * ld, T::default());
                        for ni in n0..n1 {
                            im2col_range(&xs[ni * img_len..(ni + 1) * img_len], g, 0, l, &mut sc.col, ld, (ni - n0) * l, &mut sc.phases);
                            copy_block(gys.as_ptr().add(ni * g.o * l), l, 0, l, g.o, sc.stage.as_mut_ptr().add((ni - n0) * l), ld);
                        }
                        for gi in 0..g.p.groups {
                            weight_gemm(og, k, cols, acc.as_mut_ptr().add(gi * og * k), !first,
                                sc.stage.as_ptr().add(gi * og * ld), ld, sc.col.as_ptr().add(gi * k * ld), ld, par);
                        }
                    }
                    first = false;
                }
                own
            })
            .collect()
    });
    let os = out.as_slice_mut::<T>();
    if chunks == 0 {
        os.fill(T::zero_val()); // (an empty batch: no GEMM wrote it)
    }
    for p in &partial[1..] {
        for (o, v) in os.iter_mut().zip(p) {
            *o += *v;
        }
    }
}
