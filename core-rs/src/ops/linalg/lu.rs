//! LU with partial pivoting and what is built on it: solve, inverse, determinant and its
//! logarithm. A zero pivot makes `solve`/`inv` report the batch item and the pivot (LAPACK's
//! `info`), which the Python layer words as PyTorch does; `det`/`slogdet` return 0 / -inf.
use super::batch::{for_each, info_tensor, Infos, Out, Real, Stack};
use super::by_dtype;
use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::lu::partial_pivoting::{factor, inverse, solve};
use faer::{Mat, Par};

/// The factorisation of one matrix, in place: (LU packed, row permutation forward/backward,
/// number of row swaps, 1-based index of the first zero pivot or 0).
struct Lu<T: Real> {
    lu: Mat<T>,
    fwd: Vec<usize>,
    bwd: Vec<usize>,
    swaps: usize,
    zero_pivot: usize,
}

fn factorize<T: Real>(mut a: Mat<T>, par: Par) -> Lu<T> {
    let n = a.nrows();
    let (mut fwd, mut bwd) = (vec![0usize; n], vec![0usize; n]);
    let mut buf = MemBuffer::new(factor::lu_in_place_scratch::<usize, T>(n, n, par, Default::default()));
    let (info, _) = factor::lu_in_place(a.as_mut(), &mut fwd, &mut bwd, par, MemStack::new(&mut buf), Default::default());
    let zero_pivot = (0..n).find(|&k| a[(k, k)] == T::zero_val()).map_or(0, |k| k + 1);
    Lu { lu: a, fwd, bwd, swaps: info.transposition_count, zero_pivot }
}

impl<T: Real> Lu<T> {
    fn perm(&self) -> faer::perm::PermRef<'_, usize> {
        faer::perm::PermRef::new_checked(&self.fwd, &self.bwd, self.fwd.len())
    }
}

/// (inverse, info): `info[b]` is the 1-based index of the first zero pivot of matrix `b`.
pub fn inv(a: &Tensor) -> Result<(Tensor, Tensor)> {
    let s = Stack::new("linalg.inv", a, "A")?.square("linalg.inv", "A")?;
    let n = s.n;
    let out = Out::new(&s.batch, &[n, n], s.dtype())?;
    let infos = Infos::new(s.count());
    by_dtype!(s.dtype(), T => for_each(s.count(), n * n * n, |i, par| {
        let f = factorize(s.owned::<T>(i), par);
        if f.zero_pivot != 0 {
            infos.set(i, f.zero_pivot as i32);
            return;
        }
        let mut buf = MemBuffer::new(inverse::inverse_scratch::<usize, T>(n, par));
        let mut x = Mat::<T>::zeros(n, n);
        inverse::inverse(x.as_mut(), f.lu.as_ref(), f.lu.as_ref(), f.perm(), par, MemStack::new(&mut buf));
        unsafe { out.mat::<T>(i, n, n) }.copy_from(&x);
    }));
    Ok((out.finish(a.dtype())?, info_tensor(&s.batch, infos.into_vec())?))
}

/// (X, info) with `A X = B` for each matrix of the batch; `b` has `a`'s batch dims and
/// `n x k` matrices (the caller broadcasts and turns vectors into columns).
pub fn solve(a: &Tensor, b: &Tensor) -> Result<(Tensor, Tensor)> {
    let op = "linalg.solve";
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
    let infos = Infos::new(s.count());
    by_dtype!(s.dtype(), T => for_each(s.count(), n * n * (n + k), |i, par| {
        let f = factorize(s.owned::<T>(i), par);
        if f.zero_pivot != 0 {
            infos.set(i, f.zero_pivot as i32);
            return;
        }
        let mut x = bs.owned::<T>(i);
        let mut buf = MemBuffer::new(solve::solve_in_place_scratch::<usize, T>(n, k, par));
        solve::solve_in_place(f.lu.as_ref(), f.lu.as_ref(), f.perm(), x.as_mut(), par, MemStack::new(&mut buf));
        unsafe { out.mat::<T>(i, n, k) }.copy_from(&x);
    }));
    Ok((out.finish(a.dtype())?, info_tensor(&s.batch, infos.into_vec())?))
}

/// (sign, log|det|) per matrix, computed from the LU factors' diagonal (no overflow).
pub fn slogdet(a: &Tensor) -> Result<(Tensor, Tensor)> {
    let s = Stack::new("linalg.slogdet", a, "A")?.square("linalg.slogdet", "A")?;
    let n = s.n;
    let sign = Out::new(&s.batch, &[], s.dtype())?;
    let logabs = Out::new(&s.batch, &[], s.dtype())?;
    by_dtype!(s.dtype(), T => for_each(s.count(), n * n * n, |i, par| {
        let f = factorize(s.owned::<T>(i), par);
        let (mut sg, mut la) = (if f.swaps % 2 == 1 { -1.0f64 } else { 1.0 }, 0.0f64);
        for k in 0..n {
            let d = f.lu[(k, k)].to_f64();
            if d < 0.0 {
                sg = -sg;
            }
            la += d.abs().ln();
        }
        if f.zero_pivot != 0 {
            sg = 0.0;
            la = f64::NEG_INFINITY;
        }
        if la.is_nan() {
            sg = f64::NAN;
        }
        unsafe {
            sign.item::<T>(i)[0] = T::from_f64(sg);
            logabs.item::<T>(i)[0] = T::from_f64(la);
        }
    }));
    Ok((sign.finish(a.dtype())?, logabs.finish(a.dtype())?))
}

/// The determinant per matrix: the product of the LU pivots, signed by the row swaps.
pub fn det(a: &Tensor) -> Result<Tensor> {
    let s = Stack::new("linalg.det", a, "A")?.square("linalg.det", "A")?;
    let n = s.n;
    let out = Out::new(&s.batch, &[], s.dtype())?;
    by_dtype!(s.dtype(), T => for_each(s.count(), n * n * n, |i, par| {
        let f = factorize(s.owned::<T>(i), par);
        let mut d = if f.swaps % 2 == 1 { -1.0f64 } else { 1.0 };
        for k in 0..n {
            d *= f.lu[(k, k)].to_f64();
        }
        unsafe { out.item::<T>(i)[0] = T::from_f64(d) };
    }));
    out.finish(a.dtype())
}

/// LAPACK's pivots (1-based row swaps applied in order) for the row permutation `fwd` of the
/// first `k` steps, where row `i` of `L U` is row `fwd[i]` of `A`.
fn swaps_of(fwd: &[usize], k: usize) -> Vec<i32> {
    let m = fwd.len();
    let (mut at, mut pos): (Vec<usize>, Vec<usize>) = ((0..m).collect(), (0..m).collect());
    let mut piv = Vec::with_capacity(k);
    for step in 0..k {
        let row = fwd[step];
        let j = pos[row];
        piv.push(j as i32 + 1);
        let moved = at[step];
        at.swap(step, j);
        pos[moved] = j;
        pos[row] = step;
    }
    piv
}

/// (LU, pivots, info) as LAPACK's getrf leaves them, for m x n matrices: `L` (unit diagonal,
/// not stored) below the diagonal and `U` on and above it; `pivots` the 1-based row swaps
/// (int32, k = min(m, n) per matrix); `info` the 1-based index of the first zero pivot or 0.
pub fn lu_factor(a: &Tensor) -> Result<(Tensor, Tensor, Tensor)> {
    let s = Stack::new("linalg.lu_factor", a, "A")?;
    let (m, n) = (s.m, s.n);
    let k = m.min(n);
    let out = Out::new(&s.batch, &[m, n], s.dtype())?;
    let piv = Out::new(&s.batch, &[k], crate::dtype::DType::I32)?;
    let infos = Infos::new(s.count());
    by_dtype!(s.dtype(), T => for_each(s.count(), m * n * k, |i, par| {
        let mut lu = s.owned::<T>(i);
        let (mut fwd, mut bwd) = (vec![0usize; m], vec![0usize; m]);
        let mut buf = MemBuffer::new(factor::lu_in_place_scratch::<usize, T>(m, n, par, Default::default()));
        factor::lu_in_place(lu.as_mut(), &mut fwd, &mut bwd, par, MemStack::new(&mut buf), Default::default());
        if let Some(z) = (0..k).find(|&d| lu[(d, d)] == T::zero_val()) {
            infos.set(i, z as i32 + 1);
        }
        unsafe {
            out.mat::<T>(i, m, n).copy_from(&lu);
            piv.item::<i32>(i).copy_from_slice(&swaps_of(&fwd, k));
        }
    }));
    Ok((out.finish(a.dtype())?, piv.t, info_tensor(&s.batch, infos.into_vec())?))
}
