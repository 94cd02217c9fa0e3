//! The fused CPU kernels (`crate::op::fused`) behind one entry point, installed into
//! `backend::cpu` by `crate::init` beside the primitives' kernels; `dispatch::launch_fused`
//! runs them.
use crate::error::Result;
use crate::op::{FusedOp, NnOp};
use crate::ops;
use crate::tensor::graph as autograd;
use crate::tensor::Tensor;

pub(crate) fn launch(op: &FusedOp, outs: &[&Tensor], ins: &[&Tensor]) -> Result<()> {
    autograd::with_grad_mode(false, || match op {
        FusedOp::BatchNormTrain(a) => ops::norm::batch_norm_cpu_kernel(a, outs, ins),
        FusedOp::BatchNormTrainBackward(a) => ops::norm::batch_norm_backward_cpu_kernel(a, outs, ins),
        FusedOp::MaxPool2d(a) => ops::pool::max_pool2d_cpu_kernel(a, outs[0], outs.get(1).copied(), ins[0]),
        FusedOp::MaxPool2dBackward => ops::pool::max_pool2d_backward_cpu_kernel(outs[0], ins[0], ins[1]),
        FusedOp::ReluBackward => ops::unary::relu_backward_cpu_kernel(outs[0], ins[0], ins[1]),
        FusedOp::AdamwStep(a) => ops::optim::adamw_cpu_kernel(a, outs, ins),
        FusedOp::OptimStep(o) => ops::optim_rules::optim_cpu_kernel(o, outs, ins),
        FusedOp::SgdStep(a) => ops::optim::sgd_cpu_kernel(a, outs, ins),
        FusedOp::Nn(op) => launch_nn(op, outs, ins),
    })
}

fn launch_nn(op: &NnOp, outs: &[&Tensor], ins: &[&Tensor]) -> Result<()> {
    match op {
        NnOp::BatchNormAct(a) => ops::bn_act::batch_norm_act_cpu_kernel(a, outs, ins),
        NnOp::BatchNormActBackward(a) => ops::bn_act::batch_norm_act_backward_cpu_kernel(a, outs, ins),
        NnOp::LayerNorm(a) => ops::layer_norm::layer_norm_cpu_kernel(a, outs, ins),
        NnOp::LayerNormBackward(a) => ops::layer_norm::layer_norm_backward_cpu_kernel(a, outs, ins),
        NnOp::Softmax { log } => ops::softmax::softmax_cpu_kernel(*log, outs[0], ins[0]),
        NnOp::SoftmaxBackward { log, scale, masked } => ops::softmax::softmax_backward_cpu_kernel(*log, *scale, *masked, outs[0], ins[0], ins[1]),
        NnOp::ScaledMaskedSoftmax(a) => ops::softmax::masked_softmax_cpu_kernel(a, outs[0], ins[0], ins.get(1).copied()),
        NnOp::BiasGelu { tanh, .. } => ops::gelu::bias_gelu_cpu_kernel(*tanh, outs[0], None, ins[0], ins.get(1).copied()),
        NnOp::BiasGeluBackward { tanh, .. } => ops::gelu::bias_gelu_cpu_kernel(*tanh, outs[0], Some(ins[0]), ins[1], ins.get(2).copied()),
        NnOp::Rnn(a) => ops::rnn_cpu::rnn_cpu_kernel(a, outs, ins),
        NnOp::RnnBackward(a) => ops::rnn_cpu::rnn_backward_cpu_kernel(a, outs, ins),
        NnOp::Conv2dEpilogue(a) => ops::conv_epilogue::conv2d_epilogue_cpu_kernel(a, outs[0], ins),
    }
}
