//! Fused bias + GELU (a Linear layer's bias add and the activation after it) forward and
//! backward, in the exact erf form or the tanh approximation. Forward reads x once and writes
//! y once; backward recomputes x + b instead of saving it, and the bias gradient is the sum of
//! the input gradient over the rows.
use super::copy::{staged, staging_out, unstage};
use super::rows::{as_f32, as_f32_mut, par_rows, simd_fn, Fl};
use super::{binary, sum_to, unary, BinaryOp, Scalar, UnaryOp};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::kernels::SendPtr;
use crate::op::fused_nn::NnOp;
use crate::op::FusedOp;
use crate::tensor::graph::{self as autograd, record, Save};
use crate::tensor::Tensor;

mod erf512;

const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
const COEF: f64 = 0.044_715;
const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

/// (gelu(z), gelu'(z)) in the tanh form: gelu = z * sigmoid(2u), u = √(2/π)(z + 0.044715 z³),
/// which is 0.5 z (1 + tanh u) without tanh's cancellation for large negative u.
#[inline(always)]
fn tanh_form<T: Fl>(z: T) -> (T, T) {
    let (c, k) = (T::of(SQRT_2_OVER_PI), T::of(COEF));
    let z2 = z * z;
    let u = c * (z + k * z2 * z);
    let s = T::one() / (T::one() + (T::zero() - (u + u)).exp_());
    let du = c * (T::one() + T::of(3.0) * k * z2);
    (z * s, s + z * (s * (T::one() - s)) * (du + du))
}

#[inline(always)]
fn erf_form<T: Fl>(z: T) -> (T, T) {
    let p = z.phi();
    (z * p, p + z * T::of(INV_SQRT_2PI) * (T::of(-0.5) * z * z).exp_())
}

/// dst[i] = f(x[i] + b[i]) (or f(x[i])), or g[i] * f'(..) with a gradient: one loop per case,
/// each calling `$f` directly so it inlines into straight vector code (a closure or fn item
/// passed as `impl Fn` stays an out-of-line scalar call inside the AVX2 copy).
macro_rules! apply {
    ($dst:expr, $g:expr, $x:expr, $b:expr, $f:path) => {
        match ($g, $b) {
            (None, Some(b)) => {
                for ((d, &v), &bv) in $dst.iter_mut().zip($x).zip(b) {
                    *d = $f(v + bv).0;
                }
            }
            (None, None) => {
                for (d, &v) in $dst.iter_mut().zip($x) {
                    *d = $f(v).0;
                }
            }
            (Some(g), Some(b)) => {
                for (((d, &gv), &v), &bv) in $dst.iter_mut().zip(g).zip($x).zip(b) {
                    *d = gv * $f(v + bv).1;
                }
            }
            (Some(g), None) => {
                for ((d, &gv), &v) in $dst.iter_mut().zip(g).zip($x) {
                    *d = gv * $f(v).1;
                }
            }
        }
    };
}

simd_fn! {
    /// gelu(x + b), or with `g` the input gradient g * gelu'(x + b), over one row.
    fn gelu_row<T: Fl>(dst: &mut [T], g: Option<&[T]>, x: &[T], b: Option<&[T]>, tanh: bool) {
        if tanh {
            apply!(dst, g, x, b, tanh_form)
        } else {
            apply!(dst, g, x, b, erf_form)
        }
    }
}

/// The exact form over an f32 row by the AVX-512 kernel; false (nothing written) for other
/// element types or where the CPU lacks AVX-512.
fn erf_row_f32<T: Fl>(dst: &mut [T], g: Option<&[T]>, x: &[T], b: Option<&[T]>) -> bool {
    match (as_f32_mut(dst), as_f32(x)) {
        (Some(d), Some(x)) => erf512::gelu_erf(d, g.and_then(as_f32), x, b.and_then(as_f32)),
        _ => false,
    }
}

fn float_dtype(t: &Tensor) -> Result<DType> {
    match t.dtype() {
        DType::F32 | DType::F64 => Ok(t.dtype()),
        d => Err(Error::Runtime(format!("bias_gelu: the fused kernel takes float32 or float64, got {} of shape {:?}", d.name(), t.shape()))),
    }
}

/// Rows of the bias's length (the whole tensor as one row without a bias, split evenly).
fn rows_of(x: &Tensor, has_bias: bool) -> (usize, usize) {
    let n = if has_bias { x.shape().last().copied().unwrap_or(1) } else { x.numel().min(4096) };
    if n == 0 {
        return (0, 0);
    }
    (x.numel().div_ceil(n), n)
}

/// The fused kernels of bias + GELU (`NnOp::BiasGelu` with `grad` None, `NnOp::BiasGeluBackward`
/// with the output gradient): outs[0] = gelu(x + b) or g * gelu'(x + b).
pub(crate) fn bias_gelu_cpu_kernel(tanh: bool, out: &Tensor, grad: Option<&Tensor>, x: &Tensor, bias: Option<&Tensor>) -> Result<()> {
    fn go<T: Fl>(tanh: bool, out: &Tensor, grad: Option<&Tensor>, x: &Tensor, bias: Option<&Tensor>) -> Result<()> {
        let x = staged(x, T::DT)?;
        let g = grad.map(|g| staged(g, T::DT)).transpose()?;
        let b = bias.map(|b| staged(b, T::DT)).transpose()?;
        let (rows, n) = rows_of(&x, b.is_some());
        let total = x.numel();
        let (xs, gs, bs) = (x.as_slice::<T>(), g.as_ref().map(|g| g.as_slice::<T>()), b.as_ref().map(|b| b.as_slice::<T>()));
        let dst = staging_out(out, T::DT)?;
        let p = SendPtr(dst.data_ptr());
        par_rows(rows, n * 8, |r0, r1| {
            for r in r0..r1 {
                let (s, e) = (r * n, ((r + 1) * n).min(total));
                let d = unsafe { std::slice::from_raw_parts_mut((p.get() as *mut T).add(s), e - s) };
                let g = gs.map(|g| &g[s..e]);
                if !tanh && erf_row_f32(d, g, &xs[s..e], bs) {
                    continue;
                }
                gelu_row::<T>(d, g, &xs[s..e], bs, tanh);
            }
        });
        unstage(out, &dst)
    }
    if float_dtype(x)? == DType::F64 { go::<f64>(tanh, out, grad, x, bias) } else { go::<f32>(tanh, out, grad, x, bias) }
}

/// gelu(x + bias) (`bias` over the last dim, or none), on the CPU for float32/float64; `tanh`
/// picks the tanh approximation.
pub fn bias_gelu(x: &Tensor, bias: Option<&Tensor>, tanh: bool) -> Result<Tensor> {
    let dt = float_dtype(x)?;
    if let Some(b) = bias {
        if b.ndim() != 1 || x.ndim() == 0 || b.shape()[0] != x.shape()[x.ndim() - 1] || b.dtype() != dt {
            return Err(Error::Runtime(format!(
                "bias_gelu: bias of shape {:?} and dtype {} must be 1-D with the last dim and dtype of input {:?} ({})",
                b.shape(),
                b.dtype().name(),
                x.shape(),
                dt.name()
            )));
        }
    }
    let has_bias = bias.is_some();
    let y = Tensor::empty(x.shape(), dt)?;
    let ins: Vec<&Tensor> = [Some(x), bias].into_iter().flatten().collect();
    crate::dispatch::launch_fused(&FusedOp::Nn(NnOp::BiasGelu { tanh, has_bias }), &[&y], &ins)?;
    let saves = ins.iter().map(|t| Save::Input((*t).clone())).collect();
    let b_grad = bias.is_some_and(|b| b.requires_grad());
    record("GeluBackward0", &ins, &[&y], saves, move |g, sv| {
        let Some(g) = &g[0] else { return Ok(vec![None; 1 + has_bias as usize]) };
        let b = has_bias.then(|| &sv[1]);
        let gz = if autograd::is_grad_enabled() && (g.requires_grad() || sv.iter().any(|t| t.requires_grad())) {
            differentiable_grad(g, &sv[0], b, tanh)?
        } else {
            let gz = Tensor::empty(sv[0].shape(), dt)?;
            let mut args = vec![g, &sv[0]];
            if let Some(b) = b {
                args.push(b);
            }
            crate::dispatch::launch_fused(&FusedOp::Nn(NnOp::BiasGeluBackward { tanh, has_bias }), &[&gz], &args)?;
            gz
        };
        let mut out = vec![];
        if has_bias {
            out.push(Some(gz.clone()));
            out.push(if b_grad { Some(sum_to(&gz, sv[1].shape())?) } else { None });
        } else {
            out.push(Some(gz));
        }
        Ok(out)
    });
    Ok(y)
}

fn scal(op: BinaryOp, t: &Tensor, v: f64) -> Result<Tensor> {
    binary::binary(op, &t.clone().into(), &Scalar::Float(v).into())
}

/// g * gelu'(x + b) from differentiable primitives, for double backward.
fn differentiable_grad(g: &Tensor, x: &Tensor, b: Option<&Tensor>, tanh: bool) -> Result<Tensor> {
    use BinaryOp::{Add, Mul};
    let z = match b {
        Some(b) => binary::add(x, b)?,
        None => x.clone(),
    };
    let z2 = binary::mul(&z, &z)?;
    let d = if tanh {
        // 0.5 (1 + t) + 0.5 z (1 - t²) √(2/π) (1 + 3k z²), t = tanh(√(2/π)(z + k z³))
        let u = scal(Mul, &binary::add(&z, &scal(Mul, &binary::mul(&z2, &z)?, COEF)?)?, SQRT_2_OVER_PI)?;
        let t = unary::unary(UnaryOp::Tanh, &u)?;
        let one_minus_t2 = scal(Add, &scal(Mul, &binary::mul(&t, &t)?, -1.0)?, 1.0)?;
        let du = scal(Mul, &scal(Add, &scal(Mul, &z2, 3.0 * COEF)?, 1.0)?, SQRT_2_OVER_PI)?;
        binary::add(&scal(Mul, &scal(Add, &t, 1.0)?, 0.5)?, &scal(Mul, &binary::mul(&binary::mul(&z, &one_minus_t2)?, &du)?, 0.5)?)?
    } else {
        // Φ(z) + z φ(z)
        let cdf = scal(Mul, &scal(Add, &unary::unary(UnaryOp::Erf, &scal(Mul, &z, std::f64::consts::FRAC_1_SQRT_2)?)?, 1.0)?, 0.5)?;
        let pdf = scal(Mul, &unary::unary(UnaryOp::Exp, &scal(Mul, &z2, -0.5)?)?, INV_SQRT_2PI)?;
        binary::add(&cdf, &binary::mul(&z, &pdf)?)?
    };
    binary::mul(g, &d)
}
