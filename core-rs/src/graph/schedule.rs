//! Scheduling the optimizer update: a fused step over n parameters (`sgd_step`,
//! `adamw_step`) runs after the whole backward, so every gradient stays alive until the end.
//! Each parameter's update is independent, so the step splits into one node per parameter,
//! each moved to just after the last node it must follow (the one making its gradient, and
//! the last reader of the old parameter or optimizer state): a gradient dies as soon as it is
//! applied, and the arena no longer holds all of them at once.
use super::ir::{Bid, Graph, Node, NodeKind, Vid};
use crate::op::fused::{AdamwAttrs, SgdAttrs};
use crate::op::FusedOp;

/// The per-parameter nodes of a fused optimizer step (None for other nodes).
fn split(g: &Graph, n: &Node) -> Option<Vec<Node>> {
    let NodeKind::Fused(f) = &n.kind else { return None };
    let k = n.inputs.len();
    let (per, make): (usize, Box<dyn Fn(usize) -> FusedOp>) = match f {
        FusedOp::SgdStep(a) if a.momentum != 0.0 && a.fresh.len() == k => {
            let a = a.clone();
            (2, Box::new(move |i| FusedOp::SgdStep(SgdAttrs { fresh: vec![a.fresh[i]], ..a.clone() })))
        }
        FusedOp::SgdStep(a) if a.momentum == 0.0 => {
            let a = a.clone();
            (1, Box::new(move |_| FusedOp::SgdStep(SgdAttrs { fresh: vec![], ..a.clone() })))
        }
        FusedOp::AdamwStep(a) => {
            let a: AdamwAttrs = *a;
            (3, Box::new(move |_| FusedOp::AdamwStep(a)))
        }
        _ => return None,
    };
    if k < 2 || n.outputs.len() != per * k {
        return None;
    }
    let buf = |v: Vid| g.values[v].buffer;
    Some(
        (0..k)
            .map(|i| {
                let outputs: Vec<Vid> = (0..per).map(|j| n.outputs[j * k + i]).collect();
                let bufs: Vec<Bid> = outputs.iter().map(|&o| buf(o)).collect();
                let mutates = n.mutates.iter().copied().filter(|&m| bufs.contains(&buf(m))).collect();
                Node { kind: NodeKind::Fused(make(i)), inputs: vec![n.inputs[i]], outputs, mutates }
            })
            .collect(),
    )
}

/// Splits fused optimizer steps per parameter and moves each update as early as it may go
/// (see the module docs); returns how many updates were moved.
pub fn schedule_optimizer_steps(g: &mut Graph) -> usize {
    let mut moved = 0;
    let mut i = 0;
    while i < g.nodes.len() {
        let Some(parts) = split(g, &g.nodes[i]) else {
            i += 1;
            continue;
        };
        let touches = |j: usize, bufs: &[Bid], reads_only: bool| {
            let n = &g.nodes[j];
            let vals: Box<dyn Iterator<Item = &Vid>> = if reads_only { Box::new(n.inputs.iter().chain(&n.mutates)) } else { Box::new(n.inputs.iter().chain(&n.outputs).chain(&n.mutates)) };
            vals.map(|&v| g.values[v].buffer).any(|b| bufs.contains(&b))
        };
        // each part goes after the last earlier node touching its gradient (its writer and
        // any views), its parameter or its optimizer state
        let mut placed: Vec<(usize, Node)> = parts
            .into_iter()
            .map(|p| {
                let mut bufs: Vec<Bid> = p.outputs.iter().map(|&o| g.values[o].buffer).collect();
                bufs.push(g.values[p.inputs[0]].buffer);
                let after = (0..i).rev().find(|&j| touches(j, &bufs, false)).map_or(0, |j| j + 1);
                (after, p)
            })
            .collect();
        placed.sort_by_key(|p| p.0);
        moved += placed.iter().filter(|p| p.0 < i).count();
        let old = std::mem::take(&mut g.nodes);
        let bs = g.backward_start;
        let mut out = Vec::with_capacity(old.len() + placed.len());
        let mut it = placed.into_iter().peekable();
        let mut new_bs = None;
        for (j, n) in old.into_iter().enumerate() {
            if bs == Some(j) {
                new_bs = Some(out.len());
            }
            while it.peek().is_some_and(|p| p.0 == j) {
                out.push(it.next().unwrap().1);
            }
            if j != i {
                out.push(n);
            }
        }
        out.extend(it.map(|p| p.1));
        if bs.is_some() {
            g.backward_start = new_bs.or(Some(out.len()));
        }
        g.nodes = out;
        i += 1;
    }
    moved
}
