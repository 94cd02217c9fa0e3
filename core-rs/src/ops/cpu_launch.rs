//! The CPU kernels in the form of the kernel contract: `launch(&Op, outs, ins)` on CPU
//! tensors laid out as a backend would receive them (outputs allocated, inputs cast and
//! broadcast). Installed into `backend::cpu` by `crate::init`; the dispatcher runs them for
//! CPU launches and for ops a plugin lacks, the conformance kit as the reference.
use crate::tensor::graph as autograd;
use crate::error::Result;
use crate::op::{ArgReduceOp, ConvOp, CumulativeOp, Op, RandomOp, ScatterOp};
use crate::ops::{self, Scalar};
use crate::tensor::Tensor;

pub(crate) fn launch(op: &Op, outs: &[&Tensor], ins: &[&Tensor]) -> Result<()> {
    op.check_arity(outs.len(), ins.len())?;
    autograd::with_grad_mode(false, || run(op, outs, ins))
}

fn run(op: &Op, outs: &[&Tensor], ins: &[&Tensor]) -> Result<()> {
    let out = outs[0];
    // the families whose CPU code takes a list of tensors
    let owned = |ts: &[&Tensor]| -> Vec<Tensor> { ts.iter().map(|t| (*t).clone()).collect() };
    let put = |r: &Tensor| ops::copy_raw(out, r);
    match op {
        Op::Unary(u) => ops::unary::cpu_kernel(*u, out, &ins[0]),
        Op::Polygamma(a) => ops::unary::polygamma_cpu_kernel(a.n, out, &ins[0]),
        Op::Binary(b) => ops::binary::cpu_kernel(*b, out, &ins[0], &ins[1]),
        Op::Reduce(r) => ops::reduce::reduce_cpu_kernel(*r, out, ins[0]),
        Op::Where => put(&ops::binary::where_(&ins[0], &ins[1], &ins[2])?),
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
            put(&r)
        }
        Op::Cat(a) => put(&ops::shape::cat(&owned(ins), a.dim)?),
        Op::Pad(a) => {
            // the table gives (before, after) from dim 0; `pad` takes them from the last dim
            let pads: Vec<i64> = a.pads.chunks(2).rev().flatten().copied().collect();
            put(&ops::shape::pad(&ins[0], &pads, a.value)?)
        }
        Op::ArgReduce(k, a) => ops::reduce::arg_cpu_kernel(out, ins[0], a.dim as usize, *k == ArgReduceOp::Argmax),
        Op::Cumulative(k, a) => ops::reduce::cumulative_cpu_kernel(out, ins[0], a.dim as usize, *k == CumulativeOp::Cumprod),
        Op::Matmul => put(&ops::matmul::bmm_raw(&ins[0], &ins[1])?),
        Op::Conv(k, a) => {
            let p = ops::conv::Conv2dParams::from(a);
            let r = match k {
                ConvOp::Conv2d => ops::conv::conv2d_raw(&ins[0], &ins[1], p)?,
                ConvOp::Conv2dInputGrad => ops::conv::conv2d_input_grad(&ins[0], &ins[1], out.shape(), p)?,
                ConvOp::Conv2dWeightGrad => ops::conv::conv2d_weight_grad(&ins[0], &ins[1], out.shape(), p)?,
            };
            put(&r)
        }
        Op::Gather(a) => put(&ops::index::gather(&ins[0], a.dim as usize, &ins[1])?),
        Op::Scatter(k, a) => put(&ops::index::scatter(&ins[0], a.dim as usize, &ins[1], &ins[2], *k == ScatterOp::ScatterAdd)?),
        Op::IndexSelect(a) => put(&ops::index::index_select(&ins[0], a.dim as usize, &ins[1])?),
        Op::IndexAdd(a) => put(&ops::index::index_add(&ins[0], a.dim as usize, &ins[1], &ins[2])?),
        Op::Index => put(&ops::index::index_leading(ins[0], &owned(&ins[1..]))?),
        Op::IndexPut(a) => put(&ops::index::index_put_leading(ins[0], &owned(&ins[2..]), ins[1], a.accumulate)?),
        Op::Sort(a) => {
            let (v, i) = ops::sort::sort(&ins[0], a.dim as usize, a.descending)?;
            ops::copy_raw(outs[0], &v)?;
            ops::copy_raw(outs[1], &i)
        }
        Op::Topk(a) => {
            let (v, i) = ops::sort::topk(&ins[0], a.k as usize, a.dim as usize, a.largest)?;
            ops::copy_raw(outs[0], &v)?;
            ops::copy_raw(outs[1], &i)
        }
        Op::Random(k, a) => {
            let g = ops::random::Generator::new(0);
            g.set_state(ops::random::GenState { seed: a.seed, offset: a.offset });
            let r = match k {
                RandomOp::Rand => ops::random::rand(&g, out.shape(), out.dtype())?,
                RandomOp::Randn => ops::random::randn(&g, out.shape(), out.dtype())?,
                RandomOp::Randint => ops::random::randint(&g, a.low, a.high, out.shape(), out.dtype())?,
                RandomOp::Randperm => ops::random::randperm(&g, out.numel(), out.dtype())?,
                RandomOp::Bernoulli => ops::cast(&ops::random::bernoulli(&g, &ins[0])?, out.dtype())?,
            };
            put(&r)
        }
    }
}
