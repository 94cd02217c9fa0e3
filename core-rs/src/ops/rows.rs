//! What the row-wise fused kernels (layer norm, softmax, bias + GELU) share: the float type
//! they run in (f32 or f64, with f32's exp and erf written so loops over them vectorise), a
//! way to compile a row kernel for AVX2+FMA as well and pick it at run time, and a parallel
//! loop over rows.
use crate::dtype::{DType, Element};
use crate::kernels::{num_threads, pool, PAR_GRAIN};

/// A float a row kernel computes in.
pub(crate) trait Fl:
    Element + num_traits::Float + Default + std::ops::AddAssign + std::ops::MulAssign + std::ops::SubAssign + Send + Sync
{
    const DT: DType;
    fn of(v: f64) -> Self;
    fn f64(self) -> f64;
    /// exp, vectorisable for f32 (`fast_exp_f32`, ~2 ulp); libm's for f64.
    fn exp_(self) -> Self;
    /// The standard normal CDF Φ(x) = erfc(-x / √2) / 2, with a small relative error in both
    /// tails (so GELU's values for negative x keep their precision).
    fn phi(self) -> Self;
}

impl Fl for f32 {
    const DT: DType = DType::F32;
    #[inline(always)]
    fn of(v: f64) -> Self {
        v as f32
    }
    #[inline(always)]
    fn f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn exp_(self) -> Self {
        crate::kernels::float::fast_exp_f32(self)
    }
    #[inline(always)]
    fn phi(self) -> Self {
        // erfc by the Chebyshev fit of Numerical Recipes (fractional error < 1.2e-7 everywhere),
        // branch-free apart from the sign select, so it vectorises
        let z = self.abs() * std::f32::consts::FRAC_1_SQRT_2;
        let tail = 0.5 * crate::kernels::erf::erfc_pos_f32_fma(z); // erfc(z) / 2
        if self < 0.0 {
            tail
        } else {
            1.0 - tail
        }
    }
}

impl Fl for f64 {
    const DT: DType = DType::F64;
    #[inline(always)]
    fn of(v: f64) -> Self {
        v
    }
    #[inline(always)]
    fn f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn exp_(self) -> Self {
        self.exp()
    }
    #[inline(always)]
    fn phi(self) -> Self {
        0.5 * crate::kernels::special::erfc(-self * std::f64::consts::FRAC_1_SQRT_2)
    }
}

/// Whether the AVX-512 copies of the row kernels may run here.
#[inline]
pub(crate) fn avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f") && avx2()
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Whether the AVX2+FMA copies of the row kernels may run here.
#[inline]
pub(crate) fn avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Defines `fn name<T: Fl>(args) -> ret { body }` compiled three times, plain, for AVX2+FMA and
/// for AVX-512, the copy chosen per call (the feature check is a cached load). The body's
/// arithmetic is the same in each (no contraction into FMAs), so results do not depend on the
/// copy; only the vector width does.
macro_rules! simd_fn {
    ($(#[$m:meta])* $vis:vis fn $name:ident<T: Fl>($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$m])*
        #[allow(clippy::too_many_arguments)]
        $vis fn $name<T: $crate::ops::rows::Fl>($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            fn inner<T: $crate::ops::rows::Fl>($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            #[allow(clippy::too_many_arguments)]
            unsafe fn wide<T: $crate::ops::rows::Fl>($($arg: $ty),*) $(-> $ret)? {
                inner::<T>($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f,avx2,fma")]
            #[allow(clippy::too_many_arguments)]
            unsafe fn wide512<T: $crate::ops::rows::Fl>($($arg: $ty),*) $(-> $ret)? {
                inner::<T>($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            if $crate::ops::rows::avx512() {
                return unsafe { wide512::<T>($($arg),*) };
            }
            #[cfg(target_arch = "x86_64")]
            if $crate::ops::rows::avx2() {
                return unsafe { wide::<T>($($arg),*) };
            }
            inner::<T>($($arg),*)
        }
    };
}
pub(crate) use simd_fn;

/// Runs `f(first_row, end_row)` over `0..rows` split into chunks, in parallel when the work
/// (`rows * cost`) is large; returns each chunk's result in order.
pub(crate) fn par_rows<R: Send>(rows: usize, cost: usize, f: impl Fn(usize, usize) -> R + Sync) -> Vec<R> {
    let threads = num_threads();
    if rows.saturating_mul(cost.max(1)) < PAR_GRAIN || threads <= 1 || rows <= 1 {
        return vec![f(0, rows)];
    }
    let per = rows.div_ceil(threads * 4).max(1);
    let n = rows.div_ceil(per);
    pool().install(|| {
        use rayon::prelude::*;
        (0..n).into_par_iter().map(|c| f(c * per, ((c + 1) * per).min(rows))).collect()
    })
}

/// A mutable row `r` of length `n` of the contiguous buffer at `p` (rows are disjoint, so each
/// chunk of a parallel loop may hold its own).
///
/// # Safety
/// `p` points at a buffer of at least `(r + 1) * n` elements of `T` that nothing else reads
/// or writes at row `r` meanwhile.
#[inline(always)]
pub(crate) unsafe fn row_mut<'a, T>(p: *mut u8, r: usize, n: usize) -> &'a mut [T] {
    std::slice::from_raw_parts_mut((p as *mut T).add(r * n), n)
}

/// LANES independent accumulators: reductions over a row vectorise.
pub(crate) const LANES: usize = 16;

/// The largest element of `x` (-inf for an empty row); NaN elements are passed over here and
/// reach the result through the exponentials instead.
#[inline(always)]
pub(crate) fn row_max<T: Fl>(x: &[T]) -> T {
    let mut m = [T::neg_infinity(); LANES];
    let mut it = x.chunks_exact(LANES);
    for c in &mut it {
        for i in 0..LANES {
            m[i] = if c[i] > m[i] { c[i] } else { m[i] };
        }
    }
    for (i, &v) in it.remainder().iter().enumerate() {
        m[i] = if v > m[i] { v } else { m[i] };
    }
    m.iter().fold(T::neg_infinity(), |a, &b| if b > a { b } else { a })
}

/// Σ x in LANES accumulators of T, combined in f64.
#[inline(always)]
pub(crate) fn row_sum<T: Fl>(x: &[T]) -> f64 {
    let mut a = [T::zero(); LANES];
    let mut it = x.chunks_exact(LANES);
    for c in &mut it {
        for i in 0..LANES {
            a[i] += c[i];
        }
    }
    for (i, &v) in it.remainder().iter().enumerate() {
        a[i] += v;
    }
    a.iter().map(|v| v.f64()).sum()
}

/// Σ x·y likewise.
#[inline(always)]
pub(crate) fn row_dot<T: Fl>(x: &[T], y: &[T]) -> f64 {
    let mut a = [T::zero(); LANES];
    let (mut xi, mut yi) = (x.chunks_exact(LANES), y.chunks_exact(LANES));
    for (c, d) in (&mut xi).zip(&mut yi) {
        for i in 0..LANES {
            a[i] += c[i] * d[i];
        }
    }
    for (i, (&u, &v)) in xi.remainder().iter().zip(yi.remainder()).enumerate() {
        a[i] += u * v;
    }
    a.iter().map(|v| v.f64()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phi_f32_keeps_relative_precision_in_both_tails() {
        for i in -900..=900 {
            let x = i as f64 / 100.0;
            let want = 0.5 * crate::kernels::special::erfc(-x / std::f64::consts::SQRT_2);
            let got = (x as f32).phi() as f64;
            // the f32 rounding of the exponent -x²/2 costs a relative ~1e-7 x² in the tail
            assert!((got - want).abs() <= (2e-6 + 2e-7 * x * x) * want.abs() + 1e-37, "phi({x}) = {got}, want {want}");
        }
    }

    #[test]
    fn row_reductions() {
        let x: Vec<f32> = (0..37).map(|i| (i as f32 * 0.7).sin()).collect();
        let y: Vec<f32> = (0..37).map(|i| (i as f32 * 0.3).cos()).collect();
        let want: f64 = x.iter().zip(&y).map(|(a, b)| *a as f64 * *b as f64).sum();
        assert!((row_dot(&x, &y) - want).abs() < 1e-5);
        assert!((row_sum(&x) - x.iter().map(|v| *v as f64).sum::<f64>()).abs() < 1e-5);
        assert_eq!(row_max(&x), x.iter().cloned().fold(f32::MIN, f32::max));
        assert_eq!(row_max::<f64>(&[]), f64::NEG_INFINITY);
    }
}
