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

/// A 2-D convolution with an epilogue applied to each output block while it is in cache:
/// `y = act(conv2d(x, w) * scale[o] + shift[o] + residual)`, each step optional and rounded
/// as the separate launches round it (no fused multiply-add). outs (y [N, O, OH, OW]); ins (x
/// [N, C, H, W], w [O, C/groups, KH, KW], scale if `has_scale`, shift if `has_shift`: [O] or
/// y's shape broadcast from dim 1, residual [y's shape, any strides] if `has_residual`), one
/// float dtype. `relu` keeps NaN and maps -0 to +0, as the unary op does. Built by the graph
/// pass `graph::conv_epilogue` from conv -> mul -> add -> add -> relu chains.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ConvEpilogueAttrs {
    pub stride: [i64; 2],
    pub padding: [i64; 2],
    pub dilation: [i64; 2],
    pub groups: i64,
    pub has_scale: bool,
    pub has_shift: bool,
    pub has_residual: bool,
    pub relu: bool,
}

/// The cell of a recurrent layer, with its gate count: RNN (tanh or relu, 1), LSTM (i, f, g, o),
/// GRU (r, z, n).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RnnMode {
    Tanh,
    Relu,
    Lstm,
    Gru,
}

impl RnnMode {
    pub const ALL: [RnnMode; 4] = [RnnMode::Tanh, RnnMode::Relu, RnnMode::Lstm, RnnMode::Gru];

    /// PyTorch's mode name (`RNN_TANH`, `RNN_RELU`, `LSTM`, `GRU`).
    pub fn name(self) -> &'static str {
        match self {
            RnnMode::Tanh => "RNN_TANH",
            RnnMode::Relu => "RNN_RELU",
            RnnMode::Lstm => "LSTM",
            RnnMode::Gru => "GRU",
        }
    }

    pub fn from_name(name: &str) -> Option<RnnMode> {
        RnnMode::ALL.into_iter().find(|m| m.name() == name)
    }

    pub fn gates(self) -> usize {
        match self {
            RnnMode::Tanh | RnnMode::Relu => 1,
            RnnMode::Lstm => 4,
            RnnMode::Gru => 3,
        }
    }

    /// The width per row of the workspace the backward reads: LSTM's four activated gates,
    /// GRU's r, z, n and W_hn h + b_hn; the plain RNN needs only its states.
    pub fn workspace(self, hidden: usize) -> usize {
        match self {
            RnnMode::Tanh | RnnMode::Relu => 0,
            RnnMode::Lstm | RnnMode::Gru => 4 * hidden,
        }
    }
}

/// One recurrent layer in one direction over a whole sequence, the time loop inside the
/// kernel: outs (y [T, N, Hr], h_n [N, Hr], c_n [N, H] (LSTM, else [0]), then the states and
/// workspace the backward reads when `save`, else [0] each: hs [T+1, N, Hr], cs [T+1, N, H]
/// (LSTM), ws [T, N, mode.workspace(H)]); ins (xp [T, N, G*H] = x W_ih^T + b_ih for every
/// step, h0 [N, Hr], c0 [N, H] or [0], w_hh [G*H, Hr], b_hh [G*H] or [0], w_hr [Hr, H] or
/// [0], lengths int64 [N] or [0]). Hr is `proj_size` when `has_proj` (LSTM only), else H.
/// Slots hold states by time: for time t, the state before it is slot t (slot t + 1 when
/// `reverse`) and after it slot t + 1 (slot t). With lengths, row n runs over its first
/// lengths[n] steps only, as a packed sequence: its state holds still past them and its
/// outputs there are zero.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RnnAttrs {
    pub mode: RnnMode,
    pub reverse: bool,
    pub has_bias: bool,
    pub has_proj: bool,
    pub has_lengths: bool,
    pub save: bool,
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
    Rnn(RnnAttrs),
    /// Backpropagation through time of `Rnn` (its `save` is ignored): outs (gxp [T, N, G*H],
    /// gh0 [N, Hr], gc0 [N, H] or [0], gw_hh [G*H, Hr], gb_hh [G*H] or [0], gw_hr [Hr, H] or
    /// [0]); ins (gy, gh_n, gc_n or [0], hs, cs, ws, w_hh, w_hr, lengths: as the forward).
    RnnBackward(RnnAttrs),
    Conv2dEpilogue(ConvEpilogueAttrs),
}

/// Every name, in a stable order.
pub const NN_FUSED_OPS: &[&str] = &["batch_norm_act", "batch_norm_act_backward", "layer_norm", "layer_norm_backward", "softmax", "softmax_backward", "scaled_masked_softmax", "bias_gelu", "bias_gelu_backward", "rnn", "rnn_backward", "conv2d_epilogue"];

fn b(v: bool) -> AttrValue {
    AttrValue::Scalar(Scalar::Bool(v))
}
fn f(v: f64) -> AttrValue {
    AttrValue::Scalar(Scalar::Float(v))
}
fn i(v: usize) -> AttrValue {
    AttrValue::Scalar(Scalar::Int(v as i64))
}

fn rnn_attrs(a: RnnAttrs) -> Vec<(&'static str, AttrValue)> {
    let mode = RnnMode::ALL.iter().position(|&m| m == a.mode).unwrap_or(0);
    vec![("mode", i(mode)), ("reverse", b(a.reverse)), ("has_bias", b(a.has_bias)), ("has_proj", b(a.has_proj)), ("has_lengths", b(a.has_lengths)), ("save", b(a.save))]
}

fn rnn_from(get: &mut impl FnMut(&str) -> Result<AttrValue>) -> Result<RnnAttrs> {
    let m = get("mode")?.as_i64();
    let mode = *RnnMode::ALL.get(m as usize).ok_or_else(|| crate::error::Error::Runtime(format!("rnn: unknown mode {m} (0 tanh, 1 relu, 2 LSTM, 3 GRU)")))?;
    Ok(RnnAttrs {
        mode,
        reverse: get("reverse")?.as_bool(),
        has_bias: get("has_bias")?.as_bool(),
        has_proj: get("has_proj")?.as_bool(),
        has_lengths: get("has_lengths")?.as_bool(),
        save: get("save")?.as_bool(),
    })
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
            NnOp::Rnn(_) => "rnn",
            NnOp::RnnBackward(_) => "rnn_backward",
            NnOp::Conv2dEpilogue(_) => "conv2d_epilogue",
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
            NnOp::Rnn(a) | NnOp::RnnBackward(a) => rnn_attrs(a),
            NnOp::Conv2dEpilogue(a) => vec![
                ("stride", AttrValue::List(a.stride.to_vec())),
                ("padding", AttrValue::List(a.padding.to_vec())),
                ("dilation", AttrValue::List(a.dilation.to_vec())),
                ("groups", AttrValue::Scalar(Scalar::Int(a.groups))),
                ("has_scale", b(a.has_scale)),
                ("has_shift", b(a.has_shift)),
                ("has_residual", b(a.has_residual)),
                ("relu", b(a.relu)),
            ],
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
            "rnn" => NnOp::Rnn(rnn_from(&mut get)?),
            "rnn_backward" => NnOp::RnnBackward(rnn_from(&mut get)?),
            "conv2d_epilogue" => {
                let mut pair = |attr: &str| -> Result<[i64; 2]> {
                    match get(attr)? {
                        AttrValue::List(v) if v.len() == 2 && v.iter().all(|&x| x >= 0) => Ok([v[0], v[1]]),
                        v => Err(crate::error::Error::Type(format!("conv2d_epilogue: attribute '{attr}' must be a list of 2 non-negative ints, got {v:?}"))),
                    }
                };
                let (stride, padding, dilation) = (pair("stride")?, pair("padding")?, pair("dilation")?);
                NnOp::Conv2dEpilogue(ConvEpilogueAttrs {
                    stride,
                    padding,
                    dilation,
                    groups: get("groups")?.as_i64(),
                    has_scale: get("has_scale")?.as_bool(),
                    has_shift: get("has_shift")?.as_bool(),
                    has_residual: get("has_residual")?.as_bool(),
                    relu: get("relu")?.as_bool(),
                })
            }
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
            // absent operands are [0] placeholders, so the slots stay fixed
            NnOp::Rnn(_) => n_out == 6 && n_in == 7,
            NnOp::RnnBackward(_) => n_out == 6 && n_in == 9,
            NnOp::Conv2dEpilogue(a) => n_out == 1 && n_in == 2 + a.has_scale as usize + a.has_shift as usize + a.has_residual as usize,
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
            NnOp::Rnn(RnnAttrs { mode: RnnMode::Gru, reverse: true, has_bias: true, has_proj: false, has_lengths: true, save: false }),
            NnOp::RnnBackward(RnnAttrs { mode: RnnMode::Lstm, reverse: false, has_bias: false, has_proj: true, has_lengths: false, save: true }),
            NnOp::Conv2dEpilogue(ConvEpilogueAttrs { stride: [2, 1], padding: [1, 0], dilation: [1, 2], groups: 4, has_scale: false, has_shift: true, has_residual: true, relu: true }),
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
        assert!(ops[11].arity_ok(1, 4) && !ops[11].arity_ok(1, 5));
        assert!(ops[9].arity_ok(6, 7) && !ops[9].arity_ok(6, 9) && ops[10].arity_ok(6, 9));
        assert!(NnOp::from_named("rnn", |n| if n == "mode" { Ok(AttrValue::Scalar(Scalar::Int(9))) } else { Ok(b(false)) }).is_err());
        assert_eq!(RnnMode::from_name("GRU"), Some(RnnMode::Gru));
    }
}
