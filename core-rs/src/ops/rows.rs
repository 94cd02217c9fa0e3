//! What the row-wise fused kernels (layer norm, softmax, bias + GELU) share: the float type
//! they run in (f32 or f64, with f32's exp and erf written so loops over them vectorise), a
//! way to compile a row kernel for AVX2+FMA as well and pick it at run time, and a parallel
//! loop over rows.
use crate::dtype::{DType, Element};
use crate::kernels::{num_threads, pool, PAR_GRAIN};

pub(crate) mod simd;

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
    /// Σ x in f64 (f32: AVX-512 lanes per block).
    fn sum_row(x: &[Self]) -> f64 {
        generic::sum(x)
    }
    /// Σ x·y in f64.
    fn dot_row(x: &[Self], y: &[Self]) -> f64 {
        generic::dot(x, y)
    }
    /// The largest element, NaN elements passed over.
    fn max_row(x: &[Self]) -> Self {
        generic::max(x)
    }
    /// (Σ (x - shift), Σ (x - shift)²) in f64.
    fn dev_moments(x: &[Self], shift: Self) -> (f64, f64) {
        generic::dev_moments(x, shift)
    }
    /// (Σ h, Σ h·(x - mu)) with h = g·w (g without a weight), in f64.
    fn grad_moments(g: &[Self], w: Option<&[Self]>, x: &[Self], mu: Self) -> (f64, f64) {
        generic::grad_moments(g, w, x, mu)
    }
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
    fn sum_row(x: &[f32]) -> f64 {
        simd::sum(x)
    }
    fn dot_row(x: &[f32], y: &[f32]) -> f64 {
        simd::dot(x, y)
    }
    fn max_row(x: &[f32]) -> f32 {
        simd::max_skip_nan(x)
    }
    fn dev_moments(x: &[f32], shift: f32) -> (f64, f64) {
        simd::dev_moments(x, shift)
    }
    fn grad_moments(g: &[f32], w: Option<&[f32]>, x: &[f32], mu: f32) -> (f64, f64) {
        simd::grad_moments(g, w, x, mu)
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
    T::max_row(x)
}

/// Σ x, combined in f64.
#[inline(always)]
pub(crate) fn row_sum<T: Fl>(x: &[T]) -> f64 {
    T::sum_row(x)
}

/// Σ x·y likewise.
#[inline(always)]
pub(crate) fn row_dot<T: Fl>(x: &[T], y: &[T]) -> f64 {
    T::dot_row(x, y)
}

/// `x` as f32 slice when T is f32 (for the f32-only AVX-512 kernels).
#[inline(always)]
pub(crate) fn as_f32<T: Fl>(x: &[T]) -> Option<&[f32]> {
    (T::DT == DType::F32).then(|| unsafe { std::slice::from_raw_parts(x.as_ptr() as *const f32, x.len()) })
}

/// `x` as a mutable f32 slice when T is f32.
#[inline(always)]
pub(crate) fn as_f32_mut<T: Fl>(x: &mut [T]) -> Option<&mut [f32]> {
    (T::DT == DType::F32).then(|| unsafe { std::slice::from_raw_parts_mut(x.as_mut_ptr() as *mut f32, x.len()) })
}

/// (mean, 1/sqrt(var + eps)) of one row, the moments taken about the row's first value so a
/// large mean costs no precision (layer norm's statistics; batch norm sums the same moments
/// over a channel's rows).
pub(crate) fn row_stats<T: Fl>(x: &[T], eps: f64) -> (T, T) {
    let n = x.len();
    if n == 0 {
        return (T::nan(), T::nan());
    }
    let shift = x[0];
    let (s1, s2) = T::dev_moments(x, shift);
    let d = s1 / n as f64;
    let var = (s2 / n as f64 - d * d).max(0.0);
    (T::of(shift.f64() + d), T::of(1.0 / (var + eps).sqrt()))
}

/// The portable row reductions: LANES independent accumulators per block of `simd::BLOCK`
/// elements (vectorisable), the blocks added in f64.
mod generic {
    use super::simd::BLOCK;
    use super::{Fl, LANES};

    #[inline(always)]
    fn fold<T: Fl>(a: &[T; LANES]) -> f64 {
        a.iter().map(|v| v.f64()).sum()
    }

    #[inline(always)]
    pub(super) fn sum<T: Fl>(x: &[T]) -> f64 {
        x.chunks(BLOCK).map(|blk| {
            let mut a = [T::zero(); LANES];
            let mut it = blk.chunks_exact(LANES);
            for c in &mut it {
                for i in 0..LANES {
                    a[i] += c[i];
                }
            }
            for (i, &v) in it.remainder().iter().enumerate() {
                a[i] += v;
            }
            fold(&a)
        }).sum()
    }

    #[inline(always)]
    pub(super) fn dot<T: Fl>(x: &[T], y: &[T]) -> f64 {
        x.chunks(BLOCK).zip(y.chunks(BLOCK)).map(|(xb, yb)| {
            let mut a = [T::zero(); LANES];
            let (mut xi, mut yi) = (xb.chunks_exact(LANES), yb.chunks_exact(LANES));
            for (c, d) in (&mut xi).zip(&mut yi) {
                for i in 0..LANES {
                    a[i] += c[i] * d[i];
                }
            }
            for (i, (&u, &v)) in xi.remainder().iter().zip(yi.remainder()).enumerate() {
                a[i] += u * v;
            }
            fold(&a)
        }).sum()
    }

    #[inline(always)]
    pub(super) fn max<T: Fl>(x: &[T]) -> T {
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

    #[inline(always)]
    pub(super) fn dev_moments<T: Fl>(x: &[T], shift: T) -> (f64, f64) {
        let (mut s1, mut s2) = (0f64, 0f64);
        for blk in x.chunks(BLOCK) {
            let (mut a, mut b) = ([T::zero(); LANES], [T::zero(); LANES]);
            let mut it = blk.chunks_exact(LANES);
            for c in &mut it {
                for i in 0..LANES {
                    let d = c[i] - shift;
                    a[i] += d;
                    b[i] += d * d;
                }
            }
            for (i, &v) in it.remainder().iter().enumerate() {
                let d = v - shift;
                a[i] += d;
                b[i] += d * d;
            }
            s1 += fold(&a);
            s2 += fold(&b);
        }
        (s1, s2)
    }

    #[inline(always)]
    pub(super) fn grad_moments<T: Fl>(g: &[T], w: Option<&[T]>, x: &[T], mu: T) -> (f64, f64) {
        let (mut s1, mut s2) = (0f64, 0f64);
        for (j, (gb, xb)) in g.chunks(BLOCK).zip(x.chunks(BLOCK)).enumerate() {
            let (mut a, mut b) = ([T::zero(); LANES], [T::zero(); LANES]);
            for (i, (&gv, &xv)) in gb.iter().zip(xb).enumerate() {
                let h = match w {
                    Some(w) => gv * w[j * BLOCK + i],
                    None => gv,
                };
                a[i % LANES] += h;
                b[i % LANES] += h * (xv - mu);
            }
            s1 += fold(&a);
            s2 += fold(&b);
        }
        (s1, s2)
    }
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
