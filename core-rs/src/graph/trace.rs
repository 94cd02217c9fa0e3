//! Tracing: while a trace is active on a thread, every launch the dispatcher makes there is
//! recorded as a node, its operands as values of buffers identified by storage.
//!
//! A buffer made before the trace began is bound by reference (a declared input, named state,
//! or an unnamed tensor captured from outside); one made inside it is internal when a recorded
//! launch writes it first, and a constant (its contents copied at first read) when it is read
//! first: something the graph does not record (Python data, a host-built tensor) wrote it.
use super::ir::{classify_view, Bid, Buffer, Graph, Node, NodeKind, Role, Value, ViewKind, Vid};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::dispatch::Kernel;
use crate::storage::Storage;
use crate::tensor::Tensor;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::Arc;

type ValueKey = (Bid, u32, DType, Vec<usize>, Vec<isize>, usize);

struct Tracer {
    g: Graph,
    /// Buffers by storage id (unique in the process, so a freed storage's address being
    /// reused cannot alias two buffers, and intermediate storages are freed as in eager mode).
    by_storage: HashMap<u64, Bid>,
    /// The storages of bound buffers (inputs, state), for the unrecorded-write check.
    keep: Vec<Option<Arc<Storage>>>,
    /// The storage's version counter when the buffer was bound (inputs and state).
    bound_version: Vec<u64>,
    version: Vec<Option<u32>>,
    index: HashMap<ValueKey, Vid>,
    /// The first value of each buffer version: views of that version are taken from it.
    base: HashMap<(Bid, u32), Vid>,
    start_id: u64,
    warnings: Vec<String>,
}

thread_local! {
    static TRACER: RefCell<Option<Tracer>> = const { RefCell::new(None) };
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
    /// Launches nested inside a recorded one (a kernel composed of other ops) are not recorded.
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// Whether a trace is active on this thread.
pub fn is_tracing() -> bool {
    ACTIVE.with(|a| a.get())
}

/// Starts a trace on this thread.
pub fn begin() -> Result<()> {
    if is_tracing() {
        return Err(Error::Runtime("deepseek.jit.trace: a trace is already active on this thread (traces do not nest)".into()));
    }
    let tr = Tracer {
        g: Graph::default(),
        by_storage: HashMap::new(),
        keep: Vec::new(),
        bound_version: Vec::new(),
        version: Vec::new(),
        index: HashMap::new(),
        base: HashMap::new(),
        start_id: crate::storage::next_storage_id(),
        warnings: Vec::new(),
    };
    TRACER.with(|t| *t.borrow_mut() = Some(tr));
    ACTIVE.with(|a| a.set(true));
    crate::dispatch::set_tracing(true);
    Ok(())
}

/// Ends the trace without a graph.
pub fn abort() {
    if is_tracing() {
        ACTIVE.with(|a| a.set(false));
        crate::dispatch::set_tracing(false);
        TRACER.with(|t| *t.borrow_mut() = None);
    }
}

fn with<R>(f: impl FnOnce(&mut Tracer) -> Result<R>) -> Result<R> {
    let _nested = Nested::enter();
    TRACER.with(|t| match t.borrow_mut().as_mut() {
        Some(tr) => f(tr),
        None => Err(Error::Runtime("deepseek.jit: no trace is active".into())),
    })
}

/// Marks the launches made while it lives as nested (not recorded).
struct Nested;
impl Nested {
    fn enter() -> Nested {
        DEPTH.with(|d| d.set(d.get() + 1));
        Nested
    }
}
impl Drop for Nested {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get() - 1));
    }
}

/// Declares the next user input (call before running the traced function).
pub fn add_input(t: &Tensor) -> Result<()> {
    with(|tr| {
        let i = tr.g.inputs.len();
        let v = tr.bind(t, Role::Input(i));
        tr.g.inputs.push(v);
        Ok(())
    })
}

/// Declares a state tensor (a parameter, buffer or optimizer state) by name.
pub fn add_state(t: &Tensor, name: &str) -> Result<()> {
    with(|tr| {
        if tr.by_storage.contains_key(&t.storage().id()) {
            return Ok(()); // tied weights, or a tensor passed as input too: bound once
        }
        let i = tr.g.state.len();
        let v = tr.bind(t, Role::State(i));
        tr.g.state.push((Some(name.to_string()), v));
        tr.g.captured.push(None);
        Ok(())
    })
}

/// Marks where the backward of a training step begins (the next recorded launch).
pub fn mark_backward() -> Result<()> {
    with(|tr| {
        tr.g.backward_start = Some(tr.g.nodes.len());
        Ok(())
    })
}

/// Ends the trace: `outputs` are the function's results. Returns the graph and the warnings
/// the trace collected.
pub fn finish(outputs: &[Tensor]) -> Result<(Graph, Vec<String>)> {
    let r = with(|tr| {
        let outs: Vec<Vid> = outputs.iter().map(|t| tr.read(t)).collect::<Result<_>>()?;
        tr.g.outputs = outs;
        tr.check_unrecorded_writes()?;
        Ok(())
    });
    let tr = TRACER.with(|t| t.borrow_mut().take());
    abort();
    r?;
    let tr = tr.ok_or_else(|| Error::Runtime("deepseek.jit: no trace is active".into()))?;
    Ok((tr.g, tr.warnings))
}

/// The recorder the dispatcher calls around each launch while some trace is active.
pub(super) fn record(k: Kernel<'_>, outs: &[&Tensor], ins: &[&Tensor], run: &mut dyn FnMut() -> Result<()>) -> Result<()> {
    if !is_tracing() || DEPTH.with(|d| d.get()) > 0 {
        return run();
    }
    let read = with(|tr| ins.iter().map(|t| tr.read(t)).collect::<Result<Vec<Vid>>>())?;
    {
        let _nested = Nested::enter();
        run()?;
    }
    with(|tr| {
        let mut outputs = Vec::with_capacity(outs.len());
        let mut mutates = Vec::new();
        for t in outs {
            let (v, prev) = tr.write(t);
            outputs.push(v);
            mutates.extend(prev);
        }
        let kind = match k {
            Kernel::Op(op) => NodeKind::Launch(op.clone()),
            Kernel::Fused(f) => NodeKind::Fused(f.clone()),
        };
        tr.g.nodes.push(Node { kind, inputs: read, outputs, mutates });
        Ok(())
    })
}

fn key(b: Bid, ver: u32, t: &Tensor) -> ValueKey {
    let l = t.layout();
    (b, ver, t.dtype(), l.shape.clone(), l.strides.clone(), l.offset)
}

impl Tracer {
    fn new_buffer(&mut self, t: &Tensor, role: Role) -> Bid {
        let st = t.storage();
        let b = self.g.buffers.len();
        self.keep.push(matches!(role, Role::Input(_) | Role::State(_)).then(|| st.clone()));
        self.g.buffers.push(Buffer { nbytes: st.nbytes(), device: t.device(), role });
        self.by_storage.insert(st.id(), b);
        self.bound_version.push(st.version());
        self.version.push(None);
        b
    }

    fn new_value(&mut self, b: Bid, ver: u32, t: &Tensor, alias_of: Option<Vid>) -> Vid {
        let v = self.g.add_value(Value { dtype: t.dtype(), layout: t.layout().clone(), buffer: b, version: ver, alias_of });
        self.index.insert(key(b, ver, t), v);
        self.base.entry((b, ver)).or_insert(v);
        v
    }

    /// A buffer bound from outside (version 0 holds its contents); its value for `t`.
    fn bind(&mut self, t: &Tensor, role: Role) -> Vid {
        let b = match self.by_storage.get(&t.storage().id()) {
            Some(&b) => b,
            None => {
                let b = self.new_buffer(t, role);
                self.version[b] = Some(0);
                b
            }
        };
        let ver = self.version[b].unwrap_or(0);
        match self.index.get(&key_of(b, ver, t)) {
            Some(&v) => v,
            None => self.new_value(b, ver, t, None),
        }
    }

    /// The buffer behind `t`, first meeting it for a read (`write` false) or a write.
    fn buffer_of(&mut self, t: &Tensor, write: bool) -> Result<Bid> {
        let st = t.storage();
        if let Some(&b) = self.by_storage.get(&st.id()) {
            return Ok(b);
        }
        if st.id() < self.start_id {
            // made before the trace and not declared: bound by reference, as the function saw it
            // lifted whole: a parameter first read through a slice (a q/k/v part of a packed
            // projection) must not become a state value covering only that part
            let i = self.g.state.len();
            let whole = whole_buffer(t);
            let v = self.bind(&whole, Role::State(i));
            self.g.state.push((None, v));
            self.g.captured.push(Some(whole));
            return Ok(self.g.values[v].buffer);
        }
        if write {
            return Ok(self.new_buffer(t, Role::Internal));
        }
        // made inside the trace by something the graph does not record: its contents now
        let copy = snapshot(t)?;
        // (zeros from the allocator that still hold zeros are data, not a frozen result)
        let zeros = st.was_zeroed() && st.device().is_cpu() && unsafe { std::slice::from_raw_parts(st.ptr(), st.nbytes()) }.iter().all(|&b| b == 0);
        if st.nbytes() > t.dtype().size() && !zeros {
            // (a Python number is one element, often read broadcast: not worth a warning)
            self.warnings.push(format!(
                "a tensor of shape {:?} ({}) made inside the traced function by an operation the graph does not record (Python data, a host-built tensor, or an op not yet routed through the dispatcher) is used as a constant: later runs reuse its traced value",
                t.shape(),
                t.dtype().name()
            ));
        }
        let i = self.g.constants.len();
        self.g.constants.push(copy);
        let b = self.new_buffer(t, Role::Constant(i));
        self.version[b] = Some(0);
        Ok(b)
    }

    /// The value `t` reads now: a known one, or a new view of its buffer's current version.
    fn read(&mut self, t: &Tensor) -> Result<Vid> {
        let b = self.buffer_of(t, false)?;
        let ver = match self.version[b] {
            Some(v) => v,
            None => return Err(Error::Runtime(format!("deepseek.jit.trace: internal error: buffer {b} read before any write"))),
        };
        if let Some(&v) = self.index.get(&key(b, ver, t)) {
            return Ok(v);
        }
        let Some(&src) = self.base.get(&(b, ver)) else {
            // the first value of a constant: its layout as first read
            return Ok(self.new_value(b, ver, t, None));
        };
        let sv = &self.g.values[src];
        let kind = if sv.dtype == t.dtype() { classify_view(&sv.layout, t.layout()) } else { ViewKind::AsStrided };
        let v = self.new_value(b, ver, t, Some(src));
        self.g.nodes.push(Node { kind: NodeKind::View(kind), inputs: vec![src], outputs: vec![v], mutates: vec![] });
        Ok(v)
    }

    /// A new version of `t`'s buffer, written through `t`; the previous version's base value.
    fn write(&mut self, t: &Tensor) -> (Vid, Option<Vid>) {
        let b = self.buffer_of(t, true).expect("a write never snapshots");
        let prev = self.version[b];
        let ver = prev.map_or(0, |v| v + 1);
        self.version[b] = Some(ver);
        let v = self.new_value(b, ver, t, None);
        (v, prev.map(|p| self.base[&(b, p)]))
    }

    /// A bound buffer whose storage changed during the trace without a recorded write was
    /// written by something the graph cannot replay (a fused kernel outside the dispatcher):
    /// running the graph would silently skip that update, so the trace fails instead.
    fn check_unrecorded_writes(&self) -> Result<()> {
        for (b, buf) in self.g.buffers.iter().enumerate() {
            if matches!(buf.role, Role::Internal | Role::Constant(_)) {
                continue;
            }
            let changed = self.keep[b].as_ref().is_some_and(|st| st.version() != self.bound_version[b]);
            if changed && self.version[b] == Some(0) {
                let name = match buf.role {
                    Role::Input(i) => format!("input {i}"),
                    Role::State(i) => format!("state '{}'", self.g.state[i].0.as_deref().unwrap_or("(captured tensor)")),
                    _ => unreachable!(),
                };
                return Err(Error::Runtime(format!(
                    "deepseek.jit.trace: {name} was modified in place during the trace by an operation the graph does not record (a fused kernel that bypasses the dispatcher); the graph cannot replay it"
                )));
            }
        }
        Ok(())
    }
}

fn key_of(b: Bid, ver: u32, t: &Tensor) -> ValueKey {
    key(b, ver, t)
}

/// A copy of `t`'s whole storage on its device, viewed with `t`'s layout.
fn snapshot(t: &Tensor) -> Result<Tensor> {
    let st = t.storage();
    let n = st.nbytes();
    let whole = Tensor::from_parts(st.clone(), Layout::contiguous(&[n]), DType::U8);
    let copy = Tensor::empty_on(&[n], DType::U8, t.device())?;
    crate::ops::copy_raw(&copy, &whole)?;
    Ok(Tensor::from_parts(copy.storage().clone(), t.layout().clone(), t.dtype()))
}

/// `t`'s whole buffer as a tensor: the tensor it is a view of when that covers the buffer, else
/// the buffer as a flat tensor of `t`'s dtype (detached either way).
fn whole_buffer(t: &Tensor) -> Tensor {
    let st = t.storage();
    let item = t.dtype().size();
    let covers = |b: &Tensor| b.is_contiguous() && b.layout().offset == 0 && b.dtype() == t.dtype() && b.numel() * item == st.nbytes();
    if covers(t) {
        return t.detach();
    }
    if let Some(base) = t.view_base().filter(|b| std::sync::Arc::ptr_eq(b.storage(), st) && covers(b)) {
        return base.detach();
    }
    if st.nbytes() % item == 0 {
        return t.alias(crate::layout::Layout::contiguous(&[st.nbytes() / item])).detach();
    }
    t.detach()
}
