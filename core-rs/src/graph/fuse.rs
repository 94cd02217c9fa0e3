//! Elementwise fusion: maximal groups of elementwise unary and binary launches on one device
//! (one float dtype, one shape) become one `Elementwise` node whose program runs block by
//! block over the output (`fused_run`) on the CPU, or as one generated kernel on a device
//! whose backend compiles them (`device_fused`), so the group's intermediates are never
//! written to memory. A value stays inside a group when every reader of it is in the group, nothing
//! else views its buffer and it is not a result of the graph; the group's other outputs
//! (its sinks) are the node's outputs.
use super::ir::{Graph, Node, NodeKind, Role, Vid};
use crate::device::Device;
use crate::error::{Error, Result};
use crate::op::{AttrValue, Op, OpId};
use std::collections::HashMap;
use std::fmt::Write as _;

/// A fused elementwise computation. Registers `0..n_inputs` hold the node's inputs; step `k`
/// computes register `n_inputs + k` from earlier registers (`args`: one for a unary op, two
/// for a binary one); `outputs` name the registers written to the node's outputs, in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Program {
    pub n_inputs: usize,
    pub steps: Vec<Step>,
    pub outputs: Vec<usize>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub op: Op,
    pub args: Vec<usize>,
}

impl Program {
    pub fn n_regs(&self) -> usize {
        self.n_inputs + self.steps.len()
    }

    /// The program as attributes (op names, arguments flat with -1 for a missing second one,
    /// output registers), the form a serialised graph keeps.
    pub fn attrs(&self) -> (Vec<&'static str>, Vec<i64>, Vec<i64>) {
        let ops = self.steps.iter().map(|s| s.op.name()).collect();
        let args = self.steps.iter().flat_map(|s| [s.args[0] as i64, s.args.get(1).map_or(-1, |&b| b as i64)]).collect();
        (ops, args, self.outputs.iter().map(|&o| o as i64).collect())
    }

    /// Rebuilds and checks a program from its attributes (`attrs`): every op an elementwise
    /// unary or binary primitive, every argument an earlier register.
    pub fn from_attrs(n_inputs: usize, ops: &[String], args: &[i64], outputs: &[i64]) -> Result<Program> {
        let bad = |m: String| Error::Runtime(format!("elementwise: {m}"));
        if args.len() != 2 * ops.len() || ops.is_empty() {
            return Err(bad(format!("{} op(s) need {} arguments, got {}", ops.len(), 2 * ops.len(), args.len())));
        }
        let mut steps = Vec::new();
        for (k, name) in ops.iter().enumerate() {
            let id = OpId::from_name(name).ok_or_else(|| bad(format!("'{name}' is not a primitive op")))?;
            let op = crate::op::op_from_named(name, |_| None)?;
            let arity = match op {
                Op::Unary(_) => 1,
                Op::Binary(_) => 2,
                _ => return Err(bad(format!("'{}' is not an elementwise unary or binary op", id.name()))),
            };
            let regs = n_inputs + k;
            let mut a = Vec::new();
            for (j, &r) in args[2 * k..2 * k + 2].iter().enumerate() {
                if j < arity {
                    if r < 0 || r as usize >= regs {
                        return Err(bad(format!("step {k} ({name}) reads register {r}, not yet computed")));
                    }
                    a.push(r as usize);
                } else if r != -1 {
                    return Err(bad(format!("step {k} ({name}) takes {arity} argument(s)")));
                }
            }
            steps.push(Step { op, args: a });
        }
        let n = n_inputs + steps.len();
        let outputs = outputs
            .iter()
            .map(|&o| if o >= 0 && (o as usize) < n { Ok(o as usize) } else { Err(bad(format!("output register {o} out of range"))) })
            .collect::<Result<_>>()?;
        Ok(Program { n_inputs, steps, outputs })
    }

    /// `r2=mul(r0, r1); r3=tanh(r2) -> r3`
    pub fn text(&self) -> String {
        let mut s = String::new();
        for (k, st) in self.steps.iter().enumerate() {
            let args: Vec<String> = st.args.iter().map(|a| format!("r{a}")).collect();
            let _ = write!(s, "r{}={}({}); ", self.n_inputs + k, st.op.name(), args.join(", "));
        }
        let outs: Vec<String> = self.outputs.iter().map(|o| format!("r{o}")).collect();
        let _ = write!(s, "-> {}", outs.join(", "));
        s
    }
}

/// Whether node `n` may join a group: an elementwise unary or binary launch writing one fresh,
/// whole, contiguous internal buffer of a float dtype on a device that fuses (`fuses_on`),
/// from inputs of that dtype on that device.
fn candidate(g: &Graph, n: &Node) -> bool {
    if !matches!(n.kind, NodeKind::Launch(Op::Unary(_) | Op::Binary(_))) || !n.mutates.is_empty() || n.outputs.len() != 1 {
        return false;
    }
    let o = &g.values[n.outputs[0]];
    let buf = &g.buffers[o.buffer];
    let whole = o.layout.is_contiguous() && o.layout.offset == 0 && o.layout.numel() * o.dtype.size() == buf.nbytes;
    o.dtype.is_float()
        && fuses_on(buf.device)
        && buf.role == Role::Internal
        && whole
        && n.inputs.iter().all(|&i| {
            let v = &g.values[i];
            v.dtype == o.dtype && v.layout.shape == o.layout.shape && g.buffers[v.buffer].device == buf.device && v.buffer != o.buffer
        })
}

/// Whether groups on `dev` fuse: on the CPU (one loop, `fused_run`), and on a device whose
/// backend compiles generated kernels (one kernel a group, `device_fused`); elsewhere a fused
/// node could only run one launch a step with unplanned temporaries, so its launches stay.
fn fuses_on(dev: Device) -> bool {
    match dev {
        Device::Ext { backend, .. } => crate::backend::backend_of(backend).compiles_programs(),
        _ => true,
    }
}

fn find(p: &mut [usize], x: usize) -> usize {
    let mut r = x;
    while p[r] != r {
        r = p[r];
    }
    let mut y = x;
    while p[y] != r {
        let next = p[y];
        p[y] = r;
        y = next;
    }
    r
}

/// Fuses elementwise groups (see the module docs); returns how many launches were folded into
/// fused nodes. Run it after dead-code elimination and before compaction.
pub fn fuse_elementwise(g: &mut Graph) -> usize {
    let nn = g.nodes.len();
    let cand: Vec<bool> = g.nodes.iter().map(|n| candidate(g, n)).collect();
    let mut producer: HashMap<Vid, usize> = HashMap::new();
    let mut users: Vec<Vec<usize>> = vec![Vec::new(); g.values.len()];
    let mut bufvals: Vec<usize> = vec![0; g.buffers.len()];
    for v in &g.values {
        bufvals[v.buffer] += 1;
    }
    for (i, n) in g.nodes.iter().enumerate() {
        for &o in &n.outputs {
            producer.entry(o).or_insert(i);
        }
        for &v in n.inputs.iter().chain(&n.mutates) {
            users[v].push(i);
        }
    }
    // a value that lives only inside a group: made by a candidate, read only by candidates,
    // the one value of its buffer (no views of it), not a result
    let internal = |v: Vid| -> bool {
        producer.get(&v).is_some_and(|&p| cand[p])
            && !g.outputs.contains(&v)
            && bufvals[g.values[v].buffer] == 1
            && !users[v].is_empty()
            && users[v].iter().all(|&u| cand[u] && !g.nodes[u].mutates.contains(&v))
    };
    let mut parent: Vec<usize> = (0..nn).collect();
    for c in 0..nn {
        if !cand[c] {
            continue;
        }
        for &v in &g.nodes[c].inputs {
            if internal(v) {
                let (a, b) = (find(&mut parent, producer[&v]), find(&mut parent, c));
                parent[a] = b;
            }
        }
    }
    let mut groups: HashMap<usize, Vec<usize>> = HashMap::new();
    for i in 0..nn {
        if cand[i] {
            let r = find(&mut parent, i);
            groups.entry(r).or_default().push(i);
        }
    }
    let mut replace: HashMap<usize, Node> = HashMap::new();
    let mut drop = vec![false; nn];
    let mut fused = 0;
    let mut order: Vec<Vec<usize>> = groups.into_values().filter(|m| m.len() > 1).collect();
    order.sort();
    for members in order {
        let Some(node) = build(g, &members, &internal, &users) else { continue };
        let last = *members.last().unwrap();
        for &m in &members {
            drop[m] = true;
        }
        drop[last] = false;
        replace.insert(last, node);
        fused += members.len();
    }
    if fused == 0 {
        return 0;
    }
    for (i, n) in replace {
        g.nodes[i] = n;
    }
    g.retain_nodes(&drop.iter().map(|d| !d).collect::<Vec<_>>());
    fused
}

/// The fused node of a group (members in schedule order), placed at its last member, or None
/// when moving the group there would change what the graph computes: a result of the group
/// read before that point, or an input of the group written between its first reader in the
/// group and the last member.
fn build(g: &Graph, members: &[usize], internal: &dyn Fn(Vid) -> bool, users: &[Vec<usize>]) -> Option<Node> {
    let (first, last) = (members[0], *members.last().unwrap());
    let is_member = |i: usize| members.binary_search(&i).is_ok();
    let mut reg: HashMap<Vid, usize> = HashMap::new();
    let mut inputs: Vec<Vid> = Vec::new();
    for &m in members {
        for &v in &g.nodes[m].inputs {
            let made_here = members.iter().any(|&k| g.nodes[k].outputs[0] == v);
            if !made_here && !reg.contains_key(&v) {
                reg.insert(v, inputs.len());
                inputs.push(v);
            }
        }
    }
    // each input's buffer must hold the same contents at the last member as at the first
    // member reading it (a member may read a value made after the group's first member)
    for &v in &inputs {
        let b = g.values[v].buffer;
        let first = members.iter().copied().find(|&m| g.nodes[m].inputs.contains(&v)).unwrap_or(first);
        let written = (first + 1..last).any(|j| {
            !is_member(j) && !matches!(g.nodes[j].kind, NodeKind::View(_)) && g.nodes[j].outputs.iter().any(|&o| g.values[o].buffer == b)
        });
        if written {
            return None;
        }
    }
    let mut steps = Vec::new();
    let mut outputs = Vec::new();
    let mut out_vals = Vec::new();
    for &m in members {
        let n = &g.nodes[m];
        let NodeKind::Launch(op) = &n.kind else { return None };
        let args = n.inputs.iter().map(|v| reg[v]).collect();
        let o = n.outputs[0];
        reg.insert(o, inputs.len() + steps.len());
        steps.push(Step { op: op.clone(), args });
        if !internal(o) {
            // a sink: nothing outside the group may touch its buffer before the fused node runs
            let b = g.values[o].buffer;
            let early = (0..last).any(|j| {
                !is_member(j) && !matches!(g.nodes[j].kind, NodeKind::View(_)) && g.nodes[j].inputs.iter().chain(&g.nodes[j].outputs).chain(&g.nodes[j].mutates).any(|&w| g.values[w].buffer == b)
            });
            if early || users[o].iter().any(|&u| u < last && !is_member(u)) {
                return None;
            }
            outputs.push(reg[&o]);
            out_vals.push(o);
        }
    }
    Some(Node { kind: NodeKind::Elementwise(Program { n_inputs: inputs.len(), steps, outputs }), inputs, outputs: out_vals, mutates: vec![] })
}

/// Builds the program attributes of a serialised node back (see `Program::attrs`).
pub fn program_from_named(n_inputs: usize, mut lookup: impl FnMut(&str) -> Option<AttrValue>, ops: Vec<String>) -> Result<Program> {
    let list = |v: Option<AttrValue>, what: &str| match v {
        Some(AttrValue::List(l)) => Ok(l),
        _ => Err(Error::Runtime(format!("elementwise: attribute '{what}' must be a list of ints"))),
    };
    let args = list(lookup("args"), "args")?;
    let outputs = list(lookup("outputs"), "outputs")?;
    Program::from_attrs(n_inputs, &ops, &args, &outputs)
}

/// Expands every `Elementwise` node back into its launches (each intermediate register gets a
/// fresh internal buffer), and every convolution epilogue (`conv_epilogue`) too, so that
/// passes written for single launches see them again (a graph frozen after it was fused);
/// returns how many nodes were expanded.
pub fn unfuse(g: &mut Graph) -> usize {
    let mut count = super::conv_epilogue::unfuse_conv_epilogues(g);
    let old = std::mem::take(&mut g.nodes);
    let bs = g.backward_start;
    let mut new_bs = None;
    for (i, n) in old.into_iter().enumerate() {
        if bs == Some(i) {
            new_bs = Some(g.nodes.len());
        }
        let NodeKind::Elementwise(p) = &n.kind else {
            g.nodes.push(n);
            continue;
        };
        count += 1;
        let like = g.values[n.outputs[0]].clone();
        let mut regs: Vec<Vid> = n.inputs.clone();
        for (k, st) in p.steps.iter().enumerate() {
            let r = p.n_inputs + k;
            // the first output naming this register is written by its step; others copy it
            let out = match p.outputs.iter().position(|&o| o == r) {
                Some(j) => n.outputs[j],
                None => {
                    g.buffers.push(super::ir::Buffer { role: Role::Internal, ..g.buffers[like.buffer].clone() });
                    g.add_value(super::ir::Value { buffer: g.buffers.len() - 1, version: 0, alias_of: None, ..like.clone() })
                }
            };
            g.nodes.push(Node { kind: NodeKind::Launch(st.op.clone()), inputs: st.args.iter().map(|&a| regs[a]).collect(), outputs: vec![out], mutates: vec![] });
            regs.push(out);
        }
        for (j, &r) in p.outputs.iter().enumerate() {
            if p.outputs.iter().position(|&o| o == r) != Some(j) || r < p.n_inputs {
                g.nodes.push(Node { kind: NodeKind::Launch(Op::Copy), inputs: vec![regs[r]], outputs: vec![n.outputs[j]], mutates: vec![] });
            }
        }
    }
    if bs.is_some() {
        g.backward_start = new_bs.or(Some(g.nodes.len()));
    }
    count
}
