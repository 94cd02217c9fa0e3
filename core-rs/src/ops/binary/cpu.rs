//! The CPU kernels of the binary family: float (computed in `T::C`, the half types through
//! f32), integer (wrapping arithmetic, PyTorch's floor division and integer powers, division by
//! zero refused) and bool (arithmetic as logic), on operands already broadcast through strides.
use super::BinaryOp;
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::kernels::elementwise::map2;
use crate::kernels::float::FloatElem;
use crate::tensor::Tensor;
use crate::{dispatch_float, dispatch_int};
use num_traits::{Float, Zero};

/// Floor division of floats as PyTorch computes it: from fmod, so that a // b is the integer
/// nearest the exact quotient's floor (inf // 3 is NaN, -3 // inf is -1, 0 // -3 is -0).
fn div_floor<C: Float>(a: C, b: C) -> C {
    let zero = C::zero();
    if b == zero {
        return a / b;
    }
    let m = a % b;
    let mut div = (a - m) / b;
    if m != zero && (b < zero) != (m < zero) {
        div = div - C::one();
    }
    if div == zero {
        return if (a / b).is_sign_negative() { -zero } else { zero };
    }
    let f = div.floor();
    if div - f > C::from(0.5).unwrap() { f + C::one() } else { f }
}

unsafe fn float_kernel<T: FloatElem>(op: BinaryOp, shape: &[usize], out: &Tensor, a: (&Tensor, &[isize]), b: (&Tensor, &[isize])) {
    let o = (out.data_ptr() as *mut T, out.strides());
    let pa = (a.0.data_ptr() as *const T, a.1);
    let pb = (b.0.data_ptr() as *const T, b.1);
    let ob = (out.data_ptr() as *mut bool, out.strides());
    macro_rules! go {
        ($f:expr) => {
            map2::<T, T, T>(shape, o, pa, pb, |x: T, y: T| T::down($f(x.up(), y.up())))
        };
    }
    macro_rules! cmp {
        ($f:expr) => {
            map2::<T, T, bool>(shape, ob, pa, pb, |x: T, y: T| $f(x.up(), y.up()))
        };
    }
    let zero = <T::C as Zero>::zero();
    use BinaryOp::*;
    match op {
        Add => go!(|x: T::C, y: T::C| x + y),
        Sub => go!(|x: T::C, y: T::C| x - y),
        Mul => go!(|x: T::C, y: T::C| x * y),
        Div => go!(|x: T::C, y: T::C| x / y),
        FloorDivide => go!(|x: T::C, y: T::C| div_floor(x, y)),
        Pow => go!(|x: T::C, y: T::C| x.powf(y)),
        // NaN propagates; otherwise the first operand unless the second is strictly past it
        // (so maximum(0.0, -0.0) is 0.0 and maximum(-0.0, 0.0) is -0.0, as PyTorch)
        Maximum => go!(|x: T::C, y: T::C| if x.is_nan() || y.is_nan() { x + y } else if x < y { y } else { x }),
        Minimum => go!(|x: T::C, y: T::C| if x.is_nan() || y.is_nan() { x + y } else if y < x { y } else { x }),
        Fmod => go!(|x: T::C, y: T::C| x % y),
        Remainder => go!(|x: T::C, y: T::C| {
            let r = x % y;
            if r != zero && ((r < zero) != (y < zero)) { r + y } else { r }
        }),
        Atan2 => go!(|x: T::C, y: T::C| x.atan2(y)),
        Eq => cmp!(|x: T::C, y: T::C| x == y),
        Ne => cmp!(|x: T::C, y: T::C| x != y),
        Lt => cmp!(|x: T::C, y: T::C| x < y),
        Le => cmp!(|x: T::C, y: T::C| x <= y),
        Gt => cmp!(|x: T::C, y: T::C| x > y),
        Ge => cmp!(|x: T::C, y: T::C| x >= y),
        LogicalAnd => cmp!(|x: T::C, y: T::C| x != zero && y != zero),
        LogicalOr => cmp!(|x: T::C, y: T::C| x != zero || y != zero),
        LogicalXor => cmp!(|x: T::C, y: T::C| (x != zero) != (y != zero)),
        BitwiseAnd | BitwiseOr | BitwiseXor => unreachable!(),
    }
}

fn any_zero<T: Element + PartialEq>(t: &Tensor) -> bool {
    let c = crate::ops::contiguous(t).expect("contiguous");
    let z = T::zero_val();
    c.as_slice::<T>().iter().any(|&v| v == z)
}

unsafe fn int_kernel<T: Element + num_traits::PrimInt + num_traits::WrappingAdd + num_traits::WrappingSub + num_traits::WrappingMul>(
    op: BinaryOp,
    shape: &[usize],
    out: &Tensor,
    a: (&Tensor, &[isize]),
    b: (&Tensor, &[isize]),
) -> Result<()> {
    let o = (out.data_ptr() as *mut T, out.strides());
    let pa = (a.0.data_ptr() as *const T, a.1);
    let pb = (b.0.data_ptr() as *const T, b.1);
    let ob = (out.data_ptr() as *mut bool, out.strides());
    let zero = <T as Element>::zero_val();
    let one = <T as Element>::one_val();
    let signed = T::min_value() < zero;
    use BinaryOp::*;
    // checked per element computed, as PyTorch: an empty result divides nothing
    let computes = shape.iter().product::<usize>() > 0;
    if matches!(op, FloorDivide | Fmod | Remainder) && computes && any_zero::<T>(b.0) {
        return Err(Error::Runtime(format!("{}: ZeroDivisionError (integer division by zero)", op.name())));
    }
    match op {
        Add => map2::<T, T, T>(shape, o, pa, pb, |x, y| x.wrapping_add(&y)),
        Sub => map2::<T, T, T>(shape, o, pa, pb, |x, y| x.wrapping_sub(&y)),
        Mul => map2::<T, T, T>(shape, o, pa, pb, |x, y| x.wrapping_mul(&y)),
        FloorDivide => map2::<T, T, T>(shape, o, pa, pb, |x, y| {
            if signed && y == zero.wrapping_sub(&one) {
                return zero.wrapping_sub(&x);
            }
            let q = x / y;
            if (x % y != zero) && ((x < zero) != (y < zero)) { q - one } else { q }
        }),
        Fmod => map2::<T, T, T>(shape, o, pa, pb, |x, y| if signed && y == zero.wrapping_sub(&one) { zero } else { x % y }),
        Remainder => map2::<T, T, T>(shape, o, pa, pb, |x, y| {
            if signed && y == zero.wrapping_sub(&one) {
                return zero;
            }
            let r = x % y;
            if r != zero && ((r < zero) != (y < zero)) { r + y } else { r }
        }),
        Pow => map2::<T, T, T>(shape, o, pa, pb, |x, y| {
            if y < zero {
                // a tensor exponent below zero, as PyTorch: 1 and -1 keep their magnitude,
                // every other base truncates to 0 (a Python-number exponent is refused earlier)
                let minus_one = zero.wrapping_sub(&one);
                return if x == one {
                    one
                } else if x == minus_one {
                    if (zero.wrapping_sub(&y)) % (one + one) == one { minus_one } else { one }
                } else {
                    zero
                };
            }
            let mut e = y.to_u64().unwrap_or(0);
            let mut base = x;
            let mut acc = one;
            while e > 0 {
                if e & 1 == 1 {
                    acc = acc.wrapping_mul(&base);
                }
                base = base.wrapping_mul(&base);
                e >>= 1;
            }
            acc
        }),
        Maximum => map2::<T, T, T>(shape, o, pa, pb, |x, y| if x > y { x } else { y }),
        Minimum => map2::<T, T, T>(shape, o, pa, pb, |x, y| if x < y { x } else { y }),
        BitwiseAnd => map2::<T, T, T>(shape, o, pa, pb, |x, y| x & y),
        BitwiseOr => map2::<T, T, T>(shape, o, pa, pb, |x, y| x | y),
        BitwiseXor => map2::<T, T, T>(shape, o, pa, pb, |x, y| x ^ y),
        Eq => map2::<T, T, bool>(shape, ob, pa, pb, |x, y| x == y),
        Ne => map2::<T, T, bool>(shape, ob, pa, pb, |x, y| x != y),
        Lt => map2::<T, T, bool>(shape, ob, pa, pb, |x, y| x < y),
        Le => map2::<T, T, bool>(shape, ob, pa, pb, |x, y| x <= y),
        Gt => map2::<T, T, bool>(shape, ob, pa, pb, |x, y| x > y),
        Ge => map2::<T, T, bool>(shape, ob, pa, pb, |x, y| x >= y),
        LogicalAnd => map2::<T, T, bool>(shape, ob, pa, pb, |x, y| x != zero && y != zero),
        LogicalOr => map2::<T, T, bool>(shape, ob, pa, pb, |x, y| x != zero || y != zero),
        LogicalXor => map2::<T, T, bool>(shape, ob, pa, pb, |x, y| (x != zero) != (y != zero)),
        Div | Atan2 => unreachable!(),
    }
    Ok(())
}

unsafe fn bool_kernel(op: BinaryOp, shape: &[usize], out: &Tensor, a: (&Tensor, &[isize]), b: (&Tensor, &[isize])) -> Result<()> {
    let o = (out.data_ptr() as *mut bool, out.strides());
    let pa = (a.0.data_ptr() as *const bool, a.1);
    let pb = (b.0.data_ptr() as *const bool, b.1);
    use BinaryOp::*;
    match op {
        Add | BitwiseOr | LogicalOr | Maximum => map2::<bool, bool, bool>(shape, o, pa, pb, |x, y| x | y),
        Mul | BitwiseAnd | LogicalAnd | Minimum => map2::<bool, bool, bool>(shape, o, pa, pb, |x, y| x & y),
        BitwiseXor | LogicalXor | Ne => map2::<bool, bool, bool>(shape, o, pa, pb, |x, y| x ^ y),
        Eq => map2::<bool, bool, bool>(shape, o, pa, pb, |x, y| x == y),
        Lt => map2::<bool, bool, bool>(shape, o, pa, pb, |x, y| !x & y),
        Le => map2::<bool, bool, bool>(shape, o, pa, pb, |x, y| x <= y),
        Gt => map2::<bool, bool, bool>(shape, o, pa, pb, |x, y| x & !y),
        Ge => map2::<bool, bool, bool>(shape, o, pa, pb, |x, y| x >= y),
        _ => return Err(Error::Runtime(format!("{}: not supported for bool tensors", op.name()))),
    }
    Ok(())
}

/// The CPU kernel of the binary family in the contract's form: `a` and `b` of one dtype (the
/// kernel's operand dtype), already broadcast to `out`'s shape through their strides.
pub(crate) fn cpu_kernel(op: BinaryOp, out: &Tensor, a: &Tensor, b: &Tensor) -> Result<()> {
    let shape = out.shape();
    let compute = a.dtype();
    unsafe {
        if compute == DType::Bool {
            bool_kernel(op, shape, out, (a, a.strides()), (b, b.strides()))
        } else if compute.is_float() {
            dispatch_float!(compute, T => float_kernel::<T>(op, shape, out, (a, a.strides()), (b, b.strides())));
            Ok(())
        } else {
            dispatch_int!(compute, T => int_kernel::<T>(op, shape, out, (a, a.strides()), (b, b.strides())))
        }
    }
}
