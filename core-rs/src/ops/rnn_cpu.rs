//! The CPU kernels of the fused recurrent layers (`NnOp::Rnn`, `NnOp::RnnBackward`): the whole
//! time loop of one layer in one direction in one call. Per step, one GEMM `h W_hh^T` (the
//! input projection of every step is one GEMM before the call) and one pass of the cell's gate
//! arithmetic per row; the backward walks the steps in reverse with one GEMM `dG W_hh` per step
//! and leaves the weight gradients to one GEMM each over all steps at the end. Composed from
//! primitives, an LSTM step is a dozen kernel launches with as many temporaries.
use super::copy::{staged, staging_out, unstage};
use super::rows::{simd_fn, Fl};
use crate::dtype::DType;
use crate::error::{Error, Result};
use super::rnn_act::{sigmoid_f32, tanh_f32, Isa};
use super::rnn_step::{f32s, f32s_mut, lstm_cell_f32, LstmPacked, LstmStep, Packed};
use crate::kernels::{num_threads, pool};
use crate::op::fused_nn::{RnnAttrs, RnnMode};
use crate::tensor::Tensor;
use gemm::Parallelism;

/// `f32_fn` applied to an f32 `x` (T is f32 exactly when `T::DT` says so, known at compile
/// time), else `f64_fn`.
#[inline(always)]
fn by_width<T: Fl>(x: T, f32_fn: impl Fn(f32) -> f32, f64_fn: impl Fn(f64) -> f64) -> T {
    if T::DT == DType::F32 {
        // SAFETY: T is f32
        let v: f32 = unsafe { std::mem::transmute_copy(&x) };
        T::of(f32_fn(v) as f64)
    } else {
        T::of(f64_fn(x.f64()))
    }
}

/// The logistic sigmoid: `rnn_act`'s for f32 (vectorisable, both tails kept), libm's exp for
/// f64 in the same tail-safe form.
#[inline(always)]
fn sigmoid<T: Fl>(x: T) -> T {
    by_width(x, sigmoid_f32, |v| {
        let e = (-v.abs()).exp();
        let s = 1.0 / (1.0 + e);
        if v >= 0.0 {
            s
        } else {
            e * s
        }
    })
}

/// tanh: `rnn_act`'s for f32, libm's for f64.
#[inline(always)]
fn tanh_<T: Fl>(x: T) -> T {
    by_width(x, tanh_f32, f64::tanh)
}

/// `dst [m, n] (+)= a [m, k] @ b [k, n]`, each operand given by its pointer and (row, column)
/// strides, dst's columns contiguous; accumulates into dst when `acc`.
///
/// Computed as `dst^T = b^T a^T`: the gemm crate vectorises along its m and broadcasts along n,
/// and a recurrence's step has few rows (the batch) against thousands of gate columns; b^T is
/// contiguous along its rows for every product here (W_hh^T, W_hr^T kept transposed), so the
/// crate reads it without repacking it at every step.
#[allow(clippy::too_many_arguments)]
unsafe fn mm<T: Fl>(m: usize, n: usize, k: usize, dst: *mut T, dst_rs: usize, acc: bool, a: *const T, a_s: (usize, usize), b: *const T, b_s: (usize, usize)) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !acc {
            for i in 0..m {
                std::slice::from_raw_parts_mut(dst.add(i * dst_rs), n).fill(T::zero());
            }
        }
        return;
    }
    let threads = num_threads();
    // below ~0.25 M multiply-adds the threads cost more than they save
    let par = if threads > 1 && m * n * k >= 1 << 18 { Parallelism::Rayon(threads) } else { Parallelism::None };
    // the crate's argument order: (m, n, k, dst, dst_cs, dst_rs, read_dst, lhs, lhs_cs, lhs_rs,
    // rhs, rhs_cs, rhs_rs, alpha, beta, ...), here for m' = n, n' = m, lhs = b^T, rhs = a^T
    gemm::gemm(
        n, m, k, dst, dst_rs as isize, 1, acc, b, b_s.0 as isize, b_s.1 as isize, a, a_s.0 as isize, a_s.1 as isize,
        T::one(), T::one(), false, false, false, par,
    );
}

simd_fn! {
    /// One LSTM row: `g` holds the pre-activations i, f, g, o and gets their activations;
    /// c = f * c_prev + i * g and hpre = o * tanh(c).
    fn lstm_cell<T: Fl>(g: &mut [T], c_prev: &[T], c: &mut [T], hpre: &mut [T]) {
        let h = c.len();
        let (gi, rest) = g.split_at_mut(h);
        let (gf, rest) = rest.split_at_mut(h);
        let (gg, go) = rest.split_at_mut(h);
        let (go, c_prev, hpre) = (&mut go[..h], &c_prev[..h], &mut hpre[..h]);
        for j in 0..h {
            let (i, f, gv, o) = (sigmoid(gi[j]), sigmoid(gf[j]), tanh_(gg[j]), sigmoid(go[j]));
            gi[j] = i;
            gf[j] = f;
            gg[j] = gv;
            go[j] = o;
            let cv = f * c_prev[j] + i * gv;
            c[j] = cv;
            hpre[j] = o * tanh_(cv);
        }
    }
}

simd_fn! {
    /// One GRU row from x's part `x` (r, z, n) and h's part `gh` (W_h h + b_h, same order):
    /// r, z, n and W_hn h + b_hn go to `ws`, h' = n + z (h - n) to `h`.
    fn gru_cell<T: Fl>(x: &[T], gh: &[T], h_prev: &[T], ws: &mut [T], h: &mut [T]) {
        let n = h.len();
        let (xr, xz, xn) = (&x[..n], &x[n..2 * n], &x[2 * n..3 * n]);
        let (hr, hz, hn) = (&gh[..n], &gh[n..2 * n], &gh[2 * n..3 * n]);
        let (wr, rest) = ws.split_at_mut(n);
        let (wz, rest) = rest.split_at_mut(n);
        let (wn, wa) = rest.split_at_mut(n);
        let (wa, h_prev) = (&mut wa[..n], &h_prev[..n]);
        for j in 0..n {
            let r = sigmoid(xr[j] + hr[j]);
            let z = sigmoid(xz[j] + hz[j]);
            let a = hn[j];
            let nv = tanh_(xn[j] + r * a);
            wr[j] = r;
            wz[j] = z;
            wn[j] = nv;
            wa[j] = a;
            h[j] = nv + z * (h_prev[j] - nv);
        }
    }
}

simd_fn! {
    /// The plain RNN's activation of one row of pre-activations.
    fn rnn_cell<T: Fl>(pre: &[T], h: &mut [T], relu: bool) {
        if relu {
            for (d, &v) in h.iter_mut().zip(pre) {
                *d = if v > T::zero() { v } else { T::zero() };
            }
        } else {
            for (d, &v) in h.iter_mut().zip(pre) {
                *d = tanh_(v);
            }
        }
    }
}

simd_fn! {
    /// One LSTM row backward: from dh (of hpre) and the carried dc, the pre-activation gradients
    /// of i, f, g, o into `gx` and dc_prev into `dc`; `hpre` (when not empty) gets o * tanh(c).
    fn lstm_back<T: Fl>(ws: &[T], c_prev: &[T], c: &[T], dh: &[T], dc: &mut [T], gx: &mut [T], hpre: &mut [T]) {
        let h = dc.len();
        let (wi, wf, wg, wo) = (&ws[..h], &ws[h..2 * h], &ws[2 * h..3 * h], &ws[3 * h..4 * h]);
        let (xi, rest) = gx.split_at_mut(h);
        let (xf, rest) = rest.split_at_mut(h);
        let (xg, xo) = rest.split_at_mut(h);
        let (xo, c_prev, c, dh) = (&mut xo[..h], &c_prev[..h], &c[..h], &dh[..h]);
        let one = T::one();
        for j in 0..h {
            let (i, f, g, o) = (wi[j], wf[j], wg[j], wo[j]);
            let tc = tanh_(c[j]);
            let dct = dc[j] + dh[j] * o * (one - tc * tc);
            xi[j] = dct * g * i * (one - i);
            xf[j] = dct * c_prev[j] * f * (one - f);
            xg[j] = dct * i * (one - g * g);
            xo[j] = dh[j] * tc * o * (one - o);
            dc[j] = dct * f;
        }
        if !hpre.is_empty() {
            let hpre = &mut hpre[..h];
            for j in 0..h {
                hpre[j] = wo[j] * tanh_(c[j]);
            }
        }
    }
}

simd_fn! {
    /// One GRU row backward: the pre-activation gradients of x's part into `gx` and of h's part
    /// (W_h h + b_h) into `gh`; dh becomes its direct part dh * z.
    fn gru_back<T: Fl>(ws: &[T], h_prev: &[T], dh: &mut [T], gx: &mut [T], gh: &mut [T]) {
        let n = dh.len();
        let (wr, wz, wn, wa) = (&ws[..n], &ws[n..2 * n], &ws[2 * n..3 * n], &ws[3 * n..4 * n]);
        let (xr, rest) = gx.split_at_mut(n);
        let (xz, xn) = rest.split_at_mut(n);
        let (hr, rest) = gh.split_at_mut(n);
        let (hz, hn) = rest.split_at_mut(n);
        let (xn, hn, h_prev) = (&mut xn[..n], &mut hn[..n], &h_prev[..n]);
        let one = T::one();
        for j in 0..n {
            let (r, z, nv, a, d) = (wr[j], wz[j], wn[j], wa[j], dh[j]);
            let dnp = d * (one - z) * (one - nv * nv);
            let drp = dnp * a * r * (one - r);
            let dzp = d * (h_prev[j] - nv) * z * (one - z);
            xr[j] = drp;
            xz[j] = dzp;
            xn[j] = dnp;
            hr[j] = drp;
            hz[j] = dzp;
            hn[j] = dnp * r;
            dh[j] = d * z;
        }
    }
}

simd_fn! {
    /// One plain RNN row backward from its output h: the pre-activation gradient into `gx`,
    /// and dh cleared (h_prev's gradient comes from the GEMM that follows).
    fn rnn_back<T: Fl>(h: &[T], dh: &mut [T], gx: &mut [T], relu: bool) {
        for ((g, d), &v) in gx.iter_mut().zip(dh.iter_mut()).zip(h) {
            *g = if relu {
                if v > T::zero() { *d } else { T::zero() }
            } else {
                *d * (T::one() - v * v)
            };
            *d = T::zero();
        }
    }
}

/// Sizes: steps, batch, hidden, state width (proj_size or hidden), gate width.
#[derive(Clone, Copy)]
struct Dims {
    t: usize,
    n: usize,
    h: usize,
    hr: usize,
    gh: usize,
    /// the states live in two slots used in turn (the forward without `save`)
    ring: bool,
}

impl Dims {
    /// Where state slot `s` (0..=T) lives.
    fn slot(&self, s: usize) -> usize {
        if self.ring {
            s % 2
        } else {
            s
        }
    }
    /// The state slots before and after time `t`.
    fn slots(&self, a: &RnnAttrs, t: usize) -> (usize, usize) {
        if a.reverse {
            (self.slot(t + 1), self.slot(t))
        } else {
            (self.slot(t), self.slot(t + 1))
        }
    }
    /// The step after `t` in the direction of the loop, if any.
    fn next(&self, a: &RnnAttrs, t: usize) -> Option<usize> {
        if a.reverse {
            t.checked_sub(1)
        } else {
            (t + 1 < self.t).then_some(t + 1)
        }
    }
    fn order(&self, a: &RnnAttrs) -> Box<dyn Iterator<Item = usize>> {
        if a.reverse {
            Box::new((0..self.t).rev())
        } else {
            Box::new(0..self.t)
        }
    }
}

fn valid(lens: &[i64], t: usize, row: usize) -> bool {
    lens.is_empty() || (t as i64) < lens[row]
}

/// A buffer the time loop reads and writes in disjoint parts (a state slot is read while the
/// next is written), as a raw pointer: shared slices of it would promise the compiler that
/// nothing writes it.
#[derive(Clone, Copy)]
struct Buf<T>(*mut T, usize);

impl<T> Buf<T> {
    fn of(s: &mut [T]) -> Self {
        Buf(s.as_mut_ptr(), s.len())
    }
    fn is_empty(&self) -> bool {
        self.1 == 0
    }
    /// # Safety
    /// Nothing writes `off..off + len` while the slice lives.
    unsafe fn at(&self, off: usize, len: usize) -> &[T] {
        assert!(off + len <= self.1);
        std::slice::from_raw_parts(self.0.add(off), len)
    }
    /// # Safety
    /// Nothing else reads or writes `off..off + len` while the slice lives.
    #[allow(clippy::mut_from_ref)]
    unsafe fn at_mut(&self, off: usize, len: usize) -> &mut [T] {
        assert!(off + len <= self.1);
        std::slice::from_raw_parts_mut(self.0.add(off), len)
    }
}

/// One step of the forward through the packed product into `pre` and the cell per row.
///
/// # Safety
/// As `forward`'s; `sp` and `sn` are the step's state slots.
#[allow(clippy::too_many_arguments)]
unsafe fn unfused_step<T: Fl>(a: &RnnAttrs, d: Dims, xt: &[T], b_hh: &[T], hp: &[T], hn: &mut [T], cs: Buf<T>, sp: usize, sn: usize, w_step: &Packed<T>, pre: &mut [T], wst: &mut [T], hpre: &mut [T]) {
    let Dims { n, h, hr, gh, .. } = d;
    let gru = a.mode == RnnMode::Gru;
    let wsw = a.mode.workspace(h);
    // pre = x part (not for GRU, whose gates mix the two parts unequally) + b_hh + h W_hh^T
    for r in 0..n {
        let row = &mut pre[r * gh..(r + 1) * gh];
        match (gru, a.has_bias) {
            (false, true) => row.iter_mut().zip(&xt[r * gh..(r + 1) * gh]).zip(b_hh).for_each(|((p, &x), &b)| *p = x + b),
            (false, false) => row.copy_from_slice(&xt[r * gh..(r + 1) * gh]),
            (true, true) => row.copy_from_slice(b_hh),
            (true, false) => row.fill(T::zero()),
        }
    }
    w_step.step(hp, n, pre);
    for r in 0..n {
        let (hp_r, hn_r) = (&hp[r * hr..(r + 1) * hr], &mut hn[r * hr..(r + 1) * hr]);
        match a.mode {
            RnnMode::Lstm => {
                let g = &mut wst[r * 4 * h..(r + 1) * 4 * h];
                g.copy_from_slice(&pre[r * gh..(r + 1) * gh]);
                let (cp, cn) = (cs.at((sp * n + r) * h, h), cs.at_mut((sn * n + r) * h, h));
                let out = if a.has_proj { &mut hpre[r * h..(r + 1) * h] } else { &mut *hn_r };
                if T::DT == DType::F32 {
                    lstm_cell_f32(Isa::best(), f32s_mut(g), f32s(cp), f32s_mut(cn), f32s_mut(out));
                } else {
                    lstm_cell::<T>(g, cp, cn, out);
                }
            }
            RnnMode::Gru => gru_cell::<T>(&xt[r * gh..(r + 1) * gh], &pre[r * gh..(r + 1) * gh], hp_r, &mut wst[r * wsw..(r + 1) * wsw], hn_r),
            RnnMode::Tanh | RnnMode::Relu => rnn_cell::<T>(&pre[r * gh..(r + 1) * gh], hn_r, a.mode == RnnMode::Relu),
        }
    }
}

/// The forward over all steps. `hs`/`cs` hold every state slot, `ws` every step's workspace
/// (or is empty when nothing is kept: one step's is then scratch).
///
/// # Safety
/// `y`, `hs`, `cs` and `ws` are distinct buffers of the sizes `d` gives.
#[allow(clippy::too_many_arguments)]
unsafe fn forward<T: Fl>(a: &RnnAttrs, d: Dims, xp: &[T], w_hh: &[T], b_hh: &[T], w_hr: &[T], lens: &[i64], y: Buf<T>, hs: Buf<T>, cs: Buf<T>, ws: Buf<T>) {
    let Dims { n, h, hr, gh, .. } = d;
    let lstm = a.mode == RnnMode::Lstm;
    // LSTM in float32 on AVX-512: the step's product and cell in one pass over register tiles
    let fused = (lstm && LstmPacked::available::<T>()).then(|| LstmPacked::new(f32s(w_hh), h, hr));
    let w_step = fused.is_none().then(|| Packed::new(w_hh, gh, hr, hr, 1));
    let w_proj = a.has_proj.then(|| Packed::new(w_hr, hr, h, h, 1));
    let wsw = a.mode.workspace(h);
    let unfused = |len: usize| if fused.is_none() { vec![T::zero(); len] } else { Vec::new() };
    let mut pre = unfused(n * gh); // this step's pre-activations (h's part for GRU)
    let mut scratch = if ws.is_empty() { unfused(n * wsw) } else { Vec::new() };
    let mut hpre = if a.has_proj { vec![T::zero(); n * h] } else { Vec::new() };
    for t in d.order(a) {
        let (sp, sn) = d.slots(a, t);
        let hp = hs.at(sp * n * hr, n * hr);
        let hn = hs.at_mut(sn * n * hr, n * hr);
        let xt = &xp[t * n * gh..(t + 1) * n * gh];
        if let Some(fw) = &fused {
            let out: &mut [T] = if a.has_proj { &mut hpre } else { &mut *hn };
            fw.step(
                n,
                LstmStep {
                    x: f32s(xt),
                    x_next: d.next(a, t).map(|u| f32s(&xp[u * n * gh..(u + 1) * n * gh])),
                    bias: a.has_bias.then(|| f32s(b_hh)),
                    h_prev: f32s(hp),
                    c_prev: f32s(cs.at(sp * n * h, n * h)),
                    c: f32s_mut(cs.at_mut(sn * n * h, n * h)),
                    h: f32s_mut(out),
                    gates: (!ws.is_empty()).then(|| f32s_mut(ws.at_mut(t * n * wsw, n * wsw))),
                },
            );
        } else if let Some(w_step) = &w_step {
            unfused_step(a, d, xt, b_hh, hp, hn, cs, sp, sn, w_step, &mut pre, if ws.is_empty() { &mut scratch } else { ws.at_mut(t * n * wsw, n * wsw) }, &mut hpre);
        }
        if let Some(wp) = &w_proj {
            hn.fill(T::zero());
            wp.step(&hpre, n, hn);
        }
        let yt = y.at_mut(t * n * hr, n * hr);
        for r in 0..n {
            let rows = r * hr..(r + 1) * hr;
            if valid(lens, t, r) {
                yt[rows.clone()].copy_from_slice(&hn[rows]);
            } else {
                // a finished row: its state holds still and its output is zero
                yt[rows.clone()].fill(T::zero());
                hn[rows.clone()].copy_from_slice(&hp[rows]);
                if lstm {
                    cs.at_mut((sn * n + r) * h, h).copy_from_slice(cs.at((sp * n + r) * h, h));
                }
            }
        }
    }
}

/// Backpropagation through time. Outputs: gxp [T, N, G*H], gh0, gc0, gw_hh, gb_hh, gw_hr.
#[allow(clippy::too_many_arguments)]
fn backward<T: Fl>(a: &RnnAttrs, d: Dims, gy: &[T], ghn: &[T], gcn: &[T], hs: &[T], cs: &[T], ws: &[T], w_hh: &[T], w_hr: &[T], lens: &[i64], outs: [&mut [T]; 6]) {
    let Dims { t: steps, n, h, hr, gh, .. } = d;
    let [gxp, gh0, gc0, gw_hh, gb_hh, gw_hr] = outs;
    let (lstm, gru) = (a.mode == RnnMode::Lstm, a.mode == RnnMode::Gru);
    let wsw = a.mode.workspace(h);
    let mut dh = ghn.to_vec();
    let mut dc = if lstm { gcn.to_vec() } else { Vec::new() };
    // h's part of the gate gradients: GRU's differs from x's in its n gate
    let mut dgh_own = if gru { vec![T::zero(); steps * n * gh] } else { Vec::new() };
    let (mut dhs, mut hpres, mut dhp) = if a.has_proj {
        (vec![T::zero(); steps * n * hr], vec![T::zero(); steps * n * h], vec![T::zero(); n * h])
    } else {
        (Vec::new(), Vec::new(), Vec::new())
    };
    // dh_prev = dG W_hh: out [N, Hr] over k = G*H; LSTM's projection dhpre = dh W_hr
    let w_step = Packed::new(w_hh, hr, gh, 1, hr);
    let w_proj = a.has_proj.then(|| Packed::new(w_hr, h, hr, 1, h));
    for t in d.order(a).collect::<Vec<_>>().into_iter().rev() {
        let (sp, sn) = d.slots(a, t);
        let yt = &gy[t * n * hr..(t + 1) * n * hr];
        for r in 0..n {
            if valid(lens, t, r) {
                dh[r * hr..(r + 1) * hr].iter_mut().zip(&yt[r * hr..(r + 1) * hr]).for_each(|(d, &g)| *d += g);
            }
        }
        if a.has_proj {
            let dt = &mut dhs[t * n * hr..(t + 1) * n * hr];
            for r in 0..n {
                if valid(lens, t, r) {
                    dt[r * hr..(r + 1) * hr].copy_from_slice(&dh[r * hr..(r + 1) * hr]);
                }
            }
            dhp.fill(T::zero());
            if let Some(wp) = &w_proj {
                wp.step(&dh, n, &mut dhp);
            }
        }
        let gx = &mut gxp[t * n * gh..(t + 1) * n * gh];
        for r in 0..n {
            let row = r * gh..(r + 1) * gh;
            if !valid(lens, t, r) {
                gx[row.clone()].fill(T::zero());
                if gru {
                    dgh_own[t * n * gh..][row].fill(T::zero());
                }
                continue;
            }
            let dh_r = &mut dh[r * hr..(r + 1) * hr];
            let w_r = &ws[(t * n + r) * wsw..(t * n + r + 1) * wsw];
            match a.mode {
                RnnMode::Lstm => {
                    let cp = &cs[(sp * n + r) * h..(sp * n + r + 1) * h];
                    let cn = &cs[(sn * n + r) * h..(sn * n + r + 1) * h];
                    let hp_r: &mut [T] = if a.has_proj { &mut hpres[(t * n + r) * h..(t * n + r + 1) * h] } else { &mut [] };
                    let dho = if a.has_proj { &dhp[r * h..(r + 1) * h] } else { &*dh_r };
                    lstm_back::<T>(w_r, cp, cn, dho, &mut dc[r * h..(r + 1) * h], &mut gx[row], hp_r);
                    dh_r.fill(T::zero());
                }
                RnnMode::Gru => {
                    let hp = &hs[(sp * n + r) * hr..(sp * n + r + 1) * hr];
                    gru_back::<T>(w_r, hp, dh_r, &mut gx[row.clone()], &mut dgh_own[t * n * gh..][row]);
                }
                RnnMode::Tanh | RnnMode::Relu => {
                    let hn = &hs[(sn * n + r) * hr..(sn * n + r + 1) * hr];
                    rnn_back::<T>(hn, dh_r, &mut gx[row], a.mode == RnnMode::Relu);
                }
            }
        }
        let dg = if gru { &dgh_own[t * n * gh..(t + 1) * n * gh] } else { &gxp[t * n * gh..(t + 1) * n * gh] };
        w_step.step(dg, n, &mut dh);
    }
    gh0.copy_from_slice(&dh);
    if lstm {
        gc0.copy_from_slice(&dc);
    }
    let dg_all: &[T] = if gru { &dgh_own } else { gxp };
    // the states each step read: slots 0..T forwards, 1..T+1 in reverse
    let h_prev = &hs[(a.reverse as usize) * n * hr..];
    let tn = steps * n;
    unsafe { mm(gh, hr, tn, gw_hh.as_mut_ptr(), hr, false, dg_all.as_ptr(), (1, gh), h_prev.as_ptr(), (hr, 1)) };
    if a.has_bias {
        let mut acc = vec![0f64; gh];
        for row in dg_all.chunks_exact(gh.max(1)).take(tn) {
            acc.iter_mut().zip(row).for_each(|(s, &v)| *s += v.f64());
        }
        gb_hh.iter_mut().zip(&acc).for_each(|(d, &s)| *d = T::of(s));
    }
    if a.has_proj {
        unsafe { mm(hr, h, tn, gw_hr.as_mut_ptr(), h, false, dhs.as_ptr(), (1, hr), hpres.as_ptr(), (h, 1)) };
    }
}

fn float_dtype(dt: DType) -> Result<DType> {
    match dt {
        DType::F32 | DType::F64 => Ok(dt),
        d => Err(Error::Runtime(format!("rnn: the fused kernel takes float32 or float64, got {}", d.name()))),
    }
}

/// Runs `f` on contiguous copies of `ins` in dtype `dt` (lengths, the last, in int64) and
/// contiguous outputs, in the thread pool so the GEMMs' threads are the core's.
fn run<T: Fl>(outs: &[&Tensor], ins: &[&Tensor], f: impl FnOnce(&[&[T]], &[i64], [&mut [T]; 6]) + Send) -> Result<()> {
    let last = ins.len() - 1;
    let staged_ins: Vec<Tensor> = ins[..last].iter().map(|t| staged(t, T::DT)).collect::<Result<_>>()?;
    let lens = staged(ins[last], DType::I64)?;
    let dsts: Vec<Tensor> = outs.iter().map(|o| staging_out(o, T::DT)).collect::<Result<_>>()?;
    {
        // placeholders ([0]) may have no allocation to point at
        let slices: Vec<&[T]> = staged_ins.iter().map(|t| if t.numel() == 0 { &[][..] } else { t.as_slice::<T>() }).collect();
        let mut it = dsts.iter().map(|t| if t.numel() == 0 { &mut [][..] } else { t.as_slice_mut::<T>() });
        let o: [&mut [T]; 6] = std::array::from_fn(|_| it.next().unwrap());
        let l = if lens.numel() == 0 { &[][..] } else { lens.as_slice::<i64>() };
        if num_threads() > 1 {
            pool().install(|| f(&slices, l, o));
        } else {
            f(&slices, l, o);
        }
    }
    for (o, t) in outs.iter().zip(&dsts) {
        unstage(o, t)?;
    }
    Ok(())
}

/// The forward with the initial states put in their slots and the final ones read back.
fn forward_all<T: Fl>(a: &RnnAttrs, d: Dims, i: &[&[T]], lens: &[i64], o: [&mut [T]; 6]) {
    let [y, hn, cn, hs, cs, ws] = o;
    let lstm = a.mode == RnnMode::Lstm;
    // without `save` the states live in two slots of scratch of their own
    let d = Dims { ring: hs.is_empty(), ..d };
    let (mut hs_own, mut cs_own) = (Vec::new(), Vec::new());
    let hs: &mut [T] = if hs.is_empty() {
        hs_own.resize(2 * d.n * d.hr, T::zero());
        &mut hs_own
    } else {
        hs
    };
    let cs: &mut [T] = if lstm && cs.is_empty() {
        cs_own.resize(2 * d.n * d.h, T::zero());
        &mut cs_own
    } else {
        cs
    };
    let (first, last) = if a.reverse { (d.slot(d.t), 0) } else { (0, d.slot(d.t)) };
    hs[first * d.n * d.hr..(first + 1) * d.n * d.hr].copy_from_slice(i[1]);
    if lstm {
        cs[first * d.n * d.h..(first + 1) * d.n * d.h].copy_from_slice(i[2]);
    }
    // SAFETY: the four buffers are distinct; the loop writes one state slot while reading another
    unsafe { forward(a, d, i[0], i[3], i[4], i[5], lens, Buf::of(y), Buf::of(hs), Buf::of(cs), Buf::of(ws)) };
    hn.copy_from_slice(&hs[last * d.n * d.hr..(last + 1) * d.n * d.hr]);
    if lstm {
        cn.copy_from_slice(&cs[last * d.n * d.h..(last + 1) * d.n * d.h]);
    }
}

/// The fused kernel of a recurrent layer (`NnOp::Rnn`); see `RnnAttrs` for the operands.
pub(crate) fn rnn_cpu_kernel(a: &RnnAttrs, outs: &[&Tensor], ins: &[&Tensor]) -> Result<()> {
    let (t, n, gh) = (ins[0].shape()[0], ins[0].shape()[1], ins[0].shape()[2]);
    let d = Dims { t, n, h: gh / a.mode.gates(), hr: ins[1].shape()[1], gh, ring: false };
    match float_dtype(ins[0].dtype())? {
        DType::F64 => run::<f64>(outs, ins, |i, l, o| forward_all(a, d, i, l, o)),
        _ => run::<f32>(outs, ins, |i, l, o| forward_all(a, d, i, l, o)),
    }
}

/// The fused kernel of a recurrent layer's backward (`NnOp::RnnBackward`).
pub(crate) fn rnn_backward_cpu_kernel(a: &RnnAttrs, outs: &[&Tensor], ins: &[&Tensor]) -> Result<()> {
    // gy [T, N, Hr], gh_n [N, Hr], the gate width from gxp (outs[0])
    let (t, n, hr, gh) = (ins[0].shape()[0], ins[0].shape()[1], ins[0].shape()[2], outs[0].shape()[2]);
    let d = Dims { t, n, h: gh / a.mode.gates(), hr, gh, ring: false };
    match float_dtype(ins[0].dtype())? {
        DType::F64 => run::<f64>(outs, ins, |i, l, o| backward(a, d, i[0], i[1], i[2], i[3], i[4], i[5], i[6], i[7], l, o)),
        _ => run::<f32>(outs, ins, |i, l, o| backward(a, d, i[0], i[1], i[2], i[3], i[4], i[5], i[6], i[7], l, o)),
    }
}
