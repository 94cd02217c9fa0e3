//! The autograd graph that tensors carry: grad mode, nodes and their edges, saved tensors
//! checked by version, hooks, and `record`, which ops call to attach a node to their outputs.
//! It lives with the tensor because each refers to the other; the engine that walks the
//! graph backwards is `crate::autograd`, above the ops.

use crate::error::{Error, Result};
use crate::tensor::Tensor;
use std::cell::Cell;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}
pub fn set_grad_enabled(on: bool) -> bool {
    GRAD_ENABLED.with(|g| g.replace(on))
}
/// Runs `f` with gradient recording set to `on`, restoring the previous mode afterwards.
pub fn with_grad_mode<R>(on: bool, f: impl FnOnce() -> R) -> R {
    let prev = set_grad_enabled(on);
    let r = f();
    set_grad_enabled(prev);
    r
}

/// A gradient hook: may return a replacement gradient.
pub type Hook = Box<dyn Fn(&Tensor) -> Result<Option<Tensor>> + Send + Sync>;

/// A tensor kept for backward; unpacking checks that nobody wrote to it in place since.
pub struct SavedTensor {
    data: Tensor,
    version: u64,
    /// For outputs of the node itself we keep a weak link to the node to avoid a cycle.
    grad_fn: Option<Weak<Node>>,
    output_nr: usize,
    requires_grad: bool,
}

impl SavedTensor {
    pub fn input(t: &Tensor) -> SavedTensor {
        SavedTensor { data: t.clone(), version: t.version(), grad_fn: None, output_nr: 0, requires_grad: false }
    }
    fn output(t: &Tensor, node: &Arc<Node>, output_nr: usize) -> SavedTensor {
        SavedTensor {
            data: t.detach(),
            version: t.version(),
            grad_fn: Some(Arc::downgrade(node)),
            output_nr,
            requires_grad: true,
        }
    }
    pub fn unpack(&self, op: &str) -> Result<Tensor> {
        if self.data.version() != self.version {
            return Err(Error::Runtime(format!(
                "one of the variables needed for gradient computation has been modified by an inplace operation: [{} {:?}] is at version {}; expected version {} instead. Hint: the tensor was saved by {op}.",
                self.data.dtype().name(),
                self.data.shape(),
                self.data.version(),
                self.version
            )));
        }
        if let Some(w) = &self.grad_fn {
            if let Some(node) = w.upgrade() {
                if crate::tensor::graph::is_grad_enabled() {
                    let t = self.data.detach();
                    {
                        let mut m = t.meta();
                        m.grad_fn = Some(node);
                        m.output_nr = self.output_nr;
                        m.requires_grad = self.requires_grad;
                    }
                    return Ok(t);
                }
            }
        }
        Ok(self.data.clone())
    }
}

/// What a node saves: an input tensor, or one of the op's outputs by position.
pub enum Save {
    Input(Tensor),
    Output(usize),
}

pub type BackwardFn = dyn Fn(&[Option<Tensor>], &[Tensor]) -> Result<Vec<Option<Tensor>>> + Send + Sync;

/// Backward of a Python-defined or other opaque function.
pub trait CustomBackward: Send + Sync {
    fn apply(&self, grads: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>>;
}

pub enum NodeKind {
    /// A differentiable op: backward formula plus what it saved.
    Op { f: Box<BackwardFn>, saved: Vec<SavedTensor> },
    Custom(Box<dyn CustomBackward>),
    /// Accumulates into a leaf's `.grad`.
    Accumulate(Weak<crate::tensor::TensorImpl>),
    Released,
}

pub struct Edge {
    pub node: Arc<Node>,
    pub input_nr: usize,
}

pub struct Node {
    pub name: String,
    pub seq: u64,
    pub next: Vec<Option<Edge>>,
    pub num_outputs: usize,
    pub kind: Mutex<NodeKind>,
    /// Hooks keyed by output number, run on the incoming gradient before the node.
    pub pre_hooks: Mutex<Vec<(usize, Arc<Hook>)>>,
    /// Tensors (non-leaf) that asked to keep their gradient: output number -> weak tensor.
    pub retained: Mutex<Vec<(usize, Weak<crate::tensor::TensorImpl>)>>,
}

static SEQ: AtomicU64 = AtomicU64::new(0);

impl Node {
    pub(crate) fn new(name: String, next: Vec<Option<Edge>>, num_outputs: usize, kind: NodeKind) -> Node {
        Node {
            name,
            seq: SEQ.fetch_add(1, Ordering::Relaxed),
            next,
            num_outputs,
            kind: Mutex::new(kind),
            pre_hooks: Mutex::new(Vec::new()),
            retained: Mutex::new(Vec::new()),
        }
    }
}

/// The edge through which a gradient reaches `t`: its grad_fn, or its AccumulateGrad node.
pub fn gradient_edge(t: &Tensor) -> Option<Edge> {
    let mut m = t.meta();
    if let Some(f) = &m.grad_fn {
        return Some(Edge { node: f.clone(), input_nr: m.output_nr });
    }
    if !m.requires_grad {
        return None;
    }
    if let Some(acc) = m.accumulator.upgrade() {
        return Some(Edge { node: acc, input_nr: 0 });
    }
    let acc = Arc::new(Node::new(
        "AccumulateGrad".into(),
        Vec::new(),
        1,
        NodeKind::Accumulate(Arc::downgrade(&t.0)),
    ));
    m.accumulator = Arc::downgrade(&acc);
    Some(Edge { node: acc, input_nr: 0 })
}

pub fn needs_grad(inputs: &[&Tensor]) -> bool {
    is_grad_enabled() && inputs.iter().any(|t| t.requires_grad())
}

fn attach(node: &Arc<Node>, outputs: &[&Tensor]) {
    for (i, o) in outputs.iter().enumerate() {
        if !o.dtype().is_differentiable() {
            continue;
        }
        let mut m = o.meta();
        m.grad_fn = Some(node.clone());
        m.output_nr = i;
    }
}

/// Records a differentiable op: `f(grads_of_outputs, saved) -> grads_of_inputs`.
/// Does nothing when no input requires grad or grad mode is off.
pub fn record(
    name: &str,
    inputs: &[&Tensor],
    outputs: &[&Tensor],
    saves: Vec<Save>,
    f: impl Fn(&[Option<Tensor>], &[Tensor]) -> Result<Vec<Option<Tensor>>> + Send + Sync + 'static,
) {
    if !needs_grad(inputs) {
        return;
    }
    let next = inputs.iter().map(|t| gradient_edge(t)).collect();
    let node = Arc::new(Node::new(
        name.to_string(),
        next,
        outputs.len(),
        NodeKind::Op { f: Box::new(f), saved: Vec::new() },
    ));
    let saved: Vec<SavedTensor> = saves
        .into_iter()
        .map(|s| match s {
            Save::Input(t) => SavedTensor::input(&t),
            Save::Output(i) => SavedTensor::output(outputs[i], &node, i),
        })
        .collect();
    if let NodeKind::Op { saved: s, .. } = &mut *node.kind.lock().unwrap() {
        *s = saved;
    }
    attach(&node, outputs);
}

/// Records an op whose backward is opaque (a Python autograd.Function).
pub fn record_custom(name: &str, inputs: &[&Tensor], outputs: &[&Tensor], f: Box<dyn CustomBackward>) {
    let next = inputs.iter().map(|t| gradient_edge(t)).collect();
    let node = Arc::new(Node::new(name.to_string(), next, outputs.len(), NodeKind::Custom(f)));
    attach(&node, outputs);
}

/// After an in-place op on `t`: checks it is allowed; the caller then records the op with `t`'s
/// old history as input and `t` as output, which rebases `t`'s history onto the new node.
pub fn check_inplace(op: &str, t: &Tensor) -> Result<()> {
    let m = t.meta();
    if is_grad_enabled() && m.grad_fn.is_none() && m.requires_grad {
        return Err(Error::Runtime(format!(
            "{op}: a leaf Variable that requires grad is being used in an in-place operation."
        )));
    }
    Ok(())
}

/// Registers a hook on the gradient of `t`.
pub fn register_hook(t: &Tensor, hook: Hook) -> Result<()> {
    if !t.requires_grad() {
        return Err(Error::Runtime(
            "cannot register a hook on a tensor that doesn't require gradient".into(),
        ));
    }
    let hook = Arc::new(hook);
    let (gf, nr) = {
        let m = t.meta();
        (m.grad_fn.clone(), m.output_nr)
    };
    match gf {
        Some(node) => node.pre_hooks.lock().unwrap().push((nr, hook)),
        None => t.meta().leaf_hooks.push(hook),
    }
    Ok(())
}

/// Registers a hook that runs with the leaf `t` once a backward pass has accumulated its
/// gradient into `.grad` (data-parallel training starts communication from it).
pub fn register_post_accumulate_grad_hook(t: &Tensor, hook: Hook) -> Result<()> {
    if !t.requires_grad() {
        return Err(Error::Runtime("cannot register a hook on a tensor that doesn't require gradient".into()));
    }
    let mut m = t.meta();
    if m.grad_fn.is_some() {
        return Err(Error::Runtime("post accumulate grad hooks cannot be registered on non-leaf tensors".into()));
    }
    m.post_accumulate_hooks.push(Arc::new(hook));
    Ok(())
}

/// For each of `leaves`, whether the autograd graph behind `roots` reaches it, i.e. whether a
/// backward pass from `roots` would accumulate a gradient into it (data-parallel training marks
/// the parameters a forward pass left out as ready at once).
pub fn leaves_reached(roots: &[Tensor], leaves: &[Tensor]) -> Vec<bool> {
    let mut reached: HashSet<usize> = HashSet::new();
    let mut seen: HashSet<usize> = HashSet::new();
    let mut stack: Vec<Arc<Node>> = Vec::new();
    for t in roots {
        let m = t.meta();
        match &m.grad_fn {
            Some(f) => stack.push(f.clone()),
            None if m.requires_grad => {
                reached.insert(Arc::as_ptr(&t.0) as usize);
            }
            None => {}
        }
    }
    while let Some(n) = stack.pop() {
        if !seen.insert(Arc::as_ptr(&n) as usize) {
            continue;
        }
        if let NodeKind::Accumulate(w) = &*n.kind.lock().unwrap() {
            reached.insert(w.as_ptr() as usize);
        }
        stack.extend(n.next.iter().flatten().map(|e| e.node.clone()));
    }
    leaves.iter().map(|l| reached.contains(&(Arc::as_ptr(&l.0) as usize))).collect()
}

pub fn retain_grad(t: &Tensor) -> Result<()> {
    if !t.requires_grad() {
        return Err(Error::Runtime("can't retain_grad on Tensor that has requires_grad=False".into()));
    }
    let (gf, nr) = {
        let mut m = t.meta();
        if m.grad_fn.is_none() || m.retains_grad {
            return Ok(());
        }
        m.retains_grad = true;
        (m.grad_fn.clone(), m.output_nr)
    };
    if let Some(node) = gf {
        node.retained.lock().unwrap().push((nr, Arc::downgrade(&t.0)));
    }
    Ok(())
}
