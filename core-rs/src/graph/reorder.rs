//! Reordering a graph's schedule to lower its memory peak. The traced order is the order
//! eager code ran in; any other order that respects every dependency computes the same bits:
//! a reader after the write of the buffer version it reads, a write after every reader of
//! the version it replaces and after the previous write, and the random ops in their traced
//! order (each reserves the next stretch of its stream when it runs). Within those
//! constraints a greedy list schedule picks, among the nodes ready to run, the one that
//! grows the live arena bytes least (bytes it allocates first minus bytes whose last use it
//! is); the forward of a training graph stays before its backward. The new order is kept
//! only when the arena plan of the graph gets smaller.
use super::exec;
use super::ir::{Bid, Graph, NodeKind, Role};
use crate::op::Op;
use std::collections::{HashMap, HashSet};

/// The dependencies of `g`'s nodes: `preds[j]`, the nodes that must run before node `j`.
pub fn dependencies(g: &Graph) -> Vec<Vec<usize>> {
    let n = g.nodes.len();
    let mut preds: Vec<HashSet<usize>> = vec![HashSet::new(); n];
    let mut producer: HashMap<usize, usize> = HashMap::new();
    // the writer of each buffer version, and the readers of each version
    let mut writer: HashMap<(Bid, u32), usize> = HashMap::new();
    let mut last_write: HashMap<Bid, usize> = HashMap::new();
    let mut readers: HashMap<Bid, Vec<(u32, usize)>> = HashMap::new();
    let mut last_random: Option<usize> = None;
    for (j, node) in g.nodes.iter().enumerate() {
        let view = matches!(node.kind, NodeKind::View(_));
        for &v in node.inputs.iter().chain(&node.mutates) {
            if let Some(&p) = producer.get(&v) {
                preds[j].insert(p);
            }
            let val = &g.values[v];
            let key = (val.buffer, val.version);
            if let Some(&w) = writer.get(&key) {
                preds[j].insert(w);
            }
            readers.entry(val.buffer).or_default().push((val.version, j));
        }
        for &o in &node.outputs {
            producer.entry(o).or_insert(j);
            if view {
                continue;
            }
            let val = &g.values[o];
            // a write: after the previous write of the buffer and every reader of its versions
            if let Some(&w) = last_write.get(&val.buffer) {
                preds[j].insert(w);
            }
            if let Some(rs) = readers.get(&val.buffer) {
                preds[j].extend(rs.iter().filter(|&&(ver, r)| ver != val.version && r != j).map(|&(_, r)| r));
            }
            last_write.insert(val.buffer, j);
            writer.insert((val.buffer, val.version), j);
        }
        if matches!(node.kind, NodeKind::Launch(Op::Random(..))) {
            if let Some(r) = last_random {
                preds[j].insert(r);
            }
            last_random = Some(j);
        }
        preds[j].remove(&j);
    }
    preds.into_iter().map(|s| {
        let mut v: Vec<usize> = s.into_iter().collect();
        v.sort_unstable();
        v
    }).collect()
}

/// Whether `order` (a permutation of `g`'s node indices) respects every dependency.
pub fn is_valid_order(g: &Graph, order: &[usize]) -> bool {
    let n = g.nodes.len();
    if order.len() != n {
        return false;
    }
    let mut pos = vec![usize::MAX; n];
    for (k, &i) in order.iter().enumerate() {
        if i >= n || pos[i] != usize::MAX {
            return false;
        }
        pos[i] = k;
    }
    dependencies(g).iter().enumerate().all(|(j, ps)| ps.iter().all(|&p| pos[p] < pos[j]))
}

/// How a ready node is chosen.
#[derive(Clone, Copy)]
enum Rule {
    /// The least growth of live bytes (ties: the traced order).
    LeastGrowth,
    /// A node that frees at least what it allocates, when there is one (the least growth
    /// first); otherwise the earliest in the traced order.
    FreeingFirst,
}

/// A list schedule of `g`'s nodes by `rule` (see the module docs).
fn schedule(g: &Graph, preds: &[Vec<usize>], rule: Rule) -> Vec<usize> {
    let n = g.nodes.len();
    let out_bufs: HashSet<Bid> = g.outputs.iter().map(|&v| g.values[v].buffer).collect();
    let counted = |b: Bid| g.buffers[b].role == Role::Internal && !out_bufs.contains(&b);
    // the arena buffers each node touches, and how many nodes touch each
    let touches: Vec<Vec<Bid>> = g
        .nodes
        .iter()
        .map(|node| {
            let mut bs: Vec<Bid> = node.inputs.iter().chain(&node.outputs).chain(&node.mutates).map(|&v| g.values[v].buffer).filter(|&b| counted(b)).collect();
            bs.sort_unstable();
            bs.dedup();
            bs
        })
        .collect();
    let mut remaining = vec![0usize; g.buffers.len()];
    for bs in &touches {
        for &b in bs {
            remaining[b] += 1;
        }
    }
    let mut succs: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut waiting: Vec<usize> = preds.iter().map(|p| p.len()).collect();
    for (j, ps) in preds.iter().enumerate() {
        for &p in ps {
            succs[p].push(j);
        }
    }
    let bs = g.backward_start.unwrap_or(n).min(n);
    let mut forward_left = bs;
    let mut started = vec![false; g.buffers.len()];
    let mut ready: Vec<usize> = (0..n).filter(|&j| waiting[j] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while !ready.is_empty() {
        let growth = |j: usize| -> i64 {
            touches[j].iter().map(|&b| {
                let alloc = if started[b] { 0 } else { g.buffers[b].nbytes as i64 };
                let free = if remaining[b] == 1 { g.buffers[b].nbytes as i64 } else { 0 };
                alloc - free
            }).sum()
        };
        // the forward first: backward nodes wait until every forward node has run
        let eligible = |j: usize| forward_left == 0 || j < bs;
        let best = match rule {
            Rule::LeastGrowth => ready.iter().copied().filter(|&j| eligible(j)).min_by_key(|&j| (growth(j), j)),
            Rule::FreeingFirst => {
                let freeing = ready.iter().copied().filter(|&j| eligible(j)).map(|j| (growth(j), j)).filter(|p| p.0 <= 0).min();
                freeing.map(|p| p.1).or_else(|| ready.iter().copied().filter(|&j| eligible(j)).min())
            }
        };
        let Some(j) = best else { break };
        ready.retain(|&k| k != j);
        order.push(j);
        if j < bs {
            forward_left -= 1;
        }
        for &b in &touches[j] {
            started[b] = true;
            remaining[b] -= 1;
        }
        for &s in &succs[j] {
            waiting[s] -= 1;
            if waiting[s] == 0 {
                ready.push(s);
            }
        }
    }
    order
}

/// Puts `g`'s nodes in `order` (keeping `backward_start` at the first backward node).
pub fn apply_order(g: &mut Graph, order: &[usize]) {
    let bs = g.backward_start;
    let mut old: Vec<Option<super::ir::Node>> = std::mem::take(&mut g.nodes).into_iter().map(Some).collect();
    g.nodes = order.iter().map(|&i| old[i].take().expect("a permutation")).collect();
    if let Some(s) = bs {
        g.backward_start = Some(order.iter().position(|&i| i >= s).unwrap_or(order.len()));
    }
}

fn arena_bytes(g: &Graph) -> usize {
    exec::plan(g).arenas.iter().map(|a| a.1).sum()
}

/// What reordering did: the arena before and after (equal when the traced order was kept).
#[derive(Clone, Copy, Debug, Default)]
pub struct Reordered {
    pub arena_before: usize,
    pub arena_after: usize,
}

/// Reorders `g`'s schedule when that lowers its planned arena (see the module docs).
pub fn reorder(g: &mut Graph) -> Reordered {
    let before = arena_bytes(g);
    let preds = dependencies(g);
    let mut best: Option<(usize, Vec<usize>)> = None;
    for rule in [Rule::LeastGrowth, Rule::FreeingFirst] {
        let order = schedule(g, &preds, rule);
        if order.len() != g.nodes.len() || order.iter().enumerate().all(|(k, &i)| k == i) {
            continue;
        }
        let mut trial = g.clone();
        apply_order(&mut trial, &order);
        let a = arena_bytes(&trial);
        if a < best.as_ref().map_or(before, |b| b.0) {
            best = Some((a, order));
        }
    }
    match best {
        Some((a, order)) => {
            apply_order(g, &order);
            Reordered { arena_before: before, arena_after: a }
        }
        None => Reordered { arena_before: before, arena_after: before },
    }
}
