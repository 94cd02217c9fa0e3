//! A recurrent layer (RNN tanh/relu, LSTM, GRU) in one direction over a whole sequence as one
//! fused op with its backward as another (`NnOp::Rnn`, `NnOp::RnnBackward`; kernels in
//! `rnn_cpu`). The caller gives the input projection of every step, `x W_ih^T + b_ih`, computed
//! as one GEMM with the ordinary differentiable ops, so the gradients of x, W_ih and b_ih flow
//! through those; this op differentiates the recurrence itself. It has the meaning of the step
//! loop that `nn.LSTM` and friends compose from primitives, and runs on the CPU in float32 and
//! float64.
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::op::fused_nn::{NnOp, RnnAttrs, RnnMode};
use crate::op::FusedOp;
use crate::tensor::graph::{self as autograd, record, Save};
use crate::tensor::Tensor;

/// The weights and options of one layer in one direction.
pub struct RnnLayer<'a> {
    pub mode: RnnMode,
    pub reverse: bool,
    /// [G*H, Hr]
    pub w_hh: &'a Tensor,
    /// [G*H], added to `h W_hh^T` (for GRU inside its reset gate's product)
    pub b_hh: Option<&'a Tensor>,
    /// LSTM's projection [Hr, H]
    pub w_hr: Option<&'a Tensor>,
    /// int64 [N]: row n runs over its first lengths[n] steps (a packed sequence)
    pub lengths: Option<&'a Tensor>,
}

fn placeholder(dt: DType) -> Result<Tensor> {
    Tensor::empty(&[0], dt)
}

fn check(what: &str, t: &Tensor, want: &[usize], dt: DType, l: &RnnLayer) -> Result<()> {
    if t.shape() != want || t.dtype() != dt {
        return Err(Error::Runtime(format!(
            "rnn ({}): {what} has shape {:?} and dtype {}, expected {want:?} and {}",
            l.mode.name(),
            t.shape(),
            t.dtype().name(),
            dt.name()
        )));
    }
    if !t.device().is_cpu() {
        return Err(Error::Runtime(format!("rnn ({}): the fused recurrent kernel runs on the CPU, got {what} on {}", l.mode.name(), t.device().name())));
    }
    Ok(())
}

/// Runs the layer over `xp` [T, N, G*H] from `h0` [N, Hr] (and `c0` [N, H] for LSTM). Returns
/// (output [T, N, Hr], h_n [N, Hr], c_n [N, H] for LSTM), differentiable in xp, h0, c0 and
/// the layer's weights.
pub fn rnn_layer(xp: &Tensor, h0: &Tensor, c0: Option<&Tensor>, l: &RnnLayer) -> Result<(Tensor, Tensor, Option<Tensor>)> {
    let dt = xp.dtype();
    if !matches!(dt, DType::F32 | DType::F64) || xp.ndim() != 3 || h0.ndim() != 2 {
        return Err(Error::Runtime(format!(
            "rnn ({}): expected a float32 or float64 input projection [T, N, G*H] and state [N, Hr], got {:?} ({}) and {:?}",
            l.mode.name(),
            xp.shape(),
            dt.name(),
            h0.shape()
        )));
    }
    let (steps, n, gh) = (xp.shape()[0], xp.shape()[1], xp.shape()[2]);
    let g = l.mode.gates();
    let (h, hr) = (gh / g, h0.shape()[1]);
    let lstm = l.mode == RnnMode::Lstm;
    if gh % g != 0 || h == 0 || (l.w_hr.is_none() && hr != h) {
        return Err(Error::Runtime(format!(
            "rnn ({}): the input projection's last dim {gh} must be {g} * hidden_size, and the state {:?} [N, hidden_size{}]",
            l.mode.name(),
            h0.shape(),
            if l.w_hr.is_some() { " or proj_size" } else { "" }
        )));
    }
    check("input projection", xp, &[steps, n, gh], dt, l)?;
    check("h_0", h0, &[n, hr], dt, l)?;
    check("weight_hh", l.w_hh, &[gh, hr], dt, l)?;
    if let Some(b) = l.b_hh {
        check("bias_hh", b, &[gh], dt, l)?;
    }
    if let Some(w) = l.w_hr {
        if !lstm {
            return Err(Error::Runtime(format!("rnn ({}): a projection (weight_hr) is only supported for LSTM", l.mode.name())));
        }
        check("weight_hr", w, &[hr, h], dt, l)?;
    }
    match (lstm, c0) {
        (true, Some(c)) => check("c_0", c, &[n, h], dt, l)?,
        (false, None) => {}
        _ => return Err(Error::Runtime(format!("rnn ({}): a cell state c_0 is given exactly for LSTM", l.mode.name()))),
    }
    if let Some(len) = l.lengths {
        check("lengths", len, &[n], DType::I64, l)?;
    }
    let p = placeholder(dt)?;
    let c0t = c0.cloned().unwrap_or_else(|| p.clone());
    let lens = match l.lengths {
        Some(t) => t.clone(),
        None => placeholder(DType::I64)?,
    };
    let (b_hh, w_hr) = (l.b_hh.cloned().unwrap_or_else(|| p.clone()), l.w_hr.cloned().unwrap_or_else(|| p.clone()));
    // the differentiable inputs, in the order the backward returns their gradients
    let mut inputs: Vec<&Tensor> = vec![xp, h0];
    inputs.extend(c0);
    inputs.push(l.w_hh);
    inputs.extend(l.b_hh);
    inputs.extend(l.w_hr);
    let save = autograd::needs_grad(&inputs);
    let attrs = RnnAttrs { mode: l.mode, reverse: l.reverse, has_bias: l.b_hh.is_some(), has_proj: l.w_hr.is_some(), has_lengths: l.lengths.is_some(), save };
    let y = Tensor::empty(&[steps, n, hr], dt)?;
    let h_n = Tensor::empty(&[n, hr], dt)?;
    let c_n = if lstm { Tensor::empty(&[n, h], dt)? } else { p.clone() };
    let kept = |shape: &[usize]| if save { Tensor::empty(shape, dt) } else { placeholder(dt) };
    let hs = kept(&[steps + 1, n, hr])?;
    let cs = if lstm { kept(&[steps + 1, n, h])? } else { p.clone() };
    let ws = if l.mode.workspace(h) > 0 { kept(&[steps, n, l.mode.workspace(h)])? } else { p.clone() };
    crate::dispatch::launch_fused(&FusedOp::Nn(NnOp::Rnn(attrs)), &[&y, &h_n, &c_n, &hs, &cs, &ws], &[xp, h0, &c0t, l.w_hh, &b_hh, &w_hr, &lens])?;
    if save {
        let wants: Vec<bool> = inputs.iter().map(|t| t.requires_grad()).collect();
        let saves = [hs, cs, ws, l.w_hh.clone(), w_hr, lens].into_iter().map(Save::Input).collect();
        let outputs: Vec<&Tensor> = if lstm { vec![&y, &h_n, &c_n] } else { vec![&y, &h_n] };
        let (has_bias, has_proj) = (attrs.has_bias, attrs.has_proj);
        record("RnnLayerBackward0", &inputs, &outputs, saves, move |grads, sv| {
            // grad mode is on in a backward exactly under create_graph=True; this backward's
            // results would not be differentiable, so refuse rather than cut the graph silently
            if autograd::is_grad_enabled() {
                return Err(Error::Runtime(format!(
                    "rnn ({}): double backward (create_graph=True) through the fused recurrent kernel is not supported; \
                     set `RNNBase.fused = False` (deepseek.nn.modules.rnn) to compose the layer from differentiable ops",
                    attrs.mode.name()
                )));
            }
            let zeros = |shape: &[usize]| Tensor::zeros(shape, dt);
            let gy = match &grads[0] {
                Some(g) => g.clone(),
                None => zeros(&[steps, n, hr])?,
            };
            let ghn = match grads.get(1).cloned().flatten() {
                Some(g) => g,
                None => zeros(&[n, hr])?,
            };
            let gcn = match (lstm, grads.get(2).cloned().flatten()) {
                (true, Some(g)) => g,
                (true, None) => zeros(&[n, h])?,
                (false, _) => placeholder(dt)?,
            };
            let empty = |on: bool, shape: &[usize]| if on { Tensor::empty(shape, dt) } else { placeholder(dt) };
            let gxp = Tensor::empty(&[steps, n, gh], dt)?;
            let gh0 = Tensor::empty(&[n, hr], dt)?;
            let gc0 = empty(lstm, &[n, h])?;
            let gw_hh = Tensor::empty(&[gh, hr], dt)?;
            let gb_hh = empty(has_bias, &[gh])?;
            let gw_hr = empty(has_proj, &[hr, h])?;
            crate::dispatch::launch_fused(
                &FusedOp::Nn(NnOp::RnnBackward(attrs)),
                &[&gxp, &gh0, &gc0, &gw_hh, &gb_hh, &gw_hr],
                &[&gy, &ghn, &gcn, &sv[0], &sv[1], &sv[2], &sv[3], &sv[4], &sv[5]],
            )?;
            let mut out = vec![Some(gxp), Some(gh0)];
            if lstm {
                out.push(Some(gc0));
            }
            out.push(Some(gw_hh));
            if has_bias {
                out.push(Some(gb_hh));
            }
            if has_proj {
                out.push(Some(gw_hr));
            }
            Ok(out.into_iter().zip(&wants).map(|(g, &w)| if w { g } else { None }).collect())
        });
    }
    Ok((y, h_n, lstm.then_some(c_n)))
}
