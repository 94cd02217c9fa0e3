//! 2-D convolution: the forward, input-gradient and weight-gradient primitives, their
//! geometry and derivative, and the choice of kernel for each call: Winograd F(4x4, 3x3)
//! (`winograd.rs`, `winograd_wgrad.rs`) for f32 3x3 stride-1 convolutions and both their
//! gradients where it wins, in its one-pass form (`winograd_small.rs`) for small images with
//! many channels, im2col + GEMM (`conv_im2col.rs`) for everything else. Each choice is a
//! function of the shape alone (`winograd::worthwhile`, `winograd_small::worthwhile`), so a
//! layer runs the same arithmetic on every call.
use super::cast;
use super::conv_epilogue::Epilogue;
use super::conv_im2col::{forward_with, input_grad_typed, weight_grad_typed};
use super::copy::{fill_cpu_kernel, staged, staging_out, unstage};
use super::winograd::{self, Wino};
use super::winograd_wgrad;
pub use super::winograd::set_choice as set_conv3x3_algorithm;
use crate::op::ConvOp;
use crate::tensor::graph::{record, Save};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Geometry of one convolution.
#[derive(Clone, Copy, Debug)]
pub struct Conv2dParams {
    pub stride: (usize, usize),
    pub padding: (usize, usize),
    pub dilation: (usize, usize),
    pub groups: usize,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Geo {
    pub(crate) n: usize,
    pub(crate) c: usize,
    pub(crate) h: usize,
    pub(crate) w: usize,
    pub(crate) o: usize,
    pub(crate) kh: usize,
    pub(crate) kw: usize,
    pub(crate) oh: usize,
    pub(crate) ow: usize,
    pub(crate) p: Conv2dParams,
}

impl Geo {
    pub(crate) fn new(x: &[usize], w: &[usize], p: Conv2dParams) -> Result<Geo> {
        if x.len() != 4 || w.len() != 4 {
            return Err(Error::Runtime(format!("conv2d: expected 4-D input and weight, got shapes {x:?} and {w:?}")));
        }
        let (n, c, h, wd) = (x[0], x[1], x[2], x[3]);
        let (o, cg, kh, kw) = (w[0], w[1], w[2], w[3]);
        if p.groups == 0 || c != cg * p.groups || o % p.groups != 0 {
            return Err(Error::Runtime(format!(
                "conv2d: input {x:?} has {c} channels but weight {w:?} with groups={} expects {}",
                p.groups,
                cg * p.groups
            )));
        }
        let span_h = p.dilation.0 * (kh.max(1) - 1) + 1;
        let span_w = p.dilation.1 * (kw.max(1) - 1) + 1;
        let (ph, pw) = (h + 2 * p.padding.0, wd + 2 * p.padding.1);
        if ph < span_h || pw < span_w || p.stride.0 == 0 || p.stride.1 == 0 {
            return Err(Error::Runtime(format!(
                "conv2d: kernel {kh}x{kw} (dilation {:?}) is larger than the padded input {ph}x{pw} (input {x:?}, padding {:?})",
                p.dilation, p.padding
            )));
        }
        let oh = (ph - span_h) / p.stride.0 + 1;
        let ow = (pw - span_w) / p.stride.1 + 1;
        Ok(Geo { n, c, h, w: wd, o, kh, kw, oh, ow, p })
    }
    pub(crate) fn cg(&self) -> usize {
        self.c / self.p.groups
    }
    pub(crate) fn og(&self) -> usize {
        self.o / self.p.groups
    }
    pub(crate) fn k(&self) -> usize {
        self.cg() * self.kh * self.kw
    }
    pub(crate) fn l(&self) -> usize {
        self.oh * self.ow
    }
    pub(crate) fn direct(&self) -> bool {
        self.kh == 1 && self.kw == 1 && self.p.stride == (1, 1) && self.p.padding == (0, 0)
    }
}

fn compute_dtype(dt: DType) -> DType {
    if dt == DType::F64 { DType::F64 } else { DType::F32 }
}

impl From<&Conv2dParams> for crate::op::ConvAttrs {
    fn from(p: &Conv2dParams) -> Self {
        let i = |v: usize| v as i64;
        crate::op::ConvAttrs {
            stride_h: i(p.stride.0),
            stride_w: i(p.stride.1),
            pad_h: i(p.padding.0),
            pad_w: i(p.padding.1),
            dilation_h: i(p.dilation.0),
            dilation_w: i(p.dilation.1),
            groups: i(p.groups),
        }
    }
}

impl From<&crate::op::ConvAttrs> for Conv2dParams {
    fn from(a: &crate::op::ConvAttrs) -> Self {
        let u = |v: i64| v as usize;
        Conv2dParams {
            stride: (u(a.stride_h), u(a.stride_w)),
            padding: (u(a.pad_h), u(a.pad_w)),
            dilation: (u(a.dilation_h), u(a.dilation_w)),
            groups: u(a.groups),
        }
    }
}

/// The Winograd geometry of `op` when it is a 3x3 stride-1 convolution (or the input gradient
/// of one, itself such a convolution of gy with the rotated, transposed weight and padding
/// 2 - p, or the weight gradient of one, `winograd_wgrad.rs`) of a shape where Winograd runs
/// faster than im2col + GEMM.
fn winograd_geo(op: ConvOp, g: &Geo) -> Option<Wino> {
    let p = g.p;
    if (g.kh, g.kw) != (3, 3) || p.stride != (1, 1) || p.dilation != (1, 1) || p.groups != 1 {
        return None;
    }
    let (ph, pw) = p.padding;
    let wg = match op {
        ConvOp::Conv2d => Wino { n: g.n, c: g.c, h: g.h, w: g.w, o: g.o, ph, pw },
        ConvOp::Conv2dInputGrad if ph <= 2 && pw <= 2 => Wino { n: g.n, c: g.o, h: g.oh, w: g.ow, o: g.c, ph: 2 - ph, pw: 2 - pw },
        ConvOp::Conv2dWeightGrad => {
            let wg = Wino { n: g.n, c: g.c, h: g.h, w: g.w, o: g.o, ph, pw };
            return winograd::chosen_wgrad(&wg).then_some(wg);
        }
        _ => return None,
    };
    winograd::chosen(&wg).then_some(wg)
}

/// The CPU kernel of the conv family in the contract's form: `out` (allocated, any strides)
/// from `a` and `b` of `out`'s dtype (x and w, gy and w, gy and x). Half types compute in
/// f32; operands and a strided `out` go through contiguous buffers of the compute dtype.
pub(crate) fn conv_cpu_kernel(op: ConvOp, out: &Tensor, a: &Tensor, b: &Tensor, p: Conv2dParams) -> Result<()> {
    conv_cpu_kernel_with(op, out, a, b, p, None)
}

/// The forward convolution `out` = conv2d(x, w) (f32 or f64, `out` of that dtype) with
/// `epi` applied to each output block as it is written (`conv_epilogue`).
pub(crate) fn conv2d_forward_with_epilogue(out: &Tensor, x: &Tensor, w: &Tensor, p: Conv2dParams, epi: &Epilogue) -> Result<()> {
    if x.numel() == 0 || w.numel() == 0 {
        let dst = staging_out(out, out.dtype())?;
        fill_cpu_kernel(&dst, crate::scalar::Scalar::Int(0))?;
        epi.apply_all(&dst);
        return unstage(out, &dst);
    }
    conv_cpu_kernel_with(ConvOp::Conv2d, out, x, w, p, Some(epi))
}

fn conv_cpu_kernel_with(op: ConvOp, out: &Tensor, a: &Tensor, b: &Tensor, p: Conv2dParams, epi: Option<&Epilogue>) -> Result<()> {
    if out.numel() == 0 {
        return Ok(());
    }
    if a.numel() == 0 || b.numel() == 0 {
        return fill_cpu_kernel(out, crate::scalar::Scalar::Int(0)); // an empty sum
    }
    let (xs, ws) = match op {
        ConvOp::Conv2d => (a.shape(), b.shape()),
        ConvOp::Conv2dInputGrad => (out.shape(), b.shape()),
        ConvOp::Conv2dWeightGrad => (b.shape(), out.shape()),
    };
    let g = Geo::new(xs, ws, p)?;
    let cd = compute_dtype(out.dtype());
    let (a, b) = (staged(a, cd)?, staged(b, cd)?);
    let dst = staging_out(out, cd)?;
    if let Some(wg) = winograd_geo(op, &g).filter(|_| cd == DType::F32) {
        if op == ConvOp::Conv2dWeightGrad {
            winograd_wgrad::weight_grad3x3(dst.as_slice_mut::<f32>(), a.as_slice::<f32>(), b.as_slice::<f32>(), &wg);
            return unstage(out, &dst);
        }
        let flip = op == ConvOp::Conv2dInputGrad;
        winograd::conv3x3_with(dst.as_slice_mut::<f32>(), a.as_slice::<f32>(), b.as_slice::<f32>(), &wg, flip, epi);
        return unstage(out, &dst);
    }
    macro_rules! typed {
        ($t:ty) => {
            match op {
                ConvOp::Conv2d => forward_with::<$t>(&dst, &a, &b, &g, (g.k() as isize, 1), epi),
                ConvOp::Conv2dInputGrad => input_grad_typed::<$t>(&dst, &a, &b, &g)?,
                ConvOp::Conv2dWeightGrad => weight_grad_typed::<$t>(&dst, &a, &b, &g),
            }
        };
    }
    if cd == DType::F64 {
        typed!(f64)
    } else {
        typed!(f32)
    }
    unstage(out, &dst)
}

/// One of the three conv primitives on the operands' device: `a` cast to `dt`, `b` too, the
/// output of `out_shape` in `dt`, the kernel through the dispatcher.
fn conv_launch(op: ConvOp, dt: DType, out_shape: &[usize], a: &Tensor, b: &Tensor, p: &Conv2dParams) -> Result<Tensor> {
    let dev = crate::dispatch::common(op.name(), &[a, b])?;
    let a = crate::tensor::graph::with_grad_mode(false, || cast(a, dt))?;
    let b = crate::tensor::graph::with_grad_mode(false, || cast(b, dt))?;
    let out = Tensor::empty_on(out_shape, dt, dev)?;
    if out.numel() > 0 {
        if a.numel() == 0 || b.numel() == 0 {
            crate::ops::fill_raw(&out, 0.0)?;
        } else {
            crate::dispatch::launch(&crate::op::Op::Conv(op, p.into()), &[&out], &[&a, &b])?;
        }
    }
    Ok(out)
}

/// Forward convolution without autograd.
pub fn conv2d_raw(x: &Tensor, w: &Tensor, p: Conv2dParams) -> Result<Tensor> {
    let g = Geo::new(x.shape(), w.shape(), p)?;
    if !x.dtype().is_float() || x.dtype() != w.dtype() {
        return Err(Error::Runtime(format!(
            "conv2d: input ({}) and weight ({}) must have the same floating dtype",
            x.dtype().name(),
            w.dtype().name()
        )));
    }
    conv_launch(ConvOp::Conv2d, x.dtype(), &[g.n, g.o, g.oh, g.ow], x, w, &p)
}

/// Gradient of the input given the output gradient, without autograd.
pub fn conv2d_input_grad(gy: &Tensor, w: &Tensor, x_shape: &[usize], p: Conv2dParams) -> Result<Tensor> {
    Geo::new(x_shape, w.shape(), p)?;
    conv_launch(ConvOp::Conv2dInputGrad, w.dtype(), x_shape, gy, w, &p)
}

/// Gradient of the weight given the output gradient, without autograd.
pub fn conv2d_weight_grad(gy: &Tensor, x: &Tensor, w_shape: &[usize], p: Conv2dParams) -> Result<Tensor> {
    Geo::new(x.shape(), w_shape, p)?;
    conv_launch(ConvOp::Conv2dWeightGrad, x.dtype(), w_shape, gy, x, &p)
}

/// conv2d with its derivative. The backward kernels are themselves primitives: a second
/// derivative through them is refused with a clear error rather than computed wrong.
pub fn conv2d(x: &Tensor, w: &Tensor, p: Conv2dParams) -> Result<Tensor> {
    let y = conv2d_raw(x, w, p)?;
    if crate::tensor::graph::needs_grad(&[x, w]) {
        let (xs, ws) = (x.shape().to_vec(), w.shape().to_vec());
        let (rx, rw) = (x.requires_grad(), w.requires_grad());
        record("ConvolutionBackward0", &[x, w], &[&y], vec![Save::Input(x.clone()), Save::Input(w.clone())], move |g, s| {
            let Some(gy) = &g[0] else { return Ok(vec![None, None]) };
            if crate::tensor::graph::is_grad_enabled() && (gy.requires_grad() || s[0].requires_grad() || s[1].requires_grad()) {
                return Err(Error::Runtime(
                    "conv2d: double backward (create_graph=True through a convolution) is not supported yet".into(),
                ));
            }
            let gx = if rx { Some(conv2d_input_grad(gy, &s[1], &xs, p)?) } else { None };
            let gw = if rw { Some(conv2d_weight_grad(gy, &s[0], &ws, p)?) } else { None };
            Ok(vec![gx, gw])
        });
    }
    Ok(y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::launch_log::launches;

    fn seq(shape: &[usize], grad: bool) -> Tensor {
        crate::init();
        let n: usize = shape.iter().product();
        let t = Tensor::from_vec((0..n).map(|i| (i as f32 * 0.37).sin()).collect::<Vec<f32>>(), shape).unwrap();
        t.set_requires_grad(grad).unwrap();
        t
    }

    /// The kernels backward launches for conv2d of x and w, given which of them need a gradient.
    fn backward_launches(x_grad: bool, w_grad: bool) -> Vec<&'static str> {
        let p = Conv2dParams { stride: (2, 2), padding: (3, 3), dilation: (1, 1), groups: 1 };
        let (x, w) = (seq(&[2, 3, 12, 12], x_grad), seq(&[4, 3, 7, 7], w_grad));
        let y = conv2d(&x, &w, p).unwrap();
        let edge = crate::autograd::gradient_edge(&y).unwrap();
        let gy = seq(y.shape(), false);
        let (_, log) = launches(|| crate::autograd::run_backward(vec![(edge, gy)], false, false, None).unwrap());
        log.into_iter().filter(|n| n.starts_with("conv2d")).collect()
    }

    #[test]
    fn backward_computes_only_the_gradients_needed() {
        // the stem: an image batch that needs no gradient costs no input-gradient kernel
        assert_eq!(backward_launches(false, true), ["conv2d_weight_grad"]);
        assert_eq!(backward_launches(true, false), ["conv2d_input_grad"]);
        let mut both = backward_launches(true, true);
        both.sort();
        assert_eq!(both, ["conv2d_input_grad", "conv2d_weight_grad"]);
    }
}
