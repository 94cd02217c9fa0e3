//! `deepseek._core`'s graph surface: tracing (begin, declare inputs and state, finish), the
//! `Graph` class (the Python view of the IR as plain dicts, printing, passes, the memory
//! plan, one-call execution) and the rebuilding of a graph from that view (loading).
use super::tensor::PyTensor;
use crate::device::Device;
use crate::dtype::DType;
use crate::graph::exec::{self, Plan};
use crate::graph::ir::{Buffer, Graph, Node, NodeKind, Role, Value, ViewKind};
use crate::graph::{passes, trace};
use crate::layout::Layout;
use crate::op::{AttrValue, Scalar};
use crate::tensor::Tensor;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

type PT = Py<PyTensor>;

#[pyclass(name = "Graph", module = "deepseek._core")]
pub struct PyGraph {
    g: Graph,
    plan: Plan,
}

fn attr_py<'py>(py: Python<'py>, v: &AttrValue) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        AttrValue::Scalar(Scalar::Bool(b)) => b.into_pyobject(py)?.to_owned().into_any(),
        AttrValue::Scalar(Scalar::Int(i)) => i.into_pyobject(py)?.into_any(),
        AttrValue::Scalar(Scalar::Float(f)) => f.into_pyobject(py)?.into_any(),
        AttrValue::List(l) => PyList::new(py, l)?.into_any(),
    })
}

fn role_text(r: &Role) -> (&'static str, Option<usize>) {
    match r {
        Role::Input(i) => ("input", Some(*i)),
        Role::State(i) => ("state", Some(*i)),
        Role::Constant(i) => ("constant", Some(*i)),
        Role::Internal => ("internal", None),
    }
}

fn err(msg: String) -> PyErr {
    PyValueError::new_err(msg)
}

#[pymethods]
impl PyGraph {
    /// Compiles `body`, the rendering of elementwise node `node`'s program (kernel `name`),
    /// for the device the node runs on (`deepseek.backends.kernels.fused.attach` calls it when
    /// the graph is finished). `max_rank`: the body indexes operands that coalesce to at most
    /// that many dims only (None: any). False when the device's backend compiles no kernels or
    /// declines this one: the node then runs one launch a step. A compile error raises, naming
    /// the node.
    #[pyo3(signature = (node, name, body, max_rank=None))]
    fn attach_program(&self, node: usize, name: &str, body: &str, max_rank: Option<usize>) -> PyResult<bool> {
        super::guard("graph.attach_program", || Ok(crate::graph::device_fused::attach(&self.g, node, name, body, max_rank)?))
    }

    /// How many generated kernels this graph holds compiled.
    fn n_device_kernels(&self) -> usize {
        self.g.device_kernels.len()
    }

    /// The IR printed one node a line.
    fn print(&self) -> String {
        self.g.print()
    }
    fn __str__(&self) -> String {
        self.g.print()
    }
    /// One dict per node: kind, op, attrs, inputs, outputs, mutates.
    fn nodes(&self, py: Python<'_>) -> PyResult<Vec<Py<PyDict>>> {
        self.g
            .nodes
            .iter()
            .map(|n| {
                let d = PyDict::new(py);
                let attrs = PyDict::new(py);
                match &n.kind {
                    NodeKind::Launch(op) => {
                        d.set_item("kind", "launch")?;
                        for (k, v) in op.attrs() {
                            attrs.set_item(k, attr_py(py, &v)?)?;
                        }
                    }
                    NodeKind::Fused(f) => {
                        d.set_item("kind", "fused")?;
                        for (k, v) in f.attrs() {
                            attrs.set_item(k, attr_py(py, &v)?)?;
                        }
                    }
                    NodeKind::Elementwise(p) => {
                        d.set_item("kind", "elementwise")?;
                        let (ops, args, outs) = p.attrs();
                        attrs.set_item("ops", ops)?;
                        attrs.set_item("args", args)?;
                        attrs.set_item("outputs", outs)?;
                    }
                    NodeKind::View(k) => {
                        d.set_item("kind", "view")?;
                        let l = &self.g.values[n.outputs[0]].layout;
                        match k {
                            ViewKind::Permute(dims) => attrs.set_item("dims", dims.clone())?,
                            ViewKind::AsStrided => {
                                attrs.set_item("size", l.shape.clone())?;
                                attrs.set_item("stride", l.strides.clone())?;
                                attrs.set_item("storage_offset", l.offset)?;
                            }
                            _ => attrs.set_item("shape", l.shape.clone())?,
                        }
                    }
                }
                d.set_item("op", n.name())?;
                d.set_item("attrs", attrs)?;
                d.set_item("inputs", n.inputs.clone())?;
                d.set_item("outputs", n.outputs.clone())?;
                d.set_item("mutates", n.mutates.clone())?;
                Ok(d.unbind())
            })
            .collect()
    }
    /// One dict per value: id, dtype, shape, strides, offset, buffer, version, alias_of, role, name.
    fn values(&self, py: Python<'_>) -> PyResult<Vec<Py<PyDict>>> {
        (0..self.g.values.len())
            .map(|i| {
                let v = &self.g.values[i];
                let d = PyDict::new(py);
                d.set_item("id", i)?;
                d.set_item("dtype", v.dtype.name())?;
                d.set_item("shape", v.layout.shape.clone())?;
                d.set_item("strides", v.layout.strides.clone())?;
                d.set_item("offset", v.layout.offset)?;
                d.set_item("buffer", v.buffer)?;
                d.set_item("version", v.version)?;
                d.set_item("alias_of", v.alias_of)?;
                d.set_item("role", self.g.role_name(i))?;
                d.set_item("name", self.g.value_name(i))?;
                Ok(d.unbind())
            })
            .collect()
    }
    /// One dict per buffer: nbytes, device, role and the role's index.
    fn buffers(&self, py: Python<'_>) -> PyResult<Vec<Py<PyDict>>> {
        self.g
            .buffers
            .iter()
            .map(|b| {
                let d = PyDict::new(py);
                let (role, index) = role_text(&b.role);
                d.set_item("nbytes", b.nbytes)?;
                d.set_item("device", b.device.name())?;
                d.set_item("role", role)?;
                d.set_item("index", index)?;
                Ok(d.unbind())
            })
            .collect()
    }
    fn inputs(&self) -> Vec<usize> {
        self.g.inputs.clone()
    }
    fn outputs(&self) -> Vec<usize> {
        self.g.outputs.clone()
    }
    /// (name or None, value id) per state tensor, in the order `run` takes them.
    fn state_entries(&self) -> Vec<(Option<String>, usize)> {
        self.g.state.clone()
    }
    /// The tensor a constant value reads (a view of the captured contents).
    fn constant(&self, py: Python<'_>, vid: usize) -> PyResult<PT> {
        let v = self.g.values.get(vid).ok_or_else(|| err(format!("graph.constant: no value %{vid}")))?;
        let Role::Constant(c) = self.g.buffers[v.buffer].role else {
            return Err(err(format!("graph.constant: %{vid} is a {} value, not a constant", self.g.role_name(vid))));
        };
        PyTensor::wrap(py, Tensor::from_parts(self.g.constants[c].storage().clone(), v.layout.clone(), v.dtype))
    }
    /// The whole storage of constant `i` as a 1-d uint8 tensor (what `save` writes).
    fn constant_bytes(&self, py: Python<'_>, i: usize) -> PyResult<PT> {
        let c = self.g.constants.get(i).ok_or_else(|| err(format!("graph.constant_bytes: no constant {i}")))?;
        PyTensor::wrap(py, storage_bytes(c))
    }
    /// The number of constants.
    fn n_constants(&self) -> usize {
        self.g.constants.len()
    }
    /// The tensor the graph binds for unnamed state `i` (None for named state).
    fn captured(&self, py: Python<'_>, i: usize) -> PyResult<Option<PT>> {
        match self.g.captured.get(i) {
            Some(Some(t)) => Ok(Some(PyTensor::wrap(py, t.clone())?)),
            _ => Ok(None),
        }
    }
    /// Runs the passes (constant folding, common subexpressions, dead code, and elementwise
    /// fusion when `fuse`) and replans; returns (folded, common, dead, fused) counts.
    #[pyo3(signature = (fuse=true))]
    fn optimize(&mut self, fuse: bool) -> PyResult<(usize, usize, usize, usize)> {
        super::guard("graph.optimize", || {
            let s = passes::optimize(&mut self.g, fuse)?;
            self.plan = exec::plan(&self.g);
            Ok((s.folded, s.common, s.dead, s.fused))
        })
    }
    /// A frozen copy (`deepseek.jit.freeze`): the state it never writes becomes constants
    /// (copies of `state`'s tensors, in `state_entries` order, None for unnamed entries),
    /// except the entries `keep` marks; the passes then run again (with elementwise fusion
    /// when `fuse`, convolution epilogues folded when `fold_convs`), folding what depends on weights alone. Returns (graph, frozen entries,
    /// convolutions with a batch norm folded in).
    #[pyo3(signature = (state, keep, fuse=true, fold_convs=true))]
    fn frozen(&self, state: Vec<Option<PyRef<'_, PyTensor>>>, keep: Vec<bool>, fuse: bool, fold_convs: bool) -> PyResult<(PyGraph, usize, usize)> {
        super::guard("deepseek.jit.freeze", || {
            let mut g = self.g.clone();
            let st: Vec<Option<Tensor>> = state.iter().map(|t| t.as_ref().map(|t| t.t.clone())).collect();
            crate::graph::fuse::unfuse(&mut g);
            let n = crate::graph::fold::freeze(&mut g, &st, &keep)?;
            let s = passes::optimize_with(&mut g, fuse, fold_convs)?;
            let plan = exec::plan(&g);
            Ok((PyGraph { g, plan }, n, s.conv_folded))
        })
    }
    /// Recomputes forward results in the backward of a training graph so that its arena
    /// fits `budget` bytes (`graph::remat`); returns the report as a dict.
    fn apply_memory_budget(&mut self, py: Python<'_>, budget: usize) -> PyResult<Py<PyDict>> {
        let r = super::guard("memory_budget", || {
            let r = crate::graph::remat::apply_budget(&mut self.g, budget)?;
            self.plan = exec::plan(&self.g);
            Ok(r)
        })?;
        let d = PyDict::new(py);
        d.set_item("kept", r.kept)?;
        d.set_item("recomputed", r.recomputed)?;
        d.set_item("kept_bytes", r.kept_bytes)?;
        d.set_item("recomputed_bytes", r.recomputed_bytes)?;
        d.set_item("extra_flops", r.extra_flops)?;
        d.set_item("arena_bytes_before", r.arena_before)?;
        d.set_item("arena_bytes", r.arena_after)?;
        d.set_item("arena_bytes_before_reorder", r.arena_before_reorder)?;
        Ok(d.unbind())
    }
    /// Reorders the schedule where that lowers the planned arena (`graph::reorder`) and
    /// replans; returns the arena bytes (before, after).
    fn reorder_schedule(&mut self) -> (usize, usize) {
        let r = crate::graph::reorder::reorder(&mut self.g);
        self.plan = exec::plan(&self.g);
        (r.arena_before, r.arena_after)
    }
    /// Whether `order` (node indices) is a schedule of this graph that respects every
    /// dependency (what `reorder_schedule` must keep), for tests.
    fn is_valid_order(&self, order: Vec<usize>) -> bool {
        crate::graph::reorder::is_valid_order(&self.g, &order)
    }
    /// The memory plan: arena bytes per device, the bytes with no reuse, the live peak, and
    /// the (buffer, dead input buffer) pairs written in place.
    fn memory_plan(&self) -> (Vec<(String, usize)>, usize, usize, Vec<(usize, usize)>) {
        (self.plan.arenas.iter().map(|(d, n)| (d.name(), *n)).collect(), self.plan.unplanned, self.plan.live_peak, self.plan.in_place.clone())
    }
    /// The bytes of each buffer a run allocates outside its arenas (outputs, written
    /// constants): with the arenas, every tensor a run allocates.
    fn outside_arena(&self) -> Vec<usize> {
        self.plan.outside_arena(&self.g)
    }
    /// The arena offset of each buffer planned into one (buffer, arena, offset), for tests of
    /// the plan.
    fn arena_offsets(&self) -> Vec<(usize, usize, usize)> {
        self.plan.slots.iter().enumerate().filter_map(|(b, s)| match s {
            exec::Slot::Arena { arena, offset } => Some((b, *arena, *offset)),
            _ => None,
        }).collect()
    }
    /// Runs the graph once on `inputs` with `state` (named state tensors in `state_entries`
    /// order, None for the unnamed ones); returns the outputs. `steps` advances the optimizer
    /// steps' counts past their traced values (a run-time input, as random streams are).
    /// `lrs` gives the learning rate of each state entry that a fused SGD or AdamW update
    /// writes (NaN: the traced one), a run-time input for LR schedulers.
    #[pyo3(signature = (inputs, state, steps=0, lrs=None))]
    fn run(&self, py: Python<'_>, inputs: Vec<PyRef<'_, PyTensor>>, state: Vec<Option<PyRef<'_, PyTensor>>>, steps: u64, lrs: Option<Vec<f64>>) -> PyResult<Vec<PT>> {
        super::guard("graph.run", || {
            let ins: Vec<Tensor> = inputs.iter().map(|t| t.t.clone()).collect();
            let st: Vec<Option<Tensor>> = state.iter().map(|t| t.as_ref().map(|t| t.t.clone())).collect();
            let outs = py.detach(|| exec::run_at_step(&self.g, &self.plan, &ins, &st, steps, lrs.as_deref().unwrap_or(&[])))?;
            outs.into_iter().map(|t| PyTensor::wrap(py, t)).collect()
        })
    }
    /// `run`, timing each node: returns (outputs, seconds per node in `nodes()` order (0 for
    /// views), seconds binding the operands and taking the arenas, seconds of the whole run).
    #[pyo3(signature = (inputs, state, steps=0, lrs=None))]
    #[allow(clippy::type_complexity)]
    fn run_profiled(&self, py: Python<'_>, inputs: Vec<PyRef<'_, PyTensor>>, state: Vec<Option<PyRef<'_, PyTensor>>>, steps: u64, lrs: Option<Vec<f64>>) -> PyResult<(Vec<PT>, Vec<f64>, f64, f64)> {
        super::guard("graph.run", || {
            let ins: Vec<Tensor> = inputs.iter().map(|t| t.t.clone()).collect();
            let st: Vec<Option<Tensor>> = state.iter().map(|t| t.as_ref().map(|t| t.t.clone())).collect();
            let (outs, p) = py.detach(|| exec::run_profiled(&self.g, &self.plan, &ins, &st, steps, lrs.as_deref().unwrap_or(&[])))?;
            let outs = outs.into_iter().map(|t| PyTensor::wrap(py, t)).collect::<PyResult<Vec<_>>>()?;
            Ok((outs, p.nodes, p.setup, p.total))
        })
    }
    /// Bytes of arena the graph keeps from one run to the next (0 before the first run).
    fn kept_arena_bytes(&self) -> usize {
        self.plan.kept.bytes()
    }
    /// Gives the kept arenas back to the allocator (the next run takes new ones).
    fn release_arenas(&self) {
        self.plan.kept.release()
    }
}

fn list_i<'py, T>(d: &Bound<'py, PyDict>, k: &str, what: &str) -> PyResult<T>
where
    T: for<'a> pyo3::FromPyObject<'a, 'py>,
    for<'a> <T as pyo3::FromPyObject<'a, 'py>>::Error: Into<PyErr>,
{
    let item = d.get_item(k)?.ok_or_else(|| err(format!("graph file: {what} has no '{k}'")))?;
    item.extract::<T>().map_err(|e| {
        let e: PyErr = e.into();
        err(format!("graph file: {what}: '{k}' is malformed ({e})"))
    })
}

/// Rebuilds a graph from the Python view (`buffers()`, `values()`, `nodes()` ...) and tensors
/// for the constants and the unnamed state. Every index is checked: a malformed description
/// is a ValueError, never a crash.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn graph_from_parts(
    buffers: Vec<Bound<'_, PyDict>>,
    values: Vec<Bound<'_, PyDict>>,
    nodes: Vec<Bound<'_, PyDict>>,
    inputs: Vec<usize>,
    state: Vec<(Option<String>, usize)>,
    outputs: Vec<usize>,
    constants: Vec<PyRef<'_, PyTensor>>,
    captured: Vec<Option<PyRef<'_, PyTensor>>>,
) -> PyResult<PyGraph> {
    super::guard("graph_from_parts", || {
        let mut g = Graph::default();
        for (i, b) in buffers.iter().enumerate() {
            let what = format!("buffer {i}");
            let role: String = list_i(b, "role", &what)?;
            let index: Option<usize> = list_i(b, "index", &what)?;
            let idx = |n: usize| index.filter(|&x| x < n).ok_or_else(|| err(format!("graph file: {what}: role index {index:?} out of range")));
            let role = match role.as_str() {
                "input" => Role::Input(idx(inputs.len())?),
                "state" => Role::State(idx(state.len())?),
                "constant" => Role::Constant(idx(constants.len())?),
                "internal" => Role::Internal,
                r => return Err(err(format!("graph file: {what}: unknown role '{r}'"))),
            };
            let dev: String = list_i(b, "device", &what)?;
            g.buffers.push(Buffer { nbytes: list_i(b, "nbytes", &what)?, device: Device::parse(&dev)?, role });
        }
        for (i, v) in values.iter().enumerate() {
            let what = format!("value {i}");
            let dt: String = list_i(v, "dtype", &what)?;
            let dtype = DType::from_name(&dt).ok_or_else(|| err(format!("graph file: {what}: unknown dtype '{dt}'")))?;
            let layout = Layout { shape: list_i(v, "shape", &what)?, strides: list_i(v, "strides", &what)?, offset: list_i(v, "offset", &what)? };
            let buffer: usize = list_i(v, "buffer", &what)?;
            let alias_of: Option<usize> = list_i(v, "alias_of", &what)?;
            if layout.shape.len() != layout.strides.len() || buffer >= g.buffers.len() || alias_of.is_some_and(|a| a >= values.len()) {
                return Err(err(format!("graph file: {what} is inconsistent")));
            }
            if let Some((lo, hi)) = layout.span() {
                let nb = g.buffers[buffer].nbytes as isize;
                if lo < 0 || (hi + 1) * dtype.size() as isize > nb {
                    return Err(err(format!("graph file: {what} reaches outside its buffer")));
                }
            }
            g.values.push(Value { dtype, layout, buffer, version: list_i(v, "version", &what)?, alias_of });
        }
        let nv = g.values.len();
        let check = |ids: &[usize], what: &str| -> PyResult<()> {
            match ids.iter().find(|&&v| v >= nv) {
                Some(v) => Err(err(format!("graph file: {what} names value %{v}, which does not exist"))),
                None => Ok(()),
            }
        };
        for (i, n) in nodes.iter().enumerate() {
            let what = format!("node {i}");
            let kind: String = list_i(n, "kind", &what)?;
            let name: String = list_i(n, "op", &what)?;
            let attrs: Bound<'_, PyDict> = list_i(n, "attrs", &what)?;
            let node = Node { kind: NodeKind::View(ViewKind::AsStrided), inputs: list_i(n, "inputs", &what)?, outputs: list_i(n, "outputs", &what)?, mutates: list_i(n, "mutates", &what)? };
            check(&node.inputs, &what)?;
            check(&node.outputs, &what)?;
            check(&node.mutates, &what)?;
            let kind = match kind.as_str() {
                "launch" => {
                    let op = crate::op::op_from_named(&name, |a| {
                        let v = attrs.get_item(a).ok()??;
                        if let Some(s) = super::as_scalar(&v) {
                            return Some(AttrValue::Scalar(s));
                        }
                        v.extract::<Vec<i64>>().ok().map(AttrValue::List)
                    })
                    .map_err(|e| err(format!("graph file: {what}: {}", e)))?;
                    op.check_arity(node.outputs.len(), node.inputs.len()).map_err(|e| err(format!("graph file: {what}: {}", e)))?;
                    NodeKind::Launch(op)
                }
                "fused" => {
                    let f = crate::op::FusedOp::from_named(&name, |a| {
                        let v = attrs.get_item(a).ok()??;
                        if let Some(s) = super::as_scalar(&v) {
                            return Some(AttrValue::Scalar(s));
                        }
                        v.extract::<Vec<i64>>().ok().map(AttrValue::List)
                    })
                    .map_err(|e| err(format!("graph file: {what}: {e}")))?;
                    f.check_arity(node.outputs.len(), node.inputs.len()).map_err(|e| err(format!("graph file: {what}: {e}")))?;
                    NodeKind::Fused(f)
                }
                "elementwise" => {
                    let ops: Vec<String> = list_i(&attrs, "ops", &what)?;
                    let p = crate::graph::fuse::program_from_named(node.inputs.len(), |a| attrs.get_item(a).ok()?.and_then(|v| v.extract::<Vec<i64>>().ok()).map(AttrValue::List), ops)
                        .map_err(|e| err(format!("graph file: {what}: {e}")))?;
                    if p.outputs.len() != node.outputs.len() {
                        return Err(err(format!("graph file: {what}: the program has {} output(s), the node {}", p.outputs.len(), node.outputs.len())));
                    }
                    NodeKind::Elementwise(p)
                }
                "view" => {
                    if node.inputs.len() != 1 || node.outputs.len() != 1 {
                        return Err(err(format!("graph file: {what}: a view takes one value")));
                    }
                    NodeKind::View(match name.as_str() {
                        "reshape" => ViewKind::Reshape,
                        "expand" => ViewKind::Expand,
                        "as_strided" => ViewKind::AsStrided,
                        "permute" => ViewKind::Permute(list_i(&attrs, "dims", &what)?),
                        v => return Err(err(format!("graph file: {what}: unknown view '{v}'"))),
                    })
                }
                k => return Err(err(format!("graph file: {what}: unknown node kind '{k}'"))),
            };
            g.nodes.push(Node { kind, ..node });
        }
        check(&inputs, "the inputs")?;
        check(&outputs, "the outputs")?;
        check(&state.iter().map(|s| s.1).collect::<Vec<_>>(), "the state")?;
        if captured.len() != state.len() {
            return Err(err("graph file: the captured state does not match the state list".into()));
        }
        g.inputs = inputs;
        g.outputs = outputs;
        g.state = state;
        g.constants = constants.iter().map(|t| t.t.clone()).collect();
        g.captured = captured.iter().map(|t| t.as_ref().map(|t| t.t.clone())).collect();
        for (b, buf) in g.buffers.iter().enumerate() {
            if let Role::Constant(c) = buf.role {
                if g.constants[c].storage().nbytes() < buf.nbytes || g.constants[c].device() != buf.device {
                    return Err(err(format!("graph file: constant {c} does not fill buffer {b}")));
                }
            }
        }
        let plan = exec::plan(&g);
        Ok(PyGraph { g, plan })
    })
}

fn storage_bytes(t: &Tensor) -> Tensor {
    let n = t.storage().nbytes();
    Tensor::from_parts(t.storage().clone(), Layout::contiguous(&[n]), DType::U8)
}

/// `t`'s whole storage as a 1-d uint8 tensor (no copy).
#[pyfunction]
fn graph_storage_bytes(py: Python<'_>, t: PyRef<'_, PyTensor>) -> PyResult<PT> {
    PyTensor::wrap(py, storage_bytes(&t.t))
}

/// A view of `bytes`' storage (a 1-d uint8 tensor) as `dtype` with the given layout, checked
/// to stay inside the storage.
#[pyfunction]
fn graph_reinterpret(py: Python<'_>, bytes: PyRef<'_, PyTensor>, dtype: &str, shape: Vec<usize>, strides: Vec<isize>, offset: usize) -> PyResult<PT> {
    let dt = super::parse_dtype(dtype)?;
    let layout = Layout { shape, strides, offset };
    if layout.shape.len() != layout.strides.len() {
        return Err(err("graph_reinterpret: shape and strides differ in length".into()));
    }
    if let Some((lo, hi)) = layout.span() {
        if lo < 0 || (hi + 1) as usize * dt.size() > bytes.t.storage().nbytes() {
            return Err(err(format!("graph_reinterpret: a {dtype} view {:?} reaches outside the {} bytes given", layout.shape, bytes.t.storage().nbytes())));
        }
    }
    PyTensor::wrap(py, Tensor::from_parts(bytes.t.storage().clone(), layout, dt))
}

/// Starts a trace on this thread.
#[pyfunction]
fn graph_trace_begin() -> PyResult<()> {
    Ok(trace::begin()?)
}
#[pyfunction]
fn graph_trace_input(t: PyRef<'_, PyTensor>) -> PyResult<()> {
    Ok(trace::add_input(&t.t)?)
}
#[pyfunction]
fn graph_trace_state(t: PyRef<'_, PyTensor>, name: &str) -> PyResult<()> {
    Ok(trace::add_state(&t.t, name)?)
}
/// Ends the trace with the function's outputs: (graph, warnings).
#[pyfunction]
fn graph_trace_finish(outputs: Vec<PyRef<'_, PyTensor>>) -> PyResult<(PyGraph, Vec<String>)> {
    super::guard("graph_trace_finish", || {
        let outs: Vec<Tensor> = outputs.iter().map(|t| t.t.clone()).collect();
        let (g, warnings) = trace::finish(&outs)?;
        let plan = exec::plan(&g);
        Ok((PyGraph { g, plan }, warnings))
    })
}
/// Marks where the backward of the traced training step begins.
#[pyfunction]
fn graph_trace_mark_backward() -> PyResult<()> {
    Ok(trace::mark_backward()?)
}
#[pyfunction]
fn graph_trace_abort() {
    trace::abort()
}
#[pyfunction]
fn graph_is_tracing() -> bool {
    trace::is_tracing()
}

/// The warning class of host reads during a trace (`deepseek.jit.TracerWarning`), registered
/// by the Python package: the core never imports it.
static TRACER_WARNING: pyo3::sync::PyOnceLock<Py<pyo3::types::PyType>> = pyo3::sync::PyOnceLock::new();

#[pyfunction]
fn graph_set_tracer_warning(py: Python<'_>, cls: Bound<'_, pyo3::types::PyType>) {
    let _ = TRACER_WARNING.set(py, cls.unbind());
}

/// Warns, while a trace is active on this thread, that reading a tensor's value on the host
/// (`what`) makes the trace treat it as a constant.
pub fn host_read(py: Python<'_>, what: &str) -> PyResult<()> {
    if !trace::is_tracing() {
        return Ok(());
    }
    let msg = format!("Converting a tensor to a Python value ({what}) during a trace: the graph treats the value as a constant, so it will not follow the inputs of later calls (data-dependent control flow is traced as it ran).");
    let c = std::ffi::CString::new(msg).unwrap();
    match TRACER_WARNING.get(py) {
        Some(cls) => PyErr::warn(py, cls.bind(py).as_any(), &c, 1),
        None => PyErr::warn(py, &py.get_type::<pyo3::exceptions::PyUserWarning>(), &c, 1),
    }
}

#[pyfunction]
fn graph_host_read(py: Python<'_>, what: &str) -> PyResult<()> {
    host_read(py, what)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyGraph>()?;
    macro_rules! add {
        ($($f:ident),*) => { $( m.add_function(wrap_pyfunction!($f, m)?)?; )* };
    }
    add!(graph_from_parts, graph_storage_bytes, graph_reinterpret, graph_set_tracer_warning, graph_host_read, graph_trace_begin, graph_trace_input, graph_trace_state, graph_trace_finish, graph_trace_mark_backward, graph_trace_abort, graph_is_tracing);
    Ok(())
}
