//! Batch norm's f32 plane kernels in AVX-512, with the ReLU's mask (y > 0) applied as they
//! read the output gradient rather than in a pass of its own: the backward's first pass takes
//! both sums (and writes the masked gradient only when the residual needs it), the second
//! writes the input gradient, so no scratch copy of the masked gradient is made (it was a
//! per-call allocation as large as a channel, fresh pages each time). Sums run in f32 lanes
//! per block of `BLOCK` elements, the block sums added in f64, as `rows::simd`'s do.
#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use crate::ops::rows::simd::BLOCK;

/// Whether the kernels below run here (the callers keep their portable loops otherwise).
pub(super) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    return crate::ops::rows::avx512();
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// (Σ h, Σ h (x - mu)) with h = g masked by y > 0 (g itself without y), writing h into `gm`
/// when given. Call only where `available()`.
pub(super) fn grad_moments(g: &[f32], y: Option<&[f32]>, x: &[f32], mu: f32, gm: Option<&mut [f32]>) -> (f64, f64) {
    let n = g.len();
    assert!(x.len() >= n && y.is_none_or(|y| y.len() >= n) && gm.as_ref().is_none_or(|m| m.len() >= n));
    #[cfg(target_arch = "x86_64")]
    unsafe {
        let yp = y.map_or(std::ptr::null(), |y| y.as_ptr());
        let mp = gm.map_or(std::ptr::null_mut(), |m| m.as_mut_ptr());
        match (yp.is_null(), mp.is_null()) {
            (true, true) => grad_moments_x86::<false, false>(g.as_ptr(), yp, x.as_ptr(), mu, mp, n),
            (true, false) => grad_moments_x86::<false, true>(g.as_ptr(), yp, x.as_ptr(), mu, mp, n),
            (false, true) => grad_moments_x86::<true, false>(g.as_ptr(), yp, x.as_ptr(), mu, mp, n),
            (false, false) => grad_moments_x86::<true, true>(g.as_ptr(), yp, x.as_ptr(), mu, mp, n),
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    unreachable!("batch norm's AVX-512 kernels called without AVX-512 ({n} elements, {mu}, {gm:?})")
}

/// dst = h a + x b + c (h a + c without x), h = g masked by y > 0 (g itself without y). Call
/// only where `available()`.
pub(super) fn affine2(dst: &mut [f32], g: &[f32], y: Option<&[f32]>, x: Option<&[f32]>, (a, b, c): (f32, f32, f32)) {
    let n = dst.len();
    assert!(g.len() >= n && x.is_none_or(|x| x.len() >= n) && y.is_none_or(|y| y.len() >= n));
    #[cfg(target_arch = "x86_64")]
    unsafe {
        let (d, gp) = (dst.as_mut_ptr(), g.as_ptr());
        let (yp, xp) = (y.map_or(std::ptr::null(), |y| y.as_ptr()), x.map_or(std::ptr::null(), |x| x.as_ptr()));
        match (y.is_some(), x.is_some()) {
            (true, true) => affine2_x86::<true, true>(d, gp, yp, xp, a, b, c, n),
            (false, true) => affine2_x86::<false, true>(d, gp, yp, xp, a, b, c, n),
            (true, false) => affine2_x86::<true, false>(d, gp, yp, xp, a, b, c, n),
            (false, false) => affine2_x86::<false, false>(d, gp, yp, xp, a, b, c, n),
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    unreachable!("batch norm's AVX-512 kernels called without AVX-512 ({n} elements, {a} {b} {c}, {:?})", (g, y, x))
}

/// dst = x a + b (+ r), then zero where <= 0 when `relu` (a NaN stays NaN, as the portable
/// loop and PyTorch's ReLU). Call only where `available()`.
pub(super) fn act_affine(dst: &mut [f32], x: &[f32], r: Option<&[f32]>, a: f32, b: f32, relu: bool) {
    let n = dst.len();
    assert!(x.len() >= n && r.is_none_or(|r| r.len() >= n));
    #[cfg(target_arch = "x86_64")]
    unsafe {
        let rp = r.map_or(std::ptr::null(), |r| r.as_ptr());
        match (r.is_some(), relu) {
            (false, false) => act_affine_x86::<false, false>(dst.as_mut_ptr(), x.as_ptr(), rp, a, b, n),
            (false, true) => act_affine_x86::<false, true>(dst.as_mut_ptr(), x.as_ptr(), rp, a, b, n),
            (true, false) => act_affine_x86::<true, false>(dst.as_mut_ptr(), x.as_ptr(), rp, a, b, n),
            (true, true) => act_affine_x86::<true, true>(dst.as_mut_ptr(), x.as_ptr(), rp, a, b, n),
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    unreachable!("batch norm's AVX-512 kernels called without AVX-512 ({n} elements, {a} {b} {relu}, {:?})", (x, r))
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn head(n: usize) -> __mmask16 {
    if n >= 16 { 0xffff } else { ((1u32 << n) - 1) as __mmask16 }
}

/// h = g where y > 0 (NaN y gives 0, as the portable mask), under lane mask k (a constant
/// 0xffff in the main loops, where the loads are plain ones).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn masked_g<const Y: bool>(g: *const f32, y: *const f32, i: usize, k: __mmask16) -> __m512 {
    let gv = _mm512_maskz_loadu_ps(k, g.add(i));
    if Y {
        _mm512_maskz_mov_ps(_mm512_cmp_ps_mask::<_CMP_GT_OQ>(_mm512_maskz_loadu_ps(k, y.add(i)), _mm512_setzero_ps()), gv)
    } else {
        gv
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn grad_moments_x86<const Y: bool, const OUT: bool>(g: *const f32, y: *const f32, x: *const f32, mu: f32, gm: *mut f32, n: usize) -> (f64, f64) {
    let m = _mm512_set1_ps(mu);
    let (mut s1, mut s2) = (0f64, 0f64);
    let mut s = 0;
    while s < n {
        let e = (s + BLOCK).min(n);
        let (mut a0, mut a1, mut b0, mut b1) = (_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps());
        let mut i = s;
        while i + 32 <= e {
            let (h0, h1) = (masked_g::<Y>(g, y, i, 0xffff), masked_g::<Y>(g, y, i + 16, 0xffff));
            if OUT {
                _mm512_storeu_ps(gm.add(i), h0);
                _mm512_storeu_ps(gm.add(i + 16), h1);
            }
            let d0 = _mm512_sub_ps(_mm512_loadu_ps(x.add(i)), m);
            let d1 = _mm512_sub_ps(_mm512_loadu_ps(x.add(i + 16)), m);
            a0 = _mm512_add_ps(a0, h0);
            a1 = _mm512_add_ps(a1, h1);
            b0 = _mm512_fmadd_ps(h0, d0, b0);
            b1 = _mm512_fmadd_ps(h1, d1, b1);
            i += 32;
        }
        while i < e {
            let k = head(e - i);
            let h = masked_g::<Y>(g, y, i, k);
            if OUT {
                _mm512_mask_storeu_ps(gm.add(i), k, h);
            }
            // masked lanes: h = 0, so d's value there does not matter
            let d = _mm512_sub_ps(_mm512_maskz_loadu_ps(k, x.add(i)), m);
            a0 = _mm512_add_ps(a0, h);
            b0 = _mm512_fmadd_ps(h, d, b0);
            i += 16;
        }
        s1 += _mm512_reduce_add_ps(_mm512_add_ps(a0, a1)) as f64;
        s2 += _mm512_reduce_add_ps(_mm512_add_ps(b0, b1)) as f64;
        s = e;
    }
    (s1, s2)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
unsafe fn affine2_x86<const Y: bool, const X: bool>(dst: *mut f32, g: *const f32, y: *const f32, x: *const f32, a: f32, b: f32, c: f32, n: usize) {
    let (av, bv, cv) = (_mm512_set1_ps(a), _mm512_set1_ps(b), _mm512_set1_ps(c));
    // a macro, not a closure: the body must be compiled with this function's AVX-512
    macro_rules! one {
        ($i:expr, $k:expr) => {{
            let h = masked_g::<Y>(g, y, $i, $k);
            if X { _mm512_fmadd_ps(h, av, _mm512_fmadd_ps(_mm512_maskz_loadu_ps($k, x.add($i)), bv, cv)) } else { _mm512_fmadd_ps(h, av, cv) }
        }};
    }
    // plain stores in the main loop (a masked store costs more than a plain one on some cores)
    let mut i = 0;
    while i + 16 <= n {
        _mm512_storeu_ps(dst.add(i), one!(i, 0xffff));
        i += 16;
    }
    if i < n {
        _mm512_mask_storeu_ps(dst.add(i), head(n - i), one!(i, head(n - i)));
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn act_affine_x86<const R: bool, const RELU: bool>(dst: *mut f32, x: *const f32, r: *const f32, a: f32, b: f32, n: usize) {
    let (av, bv) = (_mm512_set1_ps(a), _mm512_set1_ps(b));
    macro_rules! one {
        ($i:expr, $k:expr) => {{
            let mut z = _mm512_fmadd_ps(_mm512_maskz_loadu_ps($k, x.add($i)), av, bv);
            if R {
                z = _mm512_add_ps(z, _mm512_maskz_loadu_ps($k, r.add($i)));
            }
            if RELU {
                // kept where z > 0 or NaN (ReLU passes a NaN on, as PyTorch's)
                z = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask::<_CMP_NLE_UQ>(z, _mm512_setzero_ps()), z);
            }
            z
        }};
    }
    let mut i = 0;
    while i + 16 <= n {
        _mm512_storeu_ps(dst.add(i), one!(i, 0xffff));
        i += 16;
    }
    if i < n {
        _mm512_mask_storeu_ps(dst.add(i), head(n - i), one!(i, head(n - i)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize, seed: u32) -> Vec<f32> {
        (0..n).map(|i| (((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 8) as f32 / 16_777_216.0 - 0.5) * 8.0).collect()
    }

    /// Each kernel against the same formula in f64 at every tail length, the masked gradient
    /// written exactly, nothing written past the end.
    #[test]
    fn kernels_match_f64_at_every_tail_length() {
        if !available() {
            return;
        }
        for n in [0usize, 1, 15, 16, 17, 31, 32, 33, 100, 1023, 1024, 1025, 2100] {
            let (g, y, x) = (data(n, 1), data(n, 2), data(n, 3));
            let mu = 0.25f32;
            for with_y in [false, true] {
                let h: Vec<f64> = (0..n).map(|i| if !with_y || y[i] > 0.0 { g[i] as f64 } else { 0.0 }).collect();
                let want1: f64 = h.iter().sum();
                let want2: f64 = h.iter().zip(&x).map(|(h, &x)| h * (x as f64 - mu as f64)).sum();
                let mut gm = vec![9f32; n + 1];
                let (p, q) = grad_moments(&g, with_y.then_some(&y[..]), &x, mu, Some(&mut gm[..n]));
                assert!((p - want1).abs() < 1e-4 * (1.0 + n as f64) && (q - want2).abs() < 1e-3 * (1.0 + n as f64), "n = {n}");
                assert_eq!(grad_moments(&g, with_y.then_some(&y[..]), &x, mu, None), (p, q));
                assert!(gm[..n].iter().zip(&h).all(|(&a, &b)| a as f64 == b) && gm[n] == 9.0, "gm n = {n}");
                let mut d = vec![9f32; n + 1];
                for with_x in [false, true] {
                    affine2(&mut d[..n], &g, with_y.then_some(&y[..]), with_x.then_some(&x[..]), (0.5, -1.5, 0.25));
                    for i in 0..n {
                        let want = h[i] * 0.5 - if with_x { 1.5 * x[i] as f64 } else { 0.0 } + 0.25;
                        assert!((d[i] as f64 - want).abs() < 1e-5 * (1.0 + want.abs()), "affine2 n = {n} i = {i}");
                    }
                    assert_eq!(d[n], 9.0);
                }
            }
            for (res, relu) in [(false, false), (false, true), (true, false), (true, true)] {
                let mut d = vec![9f32; n + 1];
                act_affine(&mut d[..n], &x, res.then_some(&y[..]), 1.5, -0.5, relu);
                for i in 0..n {
                    let z = x[i] as f64 * 1.5 - 0.5 + if res { y[i] as f64 } else { 0.0 };
                    let want = if relu && z <= 0.0 { 0.0 } else { z };
                    assert!((d[i] as f64 - want).abs() < 1e-5 * (1.0 + want.abs()), "act_affine n = {n} i = {i}");
                }
                assert_eq!(d[n], 9.0);
            }
        }
    }
}
