//! The executor: binds inputs, state and constants, carves internal buffers from one arena per
//! device (the memory plan), runs each launch node through the dispatcher (so every backend
//! runs graphs) and returns the outputs in storage of their own.
use super::ir::{Bid, Graph, NodeKind, Role, Vid};
use super::memplan::{plan_arena, BufferReq};
use crate::device::Device;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::op::{Op, RandomOp};
use crate::storage::Storage;
use crate::tensor::Tensor;
use std::sync::Arc;

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

/// Plans memory: buffers of outputs get their own storage, every other internal buffer a place
/// in its device's arena.
pub fn plan(g: &Graph) -> Plan {
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
    for (d, rs) in reqs.iter().enumerate() {
        let only: Vec<BufferReq> = rs.iter().map(|r| r.1).collect();
        let ap = plan_arena(&only);
        p.live_peak += super::memplan::live_peak(&only);
        for ((b, _), off) in rs.iter().zip(ap.offsets) {
            slots[*b] = Slot::Arena { arena: d, offset: off };
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
    if inputs.len() != g.inputs.len() {
        return Err(Error::Runtime(format!("graph: expected {} input(s), got {}", g.inputs.len(), inputs.len())));
    }
    let arenas: Vec<Arc<Storage>> = plan.arenas.iter().map(|&(d, n)| Storage::new_on(n, d).map(Arc::new)).collect::<Result<_>>()?;
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
    let mut tensors: Vec<Option<Tensor>> = vec![None; g.values.len()];
    let get = |v: Vid, tensors: &mut Vec<Option<Tensor>>| -> Result<Tensor> {
        if let Some(t) = &tensors[v] {
            return Ok(t.clone());
        }
        let val = &g.values[v];
        let m = mem[val.buffer].as_ref().ok_or_else(|| Error::Runtime(format!("graph: buffer {} of value %{v} is not bound", val.buffer)))?;
        let t = tensor_on(m, &val.layout, val.dtype);
        tensors[v] = Some(t.clone());
        Ok(t)
    };
    for n in &g.nodes {
        let NodeKind::Launch(op) = &n.kind else { continue };
        let outs: Vec<Tensor> = n.outputs.iter().map(|&v| get(v, &mut tensors)).collect::<Result<_>>()?;
        let ins: Vec<Tensor> = n.inputs.iter().map(|&v| get(v, &mut tensors)).collect::<Result<_>>()?;
        let o: Vec<&Tensor> = outs.iter().collect();
        let i: Vec<&Tensor> = ins.iter().collect();
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
    }
    g.outputs
        .iter()
        .map(|&v| {
            let t = get(v, &mut tensors)?;
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
