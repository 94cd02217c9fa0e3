//! Sparse kernels: CSR × dense and dense × CSR products, the sampled dense-dense product
//! (SDDMM) that gives a sparse operand's value gradient, COO coalescing and the CSR index
//! conversions. Sparse tensors themselves live in Python (`deepseek.sparse`) as dense index
//! and value tensors; these are the loops over them that must not run in Python.
//!
//! Every kernel checks the index invariants it relies on (O(nnz), small next to the product)
//! so that no index reaching here from Python can read or write out of bounds. The products
//! run rows in parallel on the core's pool; `sprs` was not used because its products are
//! single-threaded and the row loop over CSR is short.
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::kernels::{pool, SendPtr, PAR_GRAIN};
use crate::tensor::Tensor;
use num_traits::Float;
use rayon::prelude::*;

/// `t` itself when contiguous, else a contiguous copy (no autograd: the inputs are data).
fn dense(t: &Tensor) -> Result<Tensor> {
    if t.is_contiguous() {
        Ok(t.clone())
    } else {
        crate::ops::clone_contiguous(t)
    }
}

/// The elements of a CPU int64 1-D index tensor (contiguous), refusing anything else.
fn index_vec(op: &str, name: &str, t: &Tensor) -> Result<Tensor> {
    if t.is_device() {
        return Err(Error::Runtime(format!("{op}: {name} must be on the CPU, got {}", t.device().name())));
    }
    if t.dtype() != DType::I64 {
        return Err(Error::Runtime(format!("{op}: {name} must be int64, got {}", t.dtype().name())));
    }
    if t.ndim() != 1 {
        return Err(Error::Runtime(format!("{op}: {name} must be 1-D, got shape {:?}", t.shape())));
    }
    dense(t)
}

/// A CPU float matrix (f32/f64), contiguous.
fn float_matrix(op: &str, name: &str, t: &Tensor, dtype: DType) -> Result<Tensor> {
    if t.is_device() {
        return Err(Error::Runtime(format!("{op}: {name} must be on the CPU, got {}", t.device().name())));
    }
    if t.dtype() != dtype {
        return Err(Error::Runtime(format!("{op}: {name} has dtype {} but the sparse values have {}", t.dtype().name(), dtype.name())));
    }
    dense(t)
}

fn float_dtype(op: &str, vals: &Tensor) -> Result<DType> {
    match vals.dtype() {
        DType::F32 | DType::F64 => Ok(vals.dtype()),
        d => Err(Error::Runtime(format!("{op}: sparse kernels run float32 and float64 values, got {}", d.name()))),
    }
}

/// Checks a CSR index pair for an `nrows × ncols` matrix: `crow` starts at 0, never
/// decreases, ends at nnz; every column is in range and columns rise strictly within a row.
pub fn check_csr(op: &str, crow: &[i64], col: &[i64], nrows: usize, ncols: usize) -> Result<()> {
    if crow.len() != nrows + 1 {
        return Err(Error::Runtime(format!(
            "{op}: crow_indices must have nrows + 1 = {} elements for {nrows} rows, got {}",
            nrows + 1,
            crow.len()
        )));
    }
    if crow[0] != 0 {
        return Err(Error::Runtime(format!("{op}: crow_indices[0] must be 0, got {}", crow[0])));
    }
    if crow[nrows] != col.len() as i64 {
        return Err(Error::Runtime(format!(
            "{op}: crow_indices[-1] must equal nnz = {} (the length of col_indices), got {}",
            col.len(),
            crow[nrows]
        )));
    }
    for r in 0..nrows {
        let (s, e) = (crow[r], crow[r + 1]);
        if e < s {
            return Err(Error::Runtime(format!("{op}: crow_indices must not decrease, but crow_indices[{}] = {e} < crow_indices[{r}] = {s}", r + 1)));
        }
        let mut prev = -1i64;
        for &c in &col[s as usize..e as usize] {
            if c < 0 || c as usize >= ncols {
                return Err(Error::Runtime(format!("{op}: col_indices must be in [0, {ncols}) for {ncols} columns, found {c} in row {r}")));
            }
            if c <= prev {
                return Err(Error::Runtime(format!(
                    "{op}: col_indices must be sorted and distinct within each row, found {c} after {prev} in row {r}"
                )));
            }
            prev = c;
        }
    }
    Ok(())
}

/// Checks a CSR tensor's index pair (the bindings' entry point for construction checks).
pub fn validate_csr(crow: &Tensor, col: &Tensor, nrows: usize, ncols: usize) -> Result<()> {
    let op = "sparse_csr_tensor";
    let (crow, col) = (index_vec(op, "crow_indices", crow)?, index_vec(op, "col_indices", col)?);
    check_csr(op, crow.as_slice::<i64>(), col.as_slice::<i64>(), nrows, ncols)
}

/// The row of every stored element of a valid CSR index (CSR → COO).
pub fn csr_rows(crow: &Tensor, col: &Tensor, nrows: usize, ncols: usize) -> Result<Tensor> {
    let op = "csr_rows";
    let (crow, col) = (index_vec(op, "crow_indices", crow)?, index_vec(op, "col_indices", col)?);
    let cr = crow.as_slice::<i64>();
    check_csr(op, cr, col.as_slice::<i64>(), nrows, ncols)?;
    let mut rows = Vec::with_capacity(col.numel());
    for r in 0..nrows {
        rows.extend(std::iter::repeat(r as i64).take((cr[r + 1] - cr[r]) as usize));
    }
    let n = rows.len();
    Tensor::from_vec(rows, &[n])
}

/// Row pointers of rows that are sorted (COO → CSR for a coalesced 2-D COO index).
pub fn rows_to_crow(rows: &Tensor, nrows: usize) -> Result<Tensor> {
    let op = "to_sparse_csr";
    let rows = index_vec(op, "row indices", rows)?;
    let rs = rows.as_slice::<i64>();
    let mut crow = vec![0i64; nrows + 1];
    let mut prev = 0i64;
    for &r in rs {
        if r < 0 || r as usize >= nrows {
            return Err(Error::Runtime(format!("{op}: row index {r} out of range for {nrows} rows")));
        }
        if r < prev {
            return Err(Error::Runtime(format!("{op}: row indices must be sorted (coalesce first), found {r} after {prev}")));
        }
        prev = r;
        crow[r as usize + 1] += 1;
    }
    for r in 0..nrows {
        crow[r + 1] += crow[r];
    }
    Tensor::from_vec(crow, &[nrows + 1])
}

/// Sorts linear COO keys and merges duplicates: returns `(segment, unique)` where
/// `unique` is the sorted distinct keys and `segment[i]` the position of key i in it, so
/// that summing values by segment coalesces them. Keys must be non-negative.
pub fn coalesce_keys(keys: &Tensor) -> Result<(Tensor, Tensor)> {
    let op = "coalesce";
    let keys = index_vec(op, "keys", keys)?;
    let ks = keys.as_slice::<i64>();
    let n = ks.len();
    if let Some(&k) = ks.iter().find(|&&k| k < 0) {
        return Err(Error::Runtime(format!("{op}: negative index key {k}")));
    }
    if ks.windows(2).all(|w| w[0] < w[1]) {
        // already coalesced: the identity
        return Ok((Tensor::from_vec((0..n as i64).collect::<Vec<_>>(), &[n])?, keys.clone()));
    }
    let mut order: Vec<(i64, u32)> = ks.iter().enumerate().map(|(i, &k)| (k, i as u32)).collect();
    if n >= PAR_GRAIN {
        pool().install(|| order.par_sort_unstable());
    } else {
        order.sort_unstable();
    }
    let mut seg = vec![0i64; n];
    let mut uniq: Vec<i64> = Vec::new();
    for &(k, i) in &order {
        if uniq.last() != Some(&k) {
            uniq.push(k);
        }
        seg[i as usize] = uniq.len() as i64 - 1;
    }
    let u = uniq.len();
    Ok((Tensor::from_vec(seg, &[n])?, Tensor::from_vec(uniq, &[u])?))
}

/// Positions `(ia, ib)` of the keys that two strictly increasing key lists share.
pub fn intersect_sorted(a: &Tensor, b: &Tensor) -> Result<(Tensor, Tensor)> {
    let op = "sparse mul";
    let (a, b) = (index_vec(op, "keys", a)?, index_vec(op, "keys", b)?);
    let (xs, ys) = (a.as_slice::<i64>(), b.as_slice::<i64>());
    if !xs.windows(2).all(|w| w[0] < w[1]) || !ys.windows(2).all(|w| w[0] < w[1]) {
        return Err(Error::Runtime(format!("{op}: both operands must be coalesced")));
    }
    let (mut i, mut j) = (0, 0);
    let (mut ia, mut ib) = (Vec::new(), Vec::new());
    while i < xs.len() && j < ys.len() {
        match xs[i].cmp(&ys[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                ia.push(i as i64);
                ib.push(j as i64);
                i += 1;
                j += 1;
            }
        }
    }
    let n = ia.len();
    Ok((Tensor::from_vec(ia, &[n])?, Tensor::from_vec(ib, &[n])?))
}

/// The transpose of a valid `nrows × ncols` CSR index: `(crow_t, col_t, perm)` where the
/// transposed values are `values[perm]`. A counting sort by column, O(nnz + ncols).
pub fn csr_transpose(crow: &Tensor, col: &Tensor, nrows: usize, ncols: usize) -> Result<(Tensor, Tensor, Tensor)> {
    let op = "csr transpose";
    let (crow, col) = (index_vec(op, "crow_indices", crow)?, index_vec(op, "col_indices", col)?);
    let (cr, cs) = (crow.as_slice::<i64>(), col.as_slice::<i64>());
    check_csr(op, cr, cs, nrows, ncols)?;
    let nnz = cs.len();
    let mut crow_t = vec![0i64; ncols + 1];
    for &c in cs {
        crow_t[c as usize + 1] += 1;
    }
    for c in 0..ncols {
        crow_t[c + 1] += crow_t[c];
    }
    let mut next: Vec<i64> = crow_t[..ncols].to_vec();
    let (mut col_t, mut perm) = (vec![0i64; nnz], vec![0i64; nnz]);
    for r in 0..nrows {
        for p in cr[r] as usize..cr[r + 1] as usize {
            let c = cs[p] as usize;
            let q = next[c] as usize;
            next[c] += 1;
            col_t[q] = r as i64;
            perm[q] = p as i64;
        }
    }
    Ok((Tensor::from_vec(crow_t, &[ncols + 1])?, Tensor::from_vec(col_t, &[nnz])?, Tensor::from_vec(perm, &[nnz])?))
}

/// Runs `row(i, out_row)` for every row of a `rows × width` output, in parallel when the
/// work (`work` multiply-adds) is worth it. Rows are handed out in small chunks so that a
/// few dense rows do not serialize the rest.
fn for_rows<T: Send>(out: &mut [T], width: usize, work: usize, row: impl Fn(usize, &mut [T]) + Sync) {
    if width == 0 {
        return;
    }
    if work < PAR_GRAIN {
        out.chunks_mut(width).enumerate().for_each(|(i, r)| row(i, r));
    } else {
        pool().install(|| out.par_chunks_mut(width).enumerate().with_min_len(4).for_each(|(i, r)| row(i, r)));
    }
}

/// `orow += sum_p vals[p] * b[col[p] * stride ..][..w]` for one CSR row, four stored
/// elements at a time so the output row is loaded and stored a quarter as often. `FMA` fuses
/// each multiply-add (only in the build for CPUs that have the instruction).
#[inline(always)]
fn axpy_row<T: Float, const FMA: bool>(orow: &mut [T], vals: &[T], cols: &[i64], b: &[T], stride: usize) {
    let w = orow.len();
    let ma = |a: T, x: T, acc: T| if FMA { a.mul_add(x, acc) } else { acc + a * x };
    let mut p = 0;
    while p + 4 <= vals.len() {
        let (a0, a1, a2, a3) = (vals[p], vals[p + 1], vals[p + 2], vals[p + 3]);
        let b0 = &b[cols[p] as usize * stride..][..w];
        let b1 = &b[cols[p + 1] as usize * stride..][..w];
        let b2 = &b[cols[p + 2] as usize * stride..][..w];
        let b3 = &b[cols[p + 3] as usize * stride..][..w];
        for j in 0..w {
            orow[j] = ma(a3, b3[j], ma(a2, b2[j], ma(a1, b1[j], ma(a0, b0[j], orow[j]))));
        }
        p += 4;
    }
    while p < vals.len() {
        let a = vals[p];
        let br = &b[cols[p] as usize * stride..][..w];
        for (o, &x) in orow.iter_mut().zip(br) {
            *o = ma(a, x, *o);
        }
        p += 1;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn axpy_row_avx2<T: Float>(orow: &mut [T], vals: &[T], cols: &[i64], b: &[T], stride: usize) {
    axpy_row::<T, true>(orow, vals, cols, b, stride)
}

fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Output rows per task of the CSR product. The whole output row is one pass: tiling the
/// columns (so a slice of the dense operand stays in L2) measured slower on 4096 × 4096 × 256,
/// as each stored element's index is then read once per tile.
const ROW_BLOCK: usize = 64;

fn spmm_typed<T: Float + Send + Sync + crate::dtype::Element>(cr: &[i64], cs: &[i64], vals: &Tensor, b: &Tensor, nrows: usize) -> Result<Tensor> {
    let n = b.shape()[1];
    let out = Tensor::zeros(&[nrows, n], T::DTYPE)?;
    if n == 0 || nrows == 0 {
        return Ok(out);
    }
    let (v, bs) = (vals.as_slice::<T>(), b.as_slice::<T>());
    let o = out.as_slice_mut::<T>();
    let avx2 = has_avx2();
    let block = |blk: usize, oblk: &mut [T]| {
        let r0 = blk * ROW_BLOCK;
        for (r, orow) in oblk.chunks_mut(n).enumerate() {
            let (s, e) = (cr[r0 + r] as usize, cr[r0 + r + 1] as usize);
            #[cfg(target_arch = "x86_64")]
            if avx2 {
                // SAFETY: the CPU was checked for AVX2 and FMA above
                unsafe { axpy_row_avx2(orow, &v[s..e], &cs[s..e], bs, n) };
                continue;
            }
            let _ = avx2;
            axpy_row::<T, false>(orow, &v[s..e], &cs[s..e], bs, n);
        }
    };
    if cs.len() * n < PAR_GRAIN {
        o.chunks_mut(ROW_BLOCK * n).enumerate().for_each(|(i, c)| block(i, c));
    } else {
        pool().install(|| o.par_chunks_mut(ROW_BLOCK * n).enumerate().for_each(|(i, c)| block(i, c)));
    }
    Ok(out)
}

/// `A @ B` for an `nrows × K` CSR matrix A and a dense `K × N` matrix B.
pub fn spmm(crow: &Tensor, col: &Tensor, vals: &Tensor, b: &Tensor, nrows: usize) -> Result<Tensor> {
    let op = "sparse.mm";
    let dt = float_dtype(op, vals)?;
    if b.ndim() != 2 {
        return Err(Error::Runtime(format!("{op}: the dense operand must be 2-D, got shape {:?}", b.shape())));
    }
    let (crow, col) = (index_vec(op, "crow_indices", crow)?, index_vec(op, "col_indices", col)?);
    let (vals, b) = (float_matrix(op, "values", vals, dt)?, float_matrix(op, "the dense operand", b, dt)?);
    let (cr, cs) = (crow.as_slice::<i64>(), col.as_slice::<i64>());
    check_csr(op, cr, cs, nrows, b.shape()[0])?;
    if vals.numel() != cs.len() {
        return Err(Error::Runtime(format!("{op}: {} values for {} column indices", vals.numel(), cs.len())));
    }
    match dt {
        DType::F32 => spmm_typed::<f32>(cr, cs, &vals, &b, nrows),
        _ => spmm_typed::<f64>(cr, cs, &vals, &b, nrows),
    }
}

fn dense_spmm_typed<T: Float + Send + Sync + crate::dtype::Element>(a: &Tensor, cr: &[i64], cs: &[i64], vals: &Tensor, ncols: usize) -> Result<Tensor> {
    let (m, k) = (a.shape()[0], a.shape()[1]);
    let out = Tensor::zeros(&[m, ncols], T::DTYPE)?;
    let (av, v) = (a.as_slice::<T>(), vals.as_slice::<T>());
    let o = out.as_slice_mut::<T>();
    let work = m * cs.len();
    for_rows(o, ncols, work, |i, orow| {
        let arow = &av[i * k..][..k];
        for (kk, &x) in arow.iter().enumerate() {
            if x == T::zero() {
                continue;
            }
            for p in cr[kk] as usize..cr[kk + 1] as usize {
                let c = cs[p] as usize;
                orow[c] = orow[c] + x * v[p];
            }
        }
    });
    Ok(out)
}

/// `A @ B` for a dense `M × K` matrix A and a `K × ncols` CSR matrix B. A zero of A skips
/// its row of B, so NaN/inf in B do not reach those outputs (as the dense product would).
pub fn dense_spmm(a: &Tensor, crow: &Tensor, col: &Tensor, vals: &Tensor, ncols: usize) -> Result<Tensor> {
    let op = "sparse.mm";
    let dt = float_dtype(op, vals)?;
    if a.ndim() != 2 {
        return Err(Error::Runtime(format!("{op}: the dense operand must be 2-D, got shape {:?}", a.shape())));
    }
    let (crow, col) = (index_vec(op, "crow_indices", crow)?, index_vec(op, "col_indices", col)?);
    let (vals, a) = (float_matrix(op, "values", vals, dt)?, float_matrix(op, "the dense operand", a, dt)?);
    let (cr, cs) = (crow.as_slice::<i64>(), col.as_slice::<i64>());
    check_csr(op, cr, cs, a.shape()[1], ncols)?;
    if vals.numel() != cs.len() {
        return Err(Error::Runtime(format!("{op}: {} values for {} column indices", vals.numel(), cs.len())));
    }
    match dt {
        DType::F32 => dense_spmm_typed::<f32>(&a, cr, cs, &vals, ncols),
        _ => dense_spmm_typed::<f64>(&a, cr, cs, &vals, ncols),
    }
}

fn sddmm_typed<T: Float + Send + Sync + crate::dtype::Element>(cr: &[i64], cs: &[i64], a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let l = a.shape()[1];
    let nnz = cs.len();
    let out = Tensor::empty(&[nnz], T::DTYPE)?;
    let (av, bv) = (a.as_slice::<T>(), b.as_slice::<T>());
    let optr = SendPtr(out.data_ptr());
    let rows = cr.len() - 1;
    let body = |r: usize| {
        let arow = &av[r * l..][..l];
        for p in cr[r] as usize..cr[r + 1] as usize {
            let brow = &bv[cs[p] as usize * l..][..l];
            let mut acc = T::zero();
            for (&x, &y) in arow.iter().zip(brow) {
                acc = acc + x * y;
            }
            // SAFETY: each stored element p belongs to exactly one row r
            unsafe { *(optr.get() as *mut T).add(p) = acc };
        }
    };
    if nnz * l < PAR_GRAIN {
        (0..rows).for_each(body);
    } else {
        pool().install(|| (0..rows).into_par_iter().with_min_len(4).for_each(body));
    }
    Ok(out)
}

/// The sampled product `out[p] = dot(a[row(p), :], b[col(p), :])` for every stored element p
/// of an `R × C` CSR pattern: the value gradient of a sparse operand of a product.
pub fn sddmm(crow: &Tensor, col: &Tensor, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let op = "sparse.mm backward";
    let dt = float_dtype(op, a)?;
    if a.ndim() != 2 || b.ndim() != 2 || a.shape()[1] != b.shape()[1] {
        return Err(Error::Runtime(format!("{op}: expected 2-D operands with equal rows lengths, got {:?} and {:?}", a.shape(), b.shape())));
    }
    let (crow, col) = (index_vec(op, "crow_indices", crow)?, index_vec(op, "col_indices", col)?);
    let (a, b) = (float_matrix(op, "a", a, dt)?, float_matrix(op, "b", b, dt)?);
    let (cr, cs) = (crow.as_slice::<i64>(), col.as_slice::<i64>());
    check_csr(op, cr, cs, a.shape()[0], b.shape()[0])?;
    match dt {
        DType::F32 => sddmm_typed::<f32>(cr, cs, &a, &b),
        _ => sddmm_typed::<f64>(cr, cs, &a, &b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(v: &[i64]) -> Tensor {
        Tensor::from_vec(v.to_vec(), &[v.len()]).unwrap()
    }

    #[test]
    fn spmm_matches_dense() {
        // [[1, 0, 2], [0, 0, 0], [0, 3, 0]] @ [[1, 2], [3, 4], [5, 6]]
        let (crow, col) = (iv(&[0, 2, 2, 3]), iv(&[0, 2, 1]));
        let vals = Tensor::from_vec(vec![1.0f64, 2.0, 3.0], &[3]).unwrap();
        let b = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2]).unwrap();
        let r = spmm(&crow, &col, &vals, &b, 3).unwrap();
        assert_eq!(r.as_slice::<f64>(), &[11.0, 14.0, 0.0, 0.0, 9.0, 12.0]);
        let a = Tensor::from_vec(vec![1.0f64, 1.0, 1.0], &[1, 3]).unwrap();
        let r = dense_spmm(&a, &crow, &col, &vals, 3).unwrap();
        assert_eq!(r.as_slice::<f64>(), &[1.0, 3.0, 2.0]);
    }

    #[test]
    fn bad_csr_is_refused() {
        let vals = Tensor::from_vec(vec![1.0f32, 2.0], &[2]).unwrap();
        let b = Tensor::zeros(&[3, 2], DType::F32).unwrap();
        assert!(spmm(&iv(&[0, 2]), &iv(&[2, 1]), &vals, &b, 1).is_err()); // unsorted
        assert!(spmm(&iv(&[0, 2]), &iv(&[0, 3]), &vals, &b, 1).is_err()); // out of range
        assert!(spmm(&iv(&[0, 3]), &iv(&[0, 1]), &vals, &b, 1).is_err()); // crow end
    }

    #[test]
    fn coalesce_and_transpose() {
        let (seg, uniq) = coalesce_keys(&iv(&[5, 1, 5, 0])).unwrap();
        assert_eq!(seg.as_slice::<i64>(), &[2, 1, 2, 0]);
        assert_eq!(uniq.as_slice::<i64>(), &[0, 1, 5]);
        let (ct, colt, perm) = csr_transpose(&iv(&[0, 2, 3]), &iv(&[0, 2, 1]), 2, 3).unwrap();
        assert_eq!(ct.as_slice::<i64>(), &[0, 1, 2, 3]);
        assert_eq!(colt.as_slice::<i64>(), &[0, 1, 0]);
        assert_eq!(perm.as_slice::<i64>(), &[0, 2, 1]);
    }
}
