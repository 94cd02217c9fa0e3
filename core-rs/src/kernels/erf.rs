//! erf and erfc for f32, branch-free apart from lane selects so loops over them vectorise
//! (libm's erff is a call per element). Max error of `erf_f32` ~1.5 ulp over all inputs; the
//! unit test sweeps 10M points against f64.
use super::float::fast_exp_f32;

/// Below this |x|, erf by its Maclaurin series; at and above it by 1 - erfc.
const SERIES_TO: f32 = 1.0;

/// The Maclaurin series of erf (Abramowitz & Stegun 7.1.5): erf(x) = x Σ c_n x^2n with
/// c_n = 2/√π (-1)^n / (n! (2n + 1)), here with 1 taken off c_0 so that erf(x) = x + x p(x²)
/// keeps c_0's rounding error 8x below an ulp of the result. Ten terms leave a truncation
/// error below 2e-9 relative for |x| < 1.
const SERIES: [f32; 10] = [
    0.128_379_17,
    -0.376_126_38,
    0.112_837_92,
    -0.026_866_172,
    0.005_223_978,
    -0.000_854_832_7,
    0.000_120_553_326,
    -1.492_565e-5,
    1.646_211_4e-6,
    -1.636_584_4e-7,
];

/// The Chebyshev fit of erfc in t = 1 / (1 + z/2) (Numerical Recipes' `erfcc`, fractional
/// error < 1.2e-7 for all z >= 0): erfc(z) = t exp(p(t) - z²).
pub(crate) const ERFCC: [f32; 10] = [
    -1.265_512_2,
    1.000_023_7,
    0.374_091_96,
    0.096_784_18,
    -0.186_288_06,
    0.278_868_07,
    -1.135_204,
    1.488_515_9,
    -0.822_152_2,
    0.170_872_77,
];

/// c[0] + s (c[1] + s (c[2] + ...)), unrolled (the arrays are constants).
#[inline(always)]
fn horner(c: &[f32], s: f32) -> f32 {
    c.iter().rev().fold(0.0, |p, &k| k + s * p)
}

/// erfc(z) for z >= 0 with a relative error below 1e-6 + 1e-7 z² (the f32 rounding of the
/// exponent -z² costs the second term), so tails keep their precision; 0 for z = +inf, NaN
/// for NaN.
#[inline(always)]
pub fn erfc_pos_f32(z: f32) -> f32 {
    let t = 1.0 / (1.0 + 0.5 * z);
    t * fast_exp_f32(horner(&ERFCC, t) - z * z)
}

/// `erfc_pos_f32` with the polynomial in fused multiply-adds, for the row kernels, whose wide
/// copies are compiled with FMA (it halves the latency of the dependent chain the loop is bound
/// by); in code compiled without FMA each step is an `fmaf` call, so elsewhere use the above.
#[inline(always)]
pub fn erfc_pos_f32_fma(z: f32) -> f32 {
    let t = 1.0 / 0.5f32.mul_add(z, 1.0);
    let p = ERFCC.iter().rev().fold(0.0f32, |p, &k| p.mul_add(t, k));
    t * fast_exp_f32((-z).mul_add(z, p))
}

/// erf(x) for f32: ±1 at ±inf, NaN for NaN, -0 for -0.
#[inline(always)]
pub fn erf_f32(x: f32) -> f32 {
    let small = x + x * horner(&SERIES, x * x);
    let a = x.abs();
    let large = (1.0 - erfc_pos_f32(a)).copysign(x);
    // a NaN fails the comparison and takes the erfc path, which passes it through
    if a < SERIES_TO {
        small
    } else {
        large
    }
}

/// erf over contiguous f32 slices, compiled for AVX2+FMA when the CPU has them.
pub fn erf_slice_f32(src: &[f32], dst: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            unsafe { erf_slice_avx512(src, dst) };
            return;
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            unsafe { erf_slice_avx2(src, dst) };
            return;
        }
    }
    erf_slice_generic(src, dst);
}

#[inline(always)]
fn erf_slice_generic(src: &[f32], dst: &mut [f32]) {
    for (d, &v) in dst.iter_mut().zip(src) {
        *d = erf_f32(v);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn erf_slice_avx2(src: &[f32], dst: &mut [f32]) {
    erf_slice_generic(src, dst)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn erf_slice_avx512(src: &[f32], dst: &mut [f32]) {
    erf_slice_generic(src, dst)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// |got - want| in units of the last place of want as an f32 (subnormal spacing below
    /// the smallest normal).
    fn ulps(got: f32, want: f64) -> f64 {
        let w = want.abs().max(f32::MIN_POSITIVE as f64);
        let ulp = 2f64.powi(w.log2().floor() as i32 - 23);
        (got as f64 - want).abs() / ulp
    }

    #[test]
    fn series_coefficients_are_the_maclaurin_ones() {
        let mut fact = 1.0f64;
        for (n, &c) in SERIES.iter().enumerate() {
            if n > 0 {
                fact *= n as f64;
            }
            let sign = if n % 2 == 0 { 1.0 } else { -1.0 };
            let want = std::f64::consts::FRAC_2_SQRT_PI * sign / (fact * (2 * n + 1) as f64) - if n == 0 { 1.0 } else { 0.0 };
            assert_eq!(c, want as f32, "c_{n}");
        }
    }

    #[test]
    fn erf_f32_within_2_ulp_everywhere() {
        // 10M evenly spaced points over [-6, 6] (erf rounds to ±1 beyond ~3.9), every 64th
        // f32 below 1, then the special values
        let n = 10_000_000;
        let mut worst = (0.0f64, 0.0f32);
        let mut check = |x: f32| {
            let e = ulps(erf_f32(x), libm::erf(x as f64));
            if e > worst.0 {
                worst = (e, x);
            }
        };
        for i in 0..=n {
            check(-6.0 + 12.0 * (i as f64 / n as f64) as f32);
        }
        let mut bits = 0u32;
        while bits < 1.0f32.to_bits() {
            let x = f32::from_bits(bits);
            check(x);
            check(-x);
            bits += 64;
        }
        for x in [f32::MIN_POSITIVE, 1e-30, 0.5, 1.0 - f32::EPSILON / 2.0, 1.0, 3.9, 10.0, 1e10, f32::MAX] {
            check(x);
            check(-x);
        }
        assert!(worst.0 <= 2.0, "max error {} ulp at x = {:e}", worst.0, worst.1);
        assert_eq!(erf_f32(f32::INFINITY), 1.0);
        assert_eq!(erf_f32(f32::NEG_INFINITY), -1.0);
        assert!(erf_f32(f32::NAN).is_nan());
        assert_eq!(erf_f32(-0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(erf_f32(0.0).to_bits(), 0);
    }

    #[test]
    fn erfc_pos_keeps_relative_precision() {
        let mut z = 0.0f32;
        while z < 9.0 {
            let want = libm::erfc(z as f64);
            let got = erfc_pos_f32(z) as f64;
            let z2 = (z * z) as f64;
            assert!(((got - want) / want).abs() < 1e-6 + 1e-7 * z2, "erfc({z}) = {got}, want {want}");
            z += 0.001;
        }
        for z in [0.0f32, 0.3, 1.0, 2.5, 3.9, 7.0] {
            let (a, b) = (erfc_pos_f32(z) as f64, erfc_pos_f32_fma(z) as f64);
            assert!(((a - b) / a).abs() < 1e-6, "erfc({z}): {a} vs {b} with FMA");
        }
        assert_eq!(erfc_pos_f32(f32::INFINITY), 0.0);
        assert_eq!(erfc_pos_f32_fma(f32::INFINITY), 0.0);
        assert!(erfc_pos_f32_fma(f32::NAN).is_nan());
        assert!(erfc_pos_f32(f32::NAN).is_nan());
    }

    #[test]
    fn erf_slice_matches_scalar() {
        let x: Vec<f32> = (0..1003).map(|i| (i as f32 - 500.0) * 0.013).collect();
        let mut d = vec![0f32; x.len()];
        erf_slice_f32(&x, &mut d);
        for (a, b) in x.iter().zip(&d) {
            assert_eq!(erf_f32(*a).to_bits(), b.to_bits(), "{a}");
        }
    }
}
