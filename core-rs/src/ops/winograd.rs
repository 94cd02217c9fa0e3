//! Winograd F(4x4, 3x3) convolution for f32 3x3 stride-1 kernels (Lavin & Gray, 2015).
//!
//! Each 4x4 block of output ("tile") is computed from the 6x6 input patch around it as
//! `Y = A^T [(G g G^T) . (B^T d B)] A`: 36 multiplies per input/output channel pair instead
//! of 144. Over a chunk of tiles the elementwise products summed over input channels are 36
//! independent GEMMs `M_xi [O, T] = U_xi [O, C] @ V_xi [C, T]`, run through the `gemm` crate.
//! Per chunk: the input transform (parallel over channels), the 36 GEMMs (parallel over xi),
//! the output transform (parallel over output channels). Chunks hold enough tiles for wide
//! GEMMs while their scratch (V and M) stays within `SCRATCH_BYTES`. Small images with many
//! channels take the one-pass form instead (`winograd_small.rs`: the whole weight transform
//! is never held, transforms 16 tiles to a vector).
//!
//! Accuracy: the transforms' constants (up to 8 in A, 1/24 in G) amplify rounding. On
//! normal random data at ResNet-50's shapes the max error relative to the output's largest
//! magnitude measured 5.7e-6 at C = 64, 9e-6 at C = 128 and 256, 1.7e-5 at C = 512, against
//! 4-6e-7 for im2col + GEMM (`tests::error_vs_f64` prints it for uniform data).
use super::conv_epilogue::Epilogue;
use crate::kernels::{num_threads, pool, SendPtr};
use gemm::Parallelism;
use rayon::prelude::*;
use std::sync::atomic::{AtomicU8, Ordering};

/// Scratch bytes per chunk for the transformed input V [36, C, T] and product M [36, O, T].
const SCRATCH_BYTES: usize = 8 << 20;

/// Geometry of one stride-1 3x3 convolution: input [n, c, h, w], weight [o, c, 3, 3],
/// zero padding (ph, pw), output [n, o, h + 2ph - 2, w + 2pw - 2].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Wino {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub o: usize,
    pub ph: usize,
    pub pw: usize,
}

impl Wino {
    pub(super) fn oh(&self) -> usize {
        self.h + 2 * self.ph - 2
    }
    pub(super) fn ow(&self) -> usize {
        self.w + 2 * self.pw - 2
    }
    pub(super) fn th(&self) -> usize {
        self.oh().div_ceil(4)
    }
    pub(super) fn tw(&self) -> usize {
        self.ow().div_ceil(4)
    }
}

/// Whether Winograd beats im2col + GEMM for this shape (CPU time of one thread beside a
/// build without it, `bench/conv_layers.py --sweep` for wall time): with few channels the
/// GEMMs are too thin to run near peak and the transforms dominate; outputs under 8x8 waste
/// much of their 4x4 tiles (7x7 computes 8x8) and give too few tiles to amortise the weight
/// transform, which at 512x512 channels writes 38 MB (ResNet-50's 7x7 stage measured 2.6x
/// slower, its 14x14 stage 1.5x faster); past 256x256 channel pairs that transform's size is
/// itself the cost. Small images lose too even with enough channels: the transforms run along
/// rows of only 2-4 tiles, which barely vectorise (16x16 outputs at 64 channels measured 3.7
/// against im2col's 2.6 ms, 8x8 at 128 channels 3.8 against 2.1), so the tiles per image times
/// the channel pairs must reach 384^2 (every ResNet-50 shape measured falls on its side of it).
pub(crate) fn worthwhile(g: &Wino) -> bool {
    g.c >= 16
        && g.o >= 16
        && g.c * g.o <= 1 << 16
        && g.oh() >= 8
        && g.ow() >= 8
        && g.th() * g.tw() * g.c * g.o >= 384 * 384
}

/// How 3x3 stride-1 f32 convolutions choose their algorithm: by shape (`worthwhile` and
/// `winograd_small::worthwhile`, the default), Winograd wherever it applies (its chunked form,
/// or its one-pass form `winograd_small` where that fits), or never. Only the tests set it,
/// to run each path on shapes small enough for float64 references
/// (`_core._set_conv3x3_algorithm`).
static CHOICE: AtomicU8 = AtomicU8::new(0);
const AUTO: u8 = 0;
const CHUNKED: u8 = 1;
const IM2COL: u8 = 2;
const ONE_PASS: u8 = 3;

pub fn set_choice(name: &str) -> crate::error::Result<()> {
    let v = match name {
        "auto" => AUTO,
        "winograd" => CHUNKED,
        "im2col" => IM2COL,
        "winograd_one_pass" => ONE_PASS,
        _ => {
            return Err(crate::error::Error::Runtime(format!(
                "conv2d: unknown 3x3 algorithm {name:?} (expected \"auto\", \"winograd\", \"winograd_one_pass\" or \"im2col\")"
            )))
        }
    };
    CHOICE.store(v, Ordering::Relaxed);
    Ok(())
}

/// Whether this convolution (a forward or an input gradient) runs as Winograd under the
/// current choice.
pub(crate) fn chosen(g: &Wino) -> bool {
    match CHOICE.load(Ordering::Relaxed) {
        AUTO => worthwhile(g) || super::winograd_small::worthwhile(g),
        IM2COL => false,
        _ => g.c >= 1 && g.o >= 1 && g.oh() >= 1 && g.ow() >= 1,
    }
}

/// Whether the weight gradient of this convolution runs as Winograd (`winograd_wgrad`) under
/// the current choice. It has no one-pass form: where only that form of the forward wins
/// (`winograd_small::worthwhile`), the weight gradient stays with im2col + GEMM.
pub(crate) fn chosen_wgrad(g: &Wino) -> bool {
    match CHOICE.load(Ordering::Relaxed) {
        AUTO => worthwhile(g),
        IM2COL => false,
        _ => g.c >= 1 && g.o >= 1 && g.oh() >= 1 && g.ow() >= 1,
    }
}

/// Whether `conv3x3_with` runs the one-pass form (`winograd_small`) under the current choice.
fn one_pass(g: &Wino) -> bool {
    match CHOICE.load(Ordering::Relaxed) {
        ONE_PASS => super::winograd_small::fits(g),
        AUTO => super::winograd_small::worthwhile(g),
        _ => false,
    }
}

/// Compiles `$body` (a function of the listed arguments) plainly and for AVX-512, the copy
/// chosen per call: the transforms are loops over tiles that LLVM vectorises, 16 lanes wide
/// when it may.
macro_rules! wide_fn {
    ($(#[$m:meta])* $vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $body:block) => {
        $(#[$m])*
        #[allow(clippy::too_many_arguments)]
        $vis fn $name($($arg: $ty),*) {
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            fn inner($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f,avx2,fma")]
            #[allow(clippy::too_many_arguments)]
            unsafe fn wide512($($arg: $ty),*) {
                inner($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            if super::rows::avx512() {
                return unsafe { wide512($($arg),*) };
            }
            inner($($arg),*)
        }
    };
}

pub(super) use wide_fn;

wide_fn! {
    /// U [36, rows, cols] = G g G^T of 3x3 kernels, for pairs q in `q0..q1` of the flattened
    /// [rows, cols] index: U[xi, q] lands at `u[xi * stride + q - q0]`. Forward: `w` is [rows, cols, 3, 3] and g = w[r, c]. `flip`: `w` is
    /// [cols, rows, 3, 3] and g = w[c, r] rotated by 180 degrees (the input gradient's
    /// kernel), so no flipped copy of the weight is made.
    pub(super) fn weight_block(w: &[f32], rows: usize, cols: usize, flip: bool, q0: usize, q1: usize, u: SendPtr, stride: usize) {
        const B: usize = 64;
        let (mut g, mut t) = ([[0f32; B]; 9], [[0f32; B]; 18]);
        let u = u.get() as *mut f32;
        let mut qb = q0;
        while qb < q1 {
            let nb = (q1 - qb).min(B);
            for l in 0..nb {
                let q = qb + l;
                let (src, rev) = if flip { ((q % cols) * rows + q / cols, true) } else { (q, false) };
                for k in 0..9 {
                    g[k][l] = w[src * 9 + if rev { 8 - k } else { k }];
                }
            }
            // t [6, 3] = G g, rows of G: (1/4, 0, 0), (-1/6)(1, 1, 1), (-1/6)(1, -1, 1),
            // (1/24, 1/12, 1/6), (1/24, -1/12, 1/6), (0, 0, 1)
            for col in 0..3 {
                for l in 0..nb {
                    let (a, b, d) = (g[col][l], g[3 + col][l], g[6 + col][l]);
                    t[col][l] = a * 0.25;
                    t[3 + col][l] = (a + b + d) * (-1.0 / 6.0);
                    t[6 + col][l] = (a - b + d) * (-1.0 / 6.0);
                    t[9 + col][l] = a * (1.0 / 24.0) + b * (1.0 / 12.0) + d * (1.0 / 6.0);
                    t[12 + col][l] = a * (1.0 / 24.0) - b * (1.0 / 12.0) + d * (1.0 / 6.0);
                    t[15 + col][l] = d;
                }
            }
            // U [6, 6] = t G^T
            for i in 0..6 {
                let row = |j: usize| unsafe { std::slice::from_raw_parts_mut(u.add(j * stride + qb - q0), nb) };
                let (r0, r1, r2, r3, r4, r5) = (row(i * 6), row(i * 6 + 1), row(i * 6 + 2), row(i * 6 + 3), row(i * 6 + 4), row(i * 6 + 5));
                for l in 0..nb {
                    let (a, b, d) = (t[i * 3][l], t[i * 3 + 1][l], t[i * 3 + 2][l]);
                    r0[l] = a * 0.25;
                    r1[l] = (a + b + d) * (-1.0 / 6.0);
                    r2[l] = (a - b + d) * (-1.0 / 6.0);
                    r3[l] = a * (1.0 / 24.0) + b * (1.0 / 12.0) + d * (1.0 / 6.0);
                    r4[l] = a * (1.0 / 24.0) - b * (1.0 / 12.0) + d * (1.0 / 6.0);
                    r5[l] = d;
                }
            }
            qb += nb;
        }
    }
}

/// The transformed weight U [36, rows, cols] (see `weight_block`).
fn transform_weight(w: &[f32], rows: usize, cols: usize, flip: bool) -> Vec<f32> {
    let total = rows * cols;
    let mut u = vec![0f32; 36 * total];
    let pu = SendPtr(u.as_mut_ptr() as *mut u8);
    let threads = num_threads();
    if threads > 1 && total >= 4096 {
        let per = total.div_ceil(threads);
        pool().install(|| {
            (0..threads).into_par_iter().for_each(|i| {
                let (q0, q1) = (i * per, ((i + 1) * per).min(total));
                weight_block(w, rows, cols, flip, q0, q1, SendPtr(unsafe { pu.get().add(4 * q0) }), total)
            })
        });
    } else {
        weight_block(w, rows, cols, flip, 0, total, pu, total);
    }
    u
}

/// Calls `f(image, tile row, first tile column, tiles, chunk column)` for the runs of tiles
/// of one tile row within the chunk's tiles `t0..t1` (numbered image by image, row by row).
pub(super) fn for_runs(g: &Wino, t0: usize, t1: usize, mut f: impl FnMut(usize, usize, usize, usize, usize)) {
    let (tw, per_img) = (g.tw(), g.th() * g.tw());
    let mut t = t0;
    while t < t1 {
        let (ni, r) = (t / per_img, t % per_img);
        let (ty, tx0) = (r / tw, r % tw);
        let run = (tw - tx0).min(t1 - t);
        f(ni, ty, tx0, run, t - t0);
        t += run;
    }
}

wide_fn! {
    /// V[xi, ci, :] for the chunk's tiles t0..t1 (row stride `tc`): B^T d B of each tile's
    /// 6x6 input patch of channel ci. `rows` is scratch of 12 rows of 4 * tw + 2.
    pub(super) fn input_channel(x: &[f32], g: &Wino, ci: usize, t0: usize, t1: usize, v: SendPtr, rows: &mut Vec<f32>) {
        let (c, tc, len) = (g.c, t1 - t0, 4 * g.tw() + 2);
        rows.resize(12 * len, 0.0);
        let (p, r) = rows.split_at_mut(6 * len);
        let v = v.get() as *mut f32;
        for_runs(g, t0, t1, |ni, ty, tx0, run, col0| {
            let plane = &x[(ni * c + ci) * g.h * g.w..(ni * c + ci + 1) * g.h * g.w];
            let n = 4 * run + 2;
            // the six input rows under this tile row, zero-padded, from input column 4*tx0 - pw
            for k in 0..6 {
                let dst = &mut p[k * len..k * len + n];
                let y = (4 * ty + k) as isize - g.ph as isize;
                if y < 0 || y >= g.h as isize {
                    dst.fill(0.0);
                    continue;
                }
                let src = &plane[y as usize * g.w..(y as usize + 1) * g.w];
                let x0 = (4 * tx0) as isize - g.pw as isize;
                let lo = (-x0).clamp(0, n as isize) as usize;
                let hi = (g.w as isize - x0).clamp(lo as isize, n as isize) as usize;
                dst[..lo].fill(0.0);
                if hi > lo {
                    // (a padding wider than 2 can put a whole run of tiles right of the image)
                    dst[lo..hi].copy_from_slice(&src[(x0 + lo as isize) as usize..(x0 + hi as isize) as usize]);
                }
                dst[hi..].fill(0.0);
            }
            // B^T along y, every column at once
            {
                let d: [&[f32]; 6] = std::array::from_fn(|k| &p[k * len..k * len + n]);
                let (r0, rest) = r.split_at_mut(len);
                let (r1, rest) = rest.split_at_mut(len);
                let (r2, rest) = rest.split_at_mut(len);
                let (r3, rest) = rest.split_at_mut(len);
                let (r4, r5) = rest.split_at_mut(len);
                for q in 0..n {
                    let (d0, d1, d2, d3, d4, d5) = (d[0][q], d[1][q], d[2][q], d[3][q], d[4][q], d[5][q]);
                    r0[q] = 4.0 * d0 - 5.0 * d2 + d4;
                    r1[q] = -4.0 * (d1 + d2) + d3 + d4;
                    r2[q] = 4.0 * (d1 - d2) - d3 + d4;
                    r3[q] = 2.0 * (d3 - d1) - d2 + d4;
                    r4[q] = 2.0 * (d1 - d3) - d2 + d4;
                    r5[q] = 4.0 * d1 - 5.0 * d3 + d5;
                }
            }
            // B along x, tile by tile, into V[i*6 + j, ci, col0 + tile]
            for i in 0..6 {
                let ri = &r[i * len..i * len + n];
                let out = |j: usize| unsafe { std::slice::from_raw_parts_mut(v.add(((i * 6 + j) * c + ci) * tc + col0), run) };
                let (o0, o1, o2, o3, o4, o5) = (out(0), out(1), out(2), out(3), out(4), out(5));
                for s in 0..run {
                    let e = &ri[4 * s..4 * s + 6];
                    let (d0, d1, d2, d3, d4, d5) = (e[0], e[1], e[2], e[3], e[4], e[5]);
                    o0[s] = 4.0 * d0 - 5.0 * d2 + d4;
                    o1[s] = -4.0 * (d1 + d2) + d3 + d4;
                    o2[s] = 4.0 * (d1 - d2) - d3 + d4;
                    o3[s] = 2.0 * (d3 - d1) - d2 + d4;
                    o4[s] = 2.0 * (d1 - d3) - d2 + d4;
                    o5[s] = 4.0 * d1 - 5.0 * d3 + d5;
                }
            }
        });
    }
}

wide_fn! {
    /// Output channel oi of the chunk's tiles: A^T M A of each tile's 6x6 products, the
    /// parts inside the output written to `y` [N, O, OH, OW]. `m` is [36, mo, tc] and holds
    /// channel oi's products in its row `mi` (a block of channels, or all of them). `s` is scratch.
    pub(super) fn output_channel(m: &[f32], mo: usize, mi: usize, g: &Wino, oi: usize, t0: usize, t1: usize, y: SendPtr, s: &mut Vec<f32>, epi: Option<&Epilogue>) {
        let (o, tc, tw) = (g.o, t1 - t0, g.tw());
        let (oh, ow) = (g.oh(), g.ow());
        s.resize(24 * tw + 16 * tw, 0.0);
        let (sx, sy) = s.split_at_mut(24 * tw);
        let y = y.get() as *mut f32;
        for_runs(g, t0, t1, |ni, ty, tx0, run, col0| {
            // A^T along j (x): sx[i*4 + q, tile]
            for i in 0..6 {
                let mrow = |j: usize| &m[((i * 6 + j) * mo + mi) * tc + col0..((i * 6 + j) * mo + mi) * tc + col0 + run];
                let (m0, m1, m2, m3, m4, m5) = (mrow(0), mrow(1), mrow(2), mrow(3), mrow(4), mrow(5));
                let (a, rest) = sx[i * 4 * tw..(i * 4 + 4) * tw].split_at_mut(tw);
                let (b, rest) = rest.split_at_mut(tw);
                let (cc, d) = rest.split_at_mut(tw);
                for t in 0..run {
                    let (p1, n1) = (m1[t] + m2[t], m1[t] - m2[t]);
                    let (p3, n3) = (m3[t] + m4[t], m3[t] - m4[t]);
                    a[t] = m0[t] + p1 + p3;
                    b[t] = n1 + 2.0 * n3;
                    cc[t] = p1 + 4.0 * p3;
                    d[t] = n1 + 8.0 * n3 + m5[t];
                }
            }
            // A^T along i (y): sy[p*4 + q, tile], then rows of the output
            for q in 0..4 {
                let row = |i: usize| &sx[(i * 4 + q) * tw..(i * 4 + q) * tw + run];
                let (m0, m1, m2, m3, m4, m5) = (row(0), row(1), row(2), row(3), row(4), row(5));
                for t in 0..run {
                    let (p1, n1) = (m1[t] + m2[t], m1[t] - m2[t]);
                    let (p3, n3) = (m3[t] + m4[t], m3[t] - m4[t]);
                    sy[q * tw + t] = m0[t] + p1 + p3;
                    sy[(4 + q) * tw + t] = n1 + 2.0 * n3;
                    sy[(8 + q) * tw + t] = p1 + 4.0 * p3;
                    sy[(12 + q) * tw + t] = n1 + 8.0 * n3 + m5[t];
                }
            }
            let plane = unsafe { y.add((ni * o + oi) * oh * ow) };
            let x0 = 4 * tx0;
            let xn = (4 * run).min(ow - x0);
            for pr in 0..4.min(oh - 4 * ty) {
                let dst = unsafe { std::slice::from_raw_parts_mut(plane.add((4 * ty + pr) * ow + x0), xn) };
                let src: [&[f32]; 4] = std::array::from_fn(|q| &sy[(pr * 4 + q) * tw..(pr * 4 + q) * tw + run]);
                if xn == 4 * run {
                    for t in 0..run {
                        dst[4 * t] = src[0][t];
                        dst[4 * t + 1] = src[1][t];
                        dst[4 * t + 2] = src[2][t];
                        dst[4 * t + 3] = src[3][t];
                    }
                } else {
                    for (xx, d) in dst.iter_mut().enumerate() {
                        *d = src[xx % 4][xx / 4];
                    }
                }
                if let Some(e) = epi {
                    unsafe { e.apply(dst.as_mut_ptr(), ni, oi, (4 * ty + pr) * ow + x0, xn) };
                }
            }
        });
    }
}

/// Tiles per chunk: as many as `SCRATCH_BYTES` holds (at least 32, for GEMMs wide enough
/// to run near peak), spread evenly over the chunks.
pub(super) fn chunk_tiles(g: &Wino, total: usize) -> usize {
    let per_tile = 36 * 4 * (g.c + g.o);
    let t = (SCRATCH_BYTES / per_tile).max(32);
    let chunks = total.div_ceil(t).max(1);
    total.div_ceil(chunks).next_multiple_of(16).min(total)
}

/// `y` [N, O, OH, OW] = the 3x3 stride-1 convolution of `x` [N, C, H, W] with `w`, all
/// contiguous. `flip`: `w` is [C, O, 3, 3] and applied rotated by 180 degrees with its two
/// channel axes swapped (the input gradient of a convolution whose weight is `w`), so `g.c`
/// and `g.o` are the channels of `x` and `y` either way. `epi` (`conv_epilogue`), when
/// given, is applied to each output row segment right after the inverse transform wrote it.
pub(crate) fn conv3x3_with(y: &mut [f32], x: &[f32], w: &[f32], g: &Wino, flip: bool, epi: Option<&Epilogue>) {
    if one_pass(g) {
        return super::winograd_small::conv3x3_one_pass(y, x, w, g, flip, epi);
    }
    conv3x3_chunked(y, x, w, g, flip, epi)
}

/// `conv3x3_with` in chunks of tiles, the whole weight transformed first.
pub(super) fn conv3x3_chunked(y: &mut [f32], x: &[f32], w: &[f32], g: &Wino, flip: bool, epi: Option<&Epilogue>) {
    let (c, o) = (g.c, g.o);
    let u = transform_weight(w, o, c, flip);
    let total = g.n * g.th() * g.tw();
    let t = chunk_tiles(g, total);
    let mut v = vec![0f32; 36 * c * t];
    let mut m = vec![0f32; 36 * o * t];
    let py = SendPtr(y.as_mut_ptr() as *mut u8);
    let threads = num_threads();
    let mut t0 = 0;
    while t0 < total {
        let t1 = (t0 + t).min(total);
        let tc = t1 - t0;
        let pv = SendPtr(v.as_mut_ptr() as *mut u8);
        let pm = SendPtr(m.as_mut_ptr() as *mut u8);
        let run = |f: &(dyn Fn(usize, &mut Vec<f32>) + Sync), count: usize| {
            if threads > 1 {
                pool().install(|| (0..count).into_par_iter().for_each_init(Vec::new, |s, i| f(i, s)));
            } else {
                let mut s = Vec::new();
                (0..count).for_each(|i| f(i, &mut s));
            }
        };
        run(&|ci, s| input_channel(x, g, ci, t0, t1, pv, s), c);
        run(
            &|xi, _| unsafe {
                gemm::gemm(o, tc, c, (pm.get() as *mut f32).add(xi * o * tc), 1, tc as isize, false,
                    u.as_ptr().add(xi * o * c), 1, c as isize,
                    (pv.get() as *const f32).add(xi * c * tc), 1, tc as isize,
                    0.0, 1.0, false, false, false, Parallelism::None);
            },
            36,
        );
        let ms = &m[..36 * o * tc];
        run(&|oi, s| output_channel(ms, o, oi, g, oi, t0, t1, py, s, epi), o);
        t0 = t1;
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Odd problem shapes (n, c, h, w, o, ph, pw): one tile, partial tiles, images smaller
    /// than a tile, padding wider than the kernel reach; the weight gradient's tests use them too.
    pub(in crate::ops) const ODD_SHAPES: [(usize, usize, usize, usize, usize, usize, usize); 7] = [
        (1, 1, 3, 3, 1, 0, 0),
        (2, 3, 5, 7, 4, 1, 1),
        (1, 2, 1, 2, 3, 2, 1),
        (3, 5, 9, 6, 2, 0, 2),
        (2, 17, 13, 11, 19, 1, 0),
        (1, 4, 2, 9, 5, 2, 2),
        (1, 3, 4, 5, 2, 4, 3),
    ];

    /// Max |got - reference| over max |reference|.
    pub(in crate::ops) fn max_rel_error(got: &[f32], reference: &[f64]) -> f64 {
        let scale = reference.iter().fold(0f64, |a, v| a.max(v.abs())).max(1e-30);
        got.iter().zip(reference).fold(0f64, |a, (&u, &r)| a.max((u as f64 - r).abs())) / scale
    }

    /// Direct convolution in f64 (the reference), stride 1, 3x3.
    fn direct(x: &[f32], w: &[f32], g: &Wino) -> Vec<f64> {
        let (oh, ow) = (g.oh(), g.ow());
        let mut y = vec![0f64; g.n * g.o * oh * ow];
        for n in 0..g.n {
            for o in 0..g.o {
                for c in 0..g.c {
                    for i in 0..oh {
                        for j in 0..ow {
                            let mut acc = 0f64;
                            for ki in 0..3 {
                                for kj in 0..3 {
                                    let (yy, xx) = ((i + ki) as isize - g.ph as isize, (j + kj) as isize - g.pw as isize);
                                    if yy >= 0 && xx >= 0 && (yy as usize) < g.h && (xx as usize) < g.w {
                                        acc += x[((n * g.c + c) * g.h + yy as usize) * g.w + xx as usize] as f64
                                            * w[((o * g.c + c) * 3 + ki) * 3 + kj] as f64;
                                    }
                                }
                            }
                            y[((n * g.o + o) * oh + i) * ow + j] += acc;
                        }
                    }
                }
            }
        }
        y
    }

    /// Uniform in [-1, 1) from a fixed LCG (the same values on every run and machine).
    pub(in crate::ops) fn rand(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    /// Max |error| over max |reference| of the chunked Winograd result against the f64 reference.
    fn rel_error(g: &Wino, flip: bool) -> f64 {
        rel_error_of(g, flip, |y, x, w, g, flip| conv3x3_chunked(y, x, w, g, flip, None))
    }

    /// Max |error| over max |reference| of `run`'s result against the f64 reference.
    pub(in crate::ops) fn rel_error_of(g: &Wino, flip: bool, run: impl Fn(&mut [f32], &[f32], &[f32], &Wino, bool)) -> f64 {
        let x = rand(g.n * g.c * g.h * g.w, 1);
        let w = rand(g.o * g.c * 9, 2);
        let mut y = vec![0f32; g.n * g.o * g.oh() * g.ow()];
        let reference = if flip {
            // w as [C, O, 3, 3], the kernel rotated and its channel axes swapped
            let mut w2 = vec![0f32; w.len()];
            for o in 0..g.o {
                for c in 0..g.c {
                    for k in 0..9 {
                        w2[(o * g.c + c) * 9 + k] = w[(c * g.o + o) * 9 + 8 - k];
                    }
                }
            }
            direct(&x, &w2, g)
        } else {
            direct(&x, &w, g)
        };
        run(&mut y, &x, &w, g, flip);
        max_rel_error(&y, &reference)
    }

    #[test]
    fn matches_direct_on_odd_shapes() {
        for &(n, c, h, w, o, ph, pw) in &ODD_SHAPES {
            let g = Wino { n, c, h, w, o, ph, pw };
            for flip in [false, true] {
                let e = rel_error(&g, flip);
                assert!(e < 1e-5, "{g:?} flip={flip}: relative error {e}");
            }
        }
    }

    #[test]
    fn error_vs_f64() {
        // ResNet-50's 3x3 stride-1 shapes at batch 1, 28x28 (the error does not grow with
        // the image, only with the channels summed)
        for &c in &[64, 128, 256, 512] {
            let g = Wino { n: 1, c, h: 14, w: 14, o: 32, ph: 1, pw: 1 };
            let e = rel_error(&g, false);
            eprintln!("winograd F(4x4,3x3) C={c}: max error / max |y| = {e:.2e}");
            assert!(e < 5e-5, "C={c}: {e}");
        }
    }
}

