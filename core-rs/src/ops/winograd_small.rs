//! Winograd F(4x4, 3x3) for small images with many channels (ResNet-50's 14x14 and 7x7
//! stages): the whole layer in one pass, output channels in blocks.
//!
//! `winograd::conv3x3_with` transforms the whole weight, U [36, O, C], before its GEMMs: at
//! 512x512 channels that is 38 MB written and read back from memory for only 32 tiles (7x7
//! outputs, batch 8), more time than the GEMMs. Here the input transform V [36, C, T] of all
//! T tiles is made once (it is small when the images are), and then each block of `OB` output
//! channels runs on its own: its slice of U [36, OB, C] transformed into a buffer that stays
//! in cache, its 36 GEMMs `M [OB, T] = U [OB, C] @ V [C, T]`, its output transform. Blocks run
//! in parallel, each thread on its own buffers. A batch whose V would pass `V_BYTES` runs in
//! groups of images, each group as a layer of its own.
use super::conv_epilogue::Epilogue;
use super::winograd::{input_channel, output_channel, weight_block, Wino};
use crate::kernels::{num_threads, pool, SendPtr};
use super::winograd_gemm::gemm_rows;
#[cfg(target_arch = "x86_64")]
use super::winograd_lanes::Lanes;

/// Elsewhere the row-wise transforms run (`Lanes::new` is `None`).
#[cfg(not(target_arch = "x86_64"))]
struct Lanes;
#[cfg(not(target_arch = "x86_64"))]
impl Lanes {
    fn new(_: &Wino) -> Option<Lanes> {
        None
    }
    unsafe fn input(&self, _: &[f32], _: &Wino, _: usize, _: *mut f32) {}
    #[allow(clippy::too_many_arguments)]
    unsafe fn output(&self, _: &[f32], _: usize, _: usize, _: &Wino, _: usize, _: *mut f32, _: Option<&Epilogue>) {}
}
use rayon::prelude::*;

/// Most bytes of V [36, C, T] this path holds (the transformed input of a group of images).
pub(super) const V_BYTES: usize = 8 << 20;

/// Output channels per block.
const OB: usize = 64;

/// Output channels per block for `o` channels on `threads` threads: `OB`, or fewer (a multiple
/// of 16) where `OB` would leave a thread without a block (64 channels on two threads: two
/// blocks of 32).
fn block_rows(o: usize, threads: usize) -> usize {
    if threads <= 1 || o.div_ceil(OB) >= threads {
        return OB;
    }
    o.div_ceil(threads).next_multiple_of(16).clamp(16, OB)
}

/// Whether one image's transformed input fits `V_BYTES` (the one-pass path applies).
pub(super) fn fits(g: &Wino) -> bool {
    36 * 4 * g.c * g.th() * g.tw() <= V_BYTES
}

/// Images per group: as many as `budget` bytes of V hold, spread evenly over the groups.
fn images_per_group(g: &Wino, budget: usize) -> usize {
    let most = (budget / (36 * 4 * g.c * g.th() * g.tw()).max(1)).clamp(1, g.n.max(1));
    g.n.div_ceil(g.n.div_ceil(most).max(1)).max(1)
}

/// Whether this path is the one to take for this shape (a function of the shape alone, never
/// of timing): the transformed input of two images (of the batch's one, if one) fits
/// `V_BYTES`; there are at least 32x32 channel pairs, outputs of 4x4 or more, and at least 16
/// tiles (one AVX-512 lane group). Measured (CPU time of one thread, batch 8-16, this path
/// against what the shape took before):
/// 8x256x14^2 4.6 ms against the chunked Winograd's 7.4, 8x512x7^2 6.3 against im2col's ~9
/// (and the chunked Winograd's 24: its 38 MB weight transform), 8x128x28^2 3.9 against 6.4,
/// 16x128x8^2 (ResNet-50 trained at 64^2) 0.59 against 1.52, 16x64x16^2 0.69 against 1.59,
/// 16x256x4^2 1.22 against 1.61, 16x32x32^2 1.15 against 2.26; at two threads 0.45-0.81 of
/// the time. Below the bounds it loses: 2x2 outputs save no multiplies in a 4x4 tile
/// (16x512x2^2: 2.7x the time), 16x16x32^2 is at par, and one image of 7x7 (4 tiles) is 2.7x
/// at two threads. Batches past `V_BYTES` run in groups (one thread, against the chunked
/// Winograd they took before): 16x256x14^2 8.1 against 12.7 ms, 16x128x28^2 8.6 against 12.6,
/// 8x256x28^2 14.1 against 18.3, 3x128x56^2 6.5 against 6.8, 8x64x56^2 and 16x64x56^2 at par
/// (6.5-6.8 against 6.6-7.0, 12.5 against 13.2); but one image a group loses where its V is
/// most of `V_BYTES` (4x256x56^2: 29.2 against 25.6), hence two images. At two threads (wall
/// time) groups win as much (16x128x28^2 4.4 against 6.6, 16x256x14^2 4.0 against 6.9,
/// 8x256x28^2 7.1 against 9.3) now that fewer than two blocks of `OB` output channels are cut
/// smaller (`block_rows`): with one block of 64 its GEMMs ran on one thread (8x64x56^2 5.6
/// against 3.8 then, 3.9 against 4.0 now; 16x64x16^2 0.67 ms then, 0.45 now).
pub(super) fn worthwhile(g: &Wino) -> bool {
    36 * 4 * g.c * g.th() * g.tw() * g.n.min(2) <= V_BYTES && g.c >= 16 && g.o >= 16 && g.c * g.o >= 32 * 32 && g.oh() >= 4 && g.ow() >= 4 && g.n * g.th() * g.tw() >= 16
}

/// `winograd::conv3x3_with` for shapes where `fits` holds: the batch in groups of images
/// (`images_per_group`), one V buffer for all of them.
pub(super) fn conv3x3_one_pass(y: &mut [f32], x: &[f32], w: &[f32], g: &Wino, flip: bool, epi: Option<&Epilogue>) {
    conv3x3_in_groups(y, x, w, g, flip, epi, V_BYTES)
}

/// `conv3x3_one_pass` with groups of images whose V fits `budget` bytes.
#[allow(clippy::too_many_arguments)]
pub(super) fn conv3x3_in_groups(y: &mut [f32], x: &[f32], w: &[f32], g: &Wino, flip: bool, epi: Option<&Epilogue>, budget: usize) {
    let nb = images_per_group(g, budget);
    let (xl, yl) = (g.c * g.h * g.w, g.o * g.oh() * g.ow());
    let mut v = Vec::new();
    for n0 in (0..g.n).step_by(nb) {
        let n1 = (n0 + nb).min(g.n);
        let sub = Wino { n: n1 - n0, ..*g };
        let e = epi.map(|e| e.images_from(n0));
        one_group(&mut y[n0 * yl..n1 * yl], &x[n0 * xl..n1 * xl], w, &sub, flip, e.as_ref(), &mut v);
    }
}

/// One group of images as a whole layer, its V [36, C, T] in `v`.
fn one_group(y: &mut [f32], x: &[f32], w: &[f32], g: &Wino, flip: bool, epi: Option<&Epilogue>, v: &mut Vec<f32>) {
    let (c, o) = (g.c, g.o);
    let t = g.n * g.th() * g.tw();
    v.resize(36 * c * t, 0.0);
    let pv = SendPtr(v.as_mut_ptr() as *mut u8);
    let py = SendPtr(y.as_mut_ptr() as *mut u8);
    let threads = num_threads();
    let lanes = Lanes::new(g);
    let input = |ci: usize, s: &mut Vec<f32>| match &lanes {
        Some(l) => unsafe { l.input(x, g, ci, pv.get() as *mut f32) },
        None => input_channel(x, g, ci, 0, t, pv, s),
    };
    let rows = block_rows(o, threads);
    let blocks = o.div_ceil(rows);
    let block = |b: usize, s: &mut (Vec<f32>, Vec<f32>, Vec<f32>)| {
        let (o0, o1) = (b * rows, ((b + 1) * rows).min(o));
        let ob = o1 - o0;
        let (u, m, sc) = s;
        u.resize(36 * ob * c, 0.0);
        m.resize(36 * ob * t, 0.0);
        weight_block(w, o, c, flip, o0 * c, o1 * c, SendPtr(u.as_mut_ptr() as *mut u8), ob * c);
        for xi in 0..36 {
            unsafe {
                gemm_rows(ob, t, c, u.as_ptr().add(xi * ob * c), c, (pv.get() as *const f32).add(xi * c * t), t, m.as_mut_ptr().add(xi * ob * t), t);
            }
        }
        for oi in o0..o1 {
            match &lanes {
                Some(l) => unsafe { l.output(m, ob, oi - o0, g, oi, py.get() as *mut f32, epi) },
                None => output_channel(m, ob, oi - o0, g, oi, 0, t, py, sc, epi),
            }
        }
    };
    if threads > 1 {
        pool().install(|| {
            (0..c).into_par_iter().for_each_init(Vec::new, |s, ci| input(ci, s));
            (0..blocks).into_par_iter().for_each_init(Default::default, |s, b| block(b, s));
        });
    } else {
        let mut s = Vec::new();
        (0..c).for_each(|ci| input(ci, &mut s));
        let mut s = Default::default();
        (0..blocks).for_each(|b| block(b, &mut s));
    }
}

#[cfg(test)]
mod tests {
    use super::super::winograd::tests::{rel_error_of, ODD_SHAPES};
    use super::*;

    #[test]
    fn blocks_of_output_channels_leave_no_thread_idle() {
        for (o, threads, rows) in [(64, 1, 64), (64, 2, 32), (80, 2, 64), (128, 2, 64), (13, 2, 16), (40, 4, 16), (64, 16, 16), (200, 4, 64)] {
            assert_eq!(block_rows(o, threads), rows, "{o} channels on {threads} threads");
        }
    }

    /// The one-pass path against float64 on the chunked path's odd shapes, and on shapes with
    /// partial blocks of output channels (`OB`), of kernel rows and of kernel columns.
    #[test]
    fn one_pass_matches_direct() {
        let mut shapes: Vec<_> = ODD_SHAPES.to_vec();
        shapes.extend([(3, 20, 7, 7, 77, 1, 1), (2, 33, 14, 14, 13, 1, 1), (1, 40, 9, 30, 70, 0, 1), (1, 70, 7, 7, 140, 1, 1)]);
        for &(n, c, h, w, o, ph, pw) in &shapes {
            let g = Wino { n, c, h, w, o, ph, pw };
            assert!(fits(&g));
            for flip in [false, true] {
                let e = rel_error_of(&g, flip, |y, x, w, g, flip| conv3x3_one_pass(y, x, w, g, flip, None));
                assert!(e < 1e-5, "{g:?} flip={flip}: relative error {e}");
            }
        }
    }

    /// A batch in groups of images (V over the budget) against float64: one image a group, two,
    /// and all but one spread evenly; a last, smaller group runs on the V the others filled.
    #[test]
    fn groups_of_images_match_direct() {
        for &(n, c, h, w, o, ph, pw) in &[(5, 16, 9, 9, 20, 1, 1), (3, 7, 6, 11, 9, 0, 1), (4, 33, 8, 8, 70, 1, 1)] {
            let g = Wino { n, c, h, w, o, ph, pw };
            let image = 36 * 4 * c * g.th() * g.tw();
            for per in [1, 2, n - 1] {
                let nb = images_per_group(&g, per * image);
                assert_eq!(nb, n.div_ceil(n.div_ceil(per)), "{g:?} {per}");
                assert!(n.div_ceil(nb) > 1);
                for flip in [false, true] {
                    let e = rel_error_of(&g, flip, |y, x, w, g, flip| conv3x3_in_groups(y, x, w, g, flip, None, per * image));
                    assert!(e < 1e-5, "{g:?} {per} images a group, flip={flip}: relative error {e}");
                }
            }
        }
    }
}
