//! Elementwise unary primitives: one table of kernels and one of derivatives.
use super::binary::{mul, BinaryOp, Scalar};
use super::mul_scalar;
use crate::tensor::graph::{record, Save};
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::kernels::elementwise::map1;
use crate::kernels::float::{fast_exp_f32, FloatElem};
use crate::kernels::special;
use crate::tensor::Tensor;
use crate::{dispatch_float, dispatch_int};
use num_traits::{Float, One, Zero};

pub use crate::op::UnaryOp;

impl UnaryOp {
    /// Ops that keep integer inputs integer; the rest promote integers to float32.
    fn keeps_int(self) -> bool {
        use UnaryOp::*;
        matches!(self, Neg | Abs | Sign | Floor | Ceil | Round | Trunc | Relu | BitwiseNot)
    }
}

#[inline(always)]
fn cf<C: Float>(x: f64) -> C {
    <C as num_traits::NumCast>::from(x).unwrap()
}
#[inline(always)]
fn f64_of<C: Float>(v: C) -> f64 {
    num_traits::ToPrimitive::to_f64(&v).unwrap()
}
#[inline(always)]
fn f32_of<C: Float>(v: C) -> f32 {
    num_traits::ToPrimitive::to_f32(&v).unwrap()
}

fn float_kernel<T: FloatElem>(op: UnaryOp, x: &Tensor, out: &Tensor) {
    let shape = x.shape().to_vec();
    if T::DTYPE == DType::F32 && op == UnaryOp::Erf && x.is_contiguous() && out.is_contiguous() {
        // a direct f32 loop so the polynomial erf vectorises
        let src = x.as_slice::<f32>();
        let dp = crate::kernels::SendPtr(out.data_ptr());
        crate::kernels::parallel_for(src.len(), 16, |s, e| {
            let d = unsafe { std::slice::from_raw_parts_mut((dp.get() as *mut f32).add(s), e - s) };
            crate::kernels::erf::erf_slice_f32(&src[s..e], d);
        });
        return;
    }
    if T::DTYPE == DType::F32 && matches!(op, UnaryOp::Exp | UnaryOp::Sigmoid) {
        // direct f32 loops so the polynomial exp vectorises
        let sig = op == UnaryOp::Sigmoid;
        if x.is_contiguous() && out.is_contiguous() {
            let src = x.as_slice::<f32>();
            let dp = crate::kernels::SendPtr(out.data_ptr());
            crate::kernels::parallel_for(src.len(), 8, |s, e| {
                let d = unsafe { std::slice::from_raw_parts_mut((dp.get() as *mut f32).add(s), e - s) };
                crate::kernels::float::exp_slice_f32(&src[s..e], d, sig);
            });
            return;
        }
        let o = (out.data_ptr() as *mut f32, out.strides());
        let a = (x.data_ptr() as *const f32, x.strides());
        unsafe {
            if op == UnaryOp::Exp {
                map1::<f32, f32>(&shape, o, a, fast_exp_f32);
            } else {
                map1::<f32, f32>(&shape, o, a, |v| 1.0 / (1.0 + fast_exp_f32(-v)));
            }
        }
        return;
    }
    let o = (out.data_ptr() as *mut T, out.strides());
    let a = (x.data_ptr() as *const T, x.strides());
    let one = T::C::one();
    macro_rules! go {
        ($f:expr) => {
            unsafe { map1::<T, T>(&shape, o, a, |v: T| T::down($f(v.up()))) }
        };
    }
    use UnaryOp::*;
    let is_f32 = std::mem::size_of::<T::C>() == 4;
    match op {
        Neg => go!(|v: T::C| -v),
        Abs => go!(|v: T::C| v.abs()),
        // 0 for ±0 and for NaN, as PyTorch
        Sign => go!(|v: T::C| if v > T::C::zero() { one } else if v < T::C::zero() { -one } else { T::C::zero() }),
        Exp if is_f32 => go!(|v: T::C| cf::<T::C>(fast_exp_f32(f32_of(v)) as f64)),
        Exp => go!(|v: T::C| v.exp()),
        Log => go!(|v: T::C| v.ln()),
        Log1p => go!(|v: T::C| v.ln_1p()),
        Expm1 => go!(|v: T::C| v.exp_m1()),
        Sqrt => go!(|v: T::C| v.sqrt()),
        Rsqrt => go!(|v: T::C| one / v.sqrt()),
        Sin => go!(|v: T::C| v.sin()),
        Cos => go!(|v: T::C| v.cos()),
        Tan => go!(|v: T::C| v.tan()),
        Tanh => go!(|v: T::C| v.tanh()),
        Sigmoid if is_f32 => go!(|v: T::C| {
            let e = cf::<T::C>(fast_exp_f32(-f32_of(v)) as f64);
            one / (one + e)
        }),
        Sigmoid => go!(|v: T::C| one / (one + (-v).exp())),
        Erf if is_f32 => go!(|v: T::C| cf::<T::C>(crate::kernels::erf::erf_f32(f32_of(v)) as f64)),
        Erf => go!(|v: T::C| cf::<T::C>(special::erf(f64_of(v)))),
        Erfc => go!(|v: T::C| cf::<T::C>(special::erfc(f64_of(v)))),
        Lgamma => go!(|v: T::C| cf::<T::C>(special::lgamma(f64_of(v)))),
        Digamma => go!(|v: T::C| cf::<T::C>(special::digamma(f64_of(v)))),
        Floor => go!(|v: T::C| v.floor()),
        Ceil => go!(|v: T::C| v.ceil()),
        Round => go!(|v: T::C| {
            // round half to even, as PyTorch and NumPy do
            let r = v.round();
            if (v - v.trunc()).abs() == cf::<T::C>(0.5) {
                let h = (v / cf::<T::C>(2.0)).round() * cf::<T::C>(2.0);
                if (h - v).abs() <= cf::<T::C>(0.5) { h } else { r }
            } else {
                r
            }
        }),
        Trunc => go!(|v: T::C| v.trunc()),
        Reciprocal => go!(|v: T::C| one / v),
        Relu => go!(|v: T::C| if v > T::C::zero() { v } else if v.is_nan() { v } else { T::C::zero() }),
        Asin => go!(|v: T::C| v.asin()),
        Acos => go!(|v: T::C| v.acos()),
        Atan => go!(|v: T::C| v.atan()),
        Sinh => go!(|v: T::C| v.sinh()),
        Cosh => go!(|v: T::C| v.cosh()),
        Log2 => go!(|v: T::C| v.log2()),
        Exp2 => go!(|v: T::C| v.exp2()),
        LogicalNot | BitwiseNot => unreachable!(),
    }
}

fn int_kernel<T: Element + num_traits::PrimInt + num_traits::WrappingNeg + num_traits::WrappingSub>(op: UnaryOp, x: &Tensor, out: &Tensor) -> Result<()> {
    let shape = x.shape().to_vec();
    let o = (out.data_ptr() as *mut T, out.strides());
    let a = (x.data_ptr() as *const T, x.strides());
    let zero = <T as Element>::zero_val();
    let one = <T as Element>::one_val();
    let signed = T::min_value() < zero;
    use UnaryOp::*;
    unsafe {
        match op {
            Neg => map1::<T, T>(&shape, o, a, |v| v.wrapping_neg()),
            Abs => map1::<T, T>(&shape, o, a, |v| if v < zero { v.wrapping_neg() } else { v }),
            Sign => map1::<T, T>(&shape, o, a, |v| {
                if v > zero {
                    one
                } else if v < zero && signed {
                    zero.wrapping_sub(&one)
                } else {
                    zero
                }
            }),
            Floor | Ceil | Round | Trunc => map1::<T, T>(&shape, o, a, |v| v),
            Relu => map1::<T, T>(&shape, o, a, |v| if v > zero { v } else { zero }),
            BitwiseNot => map1::<T, T>(&shape, o, a, |v| !v),
            _ => return Err(Error::Runtime(format!("{}: not implemented for integer tensors", op.name()))),
        }
    }
    Ok(())
}

/// The CPU kernel of the unary family in the contract's form: `out` (x's shape, allocated)
/// from `x`: logical_not into bool from any dtype, the ops that keep integers on integers,
/// every op on floats.
pub(crate) fn cpu_kernel(op: UnaryOp, out: &Tensor, x: &Tensor) -> Result<()> {
    let dt = x.dtype();
    if op == UnaryOp::LogicalNot {
        crate::dispatch!(dt, T => unsafe {
            let z = T::zero_val();
            map1::<T, bool>(x.shape(), (out.data_ptr() as *mut bool, out.strides()), (x.data_ptr() as *const T, x.strides()), |v| v == z)
        });
        return Ok(());
    }
    if dt.is_float() {
        dispatch_float!(dt, T => float_kernel::<T>(op, x, out));
        return Ok(());
    }
    dispatch_int!(dt, T => int_kernel::<T>(op, x, out))
}

/// Forward only: applies `op` with no autograd. The dtype rules are here; the kernel runs
/// on the operand's device through the dispatcher.
pub fn unary_raw(op: UnaryOp, x: &Tensor) -> Result<Tensor> {
    use UnaryOp::*;
    if x.dtype().is_complex() {
        return crate::tensor::graph::with_grad_mode(false, || super::complex::unary(op, x));
    }
    let dt = x.dtype();
    let dev = x.device();
    let launch = |x: &Tensor, out_dt: DType| -> Result<Tensor> {
        let out = Tensor::empty_on(x.shape(), out_dt, dev)?;
        crate::dispatch::launch(&crate::op::Op::Unary(op), &[&out], &[x])?;
        Ok(out)
    };
    if op == LogicalNot {
        return if dt == DType::Bool { launch(x, DType::Bool) } else { launch(&super::cast(x, DType::Bool)?, DType::Bool) };
    }
    if dt == DType::Bool {
        return match op {
            BitwiseNot => unary_raw(LogicalNot, x),
            Abs | Relu | Floor | Ceil | Round | Trunc | Sign => super::clone_contiguous(x),
            Neg => Err(Error::Runtime(
                "neg: negation, the `-` operator, on a bool tensor is not supported. If you are trying to invert a mask, use the `~` or `logical_not()` operator instead.".into(),
            )),
            _ => unary_raw(op, &super::cast(x, DType::F32)?),
        };
    }
    if !dt.is_float() {
        if op.keeps_int() {
            return launch(x, dt);
        }
        return unary_raw(op, &super::cast(x, DType::F32)?);
    }
    if op == BitwiseNot {
        return Err(Error::Runtime(format!("bitwise_not: not implemented for '{}' tensors", dt.name())));
    }
    launch(x, dt)
}

/// Applies a unary op and records its derivative.
/// g where y > 0, else 0: one fused pass (`FusedOp::ReluBackward`) for CPU float tensors
/// outside create_graph, composed from primitives (differentiable, any device) otherwise.
fn relu_backward(g: &Tensor, y: &Tensor) -> Result<Tensor> {
    let fused_dtype = matches!(g.dtype(), DType::F32 | DType::F64);
    if !crate::tensor::graph::is_grad_enabled() && g.device().is_cpu() && y.device().is_cpu() && fused_dtype && g.dtype() == y.dtype() && g.shape() == y.shape() {
        let out = Tensor::empty(g.shape(), g.dtype())?;
        crate::dispatch::launch_fused(&crate::op::FusedOp::ReluBackward, &[&out], &[g, y])?;
        return Ok(out);
    }
    let mask = super::binary(BinaryOp::Gt, &y.clone().into(), &Scalar::Float(0.0).into())?;
    mul(g, &super::cast(&mask, g.dtype())?)
}

/// The fused kernel of relu's backward (`FusedOp::ReluBackward`): `out = g where y > 0
/// else 0`, g, y and out of one float dtype and shape, any strides.
pub(crate) fn relu_backward_cpu_kernel(out: &Tensor, g: &Tensor, y: &Tensor) -> Result<()> {
    fn go<T: Element + PartialOrd + Zero>(out: &Tensor, g: &Tensor, y: &Tensor) {
        unsafe {
            crate::kernels::elementwise::map2::<T, T, T>(out.shape(), (out.data_ptr() as *mut T, out.strides()), (g.data_ptr() as *const T, g.strides()), (y.data_ptr() as *const T, y.strides()), |gv, yv| if yv > T::zero() { gv } else { T::zero() });
        }
    }
    match out.dtype() {
        DType::F32 => go::<f32>(out, g, y),
        DType::F64 => go::<f64>(out, g, y),
        d => return Err(Error::Runtime(format!("relu_backward: the fused kernel runs f32 and f64, got {}", d.name()))),
    }
    Ok(())
}

pub fn unary(op: UnaryOp, x: &Tensor) -> Result<Tensor> {
    use UnaryOp::*;
    if x.dtype().is_complex() {
        return super::complex::unary(op, x);
    }
    let out = unary_raw(op, x)?;
    if !out.dtype().is_float() || !crate::tensor::graph::needs_grad(&[x]) {
        return Ok(out);
    }
    let name = format!("{}Backward0", capitalize(op.name()));
    // Derivatives, written with differentiable ops so that higher-order gradients work.
    let (saves, f): (Vec<Save>, Box<dyn Fn(&Tensor, &[Tensor]) -> Result<Tensor> + Send + Sync>) = match op {
        Neg => (vec![], Box::new(|g, _| mul_scalar(g, -1.0))),
        Abs => (vec![Save::Input(x.clone())], Box::new(|g, s| mul(g, &unary(Sign, &s[0])?))),
        Sign | Floor | Ceil | Round | Trunc => (vec![], Box::new(|g, _| super::zeros_like(g))),
        Exp => (vec![Save::Output(0)], Box::new(|g, s| mul(g, &s[0]))),
        Exp2 => (vec![Save::Output(0)], Box::new(|g, s| mul_scalar(&mul(g, &s[0])?, std::f64::consts::LN_2))),
        Log => (vec![Save::Input(x.clone())], Box::new(|g, s| super::div(g, &s[0]))),
        Log2 => (vec![Save::Input(x.clone())], Box::new(|g, s| mul_scalar(&super::div(g, &s[0])?, 1.0 / std::f64::consts::LN_2))),
        Log1p => (vec![Save::Input(x.clone())], Box::new(|g, s| super::div(g, &super::add_scalar(&s[0], 1.0)?))),
        Expm1 => (vec![Save::Output(0)], Box::new(|g, s| mul(g, &super::add_scalar(&s[0], 1.0)?))),
        Sqrt => (vec![Save::Output(0)], Box::new(|g, s| super::div(g, &mul_scalar(&s[0], 2.0)?))),
        Rsqrt => (vec![Save::Output(0)], Box::new(|g, s| {
            let y3 = mul(&mul(&s[0], &s[0])?, &s[0])?;
            mul(&mul_scalar(g, -0.5)?, &y3)
        })),
        Sin => (vec![Save::Input(x.clone())], Box::new(|g, s| mul(g, &unary(Cos, &s[0])?))),
        Cos => (vec![Save::Input(x.clone())], Box::new(|g, s| mul(g, &mul_scalar(&unary(Sin, &s[0])?, -1.0)?))),
        Tan => (vec![Save::Output(0)], Box::new(|g, s| mul(g, &super::add_scalar(&mul(&s[0], &s[0])?, 1.0)?))),
        Tanh => (vec![Save::Output(0)], Box::new(|g, s| {
            // 1 - y^2
            let y2 = mul(&s[0], &s[0])?;
            mul(g, &super::binary(BinaryOp::Sub, &Scalar::Float(1.0).into(), &y2.into())?)
        })),
        Sigmoid => (vec![Save::Output(0)], Box::new(|g, s| {
            let one_minus = super::binary(BinaryOp::Sub, &Scalar::Float(1.0).into(), &s[0].clone().into())?;
            mul(g, &mul(&s[0], &one_minus)?)
        })),
        Erf | Erfc => {
            let scale = if op == Erf { std::f64::consts::FRAC_2_SQRT_PI } else { -std::f64::consts::FRAC_2_SQRT_PI };
            (vec![Save::Input(x.clone())], Box::new(move |g, s| {
                let x2 = mul(&s[0], &s[0])?;
                let e = unary(Exp, &mul_scalar(&x2, -1.0)?)?;
                mul(g, &mul_scalar(&e, scale)?)
            }))
        }
        Lgamma => (vec![Save::Input(x.clone())], Box::new(|g, s| mul(g, &unary(Digamma, &s[0])?))),
        Digamma => (vec![Save::Input(x.clone())], Box::new(|g, s| mul(g, &polygamma(1, &s[0])?))),
        Reciprocal => (vec![Save::Output(0)], Box::new(|g, s| mul(g, &mul_scalar(&mul(&s[0], &s[0])?, -1.0)?))),
        Relu => (vec![Save::Output(0)], Box::new(|g, s| relu_backward(g, &s[0]))),
        Asin => (vec![Save::Input(x.clone())], Box::new(|g, s| {
            let d = unary(Rsqrt, &super::binary(BinaryOp::Sub, &Scalar::Float(1.0).into(), &mul(&s[0], &s[0])?.into())?)?;
            mul(g, &d)
        })),
        Acos => (vec![Save::Input(x.clone())], Box::new(|g, s| {
            let d = unary(Rsqrt, &super::binary(BinaryOp::Sub, &Scalar::Float(1.0).into(), &mul(&s[0], &s[0])?.into())?)?;
            mul(g, &mul_scalar(&d, -1.0)?)
        })),
        Atan => (vec![Save::Input(x.clone())], Box::new(|g, s| super::div(g, &super::add_scalar(&mul(&s[0], &s[0])?, 1.0)?))),
        Sinh => (vec![Save::Input(x.clone())], Box::new(|g, s| mul(g, &unary(Cosh, &s[0])?))),
        Cosh => (vec![Save::Input(x.clone())], Box::new(|g, s| mul(g, &unary(Sinh, &s[0])?))),
        LogicalNot | BitwiseNot => return Ok(out),
    };
    record(&name, &[x], &[&out], saves, move |g, s| {
        Ok(vec![match &g[0] {
            Some(g) => Some(f(g, s)?),
            None => None,
        }])
    });
    Ok(out)
}

/// ψ⁽ⁿ⁾(x) for n >= 1 (order 0 is digamma), differentiable: its derivative is order n + 1.
/// Integer inputs promote to float32.
pub fn polygamma(n: i64, x: &Tensor) -> Result<Tensor> {
    if n < 0 {
        return Err(Error::Runtime(format!("polygamma(n, input): n must be a non-negative int, got {n}")));
    }
    if n == 0 {
        return unary(UnaryOp::Digamma, x);
    }
    let out = polygamma_raw(n, x)?;
    if crate::tensor::graph::needs_grad(&[x]) {
        record("PolygammaBackward0", &[x], &[&out], vec![Save::Input(x.clone())], move |g, s| {
            Ok(vec![match &g[0] {
                Some(g) => Some(mul(g, &polygamma(n + 1, &s[0])?)?),
                None => None,
            }])
        });
    }
    Ok(out)
}

/// Forward only: polygamma of order `n >= 1`.
pub fn polygamma_raw(n: i64, x: &Tensor) -> Result<Tensor> {
    let dt = x.dtype();
    if !dt.is_float() {
        return polygamma_raw(n, &super::cast(x, DType::F32)?);
    }
    let out = Tensor::empty_on(x.shape(), dt, x.device())?;
    crate::dispatch::launch(&crate::op::Op::Polygamma(crate::op::PolygammaAttrs { n }), &[&out], &[x])?;
    Ok(out)
}

/// The CPU kernel of polygamma (floats, order `n >= 1`) in the contract's form.
pub(crate) fn polygamma_cpu_kernel(n: i64, out: &Tensor, x: &Tensor) -> Result<()> {
    fn go<T: FloatElem>(n: i64, x: &Tensor, out: &Tensor) {
        let o = (out.data_ptr() as *mut T, out.strides());
        let a = (x.data_ptr() as *const T, x.strides());
        unsafe { map1::<T, T>(x.shape(), o, a, |v: T| T::down(cf::<T::C>(special::polygamma(n, f64_of(v.up()))))) }
    }
    dispatch_float!(x.dtype(), T => go::<T>(n, x, out));
    Ok(())
}

fn capitalize(s: &str) -> String {
    let mut out = String::new();
    let mut up = true;
    for c in s.chars() {
        if c == '_' {
            up = true;
            continue;
        }
        if up {
            out.extend(c.to_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}
