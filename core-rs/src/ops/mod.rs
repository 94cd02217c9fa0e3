//! The primitive ops. Each op family lives in its own file with its shape rule, its CPU
//! kernel and its derivative together.
pub mod binary;
pub mod bn_act;
pub mod complex;
pub mod conv;
pub(crate) mod conv_epilogue;
mod conv_im2col;
mod conv_strided;
pub mod optim;
pub mod optim_rules;
pub mod copy;
pub mod fft;
pub mod gelu;
pub(crate) mod cpu_launch;
pub(crate) mod fused_launch;
pub mod inplace;
pub mod layer_norm;
pub mod index;
mod index_cpu;
#[cfg(test)]
mod launch_tests;
pub mod linalg;
pub mod matmul;
pub mod norm;
pub mod pool;
pub mod random;
pub mod reduce;
pub mod rnn;
pub(crate) mod scratch;
mod rnn_act;
mod rnn_cpu;
mod rnn_step;
pub(crate) mod rows;
pub mod shape;
pub mod softmax;
pub mod sort;
pub mod sparse;
pub mod unary;
mod winograd;
mod winograd_small;
mod winograd_gemm;
#[cfg(target_arch = "x86_64")]
mod winograd_lanes;
mod winograd_wgrad;

pub use binary::{add, binary, div, mul, sub, where_, BinaryOp, Scalar};
pub use copy::{add_inplace_nograd, cast, clone_contiguous, contiguous, copy_raw, fill_raw};
pub use unary::{unary, UnaryOp};

use crate::dtype::DType;
use crate::error::Result;
use crate::tensor::Tensor;

/// A zero-dimensional tensor holding `v`, in `dtype`.
pub fn scalar(v: f64, dtype: DType) -> Result<Tensor> {
    Tensor::scalar_f64(v, dtype)
}

/// `t * v` for a float scalar, keeping `t`'s dtype.
pub fn mul_scalar(t: &Tensor, v: f64) -> Result<Tensor> {
    binary(BinaryOp::Mul, &t.clone().into(), &Scalar::Float(v).into())
}

pub fn add_scalar(t: &Tensor, v: f64) -> Result<Tensor> {
    binary(BinaryOp::Add, &t.clone().into(), &Scalar::Float(v).into())
}

/// Reduces a broadcast gradient back to `shape` by summing the broadcast dimensions.
pub fn sum_to(g: &Tensor, shape: &[usize]) -> Result<Tensor> {
    if g.shape() == shape {
        return Ok(g.clone());
    }
    let lead = g.ndim() - shape.len();
    let mut dims: Vec<usize> = (0..lead).collect();
    for (i, &s) in shape.iter().enumerate() {
        if s == 1 && g.shape()[lead + i] != 1 {
            dims.push(lead + i);
        }
    }
    let r = reduce::sum(g, &dims, true)?;
    shape::reshape(&r, shape)
}

pub fn zeros_like(t: &Tensor) -> Result<Tensor> {
    Tensor::zeros_on(t.shape(), t.dtype(), t.device())
}
