//! Convolution epilogues: a CPU float convolution followed by a per-channel multiply, a
//! per-channel add (a frozen batch norm folded by `fold`, or a conv bias), a residual add and
//! a ReLU (each optional, in that order) becomes one `conv2d_epilogue` node
//! (`NnOp::Conv2dEpilogue`) whose kernel applies the chain to each output block while the
//! GEMM's result is still in cache (`ops::conv_epilogue`), instead of a separate pass over the
//! output. Each intermediate must be read by the next op only (in a buffer of its own, no
//! result of the graph); the node takes the place of the chain's last op, so nothing outside
//! the chain may write its operands in between. Results are those of the separate launches.
use super::ir::{Buffer, Graph, Node, NodeKind, Role, Value, Vid};
use crate::dtype::DType;
use crate::layout::Layout;
use crate::op::fused_nn::{ConvEpilogueAttrs, NnOp};
use crate::op::{BinaryOp, ConvAttrs, ConvOp, FusedOp, Op, UnaryOp};

/// Whether value `v` holds a whole, contiguous, fresh internal CPU buffer of a float dtype.
fn fresh(g: &Graph, v: Vid) -> bool {
    let val = &g.values[v];
    let buf = &g.buffers[val.buffer];
    matches!(val.dtype, DType::F32 | DType::F64)
        && buf.device.is_cpu()
        && buf.role == Role::Internal
        && val.version == 0
        && val.layout.is_contiguous()
        && val.layout.offset == 0
        && val.layout.numel() * val.dtype.size() == buf.nbytes
}

/// Whether `v` is `shape` broadcast from dim 1 (a per-channel operand) on the CPU.
fn per_channel(g: &Graph, v: Vid, shape: &[usize]) -> bool {
    let l = &g.values[v].layout;
    l.shape == shape && g.buffers[g.values[v].buffer].device.is_cpu() && l.strides.iter().enumerate().all(|(d, &s)| d == 1 || s == 0 || l.shape[d] == 1)
}

/// Rewrites every convolution chain it can (see the module docs) into one `conv2d_epilogue`
/// node; returns how many. Inference graphs only (a training graph's backward reads the
/// intermediates it would remove, and its recomputation planner works on launches).
pub fn fuse_conv_epilogues(g: &mut Graph) -> usize {
    if g.backward_start.is_some() {
        return 0;
    }
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
    let private = |g: &Graph, v: Vid| fresh(g, v) && bufvals[g.values[v].buffer] == 1 && users[v].len() == 1 && !g.outputs.contains(&v);
    let mut drop = vec![false; g.nodes.len()];
    // a node joins one chain only (a residual add after two convolutions: the first takes it)
    let mut claimed = vec![false; g.nodes.len()];
    let mut replace: Vec<(usize, Node)> = Vec::new();
    for i in 0..g.nodes.len() {
        let n = &g.nodes[i];
        let NodeKind::Launch(Op::Conv(ConvOp::Conv2d, ca)) = &n.kind else { continue };
        if !n.mutates.is_empty() || n.outputs.len() != 1 || n.inputs.len() != 2 {
            continue;
        }
        let (x, w, o) = (n.inputs[0], n.inputs[1], n.outputs[0]);
        let (dt, shape) = (g.values[o].dtype, g.values[o].layout.shape.clone());
        let cpu = |v: Vid| g.buffers[g.values[v].buffer].device.is_cpu() && g.values[v].dtype == dt;
        if !fresh(g, o) || shape.len() != 4 || !cpu(x) || !cpu(w) {
            continue;
        }
        // the chain: stage 0 may take a scale, 1 a shift, 2 a residual, 3 the ReLU
        // the chain: (node, stage, operand); stage 0 is a scale, 1 a shift, 2 a residual, 3 the ReLU
        let (mut stage, mut cur) = (0, o);
        let mut chain: Vec<(usize, usize, Option<Vid>)> = Vec::new();
        while stage < 4 && private(g, cur) {
            let j = users[cur][0];
            let m = &g.nodes[j];
            if claimed[j] || !m.mutates.is_empty() || m.outputs.len() != 1 || !fresh(g, m.outputs[0]) || g.values[m.outputs[0]].layout.shape != shape || g.values[m.outputs[0]].dtype != dt {
                break;
            }
            let other = m.inputs.iter().copied().find(|&v| v != cur);
            let two = m.inputs.len() == 2 && other.is_some();
            let took = match &m.kind {
                NodeKind::Launch(Op::Binary(BinaryOp::Mul)) if stage == 0 && two && per_channel(g, other.unwrap(), &shape) && cpu(other.unwrap()) => 0,
                NodeKind::Launch(Op::Binary(BinaryOp::Add)) if stage <= 1 && two && per_channel(g, other.unwrap(), &shape) && cpu(other.unwrap()) => 1,
                NodeKind::Launch(Op::Binary(BinaryOp::Add)) if stage <= 2 && two && g.values[other.unwrap()].layout.shape == shape && cpu(other.unwrap()) => 2,
                NodeKind::Launch(Op::Unary(UnaryOp::Relu)) if m.inputs.len() == 1 => 3,
                _ => break,
            };
            chain.push((j, took, other.filter(|_| took < 3)));
            stage = took + 1;
            cur = m.outputs[0];
        }
        // the node runs at the chain's last op: its operands must hold then what they held when
        // read, and the result's buffer must be untouched before; else the chain is shortened
        // (a residual made by another convolution's chain in between stays out of this one)
        let clash = |chain: &[(usize, usize, Option<Vid>)], ins: &[Vid]| {
            let last = chain.last().unwrap().0;
            let out_buf = g.values[g.nodes[last].outputs[0]].buffer;
            (i + 1..last).filter(|&j| !chain.iter().any(|c| c.0 == j)).any(|j| {
                let m = &g.nodes[j];
                let writes = !matches!(m.kind, NodeKind::View(_));
                let touches_out = m.inputs.iter().chain(&m.outputs).chain(&m.mutates).any(|&v| g.values[v].buffer == out_buf);
                touches_out || (writes && m.outputs.iter().chain(&m.mutates).any(|&v| ins.iter().any(|&u| g.values[u].buffer == g.values[v].buffer)))
            })
        };
        let operand = |chain: &[(usize, usize, Option<Vid>)], k: usize| chain.iter().find(|c| c.1 == k).and_then(|c| c.2);
        let ins_of = |chain: &[(usize, usize, Option<Vid>)]| -> Vec<Vid> { [Some(x), Some(w), operand(chain, 0), operand(chain, 1), operand(chain, 2)].into_iter().flatten().collect() };
        while !chain.is_empty() && clash(&chain, &ins_of(&chain)) {
            chain.pop();
        }
        let Some(&(last, _, _)) = chain.last() else { continue };
        let ins = ins_of(&chain);
        let cur = g.nodes[last].outputs[0];
        let has = |k: usize| chain.iter().any(|c| c.1 == k);
        let pair = |a: i64, b: i64| [a, b];
        let attrs = ConvEpilogueAttrs {
            stride: pair(ca.stride_h, ca.stride_w),
            padding: pair(ca.pad_h, ca.pad_w),
            dilation: pair(ca.dilation_h, ca.dilation_w),
            groups: ca.groups,
            has_scale: has(0),
            has_shift: has(1),
            has_residual: has(2),
            relu: has(3),
        };
        drop[i] = true;
        for &(j, _, _) in &chain[..chain.len() - 1] {
            drop[j] = true;
        }
        for &(j, _, _) in &chain {
            claimed[j] = true;
        }
        replace.push((last, Node { kind: NodeKind::Fused(FusedOp::Nn(NnOp::Conv2dEpilogue(attrs))), inputs: ins, outputs: vec![cur], mutates: vec![] }));
    }
    let count = replace.len();
    for (j, node) in replace {
        g.nodes[j] = node;
    }
    if count > 0 {
        g.retain_nodes(&drop.iter().map(|d| !d).collect::<Vec<_>>());
    }
    count
}

/// Expands every `conv2d_epilogue` node back into its launches (each intermediate in a fresh
/// internal buffer), so that passes written for launches (freezing's folds) see them again;
/// returns how many nodes were expanded.
pub fn unfuse_conv_epilogues(g: &mut Graph) -> usize {
    let mut count = 0;
    let old = std::mem::take(&mut g.nodes);
    let bs = g.backward_start;
    let mut new_bs = None;
    for (i, n) in old.into_iter().enumerate() {
        if bs == Some(i) {
            new_bs = Some(g.nodes.len());
        }
        let NodeKind::Fused(FusedOp::Nn(NnOp::Conv2dEpilogue(a))) = n.kind else {
            g.nodes.push(n);
            continue;
        };
        count += 1;
        let y = n.outputs[0];
        let like = g.values[y].clone();
        let mut ins = n.inputs[2..].iter().copied();
        let mut steps: Vec<(Op, Option<Vid>)> = Vec::new();
        if a.has_scale {
            steps.push((Op::Binary(BinaryOp::Mul), ins.next()));
        }
        if a.has_shift {
            steps.push((Op::Binary(BinaryOp::Add), ins.next()));
        }
        if a.has_residual {
            steps.push((Op::Binary(BinaryOp::Add), ins.next()));
        }
        if a.relu {
            steps.push((Op::Unary(UnaryOp::Relu), None));
        }
        let fresh_value = |g: &mut Graph| {
            g.buffers.push(Buffer { nbytes: g.buffers[like.buffer].nbytes, device: g.buffers[like.buffer].device, role: Role::Internal });
            g.add_value(Value { dtype: like.dtype, layout: Layout::contiguous(&like.layout.shape), buffer: g.buffers.len() - 1, version: 0, alias_of: None })
        };
        let conv_out = if steps.is_empty() { y } else { fresh_value(g) };
        let ca = ConvAttrs {
            stride_h: a.stride[0],
            stride_w: a.stride[1],
            pad_h: a.padding[0],
            pad_w: a.padding[1],
            dilation_h: a.dilation[0],
            dilation_w: a.dilation[1],
            groups: a.groups,
        };
        g.nodes.push(Node { kind: NodeKind::Launch(Op::Conv(ConvOp::Conv2d, ca)), inputs: n.inputs[..2].to_vec(), outputs: vec![conv_out], mutates: vec![] });
        let mut cur = conv_out;
        let k = steps.len();
        for (s, (op, other)) in steps.into_iter().enumerate() {
            let out = if s + 1 == k { y } else { fresh_value(g) };
            let inputs = match other {
                Some(v) => vec![cur, v],
                None => vec![cur],
            };
            g.nodes.push(Node { kind: NodeKind::Launch(op), inputs, outputs: vec![out], mutates: vec![] });
            cur = out;
        }
    }
    if bs.is_some() {
        g.backward_start = new_bs.or(Some(g.nodes.len()));
    }
    count
}
