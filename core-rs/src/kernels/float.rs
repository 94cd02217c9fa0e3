//! Floating-point element types and their compute type (half types compute in f32).
use crate::dtype::Element;
use half::{bf16, f16};
use num_traits::Float;

pub trait FloatElem: Element {
    type C: Float + Send + Sync + Copy + 'static + std::fmt::Debug + std::iter::Sum;
    fn up(self) -> Self::C;
    fn down(c: Self::C) -> Self;
}

impl FloatElem for f32 {
    type C = f32;
    #[inline(always)]
    fn up(self) -> f32 {
        self
    }
    #[inline(always)]
    fn down(c: f32) -> f32 {
        c
    }
}
impl FloatElem for f64 {
    type C = f64;
    #[inline(always)]
    fn up(self) -> f64 {
        self
    }
    #[inline(always)]
    fn down(c: f64) -> f64 {
        c
    }
}
impl FloatElem for f16 {
    type C = f32;
    #[inline(always)]
    fn up(self) -> f32 {
        self.to_f32()
    }
    #[inline(always)]
    fn down(c: f32) -> f16 {
        f16::from_f32(c)
    }
}
impl FloatElem for bf16 {
    type C = f32;
    #[inline(always)]
    fn up(self) -> f32 {
        self.to_f32()
    }
    #[inline(always)]
    fn down(c: f32) -> bf16 {
        bf16::from_f32(c)
    }
}

/// Runs `$body` with `$T` bound to the float storage type of `$dt` (which must be a float).
#[macro_export]
macro_rules! dispatch_float {
    ($dt:expr, $T:ident => $body:expr) => {
        match $dt {
            $crate::dtype::DType::F16 => { type $T = half::f16; $body }
            $crate::dtype::DType::BF16 => { type $T = half::bf16; $body }
            $crate::dtype::DType::F32 => { type $T = f32; $body }
            $crate::dtype::DType::F64 => { type $T = f64; $body }
            d => unreachable!("dispatch_float on {:?}", d),
        }
    };
}

/// Runs `$body` with `$T` bound to the integer storage type of `$dt` (an integer type).
#[macro_export]
macro_rules! dispatch_int {
    ($dt:expr, $T:ident => $body:expr) => {
        match $dt {
            $crate::dtype::DType::U8 => { type $T = u8; $body }
            $crate::dtype::DType::I8 => { type $T = i8; $body }
            $crate::dtype::DType::I16 => { type $T = i16; $body }
            $crate::dtype::DType::I32 => { type $T = i32; $body }
            $crate::dtype::DType::I64 => { type $T = i64; $body }
            d => unreachable!("dispatch_int on {:?}", d),
        }
    };
}

/// exp for f32 by range reduction and a degree-6 polynomial; written so LLVM vectorises the
/// loop around it (libm's expf is a call per element). Max relative error ~2 ulp.
#[inline(always)]
pub fn fast_exp_f32(x0: f32) -> f32 {
    let x = x0.clamp(-103.97, 88.72);
    // n = round(x / ln 2) by the magic-number trick (adding 1.5 * 2^23 leaves the rounded
    // integer in the low mantissa bits): plain adds and bit casts, so the loop vectorises on
    // the x86-64 baseline where f32::round would be a libm call per element.
    const MAGIC: f32 = 12_582_912.0;
    let t = x * std::f32::consts::LOG2_E + MAGIC;
    let ni = (t.to_bits() as i32).wrapping_sub(MAGIC.to_bits() as i32);
    let n = t - MAGIC;
    // Cody-Waite split of ln 2
    let r = x - n * 0.693_145_75_f32 - n * 1.428_606_8e-6_f32;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (0.166_666_67
                    + r * (0.041_666_668 + r * (0.008_333_334 + r * (0.001_388_889 + r * 0.000_198_412_7))))));
    // scale by 2^n, splitting n so both factors stay representable near the limits
    let n1 = ni >> 1;
    let n2 = ni - n1;
    let s1 = f32::from_bits(((n1 + 127) as u32) << 23);
    let s2 = f32::from_bits(((n2 + 127) as u32) << 23);
    let r = p * s1 * s2;
    // below ln(smallest subnormal) the true result rounds to zero; above ln(MAX) to infinity
    if x0 < -103.972_08 {
        0.0
    } else if x0 > 88.722_84 {
        f32::INFINITY
    } else if x0.is_nan() {
        x0
    } else {
        r
    }
}

/// exp over contiguous f32 slices, compiled for AVX2+FMA when the CPU has them.
pub fn exp_slice_f32(src: &[f32], dst: &mut [f32], negate_then_sigmoid: bool) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            unsafe { exp_slice_avx2(src, dst, negate_then_sigmoid) };
            return;
        }
    }
    exp_slice_generic(src, dst, negate_then_sigmoid);
}

#[inline(always)]
fn exp_slice_generic(src: &[f32], dst: &mut [f32], sigmoid: bool) {
    if sigmoid {
        for (d, &v) in dst.iter_mut().zip(src) {
            *d = 1.0 / (1.0 + fast_exp_f32(-v));
        }
    } else {
        for (d, &v) in dst.iter_mut().zip(src) {
            *d = fast_exp_f32(v);
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn exp_slice_avx2(src: &[f32], dst: &mut [f32], sigmoid: bool) {
    exp_slice_generic(src, dst, sigmoid)
}

/// Sum of a contiguous f32 slice with 32 independent lanes (AVX2 when available).
pub fn sum_slice_f32(xs: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            return unsafe { sum_avx2(xs) };
        }
    }
    sum_generic(xs)
}

#[inline(always)]
fn sum_generic(xs: &[f32]) -> f32 {
    let mut acc = [0f32; 32];
    let chunks = xs.chunks_exact(32);
    let rem = chunks.remainder();
    for c in chunks {
        for i in 0..32 {
            acc[i] += c[i];
        }
    }
    let mut w = 16;
    while w > 0 {
        for i in 0..w {
            acc[i] += acc[i + w];
        }
        w /= 2;
    }
    let mut s = acc[0];
    for &v in rem {
        s += v;
    }
    s
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn sum_avx2(xs: &[f32]) -> f32 {
    sum_generic(xs)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn sum_slice_matches_f64() {
        let v: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.37).sin()).collect();
        let want: f64 = v.iter().map(|&x| x as f64).sum();
        assert!((sum_slice_f32(&v) as f64 - want).abs() < 1e-3);
        let mut d = vec![0f32; 1000];
        exp_slice_f32(&v, &mut d, false);
        for (a, b) in v.iter().zip(&d) {
            assert!(((a.exp() - b) / a.exp()).abs() < 1e-6);
        }
    }

    #[test]
    fn fast_exp_is_accurate() {
        let mut x = -100.0f32;
        while x < 88.0 {
            let want = (x as f64).exp();
            let got = fast_exp_f32(x) as f64;
            if want > 1e-37 {
                assert!(((got - want) / want).abs() < 5e-7, "{x}: {got} vs {want}");
            }
            x += 0.0137;
        }
        assert_eq!(fast_exp_f32(0.0), 1.0);
        assert_eq!(fast_exp_f32(-200.0), 0.0);
    }
}
