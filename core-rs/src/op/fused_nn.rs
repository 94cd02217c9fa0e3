//! The fused kernels of the network composites (batch norm + residual + ReLU, layer norm,
//! softmax, attention's scaled and masked softmax, bias + GELU) as data: one `FusedOp::Nn` variant holding an `NnOp`, so these
//! ops serialise by name and replay in a graph like the other fused kernels. Each keeps the
//! composite's meaning; they run on the CPU for float32/float64, and everything else composes
//! the op from primitives (`python/deepseek/nn/functional.py`).
use super::AttrValue;
#[cfg(test)]
use crate::error::Error;
use crate::error::Result;
use crate::scalar::Scalar;

/// Layer norm over the trailing dims from `axis` on: outs (y [x's shape and dtype], mean and
/// rstd [x's shape with the normalized dims as 1], in x's dtype); ins (x, weight [normalized
/// shape] if `has_weight`, bias if `has_bias`). All contiguous-equivalent operands.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerNormAttrs {
    pub axis: usize,
    pub eps: f64,
    pub has_weight: bool,
    pub has_bias: bool,
}

/// The closed-form layer norm backward: outs (gx [x's shape] or [0] when not `input_grad`,
/// gweight and gbias [normalized shape] or [0] when not `param_grad`); ins (gy, x, mean,
/// rstd, weight if `has_weight`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerNormBackwardAttrs {
    pub axis: usize,
    pub has_weight: bool,
    pub input_grad: bool,
    pub param_grad: bool,
}

/// Softmax of `x * scale` over the last dim, masked: outs (p [x's shape]); ins (x, mask if
/// `has_mask`). The mask broadcasts to x (its own shape, right-aligned) and is boolean (True
/// keeps the score, as scaled_dot_product_attention's) when `bool_mask`, else added to the
/// scaled scores. `causal` drops column j > row i of each [L, S] matrix. With `safe`, a row with
/// every score masked is all zeros (scaled_dot_product_attention), else NaN (softmax's).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MaskedSoftmaxAttrs {
    pub scale: f64,
    pub has_mask: bool,
    pub bool_mask: bool,
    pub causal: bool,
    pub safe: bool,
}

/// Batch norm, then `+ residual` when `has_residual`, then ReLU when `relu`. Training mode:
/// outs (y [x's shape and dtype], batch mean [C], 1/sqrt(batch var + eps) [C], the statistics
/// in the compute dtype, f32 or f64); ins (x [N, C, ...], weight [C] if `has_weight`, bias [C]
/// if `has_bias`, residual [x's shape and dtype] if `has_residual`). Eval mode: outs (y); ins
/// (x, running_mean [C], running_var [C], then weight, bias, residual as above).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchNormActAttrs {
    pub eps: f64,
    pub training: bool,
    pub relu: bool,
    pub has_weight: bool,
    pub has_bias: bool,
    pub has_residual: bool,
}

/// The backward of `BatchNormAct`: outs (gx [x's shape] or [0] when not `input_grad`, gweight
/// and gbias [C] or [0], g_residual [x's shape] or [0]: gy masked by the ReLU, which with
/// `relu` is the residual's gradient), all in the compute dtype; ins (gy, x, y if `relu` (its
/// mask is y > 0), mean, then 1/std in training mode or the running variance in eval mode,
/// weight if `has_weight`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchNormActBackwardAttrs {
    pub eps: f64,
    pub training: bool,
    pub relu: bool,
    pub has_weight: bool,
    pub input_grad: bool,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NnOp {
    BatchNormAct(BatchNormActAttrs),
    BatchNormActBackward(BatchNormActBackwardAttrs),
    LayerNorm(LayerNormAttrs),
    LayerNormBackward(LayerNormBackwardAttrs),
    /// (log_)softmax over the last dim: outs (y); ins (x).
    Softmax { log: bool },
    /// outs (gx = scale * the softmax's input gradient); ins (gy, y) where y is the forward's
    /// output (probabilities, or log-probabilities when `log`). With `masked` (attention's
    /// softmax), a row of NaN probabilities (nothing kept) gets a zero gradient, as the
    /// composite's masked_fill gives its masked scores.
    SoftmaxBackward { log: bool, scale: f64, masked: bool },
    ScaledMaskedSoftmax(MaskedSoftmaxAttrs),
    /// gelu(x + bias) with bias over the last dim: outs (y); ins (x, bias if `has_bias`).
    /// `tanh` picks the tanh approximation, else the exact erf form.
    BiasGelu { tanh: bool, has_bias: bool },
    /// outs (gx = gy * gelu'(x + bias)); ins (gy, x, bias if `has_bias`).
    BiasGeluBackward { tanh: bool, has_bias: bool },
}

/// Every name, in a stable order.
pub const NN_FUSED_OPS: &[&str] = &["batch_norm_act", "batch_norm_act_backward", "layer_norm", "layer_norm_backward", "softmax", "softmax_backward", "scaled_masked_softmax", "bias_gelu", "bias_gelu_backward"];

fn b(v: bool) -> AttrValue {
    AttrValue::Scalar(Scalar::Bool(v))
}
fn f(v: f64) -> AttrValue {
    AttrValue::Scalar(Scalar::Float(v))
}
fn i(v: usize) -> AttrValue {
    AttrValue::Scalar(Scalar::Int(v as i64))
}

impl NnOp {
    pub fn name(&self) -> &'static str {
        match self {
            NnOp::BatchNormAct(_) => "batch_norm_act",
            NnOp::BatchNormActBackward(_) => "batch_norm_act_backward",
            NnOp::LayerNorm(_) => "layer_norm",
            NnOp::LayerNormBackward(_) => "layer_norm_backward",
            NnOp::Softmax { .. } => "softmax",
            NnOp::SoftmaxBackward { .. } => "softmax_backward",
            NnOp::ScaledMaskedSoftmax(_) => "scaled_masked_softmax",
            NnOp::BiasGelu { .. } => "bias_gelu",
            NnOp::BiasGeluBackward { .. } => "bias_gelu_backward",
        }
    }

    pub fn attrs(&self) -> Vec<(&'static str, AttrValue)> {
        match *self {
            NnOp::BatchNormAct(a) => vec![
                ("eps", f(a.eps)),
                ("training", b(a.training)),
                ("relu", b(a.relu)),
                ("has_weight", b(a.has_weight)),
                ("has_bias", b(a.has_bias)),
                ("has_residual", b(a.has_residual)),
            ],
            NnOp::BatchNormActBackward(a) => vec![("eps", f(a.eps)), ("training", b(a.training)), ("relu", b(a.relu)), ("has_weight", b(a.has_weight)), ("input_grad", b(a.input_grad))],
            NnOp::LayerNorm(a) => vec![("axis", i(a.axis)), ("eps", f(a.eps)), ("has_weight", b(a.has_weight)), ("has_bias", b(a.has_bias))],
            NnOp::LayerNormBackward(a) => vec![("axis", i(a.axis)), ("has_weight", b(a.has_weight)), ("input_grad", b(a.input_grad)), ("param_grad", b(a.param_grad))],
            NnOp::Softmax { log } => vec![("log", b(log))],
            NnOp::SoftmaxBackward { log, scale, masked } => vec![("log", b(log)), ("scale", f(scale)), ("masked", b(masked))],
            NnOp::ScaledMaskedSoftmax(a) => vec![("scale", f(a.scale)), ("has_mask", b(a.has_mask)), ("bool_mask", b(a.bool_mask)), ("causal", b(a.causal)), ("safe", b(a.safe))],
            NnOp::BiasGelu { tanh, has_bias } | NnOp::BiasGeluBackward { tanh, has_bias } => vec![("tanh", b(tanh)), ("has_bias", b(has_bias))],
        }
    }

    /// The op called `name` from named attributes; `Ok(None)` when `name` is none of these.
    pub fn from_named(name: &str, mut get: impl FnMut(&str) -> Result<AttrValue>) -> Result<Option<NnOp>> {
        Ok(Some(match name {
            "batch_norm_act" => NnOp::BatchNormAct(BatchNormActAttrs {
                eps: get("eps")?.as_f64(),
                training: get("training")?.as_bool(),
                relu: get("relu")?.as_bool(),
                has_weight: get("has_weight")?.as_bool(),
                has_bias: get("has_bias")?.as_bool(),
                has_residual: get("has_residual")?.as_bool(),
            }),
            "batch_norm_act_backward" => NnOp::BatchNormActBackward(BatchNormActBackwardAttrs {
                eps: get("eps")?.as_f64(),
                training: get("training")?.as_bool(),
                relu: get("relu")?.as_bool(),
                has_weight: get("has_weight")?.as_bool(),
                input_grad: get("input_grad")?.as_bool(),
            }),
            "layer_norm" => NnOp::LayerNorm(LayerNormAttrs {
                axis: get("axis")?.as_u64() as usize,
                eps: get("eps")?.as_f64(),
                has_weight: get("has_weight")?.as_bool(),
                has_bias: get("has_bias")?.as_bool(),
            }),
            "layer_norm_backward" => NnOp::LayerNormBackward(LayerNormBackwardAttrs {
                axis: get("axis")?.as_u64() as usize,
                has_weight: get("has_weight")?.as_bool(),
                input_grad: get("input_grad")?.as_bool(),
                param_grad: get("param_grad")?.as_bool(),
            }),
            "softmax" => NnOp::Softmax { log: get("log")?.as_bool() },
            "softmax_backward" => NnOp::SoftmaxBackward { log: get("log")?.as_bool(), scale: get("scale")?.as_f64(), masked: get("masked")?.as_bool() },
            "scaled_masked_softmax" => NnOp::ScaledMaskedSoftmax(MaskedSoftmaxAttrs {
                scale: get("scale")?.as_f64(),
                has_mask: get("has_mask")?.as_bool(),
                bool_mask: get("bool_mask")?.as_bool(),
                causal: get("causal")?.as_bool(),
                safe: get("safe")?.as_bool(),
            }),
            "bias_gelu" => NnOp::BiasGelu { tanh: get("tanh")?.as_bool(), has_bias: get("has_bias")?.as_bool() },
            "bias_gelu_backward" => NnOp::BiasGeluBackward { tanh: get("tanh")?.as_bool(), has_bias: get("has_bias")?.as_bool() },
            _ => return Ok(None),
        }))
    }

    /// Whether the kernel takes `n_out` outputs and `n_in` inputs.
    pub fn arity_ok(&self, n_out: usize, n_in: usize) -> bool {
        match *self {
            NnOp::BatchNormAct(a) => {
                let params = a.has_weight as usize + a.has_bias as usize + a.has_residual as usize;
                if a.training { n_out == 3 && n_in == 1 + params } else { n_out == 1 && n_in == 3 + params }
            }
            NnOp::BatchNormActBackward(a) => n_out == 4 && n_in == 4 + a.relu as usize + a.has_weight as usize,
            NnOp::LayerNorm(a) => n_out == 3 && n_in == 1 + a.has_weight as usize + a.has_bias as usize,
            NnOp::LayerNormBackward(a) => n_out == 3 && n_in == 4 + a.has_weight as usize,
            NnOp::Softmax { .. } => n_out == 1 && n_in == 1,
            NnOp::SoftmaxBackward { .. } => n_out == 1 && n_in == 2,
            NnOp::ScaledMaskedSoftmax(a) => n_out == 1 && n_in == 1 + a.has_mask as usize,
            NnOp::BiasGelu { has_bias, .. } => n_out == 1 && n_in == 1 + has_bias as usize,
            NnOp::BiasGeluBackward { has_bias, .. } => n_out == 1 && n_in == 2 + has_bias as usize,
        }
    }
}

impl From<NnOp> for super::FusedOp {
    fn from(op: NnOp) -> Self {
        super::FusedOp::Nn(op)
    }
}

#[cfg(test)]
fn unknown(name: &str) -> Error {
    Error::Runtime(format!("'{name}' is not a fused transformer op (known: {})", NN_FUSED_OPS.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_round_trip_by_name() {
        let ops = [
            NnOp::BatchNormAct(BatchNormActAttrs { eps: 1e-3, training: false, relu: true, has_weight: true, has_bias: false, has_residual: true }),
            NnOp::BatchNormActBackward(BatchNormActBackwardAttrs { eps: 1e-5, training: true, relu: true, has_weight: false, input_grad: true }),
            NnOp::LayerNorm(LayerNormAttrs { axis: 2, eps: 1e-5, has_weight: true, has_bias: false }),
            NnOp::LayerNormBackward(LayerNormBackwardAttrs { axis: 1, has_weight: false, input_grad: true, param_grad: false }),
            NnOp::Softmax { log: true },
            NnOp::SoftmaxBackward { log: false, scale: 0.125, masked: true },
            NnOp::ScaledMaskedSoftmax(MaskedSoftmaxAttrs { scale: 0.5, has_mask: true, bool_mask: true, causal: false, safe: true }),
            NnOp::BiasGelu { tanh: true, has_bias: true },
            NnOp::BiasGeluBackward { tanh: false, has_bias: false },
        ];
        assert_eq!(ops.iter().map(|o| o.name()).collect::<Vec<_>>(), NN_FUSED_OPS);
        for op in &ops {
            let attrs = op.attrs();
            let back = NnOp::from_named(op.name(), |n| attrs.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone()).ok_or_else(|| unknown(n))).unwrap();
            assert_eq!(back, Some(*op));
            // the FusedOp form names and rebuilds it the same way
            let fused: super::super::FusedOp = (*op).into();
            assert_eq!(fused.name(), op.name());
            let back = super::super::FusedOp::from_named(op.name(), |n| attrs.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone())).unwrap();
            assert_eq!(back, fused);
        }
        assert!(NnOp::from_named("adamw_step", |n| Err(unknown(n))).unwrap().is_none());
        assert!(NnOp::from_named("softmax", |n| Err(unknown(n))).is_err());
        assert!(ops[6].arity_ok(1, 2) && !ops[6].arity_ok(1, 1) && ops[8].arity_ok(1, 2) && !ops[2].arity_ok(3, 1));
        // eval batch_norm_act: x, running mean and var, weight, residual
        assert!(ops[0].arity_ok(1, 5) && !ops[0].arity_ok(3, 3) && ops[1].arity_ok(4, 5) && !ops[1].arity_ok(3, 5));
    }
}
