//! The graph IR: buffers, values (a layout of a buffer at one version) and nodes (a launch of a
//! primitive op of the table, or a view). Values are in SSA form over buffer versions: a write
//! into a buffer makes a new version, and readers after it name the new version's values.
use crate::device::Device;
use crate::dtype::DType;
use crate::layout::Layout;
use crate::op::{FusedOp, Op};
use crate::tensor::Tensor;
use std::fmt::Write as _;

pub type Vid = usize;
pub type Bid = usize;

/// Where a buffer's memory comes from when the graph runs.
#[derive(Clone, Debug, PartialEq)]
pub enum Role {
    /// The caller's `i`-th input tensor.
    Input(usize),
    /// The caller's `i`-th state tensor (a parameter, buffer or optimizer state), bound by
    /// reference at each run: writes into it persist, as in eager mode.
    State(usize),
    /// A tensor captured by value at trace time (`Graph::constants[i]`).
    Constant(usize),
    /// Allocated by the graph for each run.
    Internal,
}

#[derive(Clone, Debug)]
pub struct Buffer {
    pub nbytes: usize,
    pub device: Device,
    pub role: Role,
}

#[derive(Clone, Debug)]
pub struct Value {
    pub dtype: DType,
    pub layout: Layout,
    pub buffer: Bid,
    pub version: u32,
    /// For values made by a view node: the viewed value.
    pub alias_of: Option<Vid>,
}

/// The views the IR names; any other layout is an `AsStrided` view of the buffer.
#[derive(Clone, Debug, PartialEq)]
pub enum ViewKind {
    Reshape,
    Permute(Vec<usize>),
    Expand,
    AsStrided,
}

impl ViewKind {
    pub fn name(&self) -> &'static str {
        match self {
            ViewKind::Reshape => "reshape",
            ViewKind::Permute(_) => "permute",
            ViewKind::Expand => "expand",
            ViewKind::AsStrided => "as_strided",
        }
    }
}

#[derive(Clone, Debug)]
pub enum NodeKind {
    Launch(Op),
    /// A fused CPU kernel (`crate::op::fused`), run by `dispatch::launch_fused`.
    Fused(FusedOp),
    /// A fused group of elementwise launches (`graph::fuse`), run as one loop on the CPU.
    Elementwise(super::fuse::Program),
    View(ViewKind),
}

#[derive(Clone, Debug)]
pub struct Node {
    pub kind: NodeKind,
    pub inputs: Vec<Vid>,
    pub outputs: Vec<Vid>,
    /// The previous versions of the buffers this node writes (empty for a first write).
    pub mutates: Vec<Vid>,
}

impl Node {
    pub fn op(&self) -> Option<&Op> {
        match &self.kind {
            NodeKind::Launch(op) => Some(op),
            _ => None,
        }
    }
    pub fn name(&self) -> &'static str {
        match &self.kind {
            NodeKind::Launch(op) => op.name(),
            NodeKind::Fused(f) => f.name(),
            NodeKind::Elementwise(_) => "elementwise",
            NodeKind::View(v) => v.name(),
        }
    }
}

#[derive(Clone, Default)]
pub struct Graph {
    pub buffers: Vec<Buffer>,
    pub values: Vec<Value>,
    pub nodes: Vec<Node>,
    /// The value each user input is bound as, in call order.
    pub inputs: Vec<Vid>,
    /// The value each state tensor is bound as, with its name (None for tensors captured from
    /// outside the traced function without a name).
    pub state: Vec<(Option<String>, Vid)>,
    pub outputs: Vec<Vid>,
    /// Constant contents, indexed by `Role::Constant`.
    pub constants: Vec<Tensor>,
    /// Tensors the graph binds itself for unnamed state (indexed like `state`; None for
    /// named state, which the caller passes at each run).
    pub captured: Vec<Option<Tensor>>,
    /// The first node of the backward in a training graph (marked while tracing; passes keep
    /// it current): what recomputation under a memory budget works from.
    pub backward_start: Option<usize>,
    /// Kernels compiled for the fused nodes on devices that compile programs (`device_fused`).
    pub device_kernels: super::device_fused::DeviceKernels,
}

impl Graph {
    pub fn add_value(&mut self, v: Value) -> Vid {
        self.values.push(v);
        self.values.len() - 1
    }
    /// Every value's role name, as the Python view spells it.
    pub fn role_name(&self, v: Vid) -> &'static str {
        match self.buffers[self.values[v].buffer].role {
            Role::Input(_) => "input",
            Role::State(_) => "state",
            Role::Constant(_) => "constant",
            Role::Internal => "internal",
        }
    }
    /// The state name of a value's buffer, if it has one.
    pub fn value_name(&self, v: Vid) -> Option<&str> {
        match self.buffers[self.values[v].buffer].role {
            Role::State(i) => self.state[i].0.as_deref(),
            _ => None,
        }
    }
    /// Keeps the nodes whose `keep` entry is true, in order (and `backward_start` on the same
    /// node, or the next kept one).
    pub fn retain_nodes(&mut self, keep: &[bool]) {
        if let Some(s) = self.backward_start {
            self.backward_start = Some(keep[..s.min(keep.len())].iter().filter(|&&k| k).count());
        }
        let mut it = keep.iter();
        self.nodes.retain(|_| *it.next().unwrap());
    }
    /// Whether some node writes buffer `b`.
    pub fn is_written(&self, b: Bid) -> bool {
        self.nodes.iter().any(|n| !matches!(n.kind, NodeKind::View(_)) && n.outputs.iter().any(|&o| self.values[o].buffer == b))
    }

    /// One node a line: `%3 = add(%1, %2)  : float32[2, 3]`, inputs, state and constants first.
    pub fn print(&self) -> String {
        let mut s = String::new();
        let ty = |v: Vid| -> String {
            let val = &self.values[v];
            format!("{}{:?}", val.dtype.name(), val.layout.shape)
        };
        let _ = writeln!(s, "graph(");
        for (i, &v) in self.inputs.iter().enumerate() {
            let _ = writeln!(s, "    %{v} : {}  # input {i}", ty(v));
        }
        for (name, v) in &self.state {
            let _ = writeln!(s, "    %{v} : {}  # state {}", ty(*v), name.as_deref().unwrap_or("(captured)"));
        }
        let _ = writeln!(s, "):");
        for (v, val) in self.values.iter().enumerate() {
            if let Role::Constant(i) = self.buffers[val.buffer].role {
                if val.alias_of.is_none() && !self.nodes.iter().any(|n| n.outputs.contains(&v)) {
                    let _ = writeln!(s, "  %{v} : {} = constant[{i}]", ty(v));
                }
            }
        }
        for n in &self.nodes {
            let outs: Vec<String> = n.outputs.iter().map(|o| format!("%{o}")).collect();
            let ins: Vec<String> = n.inputs.iter().map(|o| format!("%{o}")).collect();
            let attrs = match &n.kind {
                NodeKind::Launch(op) => op.attrs().iter().map(|(k, v)| format!("{k}={}", attr_text(v))).collect::<Vec<_>>(),
                NodeKind::Fused(f) => f.attrs().iter().map(|(k, v)| format!("{k}={}", attr_text(v))).collect::<Vec<_>>(),
                NodeKind::Elementwise(p) => vec![p.text()],
                NodeKind::View(k) => {
                    let l = &self.values[n.outputs[0]].layout;
                    match k {
                        ViewKind::Permute(d) => vec![format!("dims={d:?}")],
                        ViewKind::AsStrided => vec![format!("size={:?}", l.shape), format!("stride={:?}", l.strides), format!("storage_offset={}", l.offset)],
                        _ => vec![format!("shape={:?}", l.shape)],
                    }
                }
            };
            let types: Vec<String> = n.outputs.iter().map(|&o| ty(o)).collect();
            let attrs = if attrs.is_empty() { String::new() } else { format!("[{}]", attrs.join(", ")) };
            let mutates = if n.mutates.is_empty() {
                String::new()
            } else {
                format!("  # writes into {}", n.mutates.iter().map(|m| format!("%{m}")).collect::<Vec<_>>().join(", "))
            };
            let _ = writeln!(s, "  {} = {}{attrs}({}) : {}{mutates}", outs.join(", "), n.name(), ins.join(", "), types.join(", "));
        }
        let outs: Vec<String> = self.outputs.iter().map(|o| format!("%{o}")).collect();
        let _ = writeln!(s, "  return ({})", outs.join(", "));
        s
    }
}

fn attr_text(v: &crate::op::AttrValue) -> String {
    match v {
        crate::op::AttrValue::Scalar(s) => match s {
            crate::op::Scalar::Bool(b) => b.to_string(),
            crate::op::Scalar::Int(i) => i.to_string(),
            crate::op::Scalar::Float(f) => format!("{f:?}"),
        },
        crate::op::AttrValue::List(l) => format!("{l:?}"),
    }
}

/// The named view that turns layout `src` into `dst` of the same buffer, when there is one.
pub fn classify_view(src: &Layout, dst: &Layout) -> ViewKind {
    if src.offset == dst.offset {
        if src.is_contiguous() && dst.is_contiguous() && src.numel() == dst.numel() {
            return ViewKind::Reshape;
        }
        if src.shape.len() == dst.shape.len() {
            let mut used = vec![false; src.shape.len()];
            let mut dims = Vec::new();
            for (&d, &st) in dst.shape.iter().zip(&dst.strides) {
                match (0..src.shape.len()).find(|&i| !used[i] && src.shape[i] == d && src.strides[i] == st) {
                    Some(i) => {
                        used[i] = true;
                        dims.push(i);
                    }
                    None => break,
                }
            }
            if dims.len() == src.shape.len() && dims.iter().enumerate().any(|(i, &d)| i != d) {
                return ViewKind::Permute(dims);
            }
        }
        if let Ok(b) = src.broadcast_to("view", &dst.shape) {
            if b == *dst && src.shape != dst.shape {
                return ViewKind::Expand;
            }
        }
    }
    ViewKind::AsStrided
}
