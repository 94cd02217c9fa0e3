//! A convolution's epilogue: `y = act(y * scale[o] + shift[o] + residual)` applied by the
//! forward convolution kernels to each block of output right after its GEMM (or Winograd
//! inverse transform) wrote it, while it is still in cache, instead of as separate passes over
//! the whole output (`NnOp::Conv2dEpilogue`, built by the graph pass `graph::conv_epilogue`
//! from a frozen batch norm's shift, the residual add and the ReLU). Every step rounds as the
//! launch it replaces does (a multiply, then an add, then an add: no fused multiply-add), a
//! missing scale is 1 and a missing shift or residual -0 (the additive identity that keeps
//! -0), so the results are those of the separate launches.
use super::conv::{Conv2dParams, Geo};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::kernels::SendPtr;
use crate::op::fused_nn::ConvEpilogueAttrs;
use crate::ops::rows::{simd_fn, Fl};
use crate::tensor::Tensor;

/// The residual operand: its data and its strides (elements) over [N, O, OH, OW].
#[derive(Clone, Copy)]
struct Residual {
    ptr: SendPtr,
    strides: [isize; 4],
}

/// The epilogue of one convolution call, in the output's dtype (f32 or f64).
#[derive(Clone)]
pub(crate) struct Epilogue {
    dt: DType,
    scale32: Vec<f32>,
    shift32: Vec<f32>,
    scale64: Vec<f64>,
    shift64: Vec<f64>,
    residual: Option<Residual>,
    relu: bool,
    ow: usize,
}

simd_fn! {
    /// dst = act(dst * a + b + r), r a slice.
    fn run_slice<T: Fl>(dst: &mut [T], a: T, b: T, r: &[T], relu: bool) {
        let z = T::zero();
        if relu {
            for (d, &rv) in dst.iter_mut().zip(r) {
                let v = *d * a + b + rv;
                *d = if v > z || v != v { v } else { z };
            }
        } else {
            for (d, &rv) in dst.iter_mut().zip(r) {
                *d = *d * a + b + rv;
            }
        }
    }
}

simd_fn! {
    /// dst = act(dst * a + b + r), r one value.
    fn run_splat<T: Fl>(dst: &mut [T], a: T, b: T, r: T, relu: bool) {
        let z = T::zero();
        if relu {
            for d in dst.iter_mut() {
                let v = *d * a + b + r;
                *d = if v > z || v != v { v } else { z };
            }
        } else {
            for d in dst.iter_mut() {
                *d = *d * a + b + r;
            }
        }
    }
}

impl Epilogue {
    /// This epilogue for the images from `n0` on, numbered from 0 (a kernel that runs a batch
    /// in groups of images, each as a batch of its own).
    pub(crate) fn images_from(&self, n0: usize) -> Epilogue {
        let mut e = self.clone();
        if let Some(r) = &mut e.residual {
            r.ptr = SendPtr(unsafe { r.ptr.get().offset(n0 as isize * r.strides[0] * self.dt.size() as isize) });
        }
        e
    }

    /// Applies the epilogue to `len` elements at `dst`: output positions `p0..p0 + len`
    /// (flat over OH x OW) of image `n`, channel `o`.
    ///
    /// # Safety
    /// `dst` points at those `len` elements of the output, of this epilogue's dtype, which
    /// nothing else touches meanwhile.
    #[inline]
    pub(crate) unsafe fn apply<T: 'static>(&self, dst: *mut T, n: usize, o: usize, p0: usize, len: usize) {
        debug_assert_eq!(std::mem::size_of::<T>(), self.dt.size());
        if self.dt == DType::F32 {
            self.apply_typed::<f32>(dst as *mut f32, n, o, p0, len, self.scale32[o], self.shift32[o]);
        } else {
            self.apply_typed::<f64>(dst as *mut f64, n, o, p0, len, self.scale64[o], self.shift64[o]);
        }
    }

    #[allow(clippy::too_many_arguments)]
    unsafe fn apply_typed<T: Fl>(&self, dst: *mut T, n: usize, o: usize, p0: usize, len: usize, a: T, b: T) {
        let out = std::slice::from_raw_parts_mut(dst, len);
        let Some(r) = self.residual else {
            return run_splat(out, a, b, -T::zero(), self.relu);
        };
        let [sn, so, sh, sw] = r.strides;
        let base = (r.ptr.get() as *const T).offset(n as isize * sn + o as isize * so);
        if sw == 1 && (sh == self.ow as isize || len == 0) {
            return run_slice(out, a, b, std::slice::from_raw_parts(base.add(p0), len), self.relu);
        }
        if sh == 0 && sw == 0 {
            return run_splat(out, a, b, *base, self.relu);
        }
        // any other layout: one output row at a time
        let mut buf = [T::zero(); 64];
        let (mut p, end) = (p0, p0 + len);
        while p < end {
            let (i, j) = (p / self.ow, p % self.ow);
            let m = (self.ow - j).min(end - p);
            let row = base.offset(i as isize * sh + j as isize * sw);
            let d = &mut out[p - p0..p - p0 + m];
            match sw {
                1 => run_slice(d, a, b, std::slice::from_raw_parts(row, m), self.relu),
                0 => run_splat(d, a, b, *row, self.relu),
                _ => {
                    for (c, chunk) in d.chunks_mut(64).enumerate() {
                        for (k, v) in buf[..chunk.len()].iter_mut().enumerate() {
                            *v = *row.offset((c * 64 + k) as isize * sw);
                        }
                        run_slice(chunk, a, b, &buf[..chunk.len()], self.relu);
                    }
                }
            }
            p += m;
        }
    }

    /// Applies the epilogue to every element of the output `y` [N, O, OH, OW] (contiguous):
    /// how it runs when the convolution itself had nothing to compute (an empty sum).
    pub(crate) fn apply_all(&self, y: &Tensor) {
        let s = y.shape();
        let (n, o, l) = (s[0], s[1], s[2] * s[3]);
        for ni in 0..n {
            for oi in 0..o {
                unsafe {
                    if self.dt == DType::F32 {
                        self.apply((y.data_ptr() as *mut f32).add((ni * o + oi) * l), ni, oi, 0, l);
                    } else {
                        self.apply((y.data_ptr() as *mut f64).add((ni * o + oi) * l), ni, oi, 0, l);
                    }
                }
            }
        }
    }
}

/// The per-channel values of a scale or shift operand: `[O]`, or `y`'s shape broadcast along
/// every dim but 1 (the graph's expanded view of a `[O]` or `[1, O, 1, 1]` constant).
fn per_channel(t: &Tensor, y_shape: &[usize], what: &str) -> Result<Vec<f64>> {
    let o = y_shape[1];
    let (shape, st) = (t.shape(), t.strides());
    let stride = if shape == [o] {
        st[0]
    } else if shape == y_shape && st.iter().enumerate().all(|(d, &s)| d == 1 || s == 0 || shape[d] == 1) {
        st[1]
    } else {
        return Err(Error::Runtime(format!("conv2d_epilogue: the {what} must be [{o}] or {y_shape:?} broadcast from dim 1, got shape {shape:?} with strides {st:?}")));
    };
    let p = t.data_ptr();
    Ok((0..o)
        .map(|k| unsafe {
            match t.dtype() {
                DType::F32 => *(p as *const f32).offset(k as isize * stride) as f64,
                _ => *(p as *const f64).offset(k as isize * stride),
            }
        })
        .collect())
}

/// The fused kernel of `NnOp::Conv2dEpilogue` (see `ConvEpilogueAttrs`): f32 or f64, every
/// operand on the CPU in `y`'s dtype.
pub(crate) fn conv2d_epilogue_cpu_kernel(a: &ConvEpilogueAttrs, y: &Tensor, ins: &[&Tensor]) -> Result<()> {
    let bad = |m: String| Error::Runtime(format!("conv2d_epilogue: {m}"));
    let dt = y.dtype();
    if !matches!(dt, DType::F32 | DType::F64) || ins.iter().any(|t| t.dtype() != dt) {
        let got: Vec<&str> = ins.iter().map(|t| t.dtype().name()).collect();
        return Err(bad(format!("every operand must be float32 or float64 of one dtype, got output {} and inputs {got:?}", dt.name())));
    }
    if a.stride.iter().any(|&s| s <= 0) || a.dilation.iter().any(|&d| d <= 0) || a.padding.iter().any(|&p| p < 0) || a.groups <= 0 {
        return Err(bad(format!("invalid geometry stride={:?} padding={:?} dilation={:?} groups={}", a.stride, a.padding, a.dilation, a.groups)));
    }
    let u = |v: [i64; 2]| (v[0] as usize, v[1] as usize);
    let p = Conv2dParams { stride: u(a.stride), padding: u(a.padding), dilation: u(a.dilation), groups: a.groups as usize };
    let (x, w) = (ins[0], ins[1]);
    let g = Geo::new(x.shape(), w.shape(), p)?;
    let ys = [g.n, g.o, g.oh, g.ow];
    if y.shape() != ys {
        return Err(bad(format!("the output must be {ys:?} for input {:?} and weight {:?}, got {:?}", x.shape(), w.shape(), y.shape())));
    }
    let mut k = 2;
    let mut chan = |present: bool, default: f64, what: &str| -> Result<Vec<f64>> {
        if !present {
            return Ok(vec![default; g.o]);
        }
        k += 1;
        per_channel(ins[k - 1], &ys, what)
    };
    let scale = chan(a.has_scale, 1.0, "scale")?;
    let shift = chan(a.has_shift, -0.0, "shift")?;
    let residual = match a.has_residual.then(|| ins[k]) {
        Some(r) if r.shape() != ys => return Err(bad(format!("the residual must have the output's shape {ys:?}, got {:?}", r.shape()))),
        Some(r) => {
            let s = r.strides();
            Some(Residual { ptr: SendPtr(r.data_ptr()), strides: [s[0], s[1], s[2], s[3]] })
        }
        None => None,
    };
    if y.numel() == 0 {
        return Ok(());
    }
    let epi = Epilogue {
        dt,
        scale32: scale.iter().map(|&v| v as f32).collect(),
        shift32: shift.iter().map(|&v| v as f32).collect(),
        scale64: scale,
        shift64: shift,
        residual,
        relu: a.relu,
        ow: g.ow,
    };
    super::conv::conv2d_forward_with_epilogue(y, x, w, p, &epi)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The epilogue's runs (contiguous, broadcast, strided residual rows) against the formula
    /// element by element, NaN and signed zeros included.
    #[test]
    fn apply_matches_the_formula() {
        let (n, o, oh, ow) = (2usize, 3usize, 3usize, 5usize);
        let l = oh * ow;
        let vals: Vec<f32> = (0..n * o * l).map(|i| ((i * 37 % 23) as f32 - 11.0) * 0.25).collect();
        let mut res = vec![0f32; 4 * n * o * l];
        for (i, r) in res.iter_mut().enumerate() {
            *r = ((i * 13 % 17) as f32 - 8.0) * 0.5;
        }
        res[3] = f32::NAN;
        let layouts: [[isize; 4]; 4] = [
            [(o * l) as isize, l as isize, ow as isize, 1],         // contiguous
            [0, 1, 0, 0],                                           // per channel
            [(2 * o * l) as isize, (2 * l) as isize, 1, oh as isize], // transposed planes
            [(o * l) as isize, l as isize, (2 * ow) as isize, 1],   // rows apart
        ];
        for strides in layouts {
            for relu in [false, true] {
                let epi = Epilogue {
                    dt: DType::F32,
                    scale32: vec![1.5, -2.0, 1.0],
                    shift32: vec![0.25, -0.0, -1.0],
                    scale64: vec![],
                    shift64: vec![],
                    residual: Some(Residual { ptr: SendPtr(res.as_mut_ptr() as *mut u8), strides }),
                    relu,
                    ow,
                };
                let mut y = vals.clone();
                for ni in 0..n {
                    for oi in 0..o {
                        // in two pieces, the second starting mid-row
                        let base = unsafe { y.as_mut_ptr().add((ni * o + oi) * l) };
                        unsafe {
                            epi.apply(base, ni, oi, 0, 7);
                            epi.apply(base.add(7), ni, oi, 7, l - 7);
                        }
                    }
                }
                for ni in 0..n {
                    for oi in 0..o {
                        for pp in 0..l {
                            let (i, j) = (pp / ow, pp % ow);
                            let r = res[(ni as isize * strides[0] + oi as isize * strides[1] + i as isize * strides[2] + j as isize * strides[3]) as usize];
                            let x = vals[(ni * o + oi) * l + pp];
                            let mut v = x * epi.scale32[oi] + epi.shift32[oi] + r;
                            if relu && !(v > 0.0 || v.is_nan()) {
                                v = 0.0;
                            }
                            let got = y[(ni * o + oi) * l + pp];
                            assert!(got.to_bits() == v.to_bits(), "{strides:?} relu={relu} at {ni},{oi},{pp}: {got} vs {v}");
                        }
                    }
                }
            }
        }
    }

    /// A convolution that runs its batch in groups of images (`winograd_small`) applies each
    /// image's own residual (`images_from`): against the same layer in one group.
    #[test]
    fn groups_of_images_take_their_own_residual() {
        use super::super::winograd::Wino;
        use super::super::winograd_small::conv3x3_in_groups;
        let g = Wino { n: 5, c: 16, h: 9, w: 9, o: 20, ph: 1, pw: 1 };
        let (l, o) = (g.oh() * g.ow(), g.o);
        let val = |i: usize, k: usize| ((i * k % 29) as f32 - 14.0) / 14.0;
        let x: Vec<f32> = (0..g.n * g.c * g.h * g.w).map(|i| val(i, 7)).collect();
        let w: Vec<f32> = (0..o * g.c * 9).map(|i| val(i, 11) * 0.1).collect();
        // each image's residual differs, so taking another image's shows
        let mut res: Vec<f32> = (0..g.n * o * l).map(|i| 3.0 * (i / (o * l)) as f32 + val(i, 5)).collect();
        let epi = Epilogue {
            dt: DType::F32,
            scale32: (0..o).map(|k| 0.5 + k as f32 * 0.1).collect(),
            shift32: (0..o).map(|k| k as f32 * -0.05).collect(),
            scale64: vec![],
            shift64: vec![],
            residual: Some(Residual { ptr: SendPtr(res.as_mut_ptr() as *mut u8), strides: [(o * l) as isize, l as isize, g.ow() as isize, 1] }),
            relu: true,
            ow: g.ow(),
        };
        let image = 36 * 4 * g.c * g.th() * g.tw();
        let run = |budget: usize| {
            let mut y = vec![0f32; g.n * o * l];
            conv3x3_in_groups(&mut y, &x, &w, &g, false, Some(&epi), budget);
            y
        };
        let (whole, grouped) = (run(usize::MAX / 2), run(2 * image));
        let scale = whole.iter().fold(0f32, |a, v| a.max(v.abs()));
        assert!(scale > 10.0); // the residuals reached the output
        let err = whole.iter().zip(&grouped).fold(0f32, |a, (p, q)| a.max((p - q).abs()));
        assert!(err <= 1e-5 * scale, "grouped differs from whole by {err} (scale {scale})");
    }
}
