//! f32 row reductions and softmax's exponentials written with AVX-512 intrinsics (LLVM leaves loops
//! with two accumulator arrays, or the exponential, scalar or half-vectorised), beside an
//! AVX2+FMA copy of the portable loops (`rows::generic`) and those loops as they are; each
//! public function picks its copy at run time. Sums run in f32 lanes per block of BLOCK elements, the block sums
//! added in f64, so the rounding error stays that of one block whatever the length.
use super::LANES;

/// Elements summed in f32 lanes before the partial sums go to f64.
pub(crate) const BLOCK: usize = 1024;

/// `pub fn $name(args) -> ret`: the AVX-512 body `$k512` when the CPU has it, else the
/// portable body `$gen` compiled for AVX2+FMA when it has those, else `$gen` as is.
macro_rules! pick {
    ($(#[$m:meta])* fn $name:ident($($a:ident : $t:ty),*) -> $r:ty; $k512:ident, $gen:path) => {
        $(#[$m])*
        pub(crate) fn $name($($a: $t),*) -> $r {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                unsafe fn wide($($a: $t),*) -> $r {
                    $gen($($a),*)
                }
                if super::avx512() {
                    return unsafe { x86::$k512($($a),*) };
                }
                if super::avx2() {
                    return unsafe { wide($($a),*) };
                }
            }
            $gen($($a),*)
        }
    };
}

pick! {
    /// Σ x, in f64.
    fn sum(x: &[f32]) -> f64; sum, super::generic::sum
}
pick! {
    /// Σ x·y, in f64.
    fn dot(x: &[f32], y: &[f32]) -> f64; dot, super::generic::dot
}
pick! {
    /// (Σ (x - shift), Σ (x - shift)²), in f64.
    fn dev_moments(x: &[f32], shift: f32) -> (f64, f64); dev_moments, super::generic::dev_moments
}
pick! {
    /// (Σ h, Σ h·(x - mu)) with h = g·w (or g without a weight), in f64.
    fn grad_moments(g: &[f32], w: Option<&[f32]>, x: &[f32], mu: f32) -> (f64, f64); grad_moments, super::generic::grad_moments
}
pick! {
    /// The largest element, NaN elements passed over (-inf for an empty row).
    fn max_skip_nan(x: &[f32]) -> f32; max_skip_nan, super::generic::max
}
pick! {
    /// The largest (`is_max`) or smallest element, NaN if any element is NaN; -inf / +inf
    /// for an empty row.
    fn extreme(x: &[f32], is_max: bool) -> f32; extreme, extreme_gen
}

/// dst = exp(src - m) (src = dst itself when None), returning Σ dst in f64, on AVX-512; None
/// (nothing written) where the CPU lacks it.
pub(crate) fn exp_shifted_sum(dst: &mut [f32], src: Option<&[f32]>, m: f32) -> Option<f64> {
    #[cfg(target_arch = "x86_64")]
    if super::avx512() {
        let n = src.map_or(dst.len(), |s| s.len().min(dst.len()));
        let sp = src.map_or(dst.as_ptr(), |s| s.as_ptr());
        // element i is read before it is written, so dst may be src
        return Some(unsafe { x86::exp_shifted_sum(dst.as_mut_ptr(), sp, n, m) });
    }
    let _ = (dst, src, m);
    None
}

/// log_softmax's input gradient gx = scale·(g - exp(y)·s) on AVX-512; false (nothing written)
/// where the CPU lacks it.
pub(crate) fn log_softmax_grad(gx: &mut [f32], g: &[f32], y: &[f32], s: f32, scale: f32) -> bool {
    #[cfg(target_arch = "x86_64")]
    if super::avx512() {
        unsafe { x86::log_softmax_grad(gx, g, y, s, scale) };
        return true;
    }
    let _ = (gx, g, y, s, scale);
    false
}

#[inline(always)]
fn extreme_gen(x: &[f32], is_max: bool) -> f32 {
    let init = if is_max { f32::NEG_INFINITY } else { f32::INFINITY };
    let mut m = [init; LANES];
    let mut nan = [false; LANES];
    let mut it = x.chunks_exact(LANES);
    for c in &mut it {
        for i in 0..LANES {
            let better = if is_max { c[i] > m[i] } else { c[i] < m[i] };
            m[i] = if better { c[i] } else { m[i] };
            nan[i] |= c[i].is_nan();
        }
    }
    for (i, &v) in it.remainder().iter().enumerate() {
        let better = if is_max { v > m[i] } else { v < m[i] };
        m[i] = if better { v } else { m[i] };
        nan[i] |= v.is_nan();
    }
    if nan.iter().any(|&n| n) {
        return f32::NAN;
    }
    m.iter().fold(init, |a, &b| if (is_max && b > a) || (!is_max && b < a) { b } else { a })
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::BLOCK;
    use std::arch::x86_64::*;

    /// The first `n` (< 16) lanes.
    #[inline(always)]
    fn head(n: usize) -> __mmask16 {
        ((1u32 << n) - 1) as __mmask16
    }

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn sum(x: &[f32]) -> f64 {
        let mut total = 0f64;
        for blk in x.chunks(BLOCK) {
            let (p, n) = (blk.as_ptr(), blk.len());
            let (mut a0, mut a1, mut a2, mut a3) = (_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps());
            let mut i = 0;
            while i + 64 <= n {
                a0 = _mm512_add_ps(a0, _mm512_loadu_ps(p.add(i)));
                a1 = _mm512_add_ps(a1, _mm512_loadu_ps(p.add(i + 16)));
                a2 = _mm512_add_ps(a2, _mm512_loadu_ps(p.add(i + 32)));
                a3 = _mm512_add_ps(a3, _mm512_loadu_ps(p.add(i + 48)));
                i += 64;
            }
            while i + 16 <= n {
                a0 = _mm512_add_ps(a0, _mm512_loadu_ps(p.add(i)));
                i += 16;
            }
            if i < n {
                a1 = _mm512_add_ps(a1, _mm512_maskz_loadu_ps(head(n - i), p.add(i)));
            }
            total += _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3))) as f64;
        }
        total
    }

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn dot(x: &[f32], y: &[f32]) -> f64 {
        let n_all = x.len().min(y.len());
        let mut total = 0f64;
        let mut s = 0;
        while s < n_all {
            let n = (n_all - s).min(BLOCK);
            let (p, q) = (x.as_ptr().add(s), y.as_ptr().add(s));
            let (mut a0, mut a1) = (_mm512_setzero_ps(), _mm512_setzero_ps());
            let mut i = 0;
            while i + 32 <= n {
                a0 = _mm512_fmadd_ps(_mm512_loadu_ps(p.add(i)), _mm512_loadu_ps(q.add(i)), a0);
                a1 = _mm512_fmadd_ps(_mm512_loadu_ps(p.add(i + 16)), _mm512_loadu_ps(q.add(i + 16)), a1);
                i += 32;
            }
            while i + 16 <= n {
                a0 = _mm512_fmadd_ps(_mm512_loadu_ps(p.add(i)), _mm512_loadu_ps(q.add(i)), a0);
                i += 16;
            }
            if i < n {
                let m = head(n - i);
                a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, p.add(i)), _mm512_maskz_loadu_ps(m, q.add(i)), a1);
            }
            total += _mm512_reduce_add_ps(_mm512_add_ps(a0, a1)) as f64;
            s += n;
        }
        total
    }

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn dev_moments(x: &[f32], shift: f32) -> (f64, f64) {
        let sh = _mm512_set1_ps(shift);
        let (mut s1, mut s2) = (0f64, 0f64);
        for blk in x.chunks(BLOCK) {
            let (p, n) = (blk.as_ptr(), blk.len());
            let (mut a0, mut a1, mut b0, mut b1) = (_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps());
            let mut i = 0;
            while i + 32 <= n {
                let d0 = _mm512_sub_ps(_mm512_loadu_ps(p.add(i)), sh);
                let d1 = _mm512_sub_ps(_mm512_loadu_ps(p.add(i + 16)), sh);
                a0 = _mm512_add_ps(a0, d0);
                a1 = _mm512_add_ps(a1, d1);
                b0 = _mm512_fmadd_ps(d0, d0, b0);
                b1 = _mm512_fmadd_ps(d1, d1, b1);
                i += 32;
            }
            while i + 16 <= n {
                let d = _mm512_sub_ps(_mm512_loadu_ps(p.add(i)), sh);
                a0 = _mm512_add_ps(a0, d);
                b0 = _mm512_fmadd_ps(d, d, b0);
                i += 16;
            }
            if i < n {
                let m = head(n - i);
                let d = _mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, p.add(i)), sh);
                a1 = _mm512_add_ps(a1, d);
                b1 = _mm512_fmadd_ps(d, d, b1);
            }
            s1 += _mm512_reduce_add_ps(_mm512_add_ps(a0, a1)) as f64;
            s2 += _mm512_reduce_add_ps(_mm512_add_ps(b0, b1)) as f64;
        }
        (s1, s2)
    }

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn grad_moments(g: &[f32], w: Option<&[f32]>, x: &[f32], mu: f32) -> (f64, f64) {
        let n_all = g.len().min(x.len()).min(w.map_or(usize::MAX, |w| w.len()));
        let m = _mm512_set1_ps(mu);
        let (mut s1, mut s2) = (0f64, 0f64);
        let mut s = 0;
        // h = g·w when there is a weight (masked lanes load 0 either way)
        macro_rules! h {
            ($k:expr, $i:expr) => {{
                let gv = _mm512_maskz_loadu_ps($k, g.as_ptr().add($i));
                match w {
                    Some(w) => _mm512_mul_ps(gv, _mm512_maskz_loadu_ps($k, w.as_ptr().add($i))),
                    None => gv,
                }
            }};
        }
        while s < n_all {
            let n = (n_all - s).min(BLOCK);
            let (mut a0, mut a1, mut b0, mut b1) = (_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps());
            let mut i = 0;
            while i + 32 <= n {
                let (h0, h1) = (h!(0xffff, s + i), h!(0xffff, s + i + 16));
                let d0 = _mm512_sub_ps(_mm512_loadu_ps(x.as_ptr().add(s + i)), m);
                let d1 = _mm512_sub_ps(_mm512_loadu_ps(x.as_ptr().add(s + i + 16)), m);
                a0 = _mm512_add_ps(a0, h0);
                a1 = _mm512_add_ps(a1, h1);
                b0 = _mm512_fmadd_ps(h0, d0, b0);
                b1 = _mm512_fmadd_ps(h1, d1, b1);
                i += 32;
            }
            while i < n {
                let k = if n - i >= 16 { 0xffff } else { head(n - i) };
                let hv = h!(k, s + i);
                let d = _mm512_maskz_sub_ps(k, _mm512_maskz_loadu_ps(k, x.as_ptr().add(s + i)), m);
                a0 = _mm512_add_ps(a0, hv);
                b0 = _mm512_fmadd_ps(hv, d, b0);
                i += 16;
            }
            s1 += _mm512_reduce_add_ps(_mm512_add_ps(a0, a1)) as f64;
            s2 += _mm512_reduce_add_ps(_mm512_add_ps(b0, b1)) as f64;
            s += n;
        }
        (s1, s2)
    }

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn max_skip_nan(x: &[f32]) -> f32 {
        let (p, n) = (x.as_ptr(), x.len());
        let ninf = _mm512_set1_ps(f32::NEG_INFINITY);
        let (mut m0, mut m1) = (ninf, ninf);
        let mut i = 0;
        // vmaxps returns its second operand when either is NaN: NaN elements leave m as is
        while i + 32 <= n {
            m0 = _mm512_max_ps(_mm512_loadu_ps(p.add(i)), m0);
            m1 = _mm512_max_ps(_mm512_loadu_ps(p.add(i + 16)), m1);
            i += 32;
        }
        while i < n {
            let k = if n - i >= 16 { 0xffff } else { head(n - i) };
            m0 = _mm512_max_ps(_mm512_mask_loadu_ps(ninf, k, p.add(i)), m0);
            i += 16;
        }
        _mm512_reduce_max_ps(_mm512_max_ps(m0, m1))
    }

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn extreme(x: &[f32], is_max: bool) -> f32 {
        let (p, n) = (x.as_ptr(), x.len());
        let init = _mm512_set1_ps(if is_max { f32::NEG_INFINITY } else { f32::INFINITY });
        let (mut m0, mut m1) = (init, init);
        let mut nan: __mmask16 = 0;
        let mut i = 0;
        macro_rules! step {
            ($m:ident, $v:expr) => {{
                let v = $v;
                nan |= _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(v, v);
                $m = if is_max { _mm512_max_ps(v, $m) } else { _mm512_min_ps(v, $m) };
            }};
        }
        while i + 32 <= n {
            step!(m0, _mm512_loadu_ps(p.add(i)));
            step!(m1, _mm512_loadu_ps(p.add(i + 16)));
            i += 32;
        }
        while i < n {
            let k = if n - i >= 16 { 0xffff } else { head(n - i) };
            step!(m0, _mm512_mask_loadu_ps(init, k, p.add(i)));
            i += 16;
        }
        if nan != 0 {
            return f32::NAN;
        }
        if is_max {
            _mm512_reduce_max_ps(_mm512_max_ps(m0, m1))
        } else {
            _mm512_reduce_min_ps(_mm512_min_ps(m0, m1))
        }
    }

    /// exp(e) for e <= ~2: round-to-nearest split by ln 2 (Cody-Waite), the degree-7 Taylor
    /// polynomial on |r| <= ln2/2, and `vscalefps` for the 2^n, which rounds into the
    /// subnormals and to zero correctly far below -87.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn exp_neg(e: __m512) -> __m512 {
        let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm512_mul_ps(e, _mm512_set1_ps(std::f32::consts::LOG2_E)));
        let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693_145_75), e);
        let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428_606_8e-6), r);
        let mut p = _mm512_set1_ps(0.000_198_412_7);
        for c in [0.001_388_889f32, 0.008_333_334, 0.041_666_668, 0.166_666_67, 0.5, 1.0, 1.0] {
            p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(c));
        }
        _mm512_scalef_ps(p, n)
    }

    /// exp(e) for any e <= ~88 (clamped below where the result is 0), NaN kept.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn exp_any(e: __m512) -> __m512 {
        // vmaxps returns its second operand when either is NaN: a NaN e passes through
        exp_neg(_mm512_max_ps(_mm512_set1_ps(-104.0), e))
    }

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn exp_shifted_sum(dst: *mut f32, src: *const f32, n: usize, m: f32) -> f64 {
        let mv = _mm512_set1_ps(m);
        let mut total = 0f64;
        let mut s = 0;
        while s < n {
            let len = (n - s).min(BLOCK);
            let (mut a0, mut a1) = (_mm512_setzero_ps(), _mm512_setzero_ps());
            let mut i = 0;
            while i + 32 <= len {
                let e0 = exp_any(_mm512_sub_ps(_mm512_loadu_ps(src.add(s + i)), mv));
                let e1 = exp_any(_mm512_sub_ps(_mm512_loadu_ps(src.add(s + i + 16)), mv));
                _mm512_storeu_ps(dst.add(s + i), e0);
                _mm512_storeu_ps(dst.add(s + i + 16), e1);
                a0 = _mm512_add_ps(a0, e0);
                a1 = _mm512_add_ps(a1, e1);
                i += 32;
            }
            while i < len {
                let k = if len - i >= 16 { 0xffff } else { head(len - i) };
                let e = exp_any(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, src.add(s + i)), mv));
                _mm512_mask_storeu_ps(dst.add(s + i), k, e);
                a0 = _mm512_add_ps(a0, _mm512_maskz_mov_ps(k, e));
                i += 16;
            }
            total += _mm512_reduce_add_ps(_mm512_add_ps(a0, a1)) as f64;
            s += len;
        }
        total
    }

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn log_softmax_grad(gx: &mut [f32], g: &[f32], y: &[f32], s: f32, scale: f32) {
        let n = gx.len().min(g.len()).min(y.len());
        let (sv, sc) = (_mm512_set1_ps(s), _mm512_set1_ps(scale));
        let mut i = 0;
        while i < n {
            let k = if n - i >= 16 { 0xffff } else { head(n - i) };
            let e = exp_any(_mm512_maskz_loadu_ps(k, y.as_ptr().add(i)));
            let d = _mm512_fnmadd_ps(e, sv, _mm512_maskz_loadu_ps(k, g.as_ptr().add(i)));
            _mm512_mask_storeu_ps(gx.as_mut_ptr().add(i), k, _mm512_mul_ps(sc, d));
            i += 16;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize, seed: u32) -> Vec<f32> {
        (0..n).map(|i| (((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 8) as f32 / 16_777_216.0 - 0.5) * 8.0).collect()
    }

    #[test]
    fn reductions_match_f64_at_every_tail_length() {
        for n in [0usize, 1, 7, 15, 16, 17, 31, 33, 64, 65, 1023, 1024, 1025, 3000] {
            let (x, y) = (data(n, 1), data(n, 2));
            let s: f64 = x.iter().map(|&v| v as f64).sum();
            assert!((sum(&x) - s).abs() < 1e-4 * (1.0 + n as f64), "sum n={n}");
            assert!((super::super::generic::sum(&x) - s).abs() < 1e-4 * (1.0 + n as f64));
            let d: f64 = x.iter().zip(&y).map(|(&a, &b)| a as f64 * b as f64).sum();
            assert!((dot(&x, &y) - d).abs() < 1e-3 * (1.0 + n as f64), "dot n={n}");
            let sh = 0.25f32;
            let m1: f64 = x.iter().map(|&v| (v - sh) as f64).sum();
            let m2: f64 = x.iter().map(|&v| ((v - sh) as f64).powi(2)).sum();
            for (a, b) in [dev_moments(&x, sh), super::super::generic::dev_moments(&x, sh)] {
                assert!((a - m1).abs() < 1e-3 * (1.0 + n as f64) && (b - m2).abs() < 1e-3 * (1.0 + n as f64), "moments n={n}");
            }
            let w = data(n, 3);
            for wo in [None, Some(&w[..])] {
                let h = |i: usize| y[i] as f64 * wo.map_or(1.0, |w| w[i] as f64);
                let g1: f64 = (0..n).map(h).sum();
                let g2: f64 = (0..n).map(|i| h(i) * (x[i] - sh) as f64).sum();
                for (a, b) in [grad_moments(&y, wo, &x, sh), super::super::generic::grad_moments(&y, wo, &x, sh)] {
                    assert!((a - g1).abs() < 1e-2 * (1.0 + n as f64) && (b - g2).abs() < 1e-2 * (1.0 + n as f64), "grad moments n={n}");
                }
            }
            let want_max = x.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            let want_min = x.iter().cloned().fold(f32::INFINITY, f32::min);
            assert_eq!(max_skip_nan(&x), want_max);
            assert_eq!(extreme(&x, true), want_max);
            assert_eq!(extreme(&x, false), want_min);
            assert_eq!(extreme_gen(&x, false), want_min);
            if n > 0 {
                let mut xn = x.clone();
                xn[n - 1] = f32::NAN;
                assert!(extreme(&xn, true).is_nan() && extreme(&xn, false).is_nan() && extreme_gen(&xn, true).is_nan());
                let rest = xn[..n - 1].iter().cloned().fold(f32::NEG_INFINITY, f32::max);
                assert_eq!(max_skip_nan(&xn), rest);
            }
        }
    }

    #[test]
    fn exponentials_match_f64() {
        for n in [0usize, 5, 16, 40, 1100] {
            let mut x: Vec<f32> = data(n, 7).iter().map(|v| v * 20.0).collect();
            if n > 3 {
                x[1] = f32::NEG_INFINITY;
                x[2] = -200.0;
            }
            let m = x.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            let mut y = vec![0f32; n];
            let Some(s) = exp_shifted_sum(&mut y, Some(&x), m) else { return };
            let mut y2 = x.clone();
            assert_eq!(exp_shifted_sum(&mut y2, None, m), Some(s));
            assert_eq!(y, y2);
            let mut want_s = 0f64;
            for (&v, &got) in x.iter().zip(&y) {
                let want = ((v - m) as f64).exp();
                want_s += want;
                assert!((got as f64 - want).abs() <= 3e-7 * want + 1e-44, "exp({}) = {got}, want {want}", v - m);
            }
            assert!((s - want_s).abs() <= 1e-6 * want_s);
            let g = data(n, 9);
            let mut gx = vec![0f32; n];
            assert!(log_softmax_grad(&mut gx, &g, &y2.iter().map(|v| v.ln()).collect::<Vec<_>>(), 0.5, 2.0));
            for i in 0..n {
                let want = 2.0 * (g[i] as f64 - y[i] as f64 * 0.5);
                assert!((gx[i] as f64 - want).abs() <= 1e-5 * (1.0 + want.abs()));
            }
        }
        let mut nan = vec![f32::NAN, 1.0];
        assert!(exp_shifted_sum(&mut nan, None, 0.0).is_none_or(|s| s.is_nan()));
    }
}
