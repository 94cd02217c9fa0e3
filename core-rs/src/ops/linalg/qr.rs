//! Householder QR. Modes as PyTorch's: "reduced" (Q m x k, R k x n), "complete" (Q m x m,
//! R m x n) and "r" (R only, Q empty), with k = min(m, n).
use super::batch::{for_each, Out, Stack};
use super::by_dtype;
use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::householder;
use faer::linalg::qr::no_pivoting::factor;
use faer::{Conj, Mat};

pub fn qr(a: &Tensor, mode: &str) -> Result<(Tensor, Tensor)> {
    let op = "linalg.qr";
    let (complete, want_q) = match mode {
        "reduced" => (false, true),
        "complete" => (true, true),
        "r" => (false, false),
        _ => {
            return Err(Error::Runtime(format!(
                "qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), 'r', or 'complete'"
            )))
        }
    };
    let s = Stack::new(op, a, "A")?;
    let (m, n) = (s.m, s.n);
    let k = m.min(n);
    let qc = if complete { m } else { k };
    let rr = if complete { m } else { k };
    let q = Out::new(&s.batch, &(if want_q { vec![m, qc] } else { vec![0] }), s.dtype())?;
    let r = Out::new(&s.batch, &[rr, n], s.dtype())?;
    by_dtype!(s.dtype(), T => for_each(s.count(), m * n * k, |i, par| {
        let mut f = s.owned::<T>(i);
        if k == 0 {
            if want_q {
                let mut o = unsafe { q.mat::<T>(i, m, qc) };
                for d in 0..qc.min(m) {
                    o[(d, d)] = T::one_val();
                }
            }
            return;
        }
        let bs = factor::recommended_block_size::<T>(m, n);
        let mut coeff = Mat::<T>::zeros(bs, k);
        let mut buf = MemBuffer::new(factor::qr_in_place_scratch::<T>(m, n, bs, par, Default::default()));
        factor::qr_in_place(f.as_mut(), coeff.as_mut(), par, MemStack::new(&mut buf), Default::default());
        let mut ro = unsafe { r.mat::<T>(i, rr, n) };
        for row in 0..k {
            for c in row..n {
                ro[(row, c)] = f[(row, c)];
            }
        }
        if want_q {
            // the Householder vectors: unit diagonal, strictly lower part of the packed factor
            let basis = Mat::<T>::from_fn(m, k, |x, y| if x == y { T::one_val() } else if x > y { f[(x, y)] } else { T::zero_val() });
            let mut qm = Mat::<T>::from_fn(m, qc, |x, y| if x == y { T::one_val() } else { T::zero_val() });
            let mut buf = MemBuffer::new(householder::apply_block_householder_sequence_on_the_left_in_place_scratch::<T>(m, bs, qc));
            householder::apply_block_householder_sequence_on_the_left_in_place_with_conj(
                basis.as_ref(), coeff.as_ref(), Conj::No, qm.as_mut(), par, MemStack::new(&mut buf));
            unsafe { q.mat::<T>(i, m, qc) }.copy_from(&qm);
        }
    }));
    Ok((q.finish(a.dtype())?, r.finish(a.dtype())?))
}
