//! Cholesky factorisation `A = L L^T` (or `U^T U`), reading one triangle of `A` as LAPACK does.
use super::batch::{for_each, info_tensor, Infos, Out, Stack};
use super::by_dtype;
use crate::dtype::Element;
use crate::error::Result;
use crate::tensor::Tensor;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt::factor;
use faer::Mat;

/// (L, info) — `L` lower (or, with `upper`, `U = L^T` from the upper triangle of `A`);
/// `info[b]` is the order of the first leading minor of matrix `b` that is not positive
/// definite, 0 when the factorisation succeeded.
pub fn cholesky(a: &Tensor, upper: bool) -> Result<(Tensor, Tensor)> {
    let op = "linalg.cholesky";
    let s = Stack::new(op, a, "A")?.square(op, "A")?;
    let n = s.n;
    let out = Out::new(&s.batch, &[n, n], s.dtype())?;
    let infos = Infos::new(s.count());
    by_dtype!(s.dtype(), T => for_each(s.count(), n * n * n / 3, |i, par| {
        let src = s.mat::<T>(i);
        let mut l = Mat::<T>::zeros(n, n);
        if upper {
            l.copy_from_triangular_lower(src.transpose());
        } else {
            l.copy_from_triangular_lower(src);
        }
        let mut buf = MemBuffer::new(factor::cholesky_in_place_scratch::<T>(n, par, Default::default()));
        let reg = factor::LltRegularization { dynamic_regularization_delta: T::zero_val(), dynamic_regularization_epsilon: T::zero_val() };
        if let Err(factor::LltError::NonPositivePivot { index }) =
            factor::cholesky_in_place(l.as_mut(), reg, par, MemStack::new(&mut buf), Default::default())
        {
            infos.set(i, index as i32 + 1);
            return;
        }
        let mut o = unsafe { out.mat::<T>(i, n, n) };
        for r in 0..n {
            for c in 0..=r {
                if upper {
                    o[(c, r)] = l[(r, c)];
                } else {
                    o[(r, c)] = l[(r, c)];
                }
            }
        }
    }));
    Ok((out.finish(a.dtype())?, info_tensor(&s.batch, infos.into_vec())?))
}
