//! 3x3 windows at stride 2 with their indices, over one f32 plane (ResNet's stem pool), in
//! AVX-512: per output row and 16 output columns, each of the window's input rows is split
//! into its left, middle and right taps by two lane permutes, the row's maximum and column
//! kept with masked blends, then the rows combined in order. Ties and NaNs follow the
//! window's row-major scan as the portable kernel does (the first maximum wins, the first NaN
//! wins and stays). The indices are computed as i32 and widened to PyTorch's int64 when
//! stored; columns whose window reaches into the padding go through a scalar scan.
#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// Whether `v` replaces `best` in scan order: greater, or the first NaN.
#[inline(always)]
fn beats(v: f32, best: f32) -> bool {
    v > best || (v.is_nan() && !best.is_nan())
}

/// One output of the window with rows `rows` and columns x0..x0+3 clipped to the plane:
/// (maximum, flat index) by the row-major scan.
fn scalar_window(src: &[f32], w: usize, rows: (usize, usize), x0: isize) -> (f32, i64) {
    let (c0, c1) = (x0.max(0) as usize, ((x0 + 3).min(w as isize)) as usize);
    let (mut best, mut at) = (f32::NEG_INFINITY, (rows.0 * w + c0) as i64);
    let mut first = true;
    for r in rows.0..rows.1 {
        for c in c0..c1 {
            let v = src[r * w + c];
            if first || beats(v, best) {
                (best, at, first) = (v, (r * w + c) as i64, false);
            }
        }
    }
    (best, at)
}

/// The plane [h, w] pooled into ys and is [oh, ow] with padding `pad` (each at most 1, so
/// every window has an input tap); false (nothing written) where the CPU lacks AVX-512 or
/// the plane's indices do not fit an i32.
pub(super) fn plane(src: &[f32], (h, w): (usize, usize), pad: (usize, usize), (oh, ow): (usize, usize), ys: &mut [f32], is: &mut [i64]) -> bool {
    #[cfg(target_arch = "x86_64")]
    if crate::ops::rows::avx512() && h * w < i32::MAX as usize / 2 && src.len() >= h * w && ys.len() >= oh * ow && is.len() >= oh * ow {
        // output columns whose three taps are all inside the row
        let lo = pad.1.div_ceil(2);
        let hi = if w + pad.1 >= 3 { ((w + pad.1 - 3) / 2 + 1).min(ow) } else { 0 };
        for oi in 0..oh {
            let y0 = (2 * oi) as isize - pad.0 as isize;
            let rows = (y0.max(0) as usize, ((y0 + 3).min(h as isize)) as usize);
            let out = oi * ow;
            for oj in (0..lo.min(ow)).chain(hi.max(lo)..ow) {
                (ys[out + oj], is[out + oj]) = scalar_window(src, w, rows, (2 * oj) as isize - pad.1 as isize);
            }
            if lo < hi {
                unsafe { vector_row(src.as_ptr(), w, rows, 2 * lo - pad.1, hi - lo, ys.as_mut_ptr().add(out + lo), is.as_mut_ptr().add(out + lo)) };
            }
        }
        return true;
    }
    let _ = (src, h, w, pad, oh, ow, ys, is);
    false
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn mask(n: usize) -> __mmask16 {
    if n >= 16 { 0xffff } else { ((1u32 << n) - 1) as __mmask16 }
}

/// `n` outputs of one output row whose windows start at column `x0` (all taps inside).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn vector_row(src: *const f32, w: usize, rows: (usize, usize), x0: usize, n: usize, ys: *mut f32, is: *mut i64) {
    let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    let odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    let (one, two) = (_mm512_set1_epi32(1), _mm512_set1_epi32(2));
    let beats = |v: __m512, b: __m512| -> __mmask16 {
        _mm512_cmp_ps_mask::<_CMP_GT_OQ>(v, b) | (_mm512_cmp_ps_mask::<_CMP_UNORD_Q>(v, v) & _mm512_cmp_ps_mask::<_CMP_ORD_Q>(b, b))
    };
    let mut j = 0;
    while j < n {
        let cnt = (n - j).min(16);
        let k = mask(cnt);
        // taps base .. base + 2 cnt: the loads read no further
        let (base, need) = (x0 + 2 * j, 2 * cnt + 1);
        let mut best = _mm512_setzero_ps();
        let mut at = _mm512_setzero_si512();
        for r in rows.0..rows.1 {
            let p = src.add(r * w + base);
            let l0 = _mm512_maskz_loadu_ps(mask(need), p);
            let l1 = _mm512_maskz_loadu_ps(mask(need.saturating_sub(16)), p.add(16));
            let (a, b) = (_mm512_permutex2var_ps(l0, even, l1), _mm512_permutex2var_ps(l0, odd, l1));
            // the right taps: the left ones of the columns two further on
            let r0 = _mm512_maskz_loadu_ps(mask(need - 2), p.add(2));
            let r1 = _mm512_maskz_loadu_ps(mask(need.saturating_sub(18)), p.add(18));
            let c = _mm512_permutex2var_ps(r0, even, r1);
            let m1 = beats(b, a);
            let (v, s) = (_mm512_mask_blend_ps(m1, a, b), _mm512_maskz_mov_epi32(m1, one));
            let m2 = beats(c, v);
            let (v, s) = (_mm512_mask_blend_ps(m2, v, c), _mm512_mask_mov_epi32(s, m2, two));
            let idx = _mm512_add_epi32(_mm512_add_epi32(even, s), _mm512_set1_epi32((r * w + base) as i32));
            if r == rows.0 {
                (best, at) = (v, idx);
            } else {
                let m = beats(v, best);
                best = _mm512_mask_blend_ps(m, best, v);
                at = _mm512_mask_blend_epi32(m, at, idx);
            }
        }
        _mm512_mask_storeu_ps(ys.add(j), k, best);
        let lo = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(at));
        let hi = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64::<1>(at));
        _mm512_mask_storeu_epi64(is.add(j), (k & 0xff) as __mmask8, lo);
        _mm512_mask_storeu_epi64(is.add(j + 8), (k >> 8) as __mmask8, hi);
        j += 16;
    }
}
