//! Elementwise binary primitives (arithmetic, comparison, logical): PyTorch's type promotion
//! and operand checks, the forward through the dispatcher, the derivatives and the in-place
//! form. The CPU kernels are in `cpu`, `where` (the elementwise select) in `where_op`.
use super::{mul_scalar, sum_to};
use crate::tensor::graph::{record, Save};
use crate::dtype::{DType, Element, ResultType};
use crate::error::{Error, Result};
use crate::layout::broadcast_shapes;
use crate::tensor::Tensor;
use crate::dispatch;

mod cpu;
mod where_op;

pub(crate) use cpu::cpu_kernel;
pub use where_op::{where_, where_op};
pub(crate) use where_op::where_cpu_kernel;

pub use crate::op::BinaryOp;

impl BinaryOp {
    fn is_compare(self) -> bool {
        use BinaryOp::*;
        matches!(self, Eq | Ne | Lt | Le | Gt | Ge)
    }
    fn is_logical(self) -> bool {
        use BinaryOp::*;
        matches!(self, LogicalAnd | LogicalOr | LogicalXor)
    }
}

pub use crate::scalar::Scalar;

impl Scalar {
    /// The value as a 0-dim tensor of `dtype` (integers keep full i64 precision).
    pub fn to_tensor(self, dtype: DType) -> Result<Tensor> {
        match self {
            Scalar::Int(i) if !dtype.is_float() && !dtype.is_complex() => {
                let t = Tensor::empty(&[], dtype)?;
                dispatch!(dtype, T => unsafe { *(t.data_ptr() as *mut T) = T::from_i64(i) });
                Ok(t)
            }
            s => Tensor::scalar_f64(s.as_f64(), dtype),
        }
    }
}

pub enum Operand {
    T(Tensor),
    S(Scalar),
    /// A Python complex number (real, imaginary); only `ops::complex` computes with it.
    C(f64, f64),
}

impl From<Tensor> for Operand {
    fn from(t: Tensor) -> Self {
        Operand::T(t)
    }
}
impl From<Scalar> for Operand {
    fn from(s: Scalar) -> Self {
        Operand::S(s)
    }
}

impl Operand {
    fn add_to(&self, r: ResultType) -> ResultType {
        match self {
            Operand::T(t) => r.tensor(t.dtype(), t.ndim()),
            Operand::S(s) => r.scalar(s.category(), DType::F32),
            Operand::C(..) => r.scalar(crate::dtype::Category::Complex, DType::F32),
        }
    }
    fn shape(&self) -> &[usize] {
        match self {
            Operand::T(t) => t.shape(),
            Operand::S(_) | Operand::C(..) => &[],
        }
    }
    fn materialize(&self, dtype: DType) -> Result<Tensor> {
        match self {
            Operand::T(t) => super::cast(t, dtype),
            Operand::S(s) => s.to_tensor(dtype),
            Operand::C(re, im) if dtype.is_complex() => Tensor::scalar_complex(*re, *im, dtype),
            Operand::C(..) => Err(Error::Runtime(format!("a complex number cannot be converted to {}", dtype.name()))),
        }
    }
    fn tensor(&self) -> Option<&Tensor> {
        match self {
            Operand::T(t) => Some(t),
            _ => None,
        }
    }
}

pub fn result_type(a: &Operand, b: &Operand) -> DType {
    result_type_of(&[a, b])
}

/// PyTorch's `result_type` over any number of operands: dimensioned tensors, then 0-d
/// tensors, then Python numbers, each only lifting the category of the ones before.
pub fn result_type_of(operands: &[&Operand]) -> DType {
    operands.iter().fold(ResultType::default(), |r, o| o.add_to(r)).finish()
}

/// The dtype the op computes in, and the dtype of its result.
fn op_dtypes(op: BinaryOp, common: DType) -> Result<(DType, DType)> {
    use BinaryOp::*;
    Ok(match op {
        Div | Atan2 if !common.is_float() => (DType::F32, DType::F32),
        BitwiseAnd | BitwiseOr | BitwiseXor if common.is_float() => {
            return Err(Error::Runtime(format!("{}: not implemented for '{}' tensors", op.name(), common.name())))
        }
        _ if op.is_compare() || op.is_logical() => (common, DType::Bool),
        _ => (common, common),
    })
}

/// On a plugin device, the check the CPU's integer kernels make on the host: division by
/// zero raises the same error everywhere (one reduction of the
/// divisor on the device, and one scalar read back).
fn check_integer_domain(op: BinaryOp, compute: DType, out: &Tensor, b: &Tensor) -> Result<()> {
    use BinaryOp::*;
    if compute.is_float() || compute == DType::Bool || out.numel() == 0 {
        return Ok(());
    }
    let (bad, why) = match op {
        FloorDivide | Fmod | Remainder => (Eq, format!("{}: ZeroDivisionError (integer division by zero)", op.name())),
        _ => return Ok(()),
    };
    let hit = crate::tensor::graph::with_grad_mode(false, || -> Result<bool> {
        let mask = binary(bad, &b.clone().into(), &Scalar::Int(0).into())?;
        let m8 = super::cast(&mask, DType::U8)?;
        let all: Vec<usize> = (0..m8.ndim()).collect();
        let any = super::reduce::reduce_raw(super::reduce::ReduceOp::Amax, &m8, &all, false)?;
        Ok(crate::dispatch::to_device(&any, crate::device::Device::Cpu)?.to_vec_f64().first().copied().unwrap_or(0.0) != 0.0)
    })?;
    if hit {
        return Err(Error::Runtime(why));
    }
    Ok(())
}

/// Forward of a binary op into `out` (already of the broadcast shape and result dtype) on
/// `out`'s device: operands brought there, cast to the kernel's operand dtype (bool for the
/// logical ops; bool arithmetic runs as logic) and broadcast through strides, then the kernel
/// through the dispatcher.
pub(crate) fn kernel_into(op: BinaryOp, compute: DType, out: &Tensor, a: &Tensor, b: &Tensor) -> Result<()> {
    use BinaryOp::*;
    let dev = out.device();
    let (a, b) = (crate::dispatch::to_device(a, dev)?, crate::dispatch::to_device(b, dev)?);
    if !dev.is_cpu() {
        // the CPU kernel reports a zero divisor as it meets it; a device kernel cannot
        check_integer_domain(op, compute, out, &b)?;
    }
    let shape = out.shape().to_vec();
    let mut kernel = op;
    let mut operand_dt = compute;
    if op.is_logical() {
        operand_dt = DType::Bool;
    } else if compute == DType::Bool && !op.is_compare() {
        kernel = match op {
            Add | BitwiseOr | Maximum => LogicalOr,
            Mul | BitwiseAnd | Minimum => LogicalAnd,
            BitwiseXor => LogicalXor,
            _ => return Err(Error::Runtime(format!("{}: not supported for bool tensors", op.name()))),
        };
    }
    let prep = |t: &Tensor| -> Result<Tensor> {
        let t = if t.dtype() != operand_dt { crate::tensor::graph::with_grad_mode(false, || super::cast(t, operand_dt))? } else { t.clone() };
        if t.shape() == shape.as_slice() {
            return Ok(t);
        }
        Ok(t.alias(t.layout().broadcast_to(op.name(), &shape)?))
    };
    let (pa, pb) = (prep(&a)?, prep(&b)?);
    crate::dispatch::launch(&crate::op::Op::Binary(kernel), &[out], &[&pa, &pb])
}

/// The operand checks PyTorch makes before promoting: subtraction refuses a bool operand
/// (a tensor or a Python bool) even when the other one would lift the result to a number.
fn check_operands(op: BinaryOp, a: &Operand, b: &Operand) -> Result<()> {
    let is_bool = |o: &Operand| match o {
        Operand::T(t) => t.dtype() == DType::Bool,
        Operand::S(s) => matches!(s, Scalar::Bool(_)),
        Operand::C(..) => false,
    };
    if op == BinaryOp::Pow {
        // PyTorch refuses a negative Python-number exponent of an integer base; a tensor
        // exponent computes (see the integer kernel)
        if let Operand::S(Scalar::Int(v @ i64::MIN..=-1)) = b {
            let base_int = match a {
                Operand::T(t) => !t.dtype().is_float() && t.dtype() != DType::Bool,
                Operand::S(s) => matches!(s, Scalar::Int(_)),
                Operand::C(..) => false,
            };
            if base_int && !result_type(a, b).is_float() {
                return Err(Error::Runtime(format!("pow: integers to negative integer powers are not allowed (exponent {v})")));
            }
        }
    }
    if op == BinaryOp::Sub {
        match (is_bool(a), is_bool(b)) {
            (true, true) => return Err(Error::Runtime("sub: Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or `logical_xor()` operator instead.".into())),
            (true, false) | (false, true) => return Err(Error::Runtime("sub: Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying to invert a mask, use the `~` or `logical_not()` operator instead.".into())),
            _ => {}
        }
    }
    Ok(())
}

/// Forward only, no autograd: returns the result and the compute-dtype inputs.
fn forward(op: BinaryOp, a: &Operand, b: &Operand) -> Result<(Tensor, Tensor, Tensor)> {
    check_operands(op, a, b)?;
    let shape = broadcast_shapes(op.name(), a.shape(), b.shape())?;
    let common = result_type(a, b);
    let (compute, out_dt) = op_dtypes(op, common)?;
    let dev = crate::dispatch::common(op.name(), &[a.tensor(), b.tensor()].into_iter().flatten().collect::<Vec<_>>())?;
    let (ta, tb) = crate::tensor::graph::with_grad_mode(false, || -> Result<_> {
        Ok((a.materialize(compute)?, b.materialize(compute)?))
    })?;
    let out = Tensor::empty_on(&shape, out_dt, dev)?;
    kernel_into(op, compute, &out, &ta, &tb)?;
    Ok((out, ta, tb))
}

/// The binary op with autograd. Scalars never receive gradients.
pub fn binary(op: BinaryOp, a: &Operand, b: &Operand) -> Result<Tensor> {
    if super::complex::involved(a, b) {
        return super::complex::binary(op, a, b);
    }
    let (out, _, _) = forward(op, a, b)?;
    let ins: Vec<&Tensor> = [a.tensor(), b.tensor()].into_iter().flatten().collect();
    if !out.dtype().is_float() || !crate::tensor::graph::needs_grad(&ins) {
        return Ok(out);
    }
    record_binary(op, a, b, &out)?;
    Ok(out)
}

fn record_binary(op: BinaryOp, a: &Operand, b: &Operand, out: &Tensor) -> Result<()> {
    use BinaryOp::*;
    // Scalars become constants in the formulas; only tensor operands get edges.
    let dt = out.dtype();
    let ta = match a {
        Operand::T(t) => t.clone(),
        o => o.materialize(dt)?,
    };
    let tb = match b {
        Operand::T(t) => t.clone(),
        o => o.materialize(dt)?,
    };
    let a_is_t = a.tensor().is_some();
    let b_is_t = b.tensor().is_some();
    let (sa, sb) = (ta.shape().to_vec(), tb.shape().to_vec());
    let (da, db) = (ta.dtype(), tb.dtype());
    let inputs: Vec<&Tensor> = match (a_is_t, b_is_t) {
        (true, true) => vec![&ta, &tb],
        (true, false) => vec![&ta],
        _ => vec![&tb],
    };
    // add/sub need no values for backward: save nothing (this is the hot path of training)
    let mut saves = if matches!(op, Add | Sub) { vec![] } else { vec![Save::Input(ta.clone()), Save::Input(tb.clone())] };
    if op == Pow {
        saves.push(Save::Output(0));
    }
    let name = format!("{}Backward0", match op {
        Add => "Add", Sub => "Sub", Mul => "Mul", Div => "Div", Pow => "Pow", Maximum => "Maximum",
        Minimum => "Minimum", Fmod => "Fmod", Remainder => "Remainder", Atan2 => "Atan2", _ => "NotDifferentiable",
    });
    record(&name, &inputs, &[out], saves, move |g, s| {
        let Some(g) = &g[0] else { return Ok(vec![None; inputs_len(a_is_t, b_is_t)]) };
        let (ga, gb): (Option<Tensor>, Option<Tensor>) = match op {
            Add => (Some(g.clone()), Some(g.clone())),
            Sub => (Some(g.clone()), Some(mul_scalar(g, -1.0)?)),
            _ => {
                let (x, y) = (&s[0], &s[1]);
                match op {
            Mul => (Some(mul(g, y)?), Some(mul(g, x)?)),
            Div => {
                let ga = div(g, y)?;
                let gb = mul_scalar(&div(&mul(&ga, x)?, y)?, -1.0)?;
                (Some(ga), Some(gb))
            }
            Pow => {
                // d/dx = y * x^(y-1); d/dy = out * log(x), zero where x == 0 and y >= 0
                let ym1 = binary(Sub, &y.clone().into(), &Scalar::Float(1.0).into())?;
                let ga = mul(g, &mul(y, &binary(Pow, &x.clone().into(), &ym1.into())?)?)?;
                let gb = if b_is_t {
                    let logx = super::unary(super::UnaryOp::Log, x)?;
                    let t = mul(g, &mul(&s[2], &logx)?)?;
                    let x_zero = binary(Eq, &x.clone().into(), &Scalar::Float(0.0).into())?;
                    let y_nonneg = binary(Ge, &y.clone().into(), &Scalar::Float(0.0).into())?;
                    let mask = binary(LogicalAnd, &x_zero.into(), &y_nonneg.into())?;
                    Some(where_(&mask, &super::zeros_like(&t)?, &t)?)
                } else {
                    None
                };
                (Some(ga), gb)
            }
            Maximum | Minimum => {
                let pick = if op == Maximum { Gt } else { Lt };
                let ma = super::cast(&binary(pick, &x.clone().into(), &y.clone().into())?, g.dtype())?;
                let eq = super::cast(&binary(Eq, &x.clone().into(), &y.clone().into())?, g.dtype())?;
                let wa = add(&ma, &mul_scalar(&eq, 0.5)?)?;
                let wb = binary(Sub, &Scalar::Float(1.0).into(), &wa.clone().into())?;
                (Some(mul(g, &wa)?), Some(mul(g, &wb)?))
            }
            Fmod | Remainder => {
                let q = div(x, y)?;
                let q = super::unary(if op == Fmod { super::UnaryOp::Trunc } else { super::UnaryOp::Floor }, &q)?;
                (Some(g.clone()), Some(mul_scalar(&mul(g, &q)?, -1.0)?))
            }
            Atan2 => {
                let den = add(&mul(x, x)?, &mul(y, y)?)?;
                (Some(div(&mul(g, y)?, &den)?), Some(mul_scalar(&div(&mul(g, x)?, &den)?, -1.0)?))
            }
            _ => (None, None),
                }
            }
        };
        let fix = |gr: Option<Tensor>, shape: &[usize], dtype: DType| -> Result<Option<Tensor>> {
            match gr {
                None => Ok(None),
                Some(t) => {
                    let t = sum_to(&t, shape)?;
                    Ok(Some(if t.dtype() != dtype && dtype.is_float() { super::cast(&t, dtype)? } else { t }))
                }
            }
        };
        let mut res = Vec::new();
        if a_is_t {
            res.push(fix(ga, &sa, da)?);
        }
        if b_is_t {
            res.push(fix(gb, &sb, db)?);
        }
        Ok(res)
    });
    Ok(())
}

fn inputs_len(a: bool, b: bool) -> usize {
    a as usize + b as usize
}

pub fn add(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(BinaryOp::Add, &a.clone().into(), &b.clone().into())
}
pub fn sub(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(BinaryOp::Sub, &a.clone().into(), &b.clone().into())
}
pub fn mul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(BinaryOp::Mul, &a.clone().into(), &b.clone().into())
}
pub fn div(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(BinaryOp::Div, &a.clone().into(), &b.clone().into())
}

/// In-place binary op: `a op= b`, keeping `a`'s dtype (an error if the result type can't be
/// cast to it, as PyTorch does).
pub fn binary_(op: BinaryOp, a: &Tensor, b: &Operand) -> Result<()> {
    let ao: Operand = a.clone().into();
    if super::complex::involved(&ao, b) {
        return super::complex::binary_(op, a, b);
    }
    check_operands(op, &ao, b)?;
    let common = result_type(&ao, b);
    let (_, out_dt) = op_dtypes(op, common)?;
    if out_dt.category() > a.dtype().category() {
        return Err(Error::Runtime(format!(
            "{}_: result type {} can't be cast to the desired output type {}",
            op.name(),
            out_dt.name(),
            a.dtype().name()
        )));
    }
    let bshape = broadcast_shapes(op.name(), a.shape(), b.shape())?;
    if bshape != a.shape() {
        return Err(Error::Runtime(format!(
            "{}_: output with shape {:?} doesn't match the broadcast shape {:?}",
            op.name(),
            a.shape(),
            bshape
        )));
    }
    let others: Vec<&Tensor> = b.tensor().into_iter().collect();
    let name = format!("{}_", op.name());
    crate::dispatch::common(&name, &[&[a][..], &others[..]].concat())?;
    crate::dispatch::check_write(&name, a)?;
    let needs = crate::tensor::graph::needs_grad(&[a]) || crate::tensor::graph::needs_grad(&others)
        || a.view_base().is_some_and(|v| crate::tensor::graph::is_grad_enabled() && v.requires_grad());
    if !needs && out_dt == a.dtype() && common == a.dtype() {
        // Fast path: write straight into `a`.
        let tb = crate::tensor::graph::with_grad_mode(false, || b.materialize(common))?;
        let tb = crate::dispatch::unaliased_source(a, &tb)?;
        kernel_into(op, common, a, a, &tb)?;
        a.storage().bump_version();
        return Ok(());
    }
    let bs = match b {
        Operand::S(s) => Some(*s),
        _ => None,
    };
    crate::ops::inplace::apply_inplace(&format!("{}_", op.name()), a, &others, move |old, others| {
        let bo: Operand = match bs {
            Some(s) => s.into(),
            None => others[0].clone().into(),
        };
        let r = binary(op, &old.clone().into(), &bo)?;
        super::cast(&r, old.dtype())
    })
}
