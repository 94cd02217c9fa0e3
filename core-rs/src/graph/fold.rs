//! Inference rewrites of frozen graphs. `freeze` turns the state a graph never writes into
//! constants (as `torch.jit.freeze` does), so that constant folding precomputes whatever
//! depends on weights alone; `fold_conv_affine` then folds the per-channel affine chain that
//! follows a convolution (an eval-mode batch norm: subtract the running mean, scale by
//! `rsqrt(var + eps) * weight`, shift by the bias) into the convolution's weight and one bias
//! add, which elementwise fusion joins with the ReLU or residual add after it.
//! `unfuse_eval_batch_norms` first spells each eval-mode `batch_norm_act` with constant
//! statistics after a convolution as that chain (`* scale + shift`, then the residual add and
//! ReLU), so the same fold applies to it.
use super::ir::{Buffer, Graph, Node, NodeKind, Role, Value, Vid};
use crate::dtype::DType;
use crate::error::Result;
use crate::layout::Layout;
use crate::op::{BinaryOp, ConvOp, FusedOp, NnOp, Op, UnaryOp};
use crate::storage::Storage;
use crate::tensor::Tensor;
use std::sync::Arc;

/// Makes every state tensor the graph never writes a constant holding a copy of its current
/// contents (`state[i]`, or the graph's own captured tensor), except those `keep` marks. The
/// remaining state is renumbered in order. Returns how many entries were frozen.
pub fn freeze(g: &mut Graph, state: &[Option<Tensor>], keep: &[bool]) -> Result<usize> {
    let n = g.state.len();
    let mut new_index: Vec<Option<usize>> = vec![None; n];
    let mut frozen = vec![None; n];
    let mut kept = 0;
    for i in 0..n {
        let v = g.state[i].1;
        let b = g.values[v].buffer;
        let t = match (&g.captured[i], state.get(i)) {
            (Some(t), _) => Some(t),
            (None, Some(Some(t))) => Some(t),
            _ => None,
        };
        let bound_here = g.buffers[b].role == Role::State(i);
        match t {
            Some(t) if bound_here && !keep.get(i).copied().unwrap_or(false) && !g.is_written(b) => frozen[i] = Some(snapshot(g, v, t)?),
            _ => {
                new_index[i] = Some(kept);
                kept += 1;
            }
        }
    }
    let mut count = 0;
    for buf in g.buffers.iter_mut() {
        if let Role::State(i) = buf.role {
            if let Some(t) = frozen[i].take() {
                buf.role = Role::Constant(g.constants.len());
                g.constants.push(t);
                count += 1;
            } else if let Some(j) = new_index[i] {
                buf.role = Role::State(j);
            }
        }
    }
    let (state, captured): (Vec<_>, Vec<_>) = std::mem::take(&mut g.state).into_iter().zip(std::mem::take(&mut g.captured)).enumerate().filter(|(i, _)| new_index[*i].is_some()).map(|(_, p)| p).unzip();
    g.state = state;
    g.captured = captured;
    Ok(count)
}

/// A copy of `t` laid out as the graph's value `v` expects (its whole storage when the
/// layouts agree, as the executor binds state; else `v`'s elements in a buffer of their own).
fn snapshot(g: &Graph, v: Vid, t: &Tensor) -> Result<Tensor> {
    let val = &g.values[v];
    let buf = &g.buffers[val.buffer];
    let bytes = |s: &Arc<Storage>| Tensor::from_parts(s.clone(), Layout::contiguous(&[s.nbytes()]), DType::U8);
    if *t.layout() == val.layout && t.storage().nbytes() >= buf.nbytes && t.dtype() == val.dtype {
        let st = Arc::new(Storage::new_on(t.storage().nbytes(), t.device())?);
        crate::ops::copy_raw(&bytes(&st), &bytes(t.storage()))?;
        return Ok(Tensor::from_parts(st, val.layout.clone(), val.dtype));
    }
    let st = Arc::new(Storage::new_on(buf.nbytes, buf.device)?);
    let c = Tensor::from_parts(st, val.layout.clone(), val.dtype);
    crate::ops::copy_raw(&c, t)?;
    Ok(c)
}

/// A never-written CPU constant of a float dtype read by value `v`.
fn fixed(g: &Graph, v: Vid) -> Option<&Tensor> {
    let val = &g.values[v];
    let Role::Constant(c) = g.buffers[val.buffer].role else { return None };
    let ok = val.version == 0 && matches!(val.dtype, DType::F32 | DType::F64) && g.buffers[val.buffer].device.is_cpu() && !g.is_written(val.buffer);
    ok.then(|| &g.constants[c])
}

/// Element `off` (in elements) of a CPU f32/f64 storage, as f64.
fn read(st: &Storage, dt: DType, off: isize) -> f64 {
    unsafe {
        match dt {
            DType::F32 => *(st.ptr() as *const f32).offset(off) as f64,
            _ => *(st.ptr() as *const f64).offset(off),
        }
    }
}

/// The per-channel values of `v` when it is a constant broadcast along every dim but dim 1
/// of `shape` (a `[C]` or `[1, C, 1, 1]` tensor expanded to a conv output).
fn per_channel(g: &Graph, v: Vid, shape: &[usize]) -> Option<Vec<f64>> {
    let c = fixed(g, v)?;
    let l = &g.values[v].layout;
    if l.shape != shape || shape.len() < 2 || l.strides.iter().enumerate().any(|(d, &s)| d != 1 && s != 0 && l.shape[d] > 1) {
        return None;
    }
    let st = c.storage();
    Some((0..shape[1]).map(|k| read(st, g.values[v].dtype, l.offset as isize + k as isize * l.strides[1])).collect())
}

/// A new constant tensor of `data` (f64, stored as `dt`) with the given shape.
fn constant(data: Vec<f64>, shape: &[usize], dt: DType) -> Result<Tensor> {
    match dt {
        DType::F32 => Tensor::from_vec(data.into_iter().map(|x| x as f32).collect::<Vec<f32>>(), shape),
        _ => Tensor::from_vec(data, shape),
    }
}

/// Adds a constant buffer holding `t`, read as `layout`; returns its value.
fn add_constant(g: &mut Graph, t: Tensor, layout: Layout) -> Vid {
    let dtype = t.dtype();
    g.buffers.push(Buffer { nbytes: t.storage().nbytes(), device: t.device(), role: Role::Constant(g.constants.len()) });
    g.constants.push(t);
    g.add_value(Value { dtype, layout, buffer: g.buffers.len() - 1, version: 0, alias_of: None })
}

/// Folds `conv2d(x, W)` followed by per-channel `+ c`, `- c`, `* c`, `/ c` with constant `W`
/// and `c` (each intermediate read only by the next op) into `add(conv2d(x, W * s), t)`;
/// returns the number of convolutions rewritten. Results match the unfolded chain within
/// rounding (the scaled weight and shift are computed in f64, stored in the graph's dtype).
pub fn fold_conv_affine(g: &mut Graph) -> Result<usize> {
    let nv = g.values.len();
    let mut users: Vec<Vec<usize>> = vec![Vec::new(); nv];
    let mut bufvals = vec![0usize; g.buffers.len()];
    for v in &g.values {
        bufvals[v.buffer] += 1;
    }
    for (i, n) in g.nodes.iter().enumerate() {
        for &v in n.inputs.iter().chain(&n.mutates) {
            users[v].push(i);
        }
    }
    let mut drop = vec![false; g.nodes.len()];
    let mut folded = 0;
    for i in 0..g.nodes.len() {
        let NodeKind::Launch(Op::Conv(ConvOp::Conv2d, _)) = &g.nodes[i].kind else { continue };
        let (w, o) = (g.nodes[i].inputs[1], g.nodes[i].outputs[0]);
        let Some(wt) = fixed(g, w) else { continue };
        let (dt, shape) = (g.values[o].dtype, g.values[o].layout.shape.clone());
        if g.values[w].dtype != dt || shape.len() != 4 {
            continue;
        }
        // walk the chain: (node, scale, shift) per step
        let channels = shape[1];
        let (mut s, mut t) = (vec![1.0f64; channels], vec![0.0f64; channels]);
        let mut chain: Vec<usize> = Vec::new();
        let mut cur = o;
        loop {
            let val = &g.values[cur];
            let private = g.buffers[val.buffer].role == Role::Internal && bufvals[val.buffer] == 1 && !g.outputs.contains(&cur) && users[cur].len() == 1;
            if !private {
                break;
            }
            let j = users[cur][0];
            let n = &g.nodes[j];
            let NodeKind::Launch(Op::Binary(op)) = &n.kind else { break };
            if !n.mutates.is_empty() || n.inputs.len() != 2 || n.outputs.len() != 1 || !matches!(op, BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div) {
                break;
            }
            let out = &g.values[n.outputs[0]];
            let fresh = g.buffers[out.buffer].role == Role::Internal && out.layout.is_contiguous() && out.layout.offset == 0 && out.layout.shape == shape && out.dtype == dt;
            let first = n.inputs[0] == cur;
            let other = if first { n.inputs[1] } else { n.inputs[0] };
            if !fresh || other == cur || (!first && matches!(op, BinaryOp::Sub | BinaryOp::Div)) {
                break;
            }
            let Some(c) = per_channel(g, other, &shape) else { break };
            for k in 0..channels {
                match op {
                    BinaryOp::Add => t[k] += c[k],
                    BinaryOp::Sub => t[k] -= c[k],
                    BinaryOp::Mul => (s[k], t[k]) = (s[k] * c[k], t[k] * c[k]),
                    _ => (s[k], t[k]) = (s[k] / c[k], t[k] / c[k]),
                }
            }
            chain.push(j);
            cur = n.outputs[0];
        }
        let Some(&last) = chain.last() else { continue };
        if chain.len() == 1 && matches!(g.nodes[last].kind, NodeKind::Launch(Op::Binary(BinaryOp::Add))) {
            continue; // a plain bias add: already the folded form
        }
        // the scaled weight, contiguous
        let wl = g.values[w].layout.clone();
        let per_out = wl.numel() / wl.shape[0].max(1);
        let st = wt.storage();
        let mut data = Vec::with_capacity(wl.numel());
        let mut idx = vec![0usize; wl.shape.len()];
        for _ in 0..wl.numel() {
            let off = wl.offset as isize + idx.iter().zip(&wl.strides).map(|(&a, &b)| a as isize * b).sum::<isize>();
            data.push(read(st, dt, off) * s[idx[0]]);
            for d in (0..idx.len()).rev() {
                idx[d] += 1;
                if idx[d] < wl.shape[d] {
                    break;
                }
                idx[d] = 0;
            }
        }
        debug_assert_eq!(data.len(), per_out * wl.shape[0]);
        let nw = constant(data, &wl.shape, dt)?;
        let nw = add_constant(g, nw, Layout::contiguous(&wl.shape));
        let bias = constant(t, &[channels], dt)?;
        let bias = add_constant(g, bias, Layout { shape: shape.clone(), strides: vec![0, 1, 0, 0], offset: 0 });
        g.nodes[i].inputs[1] = nw;
        let end = g.nodes[last].outputs[0];
        g.nodes[last] = Node { kind: NodeKind::Launch(Op::Binary(BinaryOp::Add)), inputs: vec![o, bias], outputs: vec![end], mutates: vec![] };
        for &j in &chain[..chain.len() - 1] {
            drop[j] = true;
        }
        folded += 1;
    }
    if folded > 0 {
        g.retain_nodes(&drop.iter().map(|d| !d).collect::<Vec<_>>());
    }
    Ok(folded)
}

/// The `c` values of a constant vector `v` (shape `[c]`, any stride).
fn vector(g: &Graph, v: Vid, c: usize) -> Option<Vec<f64>> {
    let t = fixed(g, v)?;
    let l = &g.values[v].layout;
    (l.shape == [c]).then(|| (0..c).map(|k| read(t.storage(), g.values[v].dtype, l.offset as isize + k as isize * l.strides[0])).collect())
}

/// Rewrites each eval-mode `batch_norm_act` node after a convolution with a constant weight
/// (read by nothing else), whose running statistics, weight and bias are constants (f32 or
/// f64), as `x * scale + shift`, then `+ residual` and
/// ReLU as its attributes ask: per-channel constants computed in f64 as the fused kernel does
/// (`scale = weight / sqrt(var + eps)`, `shift = bias - mean * scale`), launches that
/// `fold_conv_affine` folds into a convolution before them and elementwise fusion groups.
/// Results differ from the fused kernel's by rounding only. Returns the number rewritten.
pub fn unfuse_eval_batch_norms(g: &mut Graph) -> Result<usize> {
    if g.backward_start.is_some() {
        return Ok(0); // a training graph's batch norms save their inputs for the backward
    }
    let nv = g.values.len();
    let (mut users, mut producer) = (vec![0usize; nv], vec![None; nv]);
    let mut bufvals = vec![0usize; g.buffers.len()];
    for v in &g.values {
        bufvals[v.buffer] += 1;
    }
    for (i, n) in g.nodes.iter().enumerate() {
        n.inputs.iter().chain(&n.mutates).for_each(|&v| users[v] += 1);
        n.outputs.iter().for_each(|&v| producer[v] = Some(i));
    }
    // read only by the next node, in a buffer of its own
    let private = |g: &Graph, v: Vid| g.buffers[g.values[v].buffer].role == Role::Internal && bufvals[g.values[v].buffer] == 1 && users[v] == 1 && !g.outputs.contains(&v);
    // a convolution with a constant weight (and maybe a constant bias add) that
    // `fold_conv_affine` will fold the batch norm into: the fused kernel outruns the
    // elementwise loop, so a batch norm with nothing to fold into stays one
    let conv_of = |g: &Graph, v: Vid| -> bool {
        let Some(p) = producer[v] else { return false };
        let n = &g.nodes[p];
        matches!(n.kind, NodeKind::Launch(Op::Conv(ConvOp::Conv2d, _))) && fixed(g, n.inputs[1]).is_some() && g.values[n.inputs[1]].dtype == g.values[v].dtype && g.values[v].layout.shape.len() == 4
    };
    let foldable: Vec<bool> = (0..g.nodes.len())
        .map(|i| {
            let Some(&x) = g.nodes[i].inputs.first() else { return false };
            if !matches!(g.nodes[i].kind, NodeKind::Fused(FusedOp::Nn(NnOp::BatchNormAct(_)))) || !private(g, x) {
                return false;
            }
            if conv_of(g, x) {
                return true;
            }
            let Some(p) = producer[x] else { return false };
            let n = &g.nodes[p];
            let shape = &g.values[x].layout.shape;
            matches!(n.kind, NodeKind::Launch(Op::Binary(BinaryOp::Add))) && n.inputs.len() == 2 && private(g, n.inputs[0]) && conv_of(g, n.inputs[0]) && per_channel(g, n.inputs[1], shape).is_some()
        })
        .collect();
    let mut nodes = Vec::with_capacity(g.nodes.len());
    let mut count = 0;
    for (n, fold) in std::mem::take(&mut g.nodes).into_iter().zip(foldable) {
        match if fold { unfused(g, &n)? } else { None } {
            Some(chain) => {
                nodes.extend(chain);
                count += 1;
            }
            None => nodes.push(n),
        }
    }
    g.nodes = nodes;
    Ok(count)
}

/// The launches replacing node `n` when it is a foldable eval-mode batch norm.
fn unfused(g: &mut Graph, n: &Node) -> Result<Option<Vec<Node>>> {
    let NodeKind::Fused(FusedOp::Nn(NnOp::BatchNormAct(a))) = &n.kind else { return Ok(None) };
    if a.training || !n.mutates.is_empty() || n.outputs.len() != 1 || n.inputs.len() != 3 + a.has_weight as usize + a.has_bias as usize + a.has_residual as usize {
        return Ok(None);
    }
    let (x, y) = (n.inputs[0], n.outputs[0]);
    let (dt, shape) = (g.values[x].dtype, g.values[x].layout.shape.clone());
    let yv = &g.values[y];
    if !matches!(dt, DType::F32 | DType::F64) || shape.len() < 2 || yv.dtype != dt || yv.layout.shape != shape || !g.buffers[g.values[x].buffer].device.is_cpu() {
        return Ok(None);
    }
    let c = shape[1];
    let mut k = 3;
    let mut param = |present: bool, default: f64| -> Option<Vec<f64>> {
        if !present {
            return Some(vec![default; c]);
        }
        k += 1;
        vector(g, n.inputs[k - 1], c)
    };
    let (Some(w), Some(b)) = (param(a.has_weight, 1.0), param(a.has_bias, 0.0)) else { return Ok(None) };
    let (Some(mean), Some(var)) = (vector(g, n.inputs[1], c), vector(g, n.inputs[2], c)) else { return Ok(None) };
    let scale: Vec<f64> = (0..c).map(|ch| w[ch] / (var[ch] + a.eps).sqrt()).collect();
    let shift: Vec<f64> = (0..c).map(|ch| b[ch] - mean[ch] * scale[ch]).collect();
    let residual = a.has_residual.then(|| n.inputs[n.inputs.len() - 1]);
    if residual.is_some_and(|r| g.values[r].dtype != dt || g.values[r].layout.shape != shape) {
        return Ok(None);
    }
    // a [C] constant read broadcast to x's shape, as the chain fold expects
    let mut strides = vec![0isize; shape.len()];
    strides[1] = 1;
    let bcast = Layout { shape: shape.clone(), strides, offset: 0 };
    let s = add_constant(g, constant(scale, &[c], dt)?, bcast.clone());
    let t = add_constant(g, constant(shift, &[c], dt)?, bcast);
    let mut steps: Vec<(Op, Vid)> = vec![(Op::Binary(BinaryOp::Mul), s), (Op::Binary(BinaryOp::Add), t)];
    if let Some(r) = residual {
        steps.push((Op::Binary(BinaryOp::Add), r));
    }
    if a.relu {
        steps.push((Op::Unary(UnaryOp::Relu), usize::MAX));
    }
    let nbytes = shape.iter().product::<usize>() * dt.size();
    let last = steps.len() - 1;
    let mut cur = x;
    let mut chain = Vec::with_capacity(steps.len());
    for (j, (op, other)) in steps.into_iter().enumerate() {
        let out = if j == last {
            y
        } else {
            g.buffers.push(Buffer { nbytes, device: g.buffers[g.values[x].buffer].device, role: Role::Internal });
            g.add_value(Value { dtype: dt, layout: Layout::contiguous(&shape), buffer: g.buffers.len() - 1, version: 0, alias_of: None })
        };
        let inputs = if other == usize::MAX { vec![cur] } else { vec![cur, other] };
        chain.push(Node { kind: NodeKind::Launch(op), inputs, outputs: vec![out], mutates: vec![] });
        cur = out;
    }
    Ok(Some(chain))
}
