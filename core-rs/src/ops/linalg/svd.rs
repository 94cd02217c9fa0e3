//! Singular value decomposition `A = U diag(S) Vh`, singular values in descending order as
//! LAPACK's gesdd gives them.
use super::batch::{for_each, Infos, Out, Stack};
use super::by_dtype;
use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::svd::{svd as faer_svd, svd_scratch, ComputeSvdVectors};
use faer::diag::Diag;
use faer::Mat;

/// (U, S, Vh): U is m x m (full) or m x k, Vh is n x n or k x n, k = min(m, n); without
/// `compute_uv` U and Vh are empty (shape [0]).
pub fn svd(a: &Tensor, full_matrices: bool, compute_uv: bool) -> Result<(Tensor, Tensor, Tensor)> {
    let op = "linalg.svd";
    let s = Stack::new(op, a, "A")?;
    let (m, n) = (s.m, s.n);
    let k = m.min(n);
    let (uc, vr) = if full_matrices { (m, n) } else { (k, k) };
    let mode = if !compute_uv { ComputeSvdVectors::No } else if full_matrices { ComputeSvdVectors::Full } else { ComputeSvdVectors::Thin };
    let u = Out::new(&s.batch, &(if compute_uv { vec![m, uc] } else { vec![0] }), s.dtype())?;
    let vh = Out::new(&s.batch, &(if compute_uv { vec![vr, n] } else { vec![0] }), s.dtype())?;
    let sv = Out::new(&s.batch, &[k], s.dtype())?;
    let failed = Infos::new(s.count());
    by_dtype!(s.dtype(), T => for_each(s.count(), m * n * k * 4, |i, par| {
        if k == 0 {
            // an empty matrix: the full U and V are identities, as LAPACK leaves them
            if compute_uv {
                let (mut uo, mut vo) = unsafe { (u.mat::<T>(i, m, uc), vh.mat::<T>(i, vr, n)) };
                for d in 0..uc.min(m) {
                    uo[(d, d)] = T::one_val();
                }
                for d in 0..vr.min(n) {
                    vo[(d, d)] = T::one_val();
                }
            }
            return;
        }
        let src = s.mat::<T>(i);
        let mut sd = Diag::<T>::zeros(k);
        let (mut um, mut vm) = (Mat::<T>::zeros(m, uc), Mat::<T>::zeros(n, vr));
        let mut buf = MemBuffer::new(svd_scratch::<T>(m, n, mode, mode, par, Default::default()));
        let r = faer_svd(
            src,
            sd.as_mut(),
            if compute_uv { Some(um.as_mut()) } else { None },
            if compute_uv { Some(vm.as_mut()) } else { None },
            par,
            MemStack::new(&mut buf),
            Default::default(),
        );
        if r.is_err() || (0..k).any(|j| !sd[j].to_f64().is_finite()) {
            failed.set(i, 1);
            return;
        }
        let so = unsafe { sv.item::<T>(i) };
        for j in 0..k {
            so[j] = sd[j];
        }
        if compute_uv {
            unsafe { u.mat::<T>(i, m, uc) }.copy_from(&um);
            unsafe { vh.mat::<T>(i, vr, n) }.copy_from(vm.transpose());
        }
    }));
    if failed.into_vec().iter().any(|&f| f != 0) {
        return Err(Error::Runtime(format!(
            "{op}: The algorithm failed to converge because the input matrix is ill-conditioned or has too many repeated singular values (input shape {:?}; it may contain NaN or inf).",
            a.shape()
        )));
    }
    Ok((u.finish(a.dtype())?, sv.finish(a.dtype())?, vh.finish(a.dtype())?))
}
