//! The CPU kernels in the form of the kernel contract: `launch(&Op, outs, ins)` on CPU
//! tensors laid out as a backend would receive them (outputs allocated, inputs cast and
//! broadcast). Installed into `backend::cpu` by `crate::init`; the dispatcher runs them for
//! CPU launches and for ops a plugin lacks, the conformance kit as the reference.
use crate::tensor::graph as autograd;
use crate::error::Result;
use crate::op::{ArgReduceOp, CumulativeOp, Op, ScatterOp};
use crate::ops::{self, Scalar};
use crate::tensor::Tensor;

pub(crate) fn launch(op: &Op, outs: &[&Tensor], ins: &[&Tensor]) -> Result<()> {
    op.check_arity(outs.len(), ins.len())?;
    autograd::with_grad_mode(false, || run(op, outs, ins))
}

fn run(op: &Op, outs: &[&Tensor], ins: &[&Tensor]) -> Result<()> {
    let out = outs[0];
    match op {
        Op::Unary(u) => ops::unary::cpu_kernel(*u, out, &ins[0]),
        Op::Polygamma(a) => ops::unary::polygamma_cpu_kernel(a.n, out, &ins[0]),
        Op::Binary(b) => ops::binary::cpu_kernel(*b, out, &ins[0], &ins[1]),
        Op::Reduce(r) => ops::reduce::reduce_cpu_kernel(*r, out, ins[0]),
        Op::Where => ops::binary::where_cpu_kernel(out, ins[0], ins[1], ins[2]),
        Op::Cast | Op::Copy => ops::copy::copy_cpu_kernel(out, &ins[0]),
        Op::Fill(a) => ops::copy::fill_cpu_kernel(out, a.value),
        Op::Arange(a) => {
            let n = out.numel();
            let r = if out.dtype().is_float() {
                let (s, st) = (a.start.as_f64(), a.step.as_f64());
                Tensor::from_vec((0..n).map(|i| s + i as f64 * st).collect::<Vec<f64>>(), &[n])?
            } else {
                let int = |v: Scalar| match v { Scalar::Int(i) => i, v => v.as_f64() as i64 };
                let (s, st) = (int(a.start), int(a.step));
                Tensor::from_vec((0..n as i64).map(|i| s.wrapping_add(i.wrapping_mul(st))).collect::<Vec<i64>>(), &[n])?
            };
            ops::copy::copy_cpu_kernel(out, &r)
        }
        Op::Cat(a) => ops::shape::cat_cpu_kernel(out, ins, a.dim as usize),
        Op::Pad(a) => ops::shape::pad_cpu_kernel(out, ins[0], &a.pads, a.value),
        Op::ArgReduce(k, a) => ops::reduce::arg_cpu_kernel(out, ins[0], a.dim as usize, *k == ArgReduceOp::Argmax),
        Op::Cumulative(k, a) => ops::reduce::cumulative_cpu_kernel(out, ins[0], a.dim as usize, *k == CumulativeOp::Cumprod),
        Op::Matmul => ops::matmul::matmul_cpu_kernel(out, ins[0], ins[1]),
        Op::Conv(k, a) => ops::conv::conv_cpu_kernel(*k, out, ins[0], ins[1], a.into()),
        Op::Gather(a) => ops::index_cpu::gather_cpu_kernel(out, ins[0], a.dim as usize, ins[1]),
        Op::Scatter(k, a) => ops::index_cpu::scatter_cpu_kernel(out, ins[0], ins[1], ins[2], a.dim as usize, *k == ScatterOp::ScatterAdd),
        Op::IndexSelect(a) => ops::index_cpu::index_select_cpu_kernel(out, ins[0], a.dim as usize, ins[1]),
        Op::IndexAdd(a) => ops::index_cpu::index_add_cpu_kernel(out, ins[0], ins[1], ins[2], a.dim as usize),
        Op::Index => ops::index_cpu::index_cpu_kernel(out, ins[0], &ins[1..]),
        Op::IndexPut(a) => ops::index_cpu::index_put_cpu_kernel(out, ins[0], ins[1], &ins[2..], a.accumulate),
        Op::Sort(a) => {
            let n = ins[0].shape().get(a.dim as usize).copied().unwrap_or(1);
            ops::sort::sort_cpu_kernel(outs[0], outs[1], ins[0], a.dim as usize, a.descending, n)
        }
        Op::Topk(a) => ops::sort::sort_cpu_kernel(outs[0], outs[1], ins[0], a.dim as usize, a.largest, a.k as usize),
        Op::Random(k, a) => ops::random::random_cpu_kernel(*k, out, ins, a),
    }
}
