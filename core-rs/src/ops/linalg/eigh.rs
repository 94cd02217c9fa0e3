//! Eigendecomposition of symmetric matrices `A = V diag(w) V^T`, eigenvalues ascending,
//! reading one triangle of `A` (UPLO) as LAPACK's syevd does.
use super::batch::{for_each, Infos, Out, Stack};
use super::by_dtype;
use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::evd::{self_adjoint_evd, self_adjoint_evd_scratch, ComputeEigenvectors};
use faer::diag::Diag;
use faer::Mat;

/// (w, V); without `compute_v`, V is empty (shape [0]).
pub fn eigh(a: &Tensor, upper: bool, compute_v: bool) -> Result<(Tensor, Tensor)> {
    let op = "linalg.eigh";
    let s = Stack::new(op, a, "A")?.square(op, "A")?;
    let n = s.n;
    let w = Out::new(&s.batch, &[n], s.dtype())?;
    let v = Out::new(&s.batch, &(if compute_v { vec![n, n] } else { vec![0] }), s.dtype())?;
    let failed = Infos::new(s.count());
    let mode = if compute_v { ComputeEigenvectors::Yes } else { ComputeEigenvectors::No };
    by_dtype!(s.dtype(), T => for_each(s.count(), n * n * n * 4, |i, par| {
        // faer reads the lower triangle; the upper one of A is the lower one of A^T
        let src = if upper { s.mat::<T>(i).transpose() } else { s.mat::<T>(i) };
        let mut wd = Diag::<T>::zeros(n);
        let mut vm = Mat::<T>::zeros(n, n);
        let mut buf = MemBuffer::new(self_adjoint_evd_scratch::<T>(n, mode, par, Default::default()));
        let r = self_adjoint_evd(src, wd.as_mut(), if compute_v { Some(vm.as_mut()) } else { None }, par, MemStack::new(&mut buf), Default::default());
        if r.is_err() || (0..n).any(|j| !wd[j].to_f64().is_finite()) {
            failed.set(i, 1);
            return;
        }
        let wo = unsafe { w.item::<T>(i) };
        for j in 0..n {
            wo[j] = wd[j];
        }
        if compute_v {
            unsafe { v.mat::<T>(i, n, n) }.copy_from(&vm);
        }
    }));
    if failed.into_vec().iter().any(|&f| f != 0) {
        return Err(Error::Runtime(format!(
            "{op}: The algorithm failed to converge because the input matrix is ill-conditioned or has too many repeated eigenvalues (input shape {:?}; it may contain NaN or inf).",
            a.shape()
        )));
    }
    Ok((w.finish(a.dtype())?, v.finish(a.dtype())?))
}
