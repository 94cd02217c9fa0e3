//! `where(cond, a, b)`: the elementwise select, with broadcasting, PyTorch's promotion of `a`
//! and `b`, its CPU kernel and its derivative.
use super::{inputs_len, result_type, Operand};
use crate::dispatch;
use crate::dtype::DType;
use crate::error::Result;
use crate::kernels::elementwise::map3;
use crate::layout::broadcast_shapes;
use crate::ops::sum_to;
use crate::tensor::graph::{record, Save};
use crate::tensor::Tensor;

/// The CPU kernel of where in the contract's form: `cond` (bool), `a` and `b` (`out`'s
/// dtype), all three already broadcast to `out`'s shape through their strides.
pub(crate) fn where_cpu_kernel(out: &Tensor, cond: &Tensor, a: &Tensor, b: &Tensor) -> Result<()> {
    let shape = out.shape();
    dispatch!(out.dtype(), T => unsafe {
        map3::<bool, T, T, T>(shape, (out.data_ptr() as *mut T, out.strides()), (cond.data_ptr() as *const bool, cond.strides()),
            (a.data_ptr() as *const T, a.strides()), (b.data_ptr() as *const T, b.strides()), |c, x, y| if c { x } else { y })
    });
    Ok(())
}

/// `where(cond, a, b)`: elementwise select with broadcasting.
pub fn where_(cond: &Tensor, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    where_op(cond, &a.clone().into(), &b.clone().into())
}

pub fn where_op(cond: &Tensor, a: &Operand, b: &Operand) -> Result<Tensor> {
    if crate::ops::complex::involved(a, b) {
        return crate::ops::complex::where_op(cond, a, b);
    }
    let s1 = broadcast_shapes("where", cond.shape(), a.shape())?;
    let shape = broadcast_shapes("where", &s1, b.shape())?;
    let dt = result_type(a, b);
    let dev = crate::dispatch::common("where", &[Some(cond), a.tensor(), b.tensor()].into_iter().flatten().collect::<Vec<_>>())?;
    let c = if cond.dtype() == DType::Bool { cond.clone() } else { crate::ops::cast(cond, DType::Bool)? };
    let (ta, tb) = crate::tensor::graph::with_grad_mode(false, || -> Result<_> { Ok((a.materialize(dt)?, b.materialize(dt)?)) })?;
    let out = Tensor::empty_on(&shape, dt, dev)?;
    let m = |t: &Tensor| -> Result<Tensor> {
        let t = crate::dispatch::to_device(t, dev)?;
        Ok(t.alias(t.layout().broadcast_to("where", &shape)?))
    };
    let (c2, a2, b2) = (m(&c)?, m(&ta)?, m(&tb)?);
    crate::dispatch::launch(&crate::op::Op::Where, &[&out], &[&c2, &a2, &b2])?;
    let ins: Vec<&Tensor> = [a.tensor(), b.tensor()].into_iter().flatten().collect();
    if dt.is_float() && crate::tensor::graph::needs_grad(&ins) {
        let (a_t, b_t) = (a.tensor().is_some(), b.tensor().is_some());
        let sa = a.shape().to_vec();
        let sb = b.shape().to_vec();
        let (da, db) = (a.tensor().map(|t| t.dtype()), b.tensor().map(|t| t.dtype()));
        record("WhereBackward0", &ins, &[&out], vec![Save::Input(c.clone())], move |g, s| {
            let Some(g) = &g[0] else { return Ok(vec![None; inputs_len(a_t, b_t)]) };
            let z = crate::ops::zeros_like(g)?;
            let mut r = Vec::new();
            if a_t {
                let t = sum_to(&where_(&s[0], g, &z)?, &sa)?;
                r.push(Some(crate::ops::cast(&t, da.unwrap())?));
            }
            if b_t {
                let t = sum_to(&where_(&s[0], &z, g)?, &sb)?;
                r.push(Some(crate::ops::cast(&t, db.unwrap())?));
            }
            Ok(r)
        });
    }
    Ok(out)
}
