//! The gate activations of the fused recurrent kernels, sigmoid and tanh in float32, as a
//! portable scalar function (branch-free apart from lane selects, so loops over it vectorise)
//! and as AVX2 and AVX-512 vector functions the step kernels call on their registers. All three
//! share one formulation, so they agree to an ulp or two, and keep their relative precision in
//! both tails (subnormal results of sigmoid included): with e = exp(-|x|) <= 1, which never
//! overflows,
//!
//! - sigmoid(x) = 1 / (1 + e) for x >= 0 and e / (1 + e) below;
//! - tanh(|x|) = (1 - e²) / (1 + e²) from 0.5 up (e² = exp(-2|x|)), an odd polynomial below,
//!   where the quotient would cancel; the sign copied from x.
//!
//! NaN propagates, ±inf give the limits. The unit tests sweep every float32 exponent against
//! float64.
use crate::kernels::float::fast_exp_f32;

/// Below this |x| tanh is the polynomial, from it the exponential's quotient.
const TANH_SERIES_TO: f32 = 0.5;

/// tanh(x) = x + x s q(s), s = x², for |x| < 0.5: q fitted to (tanh(x)/x - 1)/s by weighted
/// least squares on Chebyshev nodes in s (relative error of the result < 4e-9 before rounding).
const TANH_Q: [f32; 6] = [-0.333_333_34, 0.133_333_16, -0.053_963_884, 0.021_816_844, -0.008_537_122, 0.002_560_838_1];

/// exp's argument is clamped from below here: exp(-104) rounds to zero in float32, and the
/// clamp keeps the exponent's integer part in range.
const EXP_LO: f32 = -104.0;

/// The polynomial q of `TANH_Q` at s, by Horner's rule.
#[inline(always)]
fn tanh_q(s: f32) -> f32 {
    TANH_Q.iter().rev().fold(0.0, |p, &c| c + s * p)
}

/// The logistic sigmoid 1 / (1 + e^-x).
#[inline(always)]
pub(crate) fn sigmoid_f32(x: f32) -> f32 {
    let e = fast_exp_f32(-x.abs());
    let s = 1.0 / (1.0 + e);
    if x >= 0.0 {
        s
    } else {
        e * s
    }
}

/// The hyperbolic tangent.
#[inline(always)]
pub(crate) fn tanh_f32(x: f32) -> f32 {
    let a = x.abs();
    let e = fast_exp_f32(-2.0 * a);
    let far = (1.0 - e) / (1.0 + e);
    let near = a + a * (a * a) * tanh_q(a * a);
    let r = if a < TANH_SERIES_TO { near } else { far };
    r.copysign(x)
}

/// The AVX-512 copies, on 16 lanes.
#[cfg(target_arch = "x86_64")]
pub(crate) mod x512 {
    use super::{EXP_LO, TANH_Q, TANH_SERIES_TO};
    use std::arch::x86_64::*;

    /// exp(x) for x <= 0 (or NaN): n = round(x / ln 2), a degree-7 polynomial in the remainder,
    /// scaled by 2^n with `scalef`, which rounds subnormal results once.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub fn exp_nonpos(x: __m512) -> __m512 {
        // max(lo, x) returns x itself when x is NaN
        let x = _mm512_max_ps(_mm512_set1_ps(EXP_LO), x);
        let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm512_mul_ps(x, _mm512_set1_ps(std::f32::consts::LOG2_E)));
        let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693_145_75), x);
        let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428_606_8e-6), r);
        let c = [1.0, 1.0, 0.5, 0.166_666_67, 0.041_666_668, 0.008_333_334, 0.001_388_889, 0.000_198_412_7f32];
        let mut p = _mm512_set1_ps(c[7]);
        for &k in c[..7].iter().rev() {
            p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(k));
        }
        _mm512_scalef_ps(p, n)
    }

    /// The logistic sigmoid.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub fn sigmoid(x: __m512) -> __m512 {
        let sign = _mm512_set1_epi32(i32::MIN);
        let neg_abs = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(x), sign));
        let e = exp_nonpos(neg_abs);
        let s = _mm512_div_ps(_mm512_set1_ps(1.0), _mm512_add_ps(_mm512_set1_ps(1.0), e));
        let pos = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(x, _mm512_setzero_ps());
        _mm512_mask_blend_ps(pos, _mm512_mul_ps(e, s), s)
    }

    /// The hyperbolic tangent.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub fn tanh(x: __m512) -> __m512 {
        let sign = _mm512_set1_epi32(i32::MIN);
        let xi = _mm512_castps_si512(x);
        let a = _mm512_castsi512_ps(_mm512_andnot_si512(sign, xi));
        let e = exp_nonpos(_mm512_mul_ps(a, _mm512_set1_ps(-2.0)));
        let one = _mm512_set1_ps(1.0);
        let far = _mm512_div_ps(_mm512_sub_ps(one, e), _mm512_add_ps(one, e));
        let s = _mm512_mul_ps(a, a);
        let mut q = _mm512_set1_ps(TANH_Q[5]);
        for &k in TANH_Q[..5].iter().rev() {
            q = _mm512_fmadd_ps(q, s, _mm512_set1_ps(k));
        }
        let near = _mm512_fmadd_ps(_mm512_mul_ps(a, s), q, a);
        let small = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(a, _mm512_set1_ps(TANH_SERIES_TO));
        let r = _mm512_mask_blend_ps(small, far, near);
        _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(r), _mm512_and_si512(xi, sign)))
    }
}

/// The AVX2 copies, on 8 lanes.
#[cfg(target_arch = "x86_64")]
pub(crate) mod x256 {
    use super::{EXP_LO, TANH_Q, TANH_SERIES_TO};
    use std::arch::x86_64::*;

    /// exp(x) for x <= 0 (or NaN), as `x512::exp_nonpos`; without `scalef`, 2^n is applied as
    /// two factors 2^(n/2) so each stays a normal number down to n = -150.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub fn exp_nonpos(x0: __m256) -> __m256 {
        let x = _mm256_max_ps(_mm256_set1_ps(EXP_LO), x0);
        let n = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm256_mul_ps(x, _mm256_set1_ps(std::f32::consts::LOG2_E)));
        let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693_145_75), x);
        let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.428_606_8e-6), r);
        let c = [1.0, 1.0, 0.5, 0.166_666_67, 0.041_666_668, 0.008_333_334, 0.001_388_889, 0.000_198_412_7f32];
        let mut p = _mm256_set1_ps(c[7]);
        for &k in c[..7].iter().rev() {
            p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(k));
        }
        let ni = _mm256_cvtps_epi32(n);
        let n1 = _mm256_srai_epi32::<1>(ni);
        let n2 = _mm256_sub_epi32(ni, n1);
        let bias = _mm256_set1_epi32(127);
        let s1 = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(n1, bias)));
        let s2 = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(n2, bias)));
        let y = _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
        // NaN lanes: the integer conversion above made garbage of them
        _mm256_blendv_ps(y, x0, _mm256_cmp_ps::<_CMP_UNORD_Q>(x0, x0))
    }

    /// The logistic sigmoid.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub fn sigmoid(x: __m256) -> __m256 {
        let sign = _mm256_set1_ps(-0.0);
        let e = exp_nonpos(_mm256_or_ps(x, sign));
        let s = _mm256_div_ps(_mm256_set1_ps(1.0), _mm256_add_ps(_mm256_set1_ps(1.0), e));
        let pos = _mm256_cmp_ps::<_CMP_GE_OQ>(x, _mm256_setzero_ps());
        _mm256_blendv_ps(_mm256_mul_ps(e, s), s, pos)
    }

    /// The hyperbolic tangent.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub fn tanh(x: __m256) -> __m256 {
        let sign = _mm256_set1_ps(-0.0);
        let a = _mm256_andnot_ps(sign, x);
        let e = exp_nonpos(_mm256_mul_ps(a, _mm256_set1_ps(-2.0)));
        let one = _mm256_set1_ps(1.0);
        let far = _mm256_div_ps(_mm256_sub_ps(one, e), _mm256_add_ps(one, e));
        let s = _mm256_mul_ps(a, a);
        let mut q = _mm256_set1_ps(TANH_Q[5]);
        for &k in TANH_Q[..5].iter().rev() {
            q = _mm256_fmadd_ps(q, s, _mm256_set1_ps(k));
        }
        let near = _mm256_fmadd_ps(_mm256_mul_ps(a, s), q, a);
        let small = _mm256_cmp_ps::<_CMP_LT_OQ>(a, _mm256_set1_ps(TANH_SERIES_TO));
        let r = _mm256_blendv_ps(far, near, small);
        _mm256_or_ps(r, _mm256_and_ps(x, sign))
    }
}

/// Which copy `activate_f32` runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Isa {
    Portable,
    Avx2,
    Avx512,
}

impl Isa {
    /// The widest copy this CPU runs.
    pub(crate) fn best() -> Isa {
        if super::rows::avx512() {
            Isa::Avx512
        } else if super::rows::avx2() {
            Isa::Avx2
        } else {
            Isa::Portable
        }
    }
}

/// `x[i] = f(x[i])` in place, f sigmoid (`tanh` false) or tanh, by the given copy (which the
/// CPU must support: `Isa::best()` or narrower).
pub(crate) fn activate_f32(isa: Isa, tanh: bool, x: &mut [f32]) {
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the caller picked a copy the CPU supports; loads and stores stay inside x
    unsafe {
        use std::arch::x86_64::*;
        match isa {
            Isa::Avx512 => {
                #[target_feature(enable = "avx512f")]
                unsafe fn run(tanh: bool, x: &mut [f32]) -> usize {
                    let mut i = 0;
                    while i + 16 <= x.len() {
                        let p = x.as_mut_ptr().add(i);
                        let v = _mm512_loadu_ps(p);
                        _mm512_storeu_ps(p, if tanh { x512::tanh(v) } else { x512::sigmoid(v) });
                        i += 16;
                    }
                    i
                }
                done = run(tanh, x);
            }
            Isa::Avx2 => {
                #[target_feature(enable = "avx2,fma")]
                unsafe fn run(tanh: bool, x: &mut [f32]) -> usize {
                    let mut i = 0;
                    while i + 8 <= x.len() {
                        let p = x.as_mut_ptr().add(i);
                        let v = _mm256_loadu_ps(p);
                        _mm256_storeu_ps(p, if tanh { x256::tanh(v) } else { x256::sigmoid(v) });
                        i += 8;
                    }
                    i
                }
                done = run(tanh, x);
            }
            Isa::Portable => {}
        }
    }
    for v in &mut x[done..] {
        *v = if tanh { tanh_f32(*v) } else { sigmoid_f32(*v) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance in ulps between a float32 result and the float64 truth rounded to float32
    /// (through the ordered integer line, so it is defined across zero and for subnormals).
    fn ulps(got: f32, want: f64) -> u32 {
        let key = |v: f32| {
            let b = v.to_bits() as i32;
            if b < 0 {
                i32::MIN.wrapping_sub(b) as i64
            } else {
                b as i64
            }
        };
        (key(got) - key(want as f32)).unsigned_abs() as u32
    }

    fn sigmoid64(x: f64) -> f64 {
        if x >= 0.0 {
            1.0 / (1.0 + (-x).exp())
        } else {
            let e = x.exp();
            e / (1.0 + e)
        }
    }

    fn isas() -> Vec<Isa> {
        let mut v = vec![Isa::Portable];
        if super::super::rows::avx2() {
            v.push(Isa::Avx2);
        }
        if super::super::rows::avx512() {
            v.push(Isa::Avx512);
        }
        v
    }

    /// Every copy against float64 on a sweep of all float32 bit patterns (every 251st, both
    /// signs, every exponent, subnormals included), plus the edges of each formula.
    #[test]
    fn activations_match_f64_everywhere() {
        let mut xs: Vec<f32> = (0..u32::MAX / 251).map(|i| f32::from_bits(i * 251)).filter(|v| v.is_finite()).collect();
        xs.extend([0.0, -0.0, 0.5, -0.5, 0.499_999_97, f32::MIN_POSITIVE, 88.0, -88.0, 89.0, -89.0, 103.9, -103.9, 104.5, -104.5, f32::MAX, f32::MIN]);
        let mut out = vec![0f32; xs.len()];
        for isa in isas() {
            for tanh in [false, true] {
                out.copy_from_slice(&xs);
                activate_f32(isa, tanh, &mut out);
                let mut worst = (0u32, 0f32);
                for (&x, &y) in xs.iter().zip(&out) {
                    let want = if tanh { (x as f64).tanh() } else { sigmoid64(x as f64) };
                    let u = ulps(y, want);
                    if u > worst.0 {
                        worst = (u, x);
                    }
                }
                assert!(worst.0 <= 3, "{isa:?} {}: {} ulps at x = {:e}", if tanh { "tanh" } else { "sigmoid" }, worst.0, worst.1);
            }
        }
    }

    #[test]
    fn activations_special_values() {
        let xs = [f32::INFINITY, f32::NEG_INFINITY, f32::NAN, -f32::NAN, 0.0, -0.0];
        for isa in isas() {
            // pad to a full vector so the wide copies see the specials in every lane position
            let src: Vec<f32> = xs.iter().cycle().take(32 + 3).copied().collect();
            let mut out = src.clone();
            activate_f32(isa, false, &mut out);
            for (&x, &y) in src.iter().zip(&out) {
                match x {
                    v if v.is_nan() => assert!(y.is_nan(), "{isa:?} sigmoid(nan) = {y}"),
                    f32::INFINITY => assert_eq!(y, 1.0),
                    f32::NEG_INFINITY => assert_eq!(y.to_bits(), 0),
                    _ => assert_eq!(y, 0.5),
                }
            }
            out.copy_from_slice(&src);
            activate_f32(isa, true, &mut out);
            for (&x, &y) in src.iter().zip(&out) {
                match x {
                    v if v.is_nan() => assert!(y.is_nan(), "{isa:?} tanh(nan) = {y}"),
                    f32::INFINITY => assert_eq!(y, 1.0),
                    f32::NEG_INFINITY => assert_eq!(y, -1.0),
                    // the sign of zero is kept
                    _ => assert_eq!(y.to_bits(), x.to_bits(), "{isa:?} tanh({x})"),
                }
            }
        }
    }
}
