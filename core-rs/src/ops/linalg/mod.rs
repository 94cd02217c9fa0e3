//! Dense linear algebra on the CPU through faer: LU (solve, inverse, determinants),
//! Cholesky, QR, SVD, symmetric eigendecomposition and triangular solves, each over a batch
//! of real matrices of any strides. These are kernels, not primitives: they have no entry in
//! the op table and record no autograd history; `deepseek.linalg` composes their gradients
//! from differentiable ops. Half-precision inputs are computed in f32 and rounded once.
mod batch;
pub mod cholesky;
pub mod eigh;
pub mod lu;
pub mod qr;
pub mod svd;
pub mod triangular;

pub use cholesky::cholesky;
pub use eigh::eigh;
pub use lu::{det, inv, lu_factor, slogdet, solve};
pub use qr::qr;
pub use svd::svd;
pub use triangular::solve_triangular;

/// Runs `$body` with `$T` bound to the kernel float type of `$dt` (f32 or f64).
macro_rules! by_dtype {
    ($dt:expr, $T:ident => $body:expr) => {
        match $dt {
            crate::dtype::DType::F64 => {
                type $T = f64;
                $body
            }
            _ => {
                type $T = f32;
                $body
            }
        }
    };
}
pub(crate) use by_dtype;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Tensor;

    fn t(v: &[f64], shape: &[usize]) -> Tensor {
        Tensor::from_vec(v.to_vec(), shape).unwrap()
    }

    fn close(a: &[f64], b: &[f64]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-12, "{a:?} != {b:?}");
        }
    }

    #[test]
    fn lu_family_on_a_batch_with_a_singular_matrix() {
        // [[2, 1], [1, 1]] (det 1) and [[1, 2], [2, 4]] (singular: the second pivot is zero)
        let a = t(&[2., 1., 1., 1., 1., 2., 2., 4.], &[2, 2, 2]);
        let (x, info) = inv(&a).unwrap();
        close(&x.as_slice::<f64>()[..4], &[1., -1., -1., 2.]);
        assert_eq!(info.as_slice::<i32>(), &[0, 2]);
        close(det(&a).unwrap().as_slice::<f64>(), &[1., 0.]);
        let (sign, logabs) = slogdet(&a).unwrap();
        close(sign.as_slice::<f64>(), &[1., 0.]);
        assert_eq!(logabs.as_slice::<f64>()[1], f64::NEG_INFINITY);
        let b = t(&[3., 2., 1., 1.], &[2, 2, 1]);
        let (x, info) = solve(&a, &b).unwrap();
        close(&x.as_slice::<f64>()[..2], &[1., 1.]);
        assert_eq!(info.as_slice::<i32>(), &[0, 2]);
    }

    #[test]
    fn cholesky_reports_the_failing_minor_and_reads_one_triangle() {
        // junk above the diagonal is not read for the lower factor
        let a = t(&[4., 99., 2., 5.], &[2, 2]);
        let (l, info) = cholesky(&a, false).unwrap();
        close(l.as_slice::<f64>(), &[2., 0., 1., 2.]);
        assert_eq!(info.as_slice::<i32>(), &[0]);
        let (_, info) = cholesky(&t(&[1., 2., 2., 1.], &[2, 2]), false).unwrap();
        assert_eq!(info.as_slice::<i32>(), &[2]);
    }

    #[test]
    fn factorizations_reconstruct_their_input() {
        let a = t(&[3., 1., 1., 2., 0., 1.], &[3, 2]);
        let (q, r) = qr(&a, "reduced").unwrap();
        let (q, r) = (q.as_slice::<f64>(), r.as_slice::<f64>());
        for i in 0..3 {
            for j in 0..2 {
                let v: f64 = (0..2).map(|k| q[i * 2 + k] * r[k * 2 + j]).sum();
                assert!((v - a.as_slice::<f64>()[i * 2 + j]).abs() < 1e-12);
            }
        }
        let (_, s, _) = svd(&t(&[3., 0., 0., -4.], &[2, 2]), false, true).unwrap();
        close(s.as_slice::<f64>(), &[4., 3.]);
        let (w, _) = eigh(&t(&[2., 1., 1., 2.], &[2, 2]), false, true).unwrap();
        close(w.as_slice::<f64>(), &[1., 3.]);
        let x = solve_triangular(&t(&[2., 0., 1., 1.], &[2, 2]), &t(&[2., 3.], &[2, 1]), false, false).unwrap();
        close(x.as_slice::<f64>(), &[1., 2.]);
    }

    #[test]
    fn integer_input_and_non_square_matrices_are_refused() {
        let i = Tensor::from_vec(vec![1i64, 0, 0, 1], &[2, 2]).unwrap();
        assert!(inv(&i).err().unwrap().to_string().contains("Got Long"));
        assert!(det(&t(&[1., 2., 3., 4., 5., 6.], &[2, 3])).err().unwrap().to_string().contains("2 by 3"));
    }
}
