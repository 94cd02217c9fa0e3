//! The input and output transforms of the one-pass Winograd path (`winograd_small.rs`) in
//! AVX-512, 16 tiles to a vector.
//!
//! `winograd::input_channel` / `output_channel` vectorise along one row of tiles of one
//! image: at 14x14 and 7x7 outputs such a row holds 4 or 2 tiles, so their loops run mostly
//! scalar, and they measured 3-4 ms of a 8 ms layer (ResNet-50's 256 and 512-channel stages,
//! batch 8). Here each lane is one tile of the whole batch: its 6x6 input patch is gathered
//! (masked where the patch hangs over the zero padding) and the 36 transformed values are
//! stored as plain vectors, since V [36, C, T] keeps the tiles of one channel contiguous;
//! the inverse transform loads 16 tiles of M [36, O, T] at once and scatters each of the
//! 4x4 outputs to its place in y (masked past the output's edge). The offsets and masks
//! depend on the geometry only and are computed once per call for all channels.
use super::conv_epilogue::Epilogue;
use super::winograd::Wino;
use std::arch::x86_64::*;

/// 16 consecutive tiles (fewer in the last group).
struct Group {
    /// First tile.
    t0: usize,
    /// Lanes in use.
    mask: u16,
    /// Offset in x of each tile's patch element (0, 0) in channel 0, before padding.
    x_off: [i32; 16],
    /// Which lanes' patch element (a, b) lies inside the image, at index a * 6 + b.
    x_mask: [u16; 36],
    /// Offset in y of each tile's output (0, 0) in channel 0.
    y_off: [i32; 16],
    /// Which lanes' output (p, q) lies inside the output, at index p * 4 + q.
    y_mask: [u16; 16],
}

/// The offsets and masks of every group of 16 tiles of one layer.
pub(super) struct Lanes {
    groups: Vec<Group>,
    t: usize,
}

impl Lanes {
    /// `None` without AVX-512 (the callers use the row-wise transforms then).
    pub(super) fn new(g: &Wino) -> Option<Lanes> {
        // (the gather and scatter offsets are 32-bit)
        let fits_i32 = |v: usize| v < i32::MAX as usize / 2;
        if !super::rows::avx512() || !fits_i32(g.n * g.c * g.h * g.w) || !fits_i32(g.n * g.o * g.oh() * g.ow()) {
            return None;
        }
        let (th, tw) = (g.th(), g.tw());
        let (oh, ow) = (g.oh(), g.ow());
        let t = g.n * th * tw;
        let mut groups = Vec::with_capacity(t.div_ceil(16));
        for t0 in (0..t).step_by(16) {
            let mut gr = Group { t0, mask: 0, x_off: [0; 16], x_mask: [0; 36], y_off: [0; 16], y_mask: [0; 16] };
            for l in 0..(t - t0).min(16) {
                let tile = t0 + l;
                let (ni, r) = (tile / (th * tw), tile % (th * tw));
                let (ty, tx) = (r / tw, r % tw);
                let (y0, x0) = ((4 * ty) as isize - g.ph as isize, (4 * tx) as isize - g.pw as isize);
                gr.mask |= 1 << l;
                gr.x_off[l] = ((ni * g.c * g.h * g.w) as isize + y0 * g.w as isize + x0) as i32;
                for a in 0..6 {
                    for b in 0..6 {
                        let (yy, xx) = (y0 + a as isize, x0 + b as isize);
                        if yy >= 0 && xx >= 0 && (yy as usize) < g.h && (xx as usize) < g.w {
                            gr.x_mask[a * 6 + b] |= 1 << l;
                        }
                    }
                }
                gr.y_off[l] = (ni * g.o * oh * ow + 4 * ty * ow + 4 * tx) as i32;
                for p in 0..4 {
                    for q in 0..4 {
                        if 4 * ty + p < oh && 4 * tx + q < ow {
                            gr.y_mask[p * 4 + q] |= 1 << l;
                        }
                    }
                }
            }
            groups.push(gr);
        }
        Some(Lanes { groups, t })
    }

    /// V[xi, ci, :] (row stride: all tiles) = B^T d B of every tile's patch d of channel ci.
    ///
    /// # Safety
    /// `x` is the contiguous input of `g`, `v` holds [36, C, T].
    pub(super) unsafe fn input(&self, x: &[f32], g: &Wino, ci: usize, v: *mut f32) {
        unsafe { input_avx512(self, x, g, ci, v) }
    }

    /// Output channel oi: A^T M A of every tile's products (row `mi` of `m` [36, mo, T]),
    /// the parts inside the output scattered to `y` [N, O, OH, OW], then `epi` per row.
    ///
    /// # Safety
    /// `y` is the contiguous output of `g`; no other thread writes channel oi.
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn output(&self, m: &[f32], mo: usize, mi: usize, g: &Wino, oi: usize, y: *mut f32, epi: Option<&Epilogue>) {
        unsafe { output_avx512(self, m, mo, mi, g, oi, y) };
        if let Some(e) = epi {
            let (oh, ow) = (g.oh(), g.ow());
            for ni in 0..g.n {
                unsafe { e.apply(y.add((ni * g.o + oi) * oh * ow), ni, oi, 0, oh * ow) };
            }
        }
    }
}

/// B^T (or B, by symmetry of use) applied to six vectors.
#[inline(always)]
unsafe fn bt(d: [__m512; 6]) -> [__m512; 6] {
    unsafe {
        let (four, five, two) = (_mm512_set1_ps(4.0), _mm512_set1_ps(5.0), _mm512_set1_ps(2.0));
        let d4_m_d2 = _mm512_sub_ps(d[4], d[2]);
        let d3_m_d1 = _mm512_sub_ps(d[3], d[1]);
        let s12 = _mm512_add_ps(d[1], d[2]);
        let s34 = _mm512_add_ps(d[3], d[4]);
        let m12 = _mm512_sub_ps(d[1], d[2]);
        let m43 = _mm512_sub_ps(d[4], d[3]);
        [
            // 4 d0 - 5 d2 + d4
            _mm512_fnmadd_ps(five, d[2], _mm512_fmadd_ps(four, d[0], d[4])),
            // -4 (d1 + d2) + d3 + d4
            _mm512_fnmadd_ps(four, s12, s34),
            // 4 (d1 - d2) - d3 + d4
            _mm512_fmadd_ps(four, m12, m43),
            // 2 (d3 - d1) - d2 + d4
            _mm512_fmadd_ps(two, d3_m_d1, d4_m_d2),
            // 2 (d1 - d3) - d2 + d4
            _mm512_fnmadd_ps(two, d3_m_d1, d4_m_d2),
            // 4 d1 - 5 d3 + d5
            _mm512_fnmadd_ps(five, d[3], _mm512_fmadd_ps(four, d[1], d[5])),
        ]
    }
}

/// A^T applied to six vectors.
#[inline(always)]
unsafe fn at(m: [__m512; 6]) -> [__m512; 4] {
    unsafe {
        let (p1, n1) = (_mm512_add_ps(m[1], m[2]), _mm512_sub_ps(m[1], m[2]));
        let (p3, n3) = (_mm512_add_ps(m[3], m[4]), _mm512_sub_ps(m[3], m[4]));
        [
            _mm512_add_ps(_mm512_add_ps(m[0], p1), p3),
            _mm512_fmadd_ps(_mm512_set1_ps(2.0), n3, n1),
            _mm512_fmadd_ps(_mm512_set1_ps(4.0), p3, p1),
            _mm512_add_ps(_mm512_fmadd_ps(_mm512_set1_ps(8.0), n3, n1), m[5]),
        ]
    }
}

#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn input_avx512(l: &Lanes, x: &[f32], g: &Wino, ci: usize, v: *mut f32) {
    let (c, t, w) = (g.c, l.t, g.w as i32);
    let base = x.as_ptr().wrapping_add(ci * g.h * g.w);
    let zero = _mm512_setzero_ps();
    for gr in &l.groups {
        let off = unsafe { _mm512_loadu_si512(gr.x_off.as_ptr().cast()) };
        // B^T along a for each column b
        let mut r = [[zero; 6]; 6]; // r[b][i]
        for (b, rb) in r.iter_mut().enumerate() {
            let d: [__m512; 6] = std::array::from_fn(|a| {
                let idx = _mm512_add_epi32(off, _mm512_set1_epi32(a as i32 * w + b as i32));
                unsafe { _mm512_mask_i32gather_ps::<4>(zero, gr.x_mask[a * 6 + b], idx, base.cast()) }
            });
            *rb = unsafe { bt(d) };
        }
        // B along b for each row i, stored to V[i * 6 + j, ci, t0..]
        for i in 0..6 {
            let e = unsafe { bt(std::array::from_fn(|b| r[b][i])) };
            for (j, ej) in e.iter().enumerate() {
                unsafe { _mm512_mask_storeu_ps(v.add(((i * 6 + j) * c + ci) * t + gr.t0), gr.mask, *ej) };
            }
        }
    }
}

#[target_feature(enable = "avx512f,avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn output_avx512(l: &Lanes, m: &[f32], mo: usize, mi: usize, g: &Wino, oi: usize, y: *mut f32) {
    let (t, ow) = (l.t, g.ow() as i32);
    let base = y.wrapping_add(oi * g.oh() * g.ow());
    let zero = _mm512_setzero_ps();
    assert!(m.len() >= 36 * mo * t && mi < mo);
    for gr in &l.groups {
        let off = unsafe { _mm512_loadu_si512(gr.y_off.as_ptr().cast()) };
        // A^T along j for each row i: s[i][q]
        let mut s = [[zero; 4]; 6];
        for (i, si) in s.iter_mut().enumerate() {
            let row: [__m512; 6] = std::array::from_fn(|j| unsafe {
                _mm512_maskz_loadu_ps(gr.mask, m.as_ptr().add(((i * 6 + j) * mo + mi) * t + gr.t0))
            });
            *si = unsafe { at(row) };
        }
        // A^T along i for each column q, scattered to y (p, q)
        for q in 0..4 {
            let o = unsafe { at(std::array::from_fn(|i| s[i][q])) };
            for (p, op) in o.iter().enumerate() {
                let idx = _mm512_add_epi32(off, _mm512_set1_epi32(p as i32 * ow + q as i32));
                unsafe { _mm512_mask_i32scatter_ps::<4>(base.cast(), gr.y_mask[p * 4 + q], idx, *op) };
            }
        }
    }
}
