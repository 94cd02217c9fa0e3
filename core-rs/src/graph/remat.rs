//! Memory budgets for training graphs: the graph's schedule becomes `recompute`'s model
//! (each node's fresh bytes, FLOPs and readers), the planner chooses the forward results to
//! recompute, and the graph is rewritten accordingly: each chosen node is cloned, with
//! buffers of its own, just before its first reader in the backward, and the backward reads
//! the clone's results (all of them: a batch norm's statistics too). The arena plan of the
//! rewritten graph is checked against the budget (the model ignores alignment and
//! placement), tightening the model's budget until it fits.
//! Each candidate's schedule is also reordered where that lowers the arena (`reorder`),
//! which alone may meet the budget with nothing recomputed.
use super::exec;
use super::ir::{Bid, Graph, Node, NodeKind, Role, Value, Vid};
use super::recompute::{self, Node as MNode};
use super::reorder;
use crate::error::{Error, Result};
use crate::op::fused_nn::NnOp;
use crate::op::{ConvOp, FusedOp, Op, RandomOp};
use std::collections::HashMap;

/// What a budget did to a graph.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Forward results read by the backward and kept alive until then (node output values).
    pub kept: Vec<Vid>,
    /// Forward results recomputed in the backward (values of the original graph).
    pub recomputed: Vec<Vid>,
    pub kept_bytes: usize,
    pub recomputed_bytes: usize,
    pub extra_flops: u64,
    /// The arena (bytes) without and with the recomputation (and the reordering).
    pub arena_before: usize,
    pub arena_after: usize,
    /// The arena of the final graph before its schedule was reordered (`reorder`).
    pub arena_before_reorder: usize,
}

/// An estimate of the work of node `n`: multiply-adds count two.
fn flops(g: &Graph, n: &Node) -> u64 {
    let numel = |v: Vid| g.values[v].layout.numel() as u64;
    let out = n.outputs.first().map_or(0, |&o| numel(o));
    match &n.kind {
        NodeKind::Launch(Op::Matmul) => {
            let a = &g.values[n.inputs[0]].layout.shape;
            2 * out * a.last().copied().unwrap_or(1) as u64
        }
        NodeKind::Launch(Op::Conv(ConvOp::Conv2d, _)) => {
            let w = &g.values[n.inputs[1]].layout.shape;
            2 * out * (numel(n.inputs[1]) / w[0].max(1) as u64)
        }
        NodeKind::Launch(Op::Reduce(..)) => numel(n.inputs[0]),
        NodeKind::Elementwise(p) => out * p.steps.len() as u64,
        _ => out.max(1),
    }
}

/// Whether a node of kind `k` computes its outputs from its inputs alone (running it twice
/// gives the same bits and changes nothing else): launches but the random ops, fused
/// elementwise groups, max pooling, and a training-mode batch norm (+ residual, + ReLU),
/// whose outputs (the normalised activation, the batch mean and 1/std) are a function of its
/// input: recomputing it from the kept convolution output is a few passes over the tensor,
/// where recomputing a convolution costs its whole GEMM. (Other nodes update the running
/// statistics.)
fn pure(k: &NodeKind) -> bool {
    match k {
        NodeKind::Launch(Op::Random(RandomOp::Rand | RandomOp::Randn | RandomOp::Randint | RandomOp::Randperm | RandomOp::Bernoulli, _)) => false,
        NodeKind::Launch(_) | NodeKind::Elementwise(_) => true,
        NodeKind::Fused(FusedOp::Nn(NnOp::BatchNormAct(a))) => a.training,
        NodeKind::Fused(FusedOp::BatchNormTrain(_) | FusedOp::MaxPool2d(_)) => true,
        _ => false,
    }
}

/// Whether node `i` may be recomputed: a pure node (`pure`) writing fresh internal buffers
/// that are no result of the graph and never written again, whose inputs nothing writes
/// between it and the last reader of its results.
fn recomputable(g: &Graph, i: usize, last_read: usize) -> bool {
    let n = &g.nodes[i];
    if !pure(&n.kind) || !n.mutates.is_empty() || n.outputs.is_empty() {
        return false;
    }
    for &ov in &n.outputs {
        let o = &g.values[ov];
        let b = o.buffer;
        if g.buffers[b].role != Role::Internal || o.version != 0 || g.outputs.iter().any(|&v| g.values[v].buffer == b) {
            return false;
        }
        if g.values.iter().any(|v| v.buffer == b && v.version != 0) {
            return false; // written again later
        }
    }
    n.inputs.iter().all(|&v| {
        let ib = g.values[v].buffer;
        !(i + 1..=last_read.min(g.nodes.len() - 1))
            .any(|j| !matches!(g.nodes[j].kind, NodeKind::View(_)) && g.nodes[j].outputs.iter().any(|&w| g.values[w].buffer == ib))
    })
}

/// The model of `g`'s schedule: one model node per non-view node; its fresh bytes are the
/// internal buffers it writes first, its reads the nodes that made the buffers it reads.
/// Returns the model, the graph index of each model node and the model's backward start.
fn model(g: &Graph, bs: usize) -> (Vec<MNode>, Vec<usize>, usize) {
    let mut maker: HashMap<Bid, usize> = HashMap::new();
    let mut nodes = Vec::new();
    let mut index = Vec::new();
    let mut mstart = None;
    for (i, n) in g.nodes.iter().enumerate() {
        if i >= bs && mstart.is_none() {
            mstart = Some(nodes.len());
        }
        if matches!(n.kind, NodeKind::View(_)) {
            continue;
        }
        let m = nodes.len();
        let mut reads: Vec<usize> = Vec::new();
        for &v in n.inputs.iter().chain(&n.mutates) {
            if let Some(&p) = maker.get(&g.values[v].buffer) {
                if p != m && !reads.contains(&p) {
                    reads.push(p);
                }
            }
        }
        let mut bytes = 0;
        for &o in &n.outputs {
            let b = g.values[o].buffer;
            if g.buffers[b].role == Role::Internal && !maker.contains_key(&b) {
                maker.insert(b, m);
                bytes += g.buffers[b].nbytes;
            }
        }
        nodes.push(MNode { flops: flops(g, n), out_bytes: bytes, reads });
        index.push(i);
    }
    let start = mstart.unwrap_or(nodes.len());
    (nodes, index, start)
}

/// Rewrites `g` so the forward nodes `chosen` (graph indices) are recomputed in the backward.
fn rewrite(g: &mut Graph, bs: usize, chosen: &[usize]) {
    let n0 = g.nodes.len();
    let out_bufs: HashMap<usize, Vec<Bid>> = chosen.iter().map(|&i| (i, g.nodes[i].outputs.iter().map(|&o| g.values[o].buffer).collect())).collect();
    // where each clone goes: before its first backward reader, or before the clone of a
    // recomputed reader (readers come later, so walk the chosen nodes from the last)
    let mut at: HashMap<usize, usize> = HashMap::new();
    let reads_any = |j: usize, bs_: &[Bid]| g.nodes[j].inputs.iter().chain(&g.nodes[j].mutates).any(|&v| bs_.contains(&g.values[v].buffer));
    let mut order: Vec<usize> = chosen.to_vec();
    order.sort_unstable();
    for &i in order.iter().rev() {
        let b = &out_bufs[&i];
        let mut first = (bs..n0).find(|&j| reads_any(j, b)).unwrap_or(n0);
        for &k in order.iter().filter(|&&k| k > i && reads_any(k, b)) {
            first = first.min(at[&k]);
        }
        at.insert(i, first);
    }
    // a buffer of its own for each output of a clone, with a copy of every value of the
    // original buffer
    let mut vmap: HashMap<Vid, Vid> = HashMap::new();
    for &i in &order {
        for &b in &out_bufs[&i] {
            let nb = g.buffers.len();
            g.buffers.push(g.buffers[b].clone());
            let olds: Vec<Vid> = (0..g.values.len()).filter(|&v| g.values[v].buffer == b).collect();
            for &v in &olds {
                let nv = g.add_value(Value { buffer: nb, ..g.values[v].clone() });
                vmap.insert(v, nv);
            }
            for &v in &olds {
                let a = g.values[vmap[&v]].alias_of.map(|a| *vmap.get(&a).unwrap_or(&a));
                g.values[vmap[&v]].alias_of = a;
            }
        }
    }
    let map = |v: &mut Vid| {
        if let Some(&n) = vmap.get(v) {
            *v = n;
        }
    };
    // the clones (with the forward views of their results), and the backward reading them
    let mut clones: Vec<(usize, usize, Node)> = Vec::new();
    for &i in &order {
        let b = &out_bufs[&i];
        let mut c = g.nodes[i].clone();
        c.inputs.iter_mut().for_each(map);
        c.outputs.iter_mut().for_each(map);
        clones.push((at[&i], i, c));
        for j in i + 1..bs {
            if matches!(g.nodes[j].kind, NodeKind::View(_)) && b.contains(&g.values[g.nodes[j].outputs[0]].buffer) {
                let mut v = g.nodes[j].clone();
                v.inputs.iter_mut().for_each(map);
                v.outputs.iter_mut().for_each(map);
                clones.push((at[&i], j, v));
            }
        }
    }
    for j in bs..n0 {
        let n = &mut g.nodes[j];
        n.inputs.iter_mut().for_each(map);
        n.mutates.iter_mut().for_each(map);
        if matches!(n.kind, NodeKind::View(_)) {
            n.outputs.iter_mut().for_each(map);
        }
    }
    clones.sort_by_key(|c| (c.0, c.1));
    let old = std::mem::take(&mut g.nodes);
    let mut ci = clones.into_iter().peekable();
    for (j, n) in old.into_iter().enumerate() {
        while ci.peek().is_some_and(|c| c.0 == j) {
            g.nodes.push(ci.next().unwrap().2);
        }
        g.nodes.push(n);
    }
    g.nodes.extend(ci.map(|c| c.2));
}

fn arena_bytes(p: &exec::Plan) -> usize {
    p.arenas.iter().map(|a| a.1).sum()
}

/// Rewrites `g` so its arena fits `budget` bytes by recomputing forward results in the
/// backward (see the module docs). A budget the arena already meets changes nothing; one that
/// no recomputation reaches is an error naming the least arena found.
pub fn apply_budget(g: &mut Graph, budget: usize) -> Result<Report> {
    let bs = g.backward_start.ok_or_else(|| Error::Runtime("memory_budget: the graph has no marked backward (only training steps traced by trace_train_step can recompute)".into()))?;
    let before = arena_bytes(&exec::plan(g));
    let (nodes, index, mstart) = model(g, bs);
    let last_read: Vec<usize> = (0..nodes.len())
        .map(|m| nodes.iter().enumerate().filter(|(_, n)| n.reads.contains(&m)).map(|(k, _)| index[k]).max().unwrap_or(index[m]))
        .collect();
    let allowed: Vec<bool> = (0..nodes.len()).map(|m| m < mstart && recomputable(g, index[m], last_read[m])).collect();
    let mut report = Report { arena_before: before, arena_after: before, arena_before_reorder: before, ..Default::default() };
    let finish = |g: &Graph, report: &mut Report, plan: &recompute::RecomputePlan| {
        report.kept = plan.kept.iter().map(|&m| g.nodes[index[m]].outputs[0]).collect();
        report.recomputed = plan.recomputed.iter().map(|&m| g.nodes[index[m]].outputs[0]).collect();
        report.kept_bytes = plan.kept.iter().map(|&m| nodes[m].out_bytes).sum();
        report.recomputed_bytes = plan.recomputed.iter().map(|&m| nodes[m].out_bytes).sum();
        report.extra_flops = plan.extra_flops;
    };
    if before <= budget {
        let plan = recompute::plan_recompute_among(&nodes, mstart, usize::MAX, &|m| allowed[m]);
        finish(g, &mut report, &plan);
        return Ok(report);
    }
    // reordering alone may meet the budget (it costs no FLOPs, so it is tried first)
    let mut reordered = g.clone();
    let ro = reorder::reorder(&mut reordered);
    if ro.arena_after <= budget {
        let plan = recompute::plan_recompute_among(&nodes, mstart, usize::MAX, &|m| allowed[m]);
        finish(g, &mut report, &plan);
        report.arena_after = ro.arena_after;
        *g = reordered;
        return Ok(report);
    }
    // the model's peak ignores alignment and placement: tighten its budget until the arena fits
    let mut target = budget;
    let mut best = before;
    for _ in 0..12 {
        let plan = recompute::plan_recompute_among(&nodes, mstart, target, &|m| allowed[m]);
        let mut trial = g.clone();
        let chosen: Vec<usize> = plan.recomputed.iter().map(|&m| index[m]).collect();
        rewrite(&mut trial, bs, &chosen);
        let ro = reorder::reorder(&mut trial);
        let got = ro.arena_after;
        if got <= budget {
            finish(g, &mut report, &plan);
            report.arena_after = got;
            report.arena_before_reorder = ro.arena_before;
            *g = trial;
            return Ok(report);
        }
        best = best.min(got);
        if !plan.fits && plan.peak >= target {
            break; // no further recomputation lowers the model's peak
        }
        target = target.saturating_sub(got - budget).min(plan.peak.saturating_sub(1));
        if target == 0 {
            break;
        }
    }
    Err(Error::Runtime(format!(
        "memory_budget={budget} bytes cannot be met: the graph's arena needs {before} bytes, and recomputing forward results in the backward lowers it to {best} bytes at best"
    )))
}
