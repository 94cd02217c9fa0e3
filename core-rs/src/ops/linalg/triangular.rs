//! Triangular solves `A X = B` with `A` upper or lower (optionally with a unit diagonal that is
//! not read). The right-side form `X A = B` is the transposed left one, built by the caller.
use super::batch::{for_each, Out, Stack};
use super::by_dtype;
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use faer::linalg::triangular_solve as ts;

/// X with `A X = B` for each matrix of the batch; `a` and `b` share batch dims (the caller
/// broadcasts them).
pub fn solve_triangular(a: &Tensor, b: &Tensor, upper: bool, unitriangular: bool) -> Result<Tensor> {
    let op = "linalg.solve_triangular";
    let s = Stack::new(op, a, "A")?.square(op, "A")?;
    if a.dtype() != b.dtype() {
        return Err(Error::Runtime(format!(
            "{op}: Expected A and B to have the same dtype, but found A of type {} and B of type {} instead",
            a.dtype().name(),
            b.dtype().name()
        )));
    }
    let bs = Stack::new(op, b, "B")?;
    if bs.batch != s.batch || bs.m != s.n {
        return Err(Error::Runtime(format!(
            "{op}: Incompatible shapes of A and B for the equation AX = B ({:?} and {:?})",
            a.shape(),
            b.shape()
        )));
    }
    let (n, k) = (s.n, bs.n);
    let out = Out::new(&s.batch, &[n, k], s.dtype())?;
    by_dtype!(s.dtype(), T => for_each(s.count(), n * n * k, |i, par| {
        let t = s.mat::<T>(i);
        let mut x = bs.owned::<T>(i);
        match (upper, unitriangular) {
            (true, false) => ts::solve_upper_triangular_in_place(t, x.as_mut(), par),
            (true, true) => ts::solve_unit_upper_triangular_in_place(t, x.as_mut(), par),
            (false, false) => ts::solve_lower_triangular_in_place(t, x.as_mut(), par),
            (false, true) => ts::solve_unit_lower_triangular_in_place(t, x.as_mut(), par),
        }
        unsafe { out.mat::<T>(i, n, k) }.copy_from(&x);
    }));
    out.finish(a.dtype())
}
