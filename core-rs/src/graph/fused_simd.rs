//! The arithmetic steps the fused elementwise loop (`fused_run`) runs inline on f32/f64
//! blocks: add, sub, mul, div, neg and relu over `n` elements whose operands are each a
//! contiguous run or one value broadcast (a splat), written with AVX-512 intrinsics (16 f32 or
//! 8 f64 lanes), an AVX2 copy, and the portable loop, the copy chosen at run time. Each lane
//! computes exactly what the op's CPU kernel computes for that element (IEEE add, sub, mul,
//! div; a sign flip; relu keeping NaN and mapping -0 to +0), so every copy gives the unfused
//! launches' results bit for bit.

/// An arithmetic step run inline.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Inline {
    Add,
    Sub,
    Mul,
    Div,
    Neg,
    /// The unary kernel's `relu` (NaN kept, -0 and negatives to +0).
    Relu,
}

/// Which copy runs (tests pin one to compare it with the portable loop).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Isa {
    Portable,
    Avx2,
    Avx512,
}

/// The widest copy this CPU runs.
pub(super) fn best_isa() -> Isa {
    if crate::ops::rows::avx512() {
        Isa::Avx512
    } else if crate::ops::rows::avx2() {
        Isa::Avx2
    } else {
        Isa::Portable
    }
}

/// A float the inline steps run on.
pub(super) trait InlineFloat: num_traits::Float {
    /// `step` with the given copy (falls back to the portable loop where the CPU lacks it).
    ///
    /// # Safety
    /// As `step`.
    unsafe fn step_with(isa: Isa, op: Inline, n: usize, out: *mut Self, a: (*const Self, isize), b: (*const Self, isize));
}

/// `out[i] = a[i] op b[i]` for `n` elements; each operand's stride is 1 (a contiguous run) or
/// 0 (one value broadcast); a unary op ignores `b`.
///
/// # Safety
/// The pointers hold `n` elements (one for a stride-0 operand); `out` may be exactly `a` or
/// `b` (a result written over a dead input) but must not overlap them otherwise.
#[inline]
pub(super) unsafe fn step<T: InlineFloat>(op: Inline, n: usize, out: *mut T, a: (*const T, isize), b: (*const T, isize)) {
    T::step_with(best_isa(), op, n, out, a, b)
}

/// One element of each op, as the CPU kernels compute it.
#[inline(always)]
fn scalar<T: num_traits::Float>(op: Inline, x: T, y: T) -> T {
    match op {
        Inline::Add => x + y,
        Inline::Sub => x - y,
        Inline::Mul => x * y,
        Inline::Div => x / y,
        Inline::Neg => -x,
        Inline::Relu => {
            if x > T::zero() || x.is_nan() {
                x
            } else {
                T::zero()
            }
        }
    }
}

/// The portable loop (also every copy's tail).
///
/// # Safety
/// As `step`, for elements `from..n`.
#[inline(always)]
unsafe fn portable<T: num_traits::Float>(op: Inline, from: usize, n: usize, out: *mut T, a: (*const T, isize), b: (*const T, isize)) {
    macro_rules! each {
        ($f:expr) => {{
            let f = $f;
            match (a.1, b.1) {
                (1, 1) => (from..n).for_each(|i| *out.add(i) = f(*a.0.add(i), *b.0.add(i))),
                (1, _) => {
                    let y = *b.0;
                    (from..n).for_each(|i| *out.add(i) = f(*a.0.add(i), y))
                }
                (_, 1) => {
                    let x = *a.0;
                    (from..n).for_each(|i| *out.add(i) = f(x, *b.0.add(i)))
                }
                _ => {
                    let v = f(*a.0, *b.0);
                    (from..n).for_each(|i| *out.add(i) = v)
                }
            }
        }};
    }
    // one loop per op, so each is a plain loop the compiler may vectorise
    match op {
        Inline::Add => each!(|x: T, y: T| x + y),
        Inline::Sub => each!(|x: T, y: T| x - y),
        Inline::Mul => each!(|x: T, y: T| x * y),
        Inline::Div => each!(|x: T, y: T| x / y),
        Inline::Neg => each!(|x: T, _y: T| scalar(Inline::Neg, x, x)),
        Inline::Relu => each!(|x: T, _y: T| scalar(Inline::Relu, x, x)),
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{portable, Inline};
    use std::arch::x86_64::*;

    /// `$name(op, n, out, a, b)`: the step for one float type and one instruction set: the
    /// vector loop over whole vectors, then the portable loop for the tail.
    macro_rules! kernel {
        ($name:ident, $feat:literal, $t:ty, $v:ty, $lanes:expr, $load:ident, $store:ident, $set1:ident, $add:ident, $sub:ident, $mul:ident, $div:ident, $neg:ident, $relu:ident) => {
            #[target_feature(enable = $feat)]
            pub(super) unsafe fn $name(op: Inline, n: usize, out: *mut $t, a: (*const $t, isize), b: (*const $t, isize)) {
                #[target_feature(enable = $feat)]
                #[inline]
                unsafe fn run<F: Fn($v, $v) -> $v>(n: usize, out: *mut $t, a: (*const $t, isize), b: (*const $t, isize), f: F) -> usize {
                    const L: usize = $lanes;
                    let mut i = 0;
                    match (a.1, b.1) {
                        (1, 1) => {
                            while i + L <= n {
                                $store(out.add(i), f($load(a.0.add(i)), $load(b.0.add(i))));
                                i += L;
                            }
                        }
                        (1, _) => {
                            let y = $set1(*b.0);
                            while i + L <= n {
                                $store(out.add(i), f($load(a.0.add(i)), y));
                                i += L;
                            }
                        }
                        (_, 1) => {
                            let x = $set1(*a.0);
                            while i + L <= n {
                                $store(out.add(i), f(x, $load(b.0.add(i))));
                                i += L;
                            }
                        }
                        _ => {} // two splats: one value, the portable loop fills it
                    }
                    i
                }
                let done = match op {
                    Inline::Add => run(n, out, a, b, |x, y| $add(x, y)),
                    Inline::Sub => run(n, out, a, b, |x, y| $sub(x, y)),
                    Inline::Mul => run(n, out, a, b, |x, y| $mul(x, y)),
                    Inline::Div => run(n, out, a, b, |x, y| $div(x, y)),
                    Inline::Neg => run(n, out, a, a, |x, _| $neg(x)),
                    Inline::Relu => run(n, out, a, a, |x, _| $relu(x)),
                };
                portable(op, done, n, out, a, b);
            }
        };
    }

    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn neg_ps512(x: __m512) -> __m512 {
        _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(x), _mm512_set1_epi32(i32::MIN)))
    }
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn relu_ps512(x: __m512) -> __m512 {
        // keep x where x > 0 or x is NaN (not less-or-equal, unordered), else +0
        _mm512_maskz_mov_ps(_mm512_cmp_ps_mask::<_CMP_NLE_UQ>(x, _mm512_setzero_ps()), x)
    }
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn neg_pd512(x: __m512d) -> __m512d {
        _mm512_castsi512_pd(_mm512_xor_si512(_mm512_castpd_si512(x), _mm512_set1_epi64(i64::MIN)))
    }
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn relu_pd512(x: __m512d) -> __m512d {
        _mm512_maskz_mov_pd(_mm512_cmp_pd_mask::<_CMP_NLE_UQ>(x, _mm512_setzero_pd()), x)
    }
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn neg_ps256(x: __m256) -> __m256 {
        _mm256_xor_ps(x, _mm256_set1_ps(-0.0))
    }
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn relu_ps256(x: __m256) -> __m256 {
        _mm256_and_ps(_mm256_cmp_ps::<_CMP_NLE_UQ>(x, _mm256_setzero_ps()), x)
    }
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn neg_pd256(x: __m256d) -> __m256d {
        _mm256_xor_pd(x, _mm256_set1_pd(-0.0))
    }
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn relu_pd256(x: __m256d) -> __m256d {
        _mm256_and_pd(_mm256_cmp_pd::<_CMP_NLE_UQ>(x, _mm256_setzero_pd()), x)
    }

    kernel!(f32_512, "avx512f", f32, __m512, 16, _mm512_loadu_ps, _mm512_storeu_ps, _mm512_set1_ps, _mm512_add_ps, _mm512_sub_ps, _mm512_mul_ps, _mm512_div_ps, neg_ps512, relu_ps512);
    kernel!(f64_512, "avx512f", f64, __m512d, 8, _mm512_loadu_pd, _mm512_storeu_pd, _mm512_set1_pd, _mm512_add_pd, _mm512_sub_pd, _mm512_mul_pd, _mm512_div_pd, neg_pd512, relu_pd512);
    kernel!(f32_256, "avx2", f32, __m256, 8, _mm256_loadu_ps, _mm256_storeu_ps, _mm256_set1_ps, _mm256_add_ps, _mm256_sub_ps, _mm256_mul_ps, _mm256_div_ps, neg_ps256, relu_ps256);
    kernel!(f64_256, "avx2", f64, __m256d, 4, _mm256_loadu_pd, _mm256_storeu_pd, _mm256_set1_pd, _mm256_add_pd, _mm256_sub_pd, _mm256_mul_pd, _mm256_div_pd, neg_pd256, relu_pd256);
}

macro_rules! impl_float {
    ($t:ty, $k512:ident, $k256:ident) => {
        impl InlineFloat for $t {
            unsafe fn step_with(isa: Isa, op: Inline, n: usize, out: *mut $t, a: (*const $t, isize), b: (*const $t, isize)) {
                #[cfg(target_arch = "x86_64")]
                {
                    if isa == Isa::Avx512 && crate::ops::rows::avx512() {
                        return x86::$k512(op, n, out, a, b);
                    }
                    if isa != Isa::Portable && crate::ops::rows::avx2() {
                        return x86::$k256(op, n, out, a, b);
                    }
                }
                let _ = isa;
                portable(op, 0, n, out, a, b)
            }
        }
    };
}
impl_float!(f32, f32_512, f32_256);
impl_float!(f64, f64_512, f64_256);

#[cfg(test)]
mod tests {
    use super::*;

    /// Every copy against the element-by-element formula, bit for bit: odd lengths (vector
    /// bodies and tails), each operand contiguous or a splat, in place over an input, and
    /// values with NaN, infinities and signed zeros.
    fn check<T: InlineFloat + std::fmt::Debug>(vals: &[T], bits: impl Fn(T) -> u64) {
        let ops = [Inline::Add, Inline::Sub, Inline::Mul, Inline::Div, Inline::Neg, Inline::Relu];
        for isa in [Isa::Portable, Isa::Avx2, Isa::Avx512] {
            for &op in &ops {
                for n in [0usize, 1, 3, 7, 8, 15, 16, 17, 31, 33, 64, 100] {
                    let a: Vec<T> = (0..n.max(1)).map(|i| vals[(i * 7 + 3) % vals.len()]).collect();
                    let b: Vec<T> = (0..n.max(1)).map(|i| vals[(i * 5 + 1) % vals.len()]).collect();
                    for (sa, sb) in [(1isize, 1isize), (1, 0), (0, 1), (0, 0)] {
                        for in_place in [false, true] {
                            let mut out = vec![T::zero(); n.max(1)];
                            let mut a2 = a.clone();
                            let (pa, po) = if in_place && sa == 1 { (a2.as_mut_ptr(), a2.as_mut_ptr()) } else { (a2.as_mut_ptr(), out.as_mut_ptr()) };
                            unsafe { T::step_with(isa, op, n, po, (pa as *const T, sa), (b.as_ptr(), sb)) };
                            let got = if in_place && sa == 1 { &a2 } else { &out };
                            for i in 0..n {
                                let x = if sa == 1 { a[i] } else { a[0] };
                                let y = if sb == 1 { b[i] } else { b[0] };
                                let want = scalar(op, x, y);
                                assert_eq!(bits(got[i]), bits(want), "{isa:?} {op:?} n={n} strides=({sa},{sb}) in_place={in_place} at {i}: {x:?} {y:?}");
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn every_copy_matches_the_scalar_ops() {
        let f: Vec<f32> = vec![1.5, -2.25, 0.0, -0.0, f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 3.0e-39, -7.0, 1.0e30, 0.1];
        check(&f, |x: f32| x.to_bits() as u64);
        let d: Vec<f64> = f.iter().map(|&x| x as f64).chain([1e-310, -1e300]).collect();
        check(&d, |x: f64| x.to_bits());
    }
}
