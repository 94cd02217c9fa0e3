//! The exact GELU over f32 rows with AVX-512: gelu(z) = z Φ(z), Φ from erfc by the Chebyshev
//! fit of `kernels::erf` (erfc(a) = t exp(p(t) - a²), t = 1/(1 + a/2), a = |z|/√2).
//!
//! The loop is bound by the latency of one long dependent chain per vector (the scheduler
//! cannot hold enough of them to overlap), so both polynomials are evaluated by Estrin's
//! scheme (depth 4 instead of 9 and 7), and two vectors go through each iteration. The tails
//! keep their relative precision: the exponent -z²/2 is carried as an exact hi + lo pair (an
//! FMA gives the rounding error of z·z) and folded into the exponential's argument reduction,
//! so exp(-z²/2) is not off by the rounding of z² (which is 50 ulp at z = -10).
#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// gelu(x + b), or with `g` the input gradient g·gelu'(x + b), over one row; false (nothing
/// written) where the CPU lacks AVX-512.
pub(crate) fn gelu_erf(dst: &mut [f32], g: Option<&[f32]>, x: &[f32], b: Option<&[f32]>) -> bool {
    #[cfg(target_arch = "x86_64")]
    if crate::ops::rows::avx512() {
        let n = dst.len().min(x.len()).min(g.map_or(usize::MAX, |g| g.len())).min(b.map_or(usize::MAX, |b| b.len()));
        unsafe { row(dst.as_mut_ptr(), g.map(|g| g.as_ptr()), x.as_ptr(), b.map(|b| b.as_ptr()), n) };
        return true;
    }
    let _ = (dst, g, x, b);
    false
}

/// |z| beyond which Φ(-|z|) is below f32's smallest subnormal: the clamp keeps t finite and
/// changes no result (gelu(-inf) = -inf · 0 = NaN, as PyTorch's).
#[cfg(target_arch = "x86_64")]
const Z_MAX: f32 = 14.85;

/// (c0 + c1 t) + t² (c2 + c3 t) ... for 8 coefficients and t², t⁴ given: depth 3.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn estrin8(c: &[f32], t: __m512, t2: __m512, t4: __m512) -> __m512 {
    let k = |i: usize| _mm512_set1_ps(c[i]);
    let q0 = _mm512_fmadd_ps(k(1), t, k(0));
    let q1 = _mm512_fmadd_ps(k(3), t, k(2));
    let q2 = _mm512_fmadd_ps(k(5), t, k(4));
    let q3 = _mm512_fmadd_ps(k(7), t, k(6));
    _mm512_fmadd_ps(_mm512_fmadd_ps(q3, t2, q2), t4, _mm512_fmadd_ps(q1, t2, q0))
}

/// exp(p - (h + l)) as (m, n) with the value m 2^n, m in [0.7, 1.5]: h + l >= 0 the exact
/// -exponent as a pair (|l| <= ulp(h)/2), p in [-2, 1]. The reduction r = p - h - l - n ln2
/// keeps h's bits (h - n ln2_hi is exact), then the degree-7 Taylor polynomial by Estrin.
/// The caller scales by 2^n with `vscalefps` after its own multiplications, so a result in
/// the subnormals is rounded once.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn exp_parts(p: __m512, h: __m512, l: __m512) -> (__m512, __m512) {
    const TAYLOR: [f32; 8] = [1.0, 1.0, 0.5, 0.166_666_67, 0.041_666_668, 0.008_333_334, 0.001_388_889, 0.000_198_412_7];
    let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm512_mul_ps(_mm512_sub_ps(p, h), _mm512_set1_ps(std::f32::consts::LOG2_E)));
    // -h - n ln2_hi: one rounding of a small number (n ln2_hi ~ -h)
    let r = _mm512_fnmsub_ps(n, _mm512_set1_ps(0.693_145_75), h);
    let r = _mm512_add_ps(r, _mm512_sub_ps(p, _mm512_fmadd_ps(n, _mm512_set1_ps(1.428_606_8e-6), l)));
    let r2 = _mm512_mul_ps(r, r);
    (estrin8(&TAYLOR, r, r2, _mm512_mul_ps(r2, r2)), n)
}

/// Φ(-|z|) = erfc(|z|/√2)/2 as (m, n), the value m 2^n (see `exp_parts`), and z²/2 as the
/// exact pair (h, l).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn lower_tail(z: __m512) -> ((__m512, __m512), (__m512, __m512)) {
    let c = &crate::kernels::erf::ERFCC;
    let az = _mm512_min_ps(_mm512_abs_ps(z), _mm512_set1_ps(Z_MAX));
    // t = 1/(1 + |z|/(2√2)) by the 14-bit estimate and one Newton step (~1e-8 relative)
    let d = _mm512_fmadd_ps(az, _mm512_set1_ps(std::f32::consts::FRAC_1_SQRT_2 * 0.5), _mm512_set1_ps(1.0));
    let r0 = _mm512_rcp14_ps(d);
    let t = _mm512_mul_ps(r0, _mm512_fnmadd_ps(d, r0, _mm512_set1_ps(2.0)));
    // z²/2 = h + l exactly
    let half = _mm512_mul_ps(az, _mm512_set1_ps(0.5));
    let h = _mm512_mul_ps(half, az);
    let l = _mm512_fmsub_ps(half, az, h);
    // p(t) = c0 + ... + c9 t⁹ by Estrin
    let t2 = _mm512_mul_ps(t, t);
    let t4 = _mm512_mul_ps(t2, t2);
    let p = _mm512_fmadd_ps(_mm512_fmadd_ps(_mm512_set1_ps(c[9]), t, _mm512_set1_ps(c[8])), _mm512_mul_ps(t4, t4), estrin8(c, t, t2, t4));
    let (m, n) = exp_parts(p, h, l);
    ((_mm512_mul_ps(_mm512_mul_ps(t, _mm512_set1_ps(0.5)), m), n), (h, l))
}

/// One vector of the row: gelu(z) or g·gelu'(z), z = x (+ b), under the lane mask `k`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn one<const GRAD: bool, const BIAS: bool>(dst: *mut f32, g: *const f32, x: *const f32, b: *const f32, k: __mmask16) {
    let mut z = _mm512_maskz_loadu_ps(k, x);
    if BIAS {
        z = _mm512_add_ps(z, _mm512_maskz_loadu_ps(k, b));
    }
    let ((m, n), (h, l)) = lower_tail(z);
    let neg = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(z, _mm512_setzero_ps());
    let tail = _mm512_scalef_ps(m, n);
    let v = if GRAD {
        let cdf = _mm512_mask_blend_ps(neg, _mm512_sub_ps(_mm512_set1_ps(1.0), tail), tail);
        // Φ(0) = 1/2 exactly (the erfc fit is 1 ulp above it there), so gelu'(±0) = 0.5
        let cdf = _mm512_mask_mov_ps(cdf, _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(z, _mm512_setzero_ps()), _mm512_set1_ps(0.5));
        let (pm, pn) = exp_parts(_mm512_setzero_ps(), h, l);
        let zpdf = _mm512_scalef_ps(_mm512_mul_ps(_mm512_mul_ps(z, _mm512_set1_ps(0.398_942_3)), pm), pn);
        // ±inf · pdf(±inf) is inf · 0 = NaN, as the f64 path and PyTorch compute it (the clamped
        // tail would otherwise give ±inf)
        let inf = _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(_mm512_abs_ps(z), _mm512_set1_ps(f32::INFINITY));
        let zpdf = _mm512_mask_mov_ps(zpdf, inf, _mm512_set1_ps(f32::NAN));
        _mm512_mul_ps(_mm512_maskz_loadu_ps(k, g), _mm512_add_ps(cdf, zpdf))
    } else {
        // z Φ(z): below 0 the tail times z scaled once (no double rounding in the subnormals)
        let lower = _mm512_scalef_ps(_mm512_mul_ps(z, m), n);
        // where the tail is 0, z·0: -0, or NaN at -inf as PyTorch's -inf·0.5·(1 + erf(-inf))
        let lower = _mm512_mask_mul_ps(lower, _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(tail, _mm512_setzero_ps()), z, tail);
        _mm512_mask_blend_ps(neg, _mm512_mul_ps(z, _mm512_sub_ps(_mm512_set1_ps(1.0), tail)), lower)
    };
    _mm512_mask_storeu_ps(dst, k, v);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn row_typed<const GRAD: bool, const BIAS: bool>(dst: *mut f32, g: *const f32, x: *const f32, b: *const f32, n: usize) {
    let mut i = 0;
    // two independent vectors per iteration give the scheduler two chains to interleave
    while i + 32 <= n {
        one::<GRAD, BIAS>(dst.add(i), g.wrapping_add(i), x.add(i), b.wrapping_add(i), 0xffff);
        one::<GRAD, BIAS>(dst.add(i + 16), g.wrapping_add(i + 16), x.add(i + 16), b.wrapping_add(i + 16), 0xffff);
        i += 32;
    }
    while i < n {
        let k = if n - i >= 16 { 0xffff } else { ((1u32 << (n - i)) - 1) as __mmask16 };
        one::<GRAD, BIAS>(dst.add(i), g.wrapping_add(i), x.add(i), b.wrapping_add(i), k);
        i += 16;
    }
}

#[cfg(target_arch = "x86_64")]
unsafe fn row(dst: *mut f32, g: Option<*const f32>, x: *const f32, b: Option<*const f32>, n: usize) {
    let null = std::ptr::null();
    match (g, b) {
        (None, None) => row_typed::<false, false>(dst, null, x, null, n),
        (None, Some(b)) => row_typed::<false, true>(dst, null, x, b, n),
        (Some(g), None) => row_typed::<true, false>(dst, g, x, null, n),
        (Some(g), Some(b)) => row_typed::<true, true>(dst, g, x, b, n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::special::erfc;

    /// |got - want| in units of the last place of want as an f32 (the subnormal spacing below
    /// the smallest normal).
    fn ulps(got: f32, want: f64) -> f64 {
        let w = want.abs().max(f32::MIN_POSITIVE as f64);
        let ulp = 2f64.powi(w.log2().floor() as i32 - 23);
        (got as f64 - want).abs() / ulp
    }

    fn gelu64(z: f64) -> (f64, f64) {
        let cdf = 0.5 * erfc(-z / std::f64::consts::SQRT_2);
        (z * cdf, cdf + z * (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt())
    }

    /// Every 16th f32 in [-16, 16] (past where gelu underflows to 0 on the left and equals z
    /// on the right), and the special values, against f64: within 9 ulp of the value (8.5
    /// measured, at z = 0.0038: near 0 the erfc fit's polynomial sums terms of ~1.5 to ~0; in
    /// the lower tail 7, the fit's own 1.2e-7), as of the derivative (whose two terms cancel
    /// where it crosses zero: there also 2e-7 absolute).
    #[test]
    fn gelu_erf_within_9_ulp_of_f64_everywhere() {
        let mut x: Vec<f32> = Vec::new();
        let mut bits = 0u32;
        while bits <= 16.0f32.to_bits() {
            x.push(f32::from_bits(bits));
            x.push(-f32::from_bits(bits));
            bits += 16;
        }
        x.extend([f32::MIN_POSITIVE, 1e-30, 20.0, -20.0, 1e10, -1e10, f32::MAX, -f32::MAX]);
        let g = vec![1f32; x.len()];
        let (mut y, mut gx) = (vec![0f32; x.len()], vec![0f32; x.len()]);
        if !gelu_erf(&mut y, None, &x, None) {
            return; // no AVX-512 here: the portable row kernel is tested through gelu.rs
        }
        assert!(gelu_erf(&mut gx, Some(&g), &x, None));
        let (mut worst, mut worst_d) = ((0.0, 0.0f32), (0.0, 0.0f32));
        for (i, &v) in x.iter().enumerate() {
            let (want, dwant) = gelu64(v as f64);
            let e = ulps(y[i], want);
            if e > worst.0 {
                worst = (e, v);
            }
            let ed = if (gx[i] as f64 - dwant).abs() <= 2e-7 { 0.0 } else { ulps(gx[i], dwant) };
            if ed > worst_d.0 {
                worst_d = (ed, v);
            }
        }
        assert!(worst.0 <= 9.0, "gelu: max error {} ulp at z = {:e}", worst.0, worst.1);
        assert!(worst_d.0 <= 9.0, "gelu': max error {} ulp at z = {:e}", worst_d.0, worst_d.1);
        let mut s = [0f32; 4];
        gelu_erf(&mut s, None, &[f32::INFINITY, f32::NEG_INFINITY, f32::NAN, -0.0], None);
        assert_eq!(s[0], f32::INFINITY);
        assert!(s[1].is_nan() && s[2].is_nan(), "gelu(-inf) and gelu(nan) are NaN, as PyTorch's");
        assert_eq!(s[3], 0.0);
        gelu_erf(&mut s, Some(&[1.0; 4]), &[f32::INFINITY, f32::NEG_INFINITY, f32::NAN, 0.0], None);
        // gelu'(±inf) = Φ(±inf) + inf·0: NaN, as the f64 path and PyTorch give
        assert!(s[0].is_nan() && s[1].is_nan(), "gelu'(±inf) = {}, {}", s[0], s[1]);
        assert!(s[2].is_nan());
        assert_eq!(s[3], 0.5);
    }

    /// With a bias, at every tail length: the same as adding the bias first.
    #[test]
    fn bias_and_tails_match_the_unbiased_kernel() {
        for n in [0usize, 1, 15, 16, 17, 31, 32, 33, 47, 100] {
            let x: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin() * 6.0).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
            let z: Vec<f32> = x.iter().zip(&b).map(|(a, c)| a + c).collect();
            let g: Vec<f32> = (0..n).map(|i| 1.0 + i as f32).collect();
            for grad in [None, Some(&g[..])] {
                let (mut y1, mut y2) = (vec![7f32; n + 1], vec![7f32; n + 1]);
                if !gelu_erf(&mut y1[..n], grad, &x, Some(&b)) {
                    return;
                }
                gelu_erf(&mut y2[..n], grad, &z, None);
                assert_eq!(y1, y2, "n = {n}");
                assert_eq!(y1[n], 7.0, "wrote past the row");
            }
        }
    }

    /// The kernel's first test (from when it lived in `rows::simd`), kept as it was.
    #[test]
    fn gelu_erf_matches_f64() {
        let x: Vec<f32> = (-1500..=1500).map(|i| i as f32 / 100.0).chain([f32::INFINITY, f32::NEG_INFINITY, f32::NAN, 0.0, -0.0]).collect();
        let b = vec![0.0f32; x.len()];
        let g: Vec<f32> = (0..x.len()).map(|i| 1.0 + (i % 3) as f32).collect();
        let (mut y, mut gx) = (vec![0f32; x.len()], vec![0f32; x.len()]);
        if !gelu_erf(&mut y, None, &x, Some(&b)) {
            return; // no AVX-512 here: the portable row kernel is tested through gelu.rs
        }
        assert!(gelu_erf(&mut gx, Some(&g), &x, None));
        for i in 0..x.len() {
            let z = x[i] as f64;
            let cdf = 0.5 * erfc(-z / std::f64::consts::SQRT_2);
            let want = z * cdf;
            let dwant = g[i] as f64 * (cdf + z * (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt());
            if z.is_nan() || z == f64::NEG_INFINITY {
                assert!(y[i].is_nan() || y[i] == 0.0, "gelu({z}) = {}", y[i]);
                continue;
            }
            if z.is_infinite() {
                assert_eq!(y[i], f32::INFINITY);
                continue;
            }
            // relative in the lower tail (to where the result is subnormal), absolute near 0
            let tol = 4e-6 * want.abs() + 2e-7 * z * z * want.abs() + 1e-37;
            assert!((y[i] as f64 - want).abs() <= tol.max(1e-7 * z.abs()), "gelu({z}) = {}, want {want}", y[i]);
            assert!((gx[i] as f64 - dwant).abs() <= 4e-6 * dwant.abs() + 2e-6, "gelu'({z}) = {}, want {dwant}", gx[i]);
        }
    }
}
