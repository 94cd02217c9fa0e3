//! Graph passes: dead-code elimination, common subexpression elimination, constant folding,
//! and the compaction that renumbers what is left (elementwise fusion lives in `fuse`).
use super::ir::{Bid, Graph, Node, NodeKind, Role, Vid};
use crate::error::Result;
use crate::op::Op;
use std::collections::{HashMap, HashSet};

/// What a pass run changed.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    pub dead: usize,
    pub common: usize,
    pub folded: usize,
    /// Launches folded into fused elementwise nodes.
    pub fused: usize,
    /// Convolutions whose per-channel affine epilogue (a frozen batch norm) was folded in.
    pub conv_folded: usize,
    /// Convolutions whose following shift, residual add and ReLU became their epilogue.
    pub conv_epilogues: usize,
}

/// Removes nodes whose results nothing needs. Roots: the outputs and every write into a bound
/// buffer (inputs, state: those writes persist). A needed buffer version needs its writer, and
/// a writer needs the version it overwrites (a partial write keeps the rest of it).
pub fn dead_code(g: &mut Graph) -> usize {
    let mut vals: HashSet<Vid> = HashSet::new();
    let mut vers: HashSet<(Bid, u32)> = HashSet::new();
    let need = |v: Vid, g: &Graph, vals: &mut HashSet<Vid>, vers: &mut HashSet<(Bid, u32)>| {
        vals.insert(v);
        vers.insert((g.values[v].buffer, g.values[v].version));
    };
    for &v in &g.outputs {
        need(v, g, &mut vals, &mut vers);
    }
    let mut keep = vec![false; g.nodes.len()];
    for (i, n) in g.nodes.iter().enumerate().rev() {
        let live = match n.kind {
            NodeKind::View(_) => vals.contains(&n.outputs[0]),
            NodeKind::Launch(_) | NodeKind::Fused(_) | NodeKind::Elementwise(_) => n.outputs.iter().any(|&o| {
                let v = &g.values[o];
                vals.contains(&o) || vers.contains(&(v.buffer, v.version)) || !matches!(g.buffers[v.buffer].role, Role::Internal | Role::Constant(_))
            }),
        };
        if live {
            keep[i] = true;
            for &v in n.inputs.iter().chain(&n.mutates) {
                need(v, g, &mut vals, &mut vers);
            }
        }
    }
    let before = g.nodes.len();
    g.retain_nodes(&keep);
    before - g.nodes.len()
}

/// Whether every value of buffer `b` belongs to one version (nothing writes it twice).
fn single_version(g: &Graph, b: Bid) -> bool {
    g.values.iter().all(|v| v.buffer != b || v.version == 0)
}

/// Whether node `n` writes one fresh internal buffer, whole and once: a pure function of its
/// inputs whose result may be shared or computed ahead.
fn is_pure(g: &Graph, n: &Node) -> bool {
    let NodeKind::Launch(op) = &n.kind else { return false };
    if matches!(op, Op::Random(..)) || !n.mutates.is_empty() {
        return false;
    }
    n.outputs.iter().all(|&o| {
        let v = &g.values[o];
        let buf = &g.buffers[v.buffer];
        buf.role == Role::Internal && v.layout.is_contiguous() && v.layout.offset == 0 && v.layout.numel() * v.dtype.size() == buf.nbytes && single_version(g, v.buffer)
    })
}

/// Replaces every use of value `from` (and of views of its buffer) by `to`'s buffer.
fn redirect(g: &mut Graph, from: Vid, to: Vid) {
    let (fb, tb) = (g.values[from].buffer, g.values[to].buffer);
    for v in g.values.iter_mut() {
        if v.buffer == fb {
            v.buffer = tb;
        }
    }
    let sub = |x: &mut Vid| {
        if *x == from {
            *x = to;
        }
    };
    for n in g.nodes.iter_mut() {
        n.inputs.iter_mut().for_each(sub);
        n.mutates.iter_mut().for_each(sub);
    }
    g.outputs.iter_mut().for_each(sub);
    for v in g.values.iter_mut() {
        if v.alias_of == Some(from) {
            v.alias_of = Some(to);
        }
    }
}

/// Merges launches of the same op, attributes and inputs (pure ones only).
pub fn common_subexpressions(g: &mut Graph) -> usize {
    let mut seen: HashMap<String, Vec<Vid>> = HashMap::new();
    let mut drop = vec![false; g.nodes.len()];
    for i in 0..g.nodes.len() {
        if let NodeKind::View(_) = &g.nodes[i].kind {
            // the same view of the same value: one value
            let n = &g.nodes[i];
            let o = &g.values[n.outputs[0]];
            let key = format!("view|{}|{}|{:?}", n.inputs[0], o.dtype.name(), o.layout);
            match seen.get(&key) {
                Some(prev) => {
                    let (from, to) = (n.outputs[0], prev[0]);
                    redirect(g, from, to);
                    drop[i] = true;
                }
                None => {
                    seen.insert(key, n.outputs.clone());
                }
            }
            continue;
        }
        if !is_pure(g, &g.nodes[i]) {
            continue;
        }
        let n = &g.nodes[i];
        let sig: Vec<String> = n.outputs.iter().map(|&o| format!("{}{:?}", g.values[o].dtype.name(), g.values[o].layout.shape)).collect();
        let key = format!("{:?}|{:?}|{:?}", n.op(), n.inputs, sig);
        match seen.get(&key) {
            Some(prev) => {
                let (prev, outs) = (prev.clone(), n.outputs.clone());
                for (o, p) in outs.into_iter().zip(prev) {
                    redirect(g, o, p);
                }
                drop[i] = true;
            }
            None => {
                seen.insert(key, n.outputs.clone());
            }
        }
    }
    g.retain_nodes(&drop.iter().map(|d| !d).collect::<Vec<_>>());
    drop.iter().filter(|&&d| d).count()
}

/// The bytes of a constant's storage; a device's read back once (graphs are built once).
fn storage_bytes(st: &std::sync::Arc<crate::storage::Storage>) -> Option<Vec<u8>> {
    if st.device().is_cpu() {
        return Some(unsafe { std::slice::from_raw_parts(st.ptr(), st.nbytes()) }.to_vec());
    }
    let whole = crate::tensor::Tensor::from_parts(st.clone(), crate::layout::Layout::contiguous(&[st.nbytes()]), crate::dtype::DType::U8);
    let host = crate::dispatch::to_device(&whole, crate::device::Device::Cpu).ok()?;
    Some(unsafe { std::slice::from_raw_parts(host.data_ptr(), st.nbytes()) }.to_vec())
}

/// Merges constants of equal dtype, layout, device and bytes (each Python number becomes its
/// own tensor, so `x + 1` written twice reads two constants): common subexpressions then see
/// one, and a fused node one operand (a device kernel takes at most `FMAXT`).
pub fn merge_constants(g: &mut Graph) -> usize {
    const MAX_BYTES: usize = 4096;
    let mut seen: HashMap<(String, Vec<u8>), Vid> = HashMap::new();
    let mut merged = 0;
    for v in 0..g.values.len() {
        let val = &g.values[v];
        let Role::Constant(c) = g.buffers[val.buffer].role else { continue };
        let st = g.constants[c].storage();
        if val.alias_of.is_some() || st.nbytes() > MAX_BYTES || g.is_written(val.buffer) {
            continue;
        }
        let Some(bytes) = storage_bytes(st) else { continue };
        let key = (format!("{:?}{:?}{:?}", val.dtype, val.layout, st.device()), bytes);
        match seen.get(&key) {
            Some(&first) if g.values[first].buffer != val.buffer => {
                redirect(g, v, first);
                merged += 1;
            }
            Some(_) => {}
            None => {
                seen.insert(key, v);
            }
        }
    }
    merged
}

/// Runs, once at build time, every pure launch whose inputs are all constants; its results
/// become constants.
pub fn fold_constants(g: &mut Graph) -> Result<usize> {
    let mut folded = 0;
    let mut i = 0;
    while i < g.nodes.len() {
        let n = &g.nodes[i];
        // (version 0 is the captured contents; a later version was written by the graph)
        let all_const = n.inputs.iter().all(|&v| matches!(g.buffers[g.values[v].buffer].role, Role::Constant(_)) && g.values[v].version == 0);
        if !(is_pure(g, n) && all_const && n.outputs.iter().all(|&o| !g.outputs.contains(&o))) {
            i += 1;
            continue;
        }
        let NodeKind::Launch(op) = &n.kind else { unreachable!() };
        let tensor = |v: Vid| {
            let val = &g.values[v];
            let Role::Constant(c) = g.buffers[val.buffer].role else { unreachable!() };
            crate::tensor::Tensor::from_parts(g.constants[c].storage().clone(), val.layout.clone(), val.dtype)
        };
        let ins: Vec<_> = n.inputs.iter().map(|&v| tensor(v)).collect();
        let outs: Vec<_> = n
            .outputs
            .iter()
            .map(|&o| crate::tensor::Tensor::empty_on(&g.values[o].layout.shape, g.values[o].dtype, g.buffers[g.values[o].buffer].device))
            .collect::<Result<_>>()?;
        crate::dispatch::launch(op, &outs.iter().collect::<Vec<_>>(), &ins.iter().collect::<Vec<_>>())?;
        for (&o, t) in n.outputs.clone().iter().zip(outs) {
            let b = g.values[o].buffer;
            g.buffers[b].role = Role::Constant(g.constants.len());
            g.constants.push(t);
        }
        let keep: Vec<bool> = (0..g.nodes.len()).map(|j| j != i).collect();
        g.retain_nodes(&keep);
        folded += 1;
    }
    Ok(folded)
}

/// Drops the values and constants nothing refers to and renumbers the rest.
pub fn compact(g: &mut Graph) {
    let mut used = vec![false; g.values.len()];
    let mark = |v: Vid, used: &mut Vec<bool>| used[v] = true;
    for n in &g.nodes {
        for &v in n.inputs.iter().chain(&n.outputs).chain(&n.mutates) {
            mark(v, &mut used);
        }
    }
    for &v in g.inputs.iter().chain(&g.outputs).chain(g.state.iter().map(|(_, v)| v)) {
        mark(v, &mut used);
    }
    let mut map = vec![usize::MAX; g.values.len()];
    let mut values = Vec::new();
    for (i, v) in g.values.iter().enumerate() {
        if used[i] {
            map[i] = values.len();
            values.push(v.clone());
        }
    }
    for v in values.iter_mut() {
        v.alias_of = v.alias_of.and_then(|a| (map[a] != usize::MAX).then_some(map[a]));
    }
    g.values = values;
    let re = |x: &mut Vid| *x = map[*x];
    for n in g.nodes.iter_mut() {
        n.inputs.iter_mut().for_each(re);
        n.outputs.iter_mut().for_each(re);
        n.mutates.iter_mut().for_each(re);
    }
    g.inputs.iter_mut().for_each(re);
    g.outputs.iter_mut().for_each(re);
    g.state.iter_mut().for_each(|(_, v)| re(v));
    // constants nobody reads any more
    let mut cmap = vec![None; g.constants.len()];
    let mut consts = Vec::new();
    let live_bufs: HashSet<Bid> = g.values.iter().map(|v| v.buffer).collect();
    for (b, buf) in g.buffers.iter_mut().enumerate() {
        if let Role::Constant(c) = buf.role {
            if live_bufs.contains(&b) {
                let nc = *cmap[c].get_or_insert_with(|| {
                    consts.push(g.constants[c].clone());
                    consts.len() - 1
                });
                buf.role = Role::Constant(nc);
            } else {
                buf.role = Role::Internal; // unreferenced: the plan leaves it out
            }
        }
    }
    g.constants = consts;
}

/// The default pipeline: fold, merge, remove dead code, fold constant per-channel affine
/// chains into the convolutions before them (frozen graphs), make the elementwise ops after a
/// convolution its epilogue and fuse elementwise groups (when `fuse`), apply each parameter's optimizer update as soon as it may run, compact.
pub fn optimize(g: &mut Graph, fuse: bool) -> Result<Stats> {
    optimize_with(g, fuse, true)
}

/// `optimize`, folding convolution epilogues only when `fold_convs` (the one pass whose
/// results differ from the unoptimized graph's by rounding).
pub fn optimize_with(g: &mut Graph, fuse: bool, fold_convs: bool) -> Result<Stats> {
    let folded = fold_constants(g)?;
    merge_constants(g);
    let common = common_subexpressions(g);
    let mut dead = dead_code(g);
    let conv_folded = if fold_convs {
        super::fold::unfuse_eval_batch_norms(g)?;
        super::fold::fold_conv_affine(g)?
    } else {
        0
    };
    if conv_folded > 0 {
        dead += dead_code(g);
    }
    let conv_epilogues = if fuse { super::conv_epilogue::fuse_conv_epilogues(g) } else { 0 };
    let fused = if fuse { super::fuse::fuse_elementwise(g) } else { 0 };
    super::schedule::schedule_optimizer_steps(g);
    compact(g);
    Ok(Stats { dead, common, folded, fused, conv_folded, conv_epilogues })
}
