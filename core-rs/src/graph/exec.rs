//! The executor: binds inputs, state and constants, carves internal buffers from one arena per
//! device (the memory plan), runs each launch node through the dispatcher (so every backend
//! runs graphs) and returns the outputs in storage of their own.
use super::ir::{Bid, Graph, NodeKind, Role, Vid};
use super::memplan::{plan_arena_reusing, BufferReq};
use crate::device::Device;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::op::fused::{AdamwAttrs, SgdAttrs};
use crate::op::{FusedOp, Op, RandomOp};
use crate::storage::Storage;
use crate::tensor::Tensor;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Where a buffer's memory comes from at each run.
#[derive(Clone, Debug, PartialEq)]
pub enum Slot {
    /// Bound from an input, a state tensor or a constant.
    Bound,
    /// Its own allocation (buffers holding outputs, written constants).
    Fresh,
    /// `offset` bytes into arena `arena`.
    Arena { arena: usize, offset: usize },
    /// No value refers to it any more (a pass removed its uses).
    Unused,
}

/// The memory plan of a graph.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub slots: Vec<Slot>,
    /// (device, bytes) of each arena.
    pub arenas: Vec<(Device, usize)>,
    /// Bytes of every internal buffer with no reuse, and the least any arena could have.
    pub unplanned: usize,
    pub live_peak: usize,
    /// (buffer, the dead input buffer whose memory it took): elementwise results written in
    /// place over an input that dies at their node.
    pub in_place: Vec<(Bid, Bid)>,
    /// The arenas of the last run, kept for the next one.
    pub kept: KeptArenas,
}

/// A plan's arenas between runs. Each run used to take its arenas from the caching allocator
/// and give them back at the end; in a process that also runs other work (an eager step, a
/// second graph) the allocator's trimming (it keeps its cache within a sixteenth of the peak)
/// returned the large arena to the system between runs, so every run mapped it afresh and the
/// kernel zeroed each of its pages again on first touch: the unbudgeted ResNet-50 step's
/// 115 MiB arena cost 10-70 ms a step that way (bench/RESULTS.md). A plan now keeps its arenas,
/// as memory of the graph's own, from one run to the next; they are released with the plan
/// (a replan, the graph's end) or by `release`. A clone starts with none.
#[derive(Default)]
pub struct KeptArenas(Mutex<Vec<Arc<Storage>>>);

impl Clone for KeptArenas {
    fn clone(&self) -> Self {
        KeptArenas::default()
    }
}

impl std::fmt::Debug for KeptArenas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeptArenas({} bytes)", self.bytes())
    }
}

impl KeptArenas {
    /// The arenas for one run: the kept ones when they are there and free (another thread
    /// running the same plan at once gets fresh ones), else new ones.
    fn take(&self, arenas: &[(Device, usize)]) -> Result<Vec<Arc<Storage>>> {
        if let Ok(mut k) = self.0.try_lock() {
            if k.len() == arenas.len() && !k.is_empty() {
                return Ok(std::mem::take(&mut *k));
            }
        }
        arenas.iter().map(|&(d, n)| Storage::new_on(n, d).map(Arc::new)).collect()
    }

    /// Keeps `arenas` for the next run, unless a tensor still refers to one of them or the
    /// place is taken.
    fn put_back(&self, arenas: Vec<Arc<Storage>>) {
        if arenas.is_empty() || arenas.iter().any(|a| Arc::strong_count(a) != 1) {
            return;
        }
        if let Ok(mut k) = self.0.try_lock() {
            if k.is_empty() {
                *k = arenas;
            }
        }
    }

    /// Bytes held between runs.
    pub fn bytes(&self) -> usize {
        self.0.lock().map(|k| k.iter().map(|a| a.nbytes()).sum()).unwrap_or(0)
    }

    /// Gives the kept arenas back to the allocator (the next run takes new ones).
    pub fn release(&self) {
        if let Ok(mut k) = self.0.lock() {
            k.clear();
        }
    }
}

/// The first and last node of each buffer (None for buffers no node touches).
fn lifetimes(g: &Graph) -> Vec<Option<(usize, usize)>> {
    let mut life: Vec<Option<(usize, usize)>> = vec![None; g.buffers.len()];
    for (i, n) in g.nodes.iter().enumerate() {
        for &v in n.inputs.iter().chain(&n.outputs).chain(&n.mutates) {
            let b = g.values[v].buffer;
            life[b] = Some(match life[b] {
                None => (i, i),
                Some((s, _)) => (s, i),
            });
        }
    }
    life
}

/// For each buffer, an internal buffer whose memory it may take over (`memplan::
/// plan_arena_reusing`): its writer is elementwise, it is born there and the other is an input
/// of that node, of the same dtype and layout, that dies there. In a fused node the input must
/// not be read by a step after the one computing the output.
fn in_place_offers(g: &Graph, life: &[Option<(usize, usize)>], arena: &dyn Fn(Bid) -> bool) -> Vec<Option<Bid>> {
    let mut offers = vec![None; g.buffers.len()];
    for (i, n) in g.nodes.iter().enumerate() {
        let pairs: Vec<(Vid, Vid)> = match &n.kind {
            NodeKind::Launch(Op::Unary(_) | Op::Binary(_)) if n.mutates.is_empty() => n.inputs.iter().map(|&v| (n.outputs[0], v)).collect(),
            NodeKind::Elementwise(p) => {
                let mut v = Vec::new();
                for (j, &o) in n.outputs.iter().enumerate() {
                    let r = p.outputs[j];
                    if r < p.n_inputs || p.outputs.iter().position(|&x| x == r) != Some(j) {
                        continue; // copied after every step: not written in step order
                    }
                    let k = r - p.n_inputs;
                    for (m, &inp) in n.inputs.iter().enumerate() {
                        let late = p.steps.iter().enumerate().any(|(s, st)| s > k && st.args.contains(&m));
                        if !late && !p.outputs.contains(&m) {
                            v.push((o, inp));
                        }
                    }
                }
                v
            }
            _ => continue,
        };
        for (o, v) in pairs {
            let (ov, iv) = (&g.values[o], &g.values[v]);
            let (ob, ib) = (ov.buffer, iv.buffer);
            let whole = ov.layout.is_contiguous() && ov.layout.offset == 0;
            if ob == ib || offers[ob].is_some() || !arena(ob) || !arena(ib) || !whole || iv.dtype != ov.dtype || iv.layout != ov.layout {
                continue;
            }
            if g.buffers[ob].device != g.buffers[ib].device || life[ob].map(|l| l.0) != Some(i) || life[ib].map(|l| l.1) != Some(i) {
                continue;
            }
            offers[ob] = Some(ib);
        }
    }
    offers
}

impl Plan {
    /// The bytes of each tensor a run allocates outside its arenas: buffers of their own (the
    /// outputs the caller keeps, written constants) in buffer order, then the copies of
    /// constant outputs (`run_at_step`'s last step).
    pub fn outside_arena(&self, g: &Graph) -> Vec<usize> {
        let mut out: Vec<usize> = self.slots.iter().enumerate().filter(|(_, s)| **s == Slot::Fresh).map(|(b, _)| g.buffers[b].nbytes).collect();
        for &v in &g.outputs {
            let b = g.values[v].buffer;
            if matches!(g.buffers[b].role, Role::Constant(_)) && self.slots[b] == Slot::Bound {
                out.push(g.values[v].layout.shape.iter().product::<usize>() * g.values[v].dtype.size());
            }
        }
        out
    }
}

/// Plans memory: buffers of outputs get their own storage, every other internal buffer a place
/// in its device's arena (an elementwise result in the memory of an input dying there, when
/// `in_place`).
pub fn plan(g: &Graph) -> Plan {
    plan_with(g, true)
}

pub fn plan_with(g: &Graph, in_place: bool) -> Plan {
    let out_bufs: Vec<Bid> = g.outputs.iter().map(|&v| g.values[v].buffer).collect();
    let life = lifetimes(g);
    let mut slots = vec![Slot::Bound; g.buffers.len()];
    let mut devices: Vec<Device> = Vec::new();
    let mut reqs: Vec<Vec<(Bid, BufferReq)>> = Vec::new();
    let mut p = Plan::default();
    let mut referenced = vec![false; g.buffers.len()];
    for v in &g.values {
        referenced[v.buffer] = true;
    }
    for (b, buf) in g.buffers.iter().enumerate() {
        if !referenced[b] {
            slots[b] = Slot::Unused;
            continue;
        }
        match buf.role {
            Role::Constant(_) if g.is_written(b) => slots[b] = Slot::Fresh,
            Role::Internal if out_bufs.contains(&b) => slots[b] = Slot::Fresh,
            Role::Internal => {
                let Some((start, end)) = life[b] else {
                    slots[b] = Slot::Fresh;
                    continue;
                };
                let d = devices.iter().position(|&d| d == buf.device).unwrap_or_else(|| {
                    devices.push(buf.device);
                    reqs.push(Vec::new());
                    devices.len() - 1
                });
                reqs[d].push((b, BufferReq { size: buf.nbytes, start, end }));
                p.unplanned += buf.nbytes;
            }
            _ => {}
        }
    }
    let in_arena = |b: Bid| g.buffers[b].role == Role::Internal && !out_bufs.contains(&b) && life[b].is_some();
    let offers = if in_place { in_place_offers(g, &life, &in_arena) } else { vec![None; g.buffers.len()] };
    for (d, rs) in reqs.iter().enumerate() {
        let only: Vec<BufferReq> = rs.iter().map(|r| r.1).collect();
        let index: std::collections::HashMap<Bid, usize> = rs.iter().enumerate().map(|(k, r)| (r.0, k)).collect();
        let reuse: Vec<Option<usize>> = rs.iter().map(|r| offers[r.0].and_then(|i| index.get(&i).copied())).collect();
        let (ap, took, least) = plan_arena_reusing(&only, &reuse);
        p.live_peak += least;
        for ((b, _), off) in rs.iter().zip(ap.offsets) {
            slots[*b] = Slot::Arena { arena: d, offset: off };
        }
        for (k, t) in took.iter().enumerate() {
            if let Some(i) = t {
                p.in_place.push((rs[k].0, rs[*i].0));
            }
        }
        p.arenas.push((devices[d], ap.size));
    }
    p.slots = slots;
    p
}

/// A buffer's memory for one run: a storage and the byte offset of the buffer inside it.
type Mem = (Arc<Storage>, usize);

fn tensor_on(mem: &Mem, layout: &Layout, dtype: crate::dtype::DType) -> Tensor {
    let mut l = layout.clone();
    l.offset += mem.1 / dtype.size();
    Tensor::from_parts(mem.0.clone(), l, dtype)
}

/// Binds `t` as the buffer behind value `v`: its own storage when the layouts agree,
/// otherwise a copy laid out as traced.
fn bind(g: &Graph, v: Vid, t: &Tensor, what: &str) -> Result<Mem> {
    let val = &g.values[v];
    let buf = &g.buffers[val.buffer];
    if t.dtype() != val.dtype || t.shape() != val.layout.shape.as_slice() {
        return Err(Error::Runtime(format!(
            "graph: {what} must be {}{:?} as traced, got {}{:?}",
            val.dtype.name(),
            val.layout.shape,
            t.dtype().name(),
            t.shape()
        )));
    }
    if t.device() != buf.device {
        return Err(Error::Runtime(format!("graph: {what} must be on {} as traced, got {}", buf.device.name(), t.device().name())));
    }
    if *t.layout() == val.layout && t.storage().nbytes() >= buf.nbytes {
        return Ok((t.storage().clone(), 0));
    }
    let st = Arc::new(Storage::new_on(buf.nbytes, buf.device)?);
    let mem = (st, 0);
    crate::ops::copy_raw(&tensor_on(&mem, &val.layout, val.dtype), t)?;
    Ok(mem)
}

/// 32-bit words a random op draws for `n` elements (as the eager ops reserve them).
fn random_words(k: RandomOp, n: usize) -> usize {
    match k {
        RandomOp::Randn => 2 * (n + (n & 1)),
        _ => 2 * n,
    }
}

/// Runs `g` once. `state` holds the named state tensors in `g.state` order (unnamed entries
/// are bound from `g.captured` and may be anything).
pub fn run(g: &Graph, plan: &Plan, inputs: &[Tensor], state: &[Option<Tensor>]) -> Result<Vec<Tensor>> {
    run_at_step(g, plan, inputs, state, 0, &[])
}

/// The learning rate `lrs` gives for the parameter a fused optimizer node updates (the state
/// its first output writes; NaN or a missing entry: the traced one).
fn lr_of(g: &Graph, n: &super::ir::Node, lrs: &[f64]) -> Option<f64> {
    let b = g.values[*n.outputs.first()?].buffer;
    let Role::State(i) = g.buffers[b].role else { return None };
    lrs.get(i).copied().filter(|x| !x.is_nan())
}

/// The fused optimizer update `f` at run time: its step count advanced by `steps`, its
/// learning rate replaced by `lr` (an LR scheduler's current value); None when unchanged.
fn at_run_time(f: &FusedOp, steps: u64, lr: Option<f64>) -> Option<FusedOp> {
    match f {
        FusedOp::AdamwStep(a) if steps != 0 || lr.is_some() => Some(FusedOp::AdamwStep(AdamwAttrs { step: a.step + steps, lr: lr.unwrap_or(a.lr), ..*a })),
        FusedOp::SgdStep(a) if lr.is_some() => Some(FusedOp::SgdStep(SgdAttrs { lr: lr.unwrap(), ..a.clone() })),
        _ => None,
    }
}

/// `run`, with two run-time inputs of a training graph: the optimizer steps' counts advanced
/// by `steps` past their traced values (Adam's bias correction reads them), and `lrs`, the
/// learning rate of each state entry that is a parameter (NaN: as traced), which fused SGD
/// and AdamW updates use instead of the traced one (LR schedulers), as the random ops'
/// stream positions are read at run time.
pub fn run_at_step(g: &Graph, plan: &Plan, inputs: &[Tensor], state: &[Option<Tensor>], steps: u64, lrs: &[f64]) -> Result<Vec<Tensor>> {
    run_timed(g, plan, inputs, state, steps, lrs, None)
}

/// Seconds one profiled run spent: binding inputs, state and constants and taking the arenas
/// (`setup`), each node in `g.nodes` order (views take none: they are layouts, not work),
/// and the whole run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Profile {
    pub setup: f64,
    pub nodes: Vec<f64>,
    pub total: f64,
}

/// `run_at_step`, timing each node (`Profile`). The clock is read around each node's launch
/// only, so the results and the work done are those of an untimed run.
pub fn run_profiled(g: &Graph, plan: &Plan, inputs: &[Tensor], state: &[Option<Tensor>], steps: u64, lrs: &[f64]) -> Result<(Vec<Tensor>, Profile)> {
    let mut p = Profile { nodes: vec![0.0; g.nodes.len()], ..Profile::default() };
    let outs = run_timed(g, plan, inputs, state, steps, lrs, Some(&mut p))?;
    Ok((outs, p))
}

fn run_timed(g: &Graph, plan: &Plan, inputs: &[Tensor], state: &[Option<Tensor>], steps: u64, lrs: &[f64], mut prof: Option<&mut Profile>) -> Result<Vec<Tensor>> {
    if inputs.len() != g.inputs.len() {
        return Err(Error::Runtime(format!("graph: expected {} input(s), got {}", g.inputs.len(), inputs.len())));
    }
    let t0 = Instant::now();
    // A run recorded by a trace must see arenas made inside it (a kept one would look like
    // state captured from before the trace).
    let keep = !super::trace::is_tracing();
    let arenas = if keep { plan.kept.take(&plan.arenas)? } else { plan.arenas.iter().map(|&(d, n)| Storage::new_on(n, d).map(Arc::new)).collect::<Result<_>>()? };
    let res = run_on(g, plan, &arenas, inputs, state, steps, lrs, prof.as_deref_mut(), t0);
    if keep {
        plan.kept.put_back(arenas);
    }
    if let Some(p) = prof {
        p.total = t0.elapsed().as_secs_f64();
    }
    res
}

#[allow(clippy::too_many_arguments)]
fn run_on(
    g: &Graph,
    plan: &Plan,
    arenas: &[Arc<Storage>],
    inputs: &[Tensor],
    state: &[Option<Tensor>],
    steps: u64,
    lrs: &[f64],
    mut prof: Option<&mut Profile>,
    t0: Instant,
) -> Result<Vec<Tensor>> {
    let mut mem: Vec<Option<Mem>> = vec![None; g.buffers.len()];
    for (i, (&v, t)) in g.inputs.iter().zip(inputs).enumerate() {
        let b = g.values[v].buffer;
        if g.buffers[b].role == Role::Input(i) {
            mem[b] = Some(bind(g, v, t, &format!("input {i}"))?);
        }
    }
    for (i, (name, v)) in g.state.iter().enumerate() {
        let t = match (&g.captured[i], state.get(i)) {
            (Some(t), _) => t,
            (None, Some(Some(t))) => t,
            _ => return Err(Error::Runtime(format!("graph: state '{}' was not given", name.as_deref().unwrap_or("?")))),
        };
        let b = g.values[*v].buffer;
        if g.buffers[b].role == Role::State(i) {
            mem[b] = Some(bind(g, *v, t, &format!("state '{}'", name.as_deref().unwrap_or("(captured)")))?);
        }
    }
    for (b, buf) in g.buffers.iter().enumerate() {
        let m = match (&buf.role, &plan.slots[b]) {
            (_, Slot::Unused) => continue,
            (Role::Constant(i), Slot::Fresh) => {
                let c = &g.constants[*i];
                let st = Arc::new(Storage::new_on(c.storage().nbytes(), c.device())?);
                let whole = |s: &Arc<Storage>| Tensor::from_parts(s.clone(), Layout::contiguous(&[s.nbytes()]), crate::dtype::DType::U8);
                crate::ops::copy_raw(&whole(&st), &whole(c.storage()))?;
                (st, 0)
            }
            (Role::Constant(i), _) => (g.constants[*i].storage().clone(), 0),
            (Role::Internal, Slot::Arena { arena, offset }) => (arenas[*arena].clone(), *offset),
            (Role::Internal, _) => (Arc::new(Storage::new_on(buf.nbytes, buf.device)?), 0),
            _ => continue,
        };
        mem[b] = Some(m);
    }
    if let Some(p) = prof.as_deref_mut() {
        p.setup = t0.elapsed().as_secs_f64();
    }
    let mut b = Bound { g, mem, tensors: vec![None; g.values.len()] };
    for (k, n) in g.nodes.iter().enumerate() {
        if let NodeKind::View(_) = n.kind {
            continue;
        }
        let tn = prof.is_some().then(Instant::now);
        run_node(&mut b, n, steps, lrs)?;
        if let (Some(p), Some(tn)) = (prof.as_deref_mut(), tn) {
            p.nodes[k] = tn.elapsed().as_secs_f64();
        }
    }
    g.outputs
        .iter()
        .map(|&v| {
            let t = b.get(v)?;
            match g.buffers[g.values[v].buffer].role {
                // a constant's storage outlives the run: the caller gets a copy it may change
                Role::Constant(_) if plan.slots[g.values[v].buffer] == Slot::Bound => {
                    let c = Tensor::empty_on(t.shape(), t.dtype(), t.device())?;
                    crate::ops::copy_raw(&c, &t)?;
                    Ok(c)
                }
                _ => Ok(t),
            }
        })
        .collect()
}

/// The memory bound to each buffer for one run, and the tensors made of it so far.
struct Bound<'a> {
    g: &'a Graph,
    mem: Vec<Option<Mem>>,
    tensors: Vec<Option<Tensor>>,
}

impl Bound<'_> {
    /// The tensor of value `v` (made once a run).
    fn get(&mut self, v: Vid) -> Result<Tensor> {
        if let Some(t) = &self.tensors[v] {
            return Ok(t.clone());
        }
        let val = &self.g.values[v];
        let m = self.mem[val.buffer].as_ref().ok_or_else(|| Error::Runtime(format!("graph: buffer {} of value %{v} is not bound", val.buffer)))?;
        let t = tensor_on(m, &val.layout, val.dtype);
        self.tensors[v] = Some(t.clone());
        Ok(t)
    }
}

/// Runs one node that is not a view.
fn run_node(b: &mut Bound<'_>, n: &super::ir::Node, steps: u64, lrs: &[f64]) -> Result<()> {
    let g = b.g;
    let outs: Vec<Tensor> = n.outputs.iter().map(|&v| b.get(v)).collect::<Result<_>>()?;
    let ins: Vec<Tensor> = n.inputs.iter().map(|&v| b.get(v)).collect::<Result<_>>()?;
    let o: Vec<&Tensor> = outs.iter().collect();
    let i: Vec<&Tensor> = ins.iter().collect();
    let op = match &n.kind {
        NodeKind::Fused(f) => {
            // (the dispatcher bumps the versions of what it updates in place)
            return match at_run_time(f, steps, lr_of(g, n, lrs)) {
                Some(f) => crate::dispatch::launch_fused(&f, &o, &i),
                None => crate::dispatch::launch_fused(f, &o, &i),
            };
        }
        NodeKind::Elementwise(p) => {
            if super::trace::is_tracing() {
                // a run recorded by another trace: its steps go through the dispatcher, which
                // records them (the fused loop and a generated kernel record nothing, and the
                // outer graph would keep this node's traced result as a constant)
                super::fused_run::run_stepwise(p, &o, &i)?;
            } else {
                super::device_fused::run(g, p, &o, &i)?;
            }
            for t in &o {
                t.storage().bump_version();
            }
            return Ok(());
        }
        NodeKind::Launch(op) => op,
        NodeKind::View(_) => return Ok(()),
    };
    if let Op::Random(k, a) = op {
        // fresh numbers at each run: the stream position is reserved now, as eager does
        let st = crate::ops::random::DEFAULT.reserve_words(random_words(*k, outs[0].numel()));
        let op = Op::Random(*k, crate::op::RandomAttrs { seed: st.seed, offset: st.offset, ..a.clone() });
        crate::dispatch::launch(&op, &o, &i)?;
    } else {
        crate::dispatch::launch(op, &o, &i)?;
    }
    for t in &o {
        t.storage().bump_version();
    }
    Ok(())
}
