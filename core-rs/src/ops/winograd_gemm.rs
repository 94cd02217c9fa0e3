//! The 36 GEMMs of the one-pass Winograd path (`winograd_small.rs`) as an AVX-512
//! register-blocked kernel: `M [rows, t] = U [rows, k] @ V [k, t]`, all three row-major.
//!
//! The `gemm` crate packs its operands on every call; at these shapes (t = 32 to a few
//! hundred tiles, rows a block of 64 output channels, k = C) V is packed again for every
//! block of rows. Here V is read in place, 32 columns (two vectors) at a time, and U
//! broadcast element by element from its rows: 12 rows x 32 columns of M stay in 24
//! registers over the whole reduction, so M is written once and never read. The whole layer
//! measured 2-3% faster with it than with the `gemm` crate in the same place (one thread, a
//! busy box: 4.63 against 4.72 ms at 8x256x14^2, 6.29 against 6.49 at 8x512x7^2). Without
//! AVX-512 the `gemm` crate runs instead.
use gemm::Parallelism;

/// Rows of M per register block.
#[cfg(target_arch = "x86_64")]
const R: usize = 12;

/// `m` [rows, t] (row stride `ldm`) = `u` [rows, k] (row stride `ldu`) @ `v` [k, t] (row
/// stride `ldv`).
///
/// # Safety
/// The three pointers must address matrices of those shapes and strides.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn gemm_rows(rows: usize, t: usize, k: usize, u: *const f32, ldu: usize, v: *const f32, ldv: usize, m: *mut f32, ldm: usize) {
    #[cfg(target_arch = "x86_64")]
    if super::rows::avx512() {
        return unsafe { avx512::gemm(rows, t, k, u, ldu, v, ldv, m, ldm) };
    }
    unsafe {
        gemm::gemm(rows, t, k, m, 1, ldm as isize, false, u, 1, ldu as isize, v, 1, ldv as isize,
            0.0, 1.0, false, false, false, Parallelism::None);
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::R;
    use std::arch::x86_64::*;

    /// `N` rows of M, columns `j0..j0 + 32` (the lanes past `t` masked off).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    unsafe fn block<const N: usize>(k: usize, u: *const f32, ldu: usize, v: *const f32, ldv: usize, m: *mut f32, ldm: usize, m0: __mmask16, m1: __mmask16) {
        unsafe {
            let mut a0 = [_mm512_setzero_ps(); N];
            let mut a1 = [_mm512_setzero_ps(); N];
            for c in 0..k {
                let vp = v.wrapping_add(c * ldv);
                let v0 = _mm512_maskz_loadu_ps(m0, vp);
                let v1 = _mm512_maskz_loadu_ps(m1, vp.wrapping_add(16));
                for r in 0..N {
                    let b = _mm512_set1_ps(*u.add(r * ldu + c));
                    a0[r] = _mm512_fmadd_ps(b, v0, a0[r]);
                    a1[r] = _mm512_fmadd_ps(b, v1, a1[r]);
                }
            }
            for r in 0..N {
                _mm512_mask_storeu_ps(m.wrapping_add(r * ldm), m0, a0[r]);
                _mm512_mask_storeu_ps(m.wrapping_add(r * ldm + 16), m1, a1[r]);
            }
        }
    }

    #[target_feature(enable = "avx512f,avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn gemm(rows: usize, t: usize, k: usize, u: *const f32, ldu: usize, v: *const f32, ldv: usize, m: *mut f32, ldm: usize) {
        let mask = |n: usize| -> __mmask16 { if n >= 16 { 0xffff } else { ((1u32 << n) - 1) as u16 } };
        let mut j0 = 0;
        while j0 < t {
            let left = t - j0;
            let (m0, m1) = (mask(left), mask(left.saturating_sub(16)));
            let (vj, mj) = (v.wrapping_add(j0), m.wrapping_add(j0));
            let mut r0 = 0;
            while r0 < rows {
                let (ur, mr) = (u.wrapping_add(r0 * ldu), mj.wrapping_add(r0 * ldm));
                unsafe {
                    match rows - r0 {
                        n if n >= R => block::<R>(k, ur, ldu, vj, ldv, mr, ldm, m0, m1),
                        1 => block::<1>(k, ur, ldu, vj, ldv, mr, ldm, m0, m1),
                        2 => block::<2>(k, ur, ldu, vj, ldv, mr, ldm, m0, m1),
                        3 => block::<3>(k, ur, ldu, vj, ldv, mr, ldm, m0, m1),
                        4 => block::<4>(k, ur, ldu, vj, ldv, mr, ldm, m0, m1),
                        5 => block::<5>(k, ur, ldu, vj, ldv, mr, ldm, m0, m1),
                        6 => block::<6>(k, ur, ldu, vj, ldv, mr, ldm, m0, m1),
                        7 => block::<7>(k, ur, ldu, vj, ldv, mr, ldm, m0, m1),
                        8 => block::<8>(k, ur, ldu, vj, ldv, mr, ldm, m0, m1),
                        9 => block::<9>(k, ur, ldu, vj, ldv, mr, ldm, m0, m1),
                        10 => block::<10>(k, ur, ldu, vj, ldv, mr, ldm, m0, m1),
                        _ => block::<11>(k, ur, ldu, vj, ldv, mr, ldm, m0, m1),
                    }
                }
                r0 += R.min(rows - r0);
            }
            j0 += 32;
        }
    }
}
