//! Complex tensors, lowered to real ops. A complex64/complex128 tensor stores interleaved
//! (real, imaginary) pairs of f32/f64, so its *real view* (shape + [2], strides * 2 + [1],
//! offset * 2, the component dtype) is an ordinary float tensor on the same storage. Every
//! complex op here is composed from real primitives on real views, so:
//! - kernels never see a complex dtype (every backend gets complex for free);
//! - autograd needs no complex formulas: gradients flow through the real ops, and the
//!   gradient of a complex tensor is the complex view of its real view's gradient,
//!   `dL/d(re) + i·dL/d(im)` — PyTorch's convention (the conjugate Wirtinger derivative
//!   times two) for a real loss.
//!
//! `conj` materialises (deepseek has no lazy conjugate bit; `is_conj()` is always false).
//! Ops with no complex meaning (ordering, rounding, bitwise) raise PyTorch's errors.
use super::binary::{binary as real_binary, Operand};
use super::shape::{select, unsqueeze};
use super::{cast, BinaryOp, Scalar, UnaryOp};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::op::ReduceOp;
use crate::tensor::graph::{record, with_grad_mode, Save};
use crate::tensor::Tensor;

/// The error for an op that has no complex version, in PyTorch's words.
pub fn refuse(op: &str, dtype: DType) -> Error {
    Error::Runtime(crate::dtype::complex_unsupported(op, dtype))
}

/// The real view with no autograd link (kernels' operands).
pub fn raw_real(t: &Tensor) -> Tensor {
    t.real_pairs()
}

/// One component (0 real, 1 imaginary) with no autograd link.
fn raw_part(t: &Tensor, c: usize) -> Tensor {
    let l = t.layout();
    let layout = Layout { shape: l.shape.clone(), strides: l.strides.iter().map(|s| s * 2).collect(), offset: l.offset * 2 + c };
    Tensor::from_parts(t.storage().clone(), layout, t.dtype().to_real())
}

/// `view_as_real`: the float view of a complex tensor, shape + [2] (no copy).
pub fn view_as_real(t: &Tensor) -> Result<Tensor> {
    if !t.dtype().is_complex() {
        return Err(Error::Runtime(format!("view_as_real is only supported for complex tensors, got {} (shape {:?})", t.dtype().name(), t.shape())));
    }
    let out = t.view_as_dtype(t.real_pairs().layout().clone(), t.dtype().to_real());
    record("ViewAsRealBackward0", &[t], &[&out], vec![], |g, _| {
        Ok(vec![match &g[0] {
            Some(g) => Some(view_as_complex(&super::contiguous(g)?)?),
            None => None,
        }])
    });
    Ok(out)
}

/// `view_as_complex`: the complex view of a float32/float64 tensor whose last dim is 2 with
/// stride 1 (no copy); PyTorch's checks and messages.
pub fn view_as_complex(t: &Tensor) -> Result<Tensor> {
    let dt = t.dtype();
    if !matches!(dt, DType::F32 | DType::F64) {
        return Err(Error::Runtime(format!("view_as_complex is only supported for float and double tensors, but got a tensor of scalar type: {}", dt.name())));
    }
    let n = t.ndim();
    if n == 0 {
        return Err(Error::Runtime("view_as_complex: Input tensor must have one or more dimensions".into()));
    }
    if t.shape()[n - 1] != 2 {
        return Err(Error::Runtime(format!("view_as_complex: Tensor must have a last dimension of size 2 (got shape {:?})", t.shape())));
    }
    if t.strides()[n - 1] != 1 {
        return Err(Error::Runtime(format!("view_as_complex: Tensor must have a last dimension with stride 1 (got strides {:?})", t.strides())));
    }
    if t.strides()[..n - 1].iter().zip(&t.shape()[..n - 1]).any(|(s, &d)| s % 2 != 0 && d > 1) {
        return Err(Error::Runtime(format!("view_as_complex: Tensor must have a stride divisible by 2 for all but last dimension (got strides {:?})", t.strides())));
    }
    if t.layout().offset % 2 != 0 {
        return Err(Error::Runtime("view_as_complex: Tensor must have a storage_offset divisible by 2".into()));
    }
    let l = t.layout();
    let layout = Layout {
        shape: l.shape[..n - 1].to_vec(),
        strides: l.strides[..n - 1].iter().map(|s| s / 2).collect(),
        offset: l.offset / 2,
    };
    let out = t.view_as_dtype(layout, dt.to_complex());
    record("ViewAsComplexBackward0", &[t], &[&out], vec![], |g, _| {
        Ok(vec![match &g[0] {
            Some(g) => Some(view_as_real(g)?),
            None => None,
        }])
    });
    Ok(out)
}

/// `x.real`: a view of the real components (`x` itself for a real tensor).
pub fn real(t: &Tensor) -> Result<Tensor> {
    if !t.dtype().is_complex() {
        return Ok(t.clone());
    }
    select(&view_as_real(t)?, t.ndim(), 0)
}

/// `x.imag`: a view of the imaginary components; an error for real tensors, as PyTorch.
pub fn imag(t: &Tensor) -> Result<Tensor> {
    if !t.dtype().is_complex() {
        return Err(Error::Runtime("imag is not implemented for tensors with non-complex dtypes.".into()));
    }
    select(&view_as_real(t)?, t.ndim(), 1)
}

/// The complex tensor `re + i·im` from two real tensors of one float dtype (broadcast).
fn from_parts(re: &Tensor, im: &Tensor) -> Result<Tensor> {
    let shape = crate::layout::broadcast_shapes("complex", re.shape(), im.shape())?;
    let (re, im) = (super::shape::expand(re, &shape)?, super::shape::expand(im, &shape)?);
    let n = shape.len();
    view_as_complex(&super::shape::cat(&[unsqueeze(&re, n)?, unsqueeze(&im, n)?], n as i64)?)
}

/// `deepseek.complex(real, imag)`: both float32 or both float64, broadcast together.
pub fn complex(re: &Tensor, im: &Tensor) -> Result<Tensor> {
    let (a, b) = (re.dtype(), im.dtype());
    if a != b {
        return Err(Error::Runtime(format!("complex: Expected object of scalar type {} but got scalar type {} for second argument", a.name(), b.name())));
    }
    if !matches!(a, DType::F32 | DType::F64) {
        return Err(Error::Runtime(format!("complex: Expected both inputs to be Float or Double tensors but got {} and {}", a.name(), b.name())));
    }
    from_parts(re, im)
}

/// `deepseek.polar(abs, angle)`: `abs·(cos(angle) + i·sin(angle))`.
pub fn polar(abs: &Tensor, angle: &Tensor) -> Result<Tensor> {
    complex(abs, angle)?; // the dtype checks
    let re = super::mul(abs, &super::unary(UnaryOp::Cos, angle)?)?;
    let im = super::mul(abs, &super::unary(UnaryOp::Sin, angle)?)?;
    from_parts(&re, &im)
}

/// The conjugate, materialised.
pub fn conj(t: &Tensor) -> Result<Tensor> {
    if !t.dtype().is_complex() {
        return Ok(t.clone());
    }
    from_parts(&real(t)?, &super::unary(UnaryOp::Neg, &imag(t)?)?)
}

/// `|z|` as a real tensor. Its gradient is `g·z/|z|`, 0 at z = 0 (as PyTorch's sgn).
pub fn abs(z: &Tensor) -> Result<Tensor> {
    let out = with_grad_mode(false, || -> Result<Tensor> {
        let r = raw_real(z);
        let s = super::reduce::sum(&super::mul(&r, &r)?, &[z.ndim()], false)?;
        super::unary(UnaryOp::Sqrt, &s)
    })?;
    record("AbsBackward0", &[z], &[&out], vec![Save::Input(z.clone()), Save::Output(0)], |g, s| {
        let Some(g) = &g[0] else { return Ok(vec![None]) };
        let (z, a) = (&s[0], &s[1]);
        let zero = real_binary(BinaryOp::Eq, &a.clone().into(), &Scalar::Float(0.0).into())?;
        let safe = super::where_(&zero, &super::scalar(1.0, a.dtype())?, a)?;
        let scale = super::where_(&zero, &super::zeros_like(g)?, &super::div(g, &safe)?)?;
        let gr = super::mul(&view_as_real(z)?, &unsqueeze(&scale, scale.ndim())?)?;
        Ok(vec![Some(view_as_complex(&gr)?)])
    });
    Ok(out)
}

/// `angle(z)`: `atan2(im, re)`, a real tensor.
pub fn angle(z: &Tensor) -> Result<Tensor> {
    real_binary(BinaryOp::Atan2, &imag(z)?.into(), &real(z)?.into())
}

fn complex_dtype_of(o: &Operand) -> Option<DType> {
    match o {
        Operand::T(t) if t.dtype().is_complex() => Some(t.dtype()),
        Operand::C(..) => Some(DType::C64),
        _ => None,
    }
}

/// Whether either operand is complex (a complex tensor or a Python complex number).
pub fn involved(a: &Operand, b: &Operand) -> bool {
    complex_dtype_of(a).is_some() || complex_dtype_of(b).is_some()
}

/// An operand as a complex tensor of `dt` (differentiable for tensors).
fn as_complex(o: &Operand, dt: DType) -> Result<Tensor> {
    match o {
        Operand::T(t) => cast(t, dt),
        Operand::S(s) => Tensor::scalar_complex(s.as_f64(), 0.0, dt),
        Operand::C(re, im) => Tensor::scalar_complex(*re, *im, dt),
    }
}

/// A real operand in `dt`'s component dtype, as a tensor with a trailing unit dim (so it
/// broadcasts against real views) or a scalar; None for a complex operand.
fn as_real_factor(o: &Operand, dt: DType) -> Result<Option<Operand>> {
    Ok(match o {
        Operand::T(t) if !t.dtype().is_complex() => {
            let r = cast(t, dt.to_real())?;
            Some(unsqueeze(&r, r.ndim())?.into())
        }
        Operand::S(s) => Some(Operand::S(*s)),
        _ => None,
    })
}

fn parts(t: &Tensor) -> Result<(Tensor, Tensor)> {
    Ok((real(t)?, imag(t)?))
}

/// The binary op on operands of which at least one is complex. add, sub, mul, div, pow,
/// eq and ne have complex meanings; the rest raise.
pub fn binary(op: BinaryOp, a: &Operand, b: &Operand) -> Result<Tensor> {
    use BinaryOp::*;
    let dt = super::binary::result_type(a, b);
    let name = op.name();
    if !matches!(op, Add | Sub | Mul | Div | Pow | Eq | Ne) {
        return Err(match op {
            Maximum | Minimum => Error::Runtime(format!("{name}: not implemented for complex tensors.")),
            _ => refuse(name, dt),
        });
    }
    let rv = |t: &Tensor| view_as_real(t);
    match op {
        Add | Sub => {
            let (x, y) = (as_complex(a, dt)?, as_complex(b, dt)?);
            view_as_complex(&real_binary(op, &rv(&x)?.into(), &rv(&y)?.into())?)
        }
        Mul | Div => {
            // a real factor scales both components: cheaper, and exact where PyTorch is
            if let (Some(f), Some(_)) = (as_real_factor(b, dt)?, complex_dtype_of(a)) {
                return view_as_complex(&real_binary(op, &rv(&as_complex(a, dt)?)?.into(), &f)?);
            }
            if op == Mul {
                if let (Some(f), Some(_)) = (as_real_factor(a, dt)?, complex_dtype_of(b)) {
                    return view_as_complex(&real_binary(Mul, &f, &rv(&as_complex(b, dt)?)?.into())?);
                }
            }
            let (x, y) = (as_complex(a, dt)?, as_complex(b, dt)?);
            let ((ar, ai), (br, bi)) = (parts(&x)?, parts(&y)?);
            let m = super::mul;
            if op == Mul {
                let re = super::sub(&m(&ar, &br)?, &m(&ai, &bi)?)?;
                let im = super::add(&m(&ar, &bi)?, &m(&ai, &br)?)?;
                return from_parts(&re, &im);
            }
            // a / b = a·conj(b) / |b|²
            let den = super::add(&m(&br, &br)?, &m(&bi, &bi)?)?;
            let re = super::div(&super::add(&m(&ar, &br)?, &m(&ai, &bi)?)?, &den)?;
            let im = super::div(&super::sub(&m(&ai, &br)?, &m(&ar, &bi)?)?, &den)?;
            from_parts(&re, &im)
        }
        Pow => {
            let x = as_complex(a, dt)?;
            match b {
                // a real exponent in polar form: |x|^p (cos pθ + i sin pθ), exact at x = 0
                Operand::S(p) => {
                    let p = p.as_f64();
                    let r = real_binary(Pow, &abs(&x)?.into(), &Scalar::Float(p).into())?;
                    let th = super::mul_scalar(&angle(&x)?, p)?;
                    from_parts(&super::mul(&r, &super::unary(UnaryOp::Cos, &th)?)?, &super::mul(&r, &super::unary(UnaryOp::Sin, &th)?)?)
                }
                _ => unary(UnaryOp::Exp, &binary(Mul, &as_complex(b, dt)?.into(), &unary(UnaryOp::Log, &x)?.into())?),
            }
        }
        Eq | Ne => {
            let (x, y) = (as_complex(a, dt)?, as_complex(b, dt)?);
            let r = real_binary(op, &rv(&x)?.into(), &rv(&y)?.into())?;
            let (r0, r1) = (select(&r, r.ndim() - 1, 0)?, select(&r, r.ndim() - 1, 1)?);
            let join = if op == Eq { LogicalAnd } else { LogicalOr };
            real_binary(join, &r0.into(), &r1.into())
        }
        _ => unreachable!(),
    }
}

/// The unary op on a complex tensor.
pub fn unary(op: UnaryOp, z: &Tensor) -> Result<Tensor> {
    use UnaryOp::*;
    let dt = z.dtype();
    let c = |t: &Tensor| view_as_complex(t);
    let m = super::mul;
    Ok(match op {
        Neg => c(&super::unary(Neg, &view_as_real(z)?)?)?,
        Abs => abs(z)?,
        Exp => {
            // e^re (cos im + i sin im)
            let (re, im) = parts(z)?;
            let e = super::unary(Exp, &re)?;
            from_parts(&m(&e, &super::unary(Cos, &im)?)?, &m(&e, &super::unary(Sin, &im)?)?)?
        }
        Log => from_parts(&super::unary(Log, &abs(z)?)?, &angle(z)?)?,
        Sqrt | Rsqrt => {
            // principal branch: sqrt|z| (cos θ/2 + i sin θ/2), θ in (-π, π]
            let p = if op == Sqrt { 0.5 } else { -0.5 };
            binary(BinaryOp::Pow, &z.clone().into(), &Scalar::Float(p).into())?
        }
        Reciprocal => binary(BinaryOp::Div, &Operand::C(1.0, 0.0), &z.clone().into())?,
        Sin | Cos | Sinh | Cosh => {
            // sin(a+ib) = sin a cosh b + i cos a sinh b;  cos(a+ib) = cos a cosh b - i sin a sinh b
            // sinh(a+ib) = sinh a cos b + i cosh a sin b;  cosh(a+ib) = cosh a cos b + i sinh a sin b
            let (a, b) = parts(z)?;
            let u = |o: UnaryOp, t: &Tensor| super::unary(o, t);
            match op {
                Sin => from_parts(&m(&u(Sin, &a)?, &u(Cosh, &b)?)?, &m(&u(Cos, &a)?, &u(Sinh, &b)?)?)?,
                Cos => from_parts(&m(&u(Cos, &a)?, &u(Cosh, &b)?)?, &u(Neg, &m(&u(Sin, &a)?, &u(Sinh, &b)?)?)?)?,
                Sinh => from_parts(&m(&u(Sinh, &a)?, &u(Cos, &b)?)?, &m(&u(Cosh, &a)?, &u(Sin, &b)?)?)?,
                _ => from_parts(&m(&u(Cosh, &a)?, &u(Cos, &b)?)?, &m(&u(Sinh, &a)?, &u(Sin, &b)?)?)?,
            }
        }
        Tanh | Sigmoid => {
            // tanh z = (e^{2z} - 1)/(e^{2z} + 1);  sigmoid z = 1/(1 + e^{-z})
            if op == Tanh {
                let e = unary(Exp, &binary(BinaryOp::Mul, &z.clone().into(), &Scalar::Float(2.0).into())?)?;
                let num = binary(BinaryOp::Sub, &e.clone().into(), &Scalar::Float(1.0).into())?;
                let den = binary(BinaryOp::Add, &e.into(), &Scalar::Float(1.0).into())?;
                binary(BinaryOp::Div, &num.into(), &den.into())?
            } else {
                let e = unary(Exp, &unary(Neg, z)?)?;
                let den = binary(BinaryOp::Add, &e.into(), &Scalar::Float(1.0).into())?;
                binary(BinaryOp::Div, &Operand::S(Scalar::Float(1.0)), &den.into())?
            }
        }
        LogicalNot => {
            let nz = binary(BinaryOp::Ne, &z.clone().into(), &Scalar::Float(0.0).into())?;
            super::unary(LogicalNot, &nz)?
        }
        Sign => return Err(Error::Runtime("Unlike NumPy, torch.sign is not intended to support complex numbers. Please use torch.sgn instead.".into())),
        _ => return Err(refuse(op.name(), dt)),
    })
}

/// Reductions of a complex tensor: sum over the real view; the others raise.
pub fn reduce(op: ReduceOp, x: &Tensor, dims: &[usize], keepdim: bool) -> Result<Tensor> {
    match op {
        ReduceOp::Sum => view_as_complex(&super::reduce::reduce(op, &view_as_real(x)?, dims, keepdim)?),
        _ => Err(refuse(op.name(), x.dtype())),
    }
}

/// Batched complex matrix product as four real ones on the components.
pub fn bmm(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let ((ar, ai), (br, bi)) = (parts(a)?, parts(b)?);
    let p = |x: &Tensor, y: &Tensor| super::matmul::bmm(&super::contiguous(x)?, &super::contiguous(y)?);
    let re = super::sub(&p(&ar, &br)?, &p(&ai, &bi)?)?;
    let im = super::add(&p(&ar, &bi)?, &p(&ai, &br)?)?;
    from_parts(&re, &im)
}

/// The copy/cast kernel's lowering (no autograd): `src` broadcast into `dst` where either is
/// complex. complex → real keeps the real part (`!= 0` of either part for bool).
pub(crate) fn copy_raw(dst: &Tensor, src: &Tensor) -> Result<()> {
    let src = src.alias(src.layout().broadcast_to("copy_", dst.shape())?);
    match (dst.dtype().is_complex(), src.dtype().is_complex()) {
        (true, true) => super::copy_raw(&raw_real(dst), &raw_real(&src)),
        (true, false) => {
            super::copy_raw(&raw_part(dst, 0), &src)?;
            super::copy::fill_raw(&raw_part(dst, 1), 0.0)
        }
        (false, true) if dst.dtype() == DType::Bool => with_grad_mode(false, || {
            let nz = |c| real_binary(BinaryOp::Ne, &raw_part(&src, c).into(), &Scalar::Float(0.0).into());
            super::copy_raw(dst, &real_binary(BinaryOp::LogicalOr, &nz(0)?.into(), &nz(1)?.into())?)
        }),
        (false, true) => super::copy_raw(dst, &raw_part(&src, 0)),
        (false, false) => super::copy_raw(dst, &src),
    }
}

/// Fills a complex `dst` with `re + i·im` (no autograd).
pub fn fill_raw(dst: &Tensor, re: f64, im: f64) -> Result<()> {
    super::copy::fill_scalar_raw(&raw_part(dst, 0), Scalar::Float(re))?;
    super::copy::fill_scalar_raw(&raw_part(dst, 1), Scalar::Float(im))
}

/// In-place `a op= b` where either is complex: a complex result needs a complex `a`.
pub fn binary_(op: BinaryOp, a: &Tensor, b: &Operand) -> Result<()> {
    let ao: Operand = a.clone().into();
    let dt = super::binary::result_type(&ao, b);
    let out_dt = if matches!(op, BinaryOp::Eq | BinaryOp::Ne) { DType::Bool } else { dt };
    if out_dt.category() > a.dtype().category() {
        return Err(Error::Runtime(format!("{}_: result type {} can't be cast to the desired output type {}", op.name(), out_dt.name(), a.dtype().name())));
    }
    let others: Vec<&Tensor> = match b {
        Operand::T(t) => vec![t],
        _ => vec![],
    };
    let scalar = match b {
        Operand::S(s) => Some(Operand::S(*s)),
        Operand::C(re, im) => Some(Operand::C(*re, *im)),
        Operand::T(_) => None,
    };
    super::inplace::apply_inplace(&format!("{}_", op.name()), a, &others, move |old, others| {
        let bo = match &scalar {
            Some(Operand::S(s)) => Operand::S(*s),
            Some(Operand::C(re, im)) => Operand::C(*re, *im),
            _ => others[0].clone().into(),
        };
        let r = binary(op, &old.clone().into(), &bo)?;
        if r.shape() != old.shape() {
            return Err(Error::Runtime(format!("{}_: output with shape {:?} doesn't match the broadcast shape {:?}", op.name(), old.shape(), r.shape())));
        }
        cast(&r, old.dtype())
    })
}

/// `where(cond, a, b)` with a complex operand: on the real views, `cond` broadcast over the
/// component dim.
pub fn where_op(cond: &Tensor, a: &Operand, b: &Operand) -> Result<Tensor> {
    let dt = super::binary::result_type(a, b);
    let (x, y) = (as_complex(a, dt)?, as_complex(b, dt)?);
    let c = unsqueeze(cond, cond.ndim())?;
    view_as_complex(&super::binary::where_(&c, &view_as_real(&x)?, &view_as_real(&y)?)?)
}

/// `cat` of tensors promoted to complex `dt`, along `dim`, on their real views.
pub fn cat(ts: &[Tensor], dim: usize, dt: DType) -> Result<Tensor> {
    let views: Vec<Tensor> = ts.iter().map(|t| view_as_real(&cast(t, dt)?)).collect::<Result<_>>()?;
    view_as_complex(&super::shape::cat(&views, dim as i64)?)
}

/// Constant padding of a complex tensor: the real parts padded with `value`, the imaginary
/// parts with 0.
pub fn pad(x: &Tensor, pads: &[i64], value: f64) -> Result<Tensor> {
    from_parts(&super::shape::pad(&real(x)?, pads, value)?, &super::shape::pad(&imag(x)?, pads, 0.0)?)
}

/// `index_select` of a complex tensor (at least 1-d) on its real view.
pub fn index_select(x: &Tensor, dim: usize, index: &Tensor) -> Result<Tensor> {
    view_as_complex(&super::contiguous(&super::index::index_select(&view_as_real(x)?, dim, index)?)?)
}
