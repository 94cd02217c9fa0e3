//! The backward engine: dependency counting over the graph reachable from the roots, nodes
//! run newest-first, gradients summed per input, saved tensors released right after use.
use super::{Edge, Node, NodeKind};
use crate::error::{Error, Result};
use crate::ops;
use crate::tensor::Tensor;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

static PROFILING: AtomicBool = AtomicBool::new(false);
static PROFILE: Mutex<Vec<(String, f64, u64)>> = Mutex::new(Vec::new());

/// Turns per-node timing of backward passes on or off; returns what was collected so far
/// (node name, seconds, calls) and clears it.
pub fn profile_backward(on: bool) -> Vec<(String, f64, u64)> {
    PROFILING.store(on, Ordering::Relaxed);
    std::mem::take(&mut *PROFILE.lock().unwrap())
}

fn timed<R>(name: &str, f: impl FnOnce() -> R) -> R {
    if !PROFILING.load(Ordering::Relaxed) {
        return f();
    }
    let t = Instant::now();
    let r = f();
    let dt = t.elapsed().as_secs_f64();
    let mut p = PROFILE.lock().unwrap();
    match p.iter_mut().find(|e| e.0 == name) {
        Some(e) => {
            e.1 += dt;
            e.2 += 1;
        }
        None => p.push((name.to_string(), dt, 1)),
    }
    r
}

/// Where `autograd.grad` wants a gradient captured: a node and one of its inputs.
pub struct GradTarget {
    pub node: Arc<Node>,
    pub input_nr: usize,
}

struct Ready(u64, Arc<Node>);
impl PartialEq for Ready {
    fn eq(&self, o: &Self) -> bool {
        self.0 == o.0
    }
}
impl Eq for Ready {}
impl PartialOrd for Ready {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Ready {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0.cmp(&o.0)
    }
}

fn key(n: &Arc<Node>) -> usize {
    Arc::as_ptr(n) as usize
}

fn accumulate(slot: &mut Option<Tensor>, g: Tensor) -> Result<()> {
    *slot = Some(match slot.take() {
        None => g,
        Some(prev) => timed("(sum of gradients)", || -> Result<Tensor> {
            // a buffer only this slot holds is summed into in place (no new tensor)
            let unique = Arc::strong_count(&prev.0) == 1 && Arc::strong_count(prev.storage()) == 1;
            if unique && !crate::autograd::is_grad_enabled() && prev.shape() == g.shape() && prev.dtype() == g.dtype() && prev.device() == g.device() {
                ops::add_inplace_nograd(&prev, &g)?;
                Ok(prev)
            } else {
                ops::add(&prev, &g)
            }
        })?,
    });
    Ok(())
}

/// Runs backward from `roots` (each a tensor's gradient edge and the gradient to feed it).
/// With `targets`, returns the gradients reaching them instead of accumulating into leaves.
pub fn run_backward(
    roots: Vec<(Edge, Tensor)>,
    retain_graph: bool,
    create_graph: bool,
    targets: Option<Vec<GradTarget>>,
) -> Result<Vec<Option<Tensor>>> {
    crate::autograd::with_grad_mode(create_graph, || run(roots, retain_graph, targets))
}

fn run(roots: Vec<(Edge, Tensor)>, retain_graph: bool, targets: Option<Vec<GradTarget>>) -> Result<Vec<Option<Tensor>>> {
    // Count dependencies over the reachable graph.
    let mut deps: HashMap<usize, usize> = HashMap::new();
    let mut seen: HashSet<usize> = HashSet::new();
    let mut stack: Vec<Arc<Node>> = Vec::new();
    for (e, _) in &roots {
        if seen.insert(key(&e.node)) {
            stack.push(e.node.clone());
        }
    }
    let mut all: Vec<Arc<Node>> = Vec::new();
    while let Some(n) = stack.pop() {
        for e in n.next.iter().flatten() {
            *deps.entry(key(&e.node)).or_insert(0) += 1;
            if seen.insert(key(&e.node)) {
                stack.push(e.node.clone());
            }
        }
        all.push(n);
    }
    // With targets, only nodes that lead to a target need to run.
    let needed: Option<HashSet<usize>> = targets.as_ref().map(|ts| {
        let tkeys: HashSet<usize> = ts.iter().map(|t| key(&t.node)).collect();
        let mut memo: HashMap<usize, bool> = HashMap::new();
        // Process in reverse discovery order is not topological; iterate to a fixed point instead.
        let mut changed = true;
        for n in &all {
            memo.insert(key(n), tkeys.contains(&key(n)));
        }
        while changed {
            changed = false;
            for n in &all {
                if memo[&key(n)] {
                    continue;
                }
                if n.next.iter().flatten().any(|e| memo.get(&key(&e.node)).copied().unwrap_or(false)) {
                    memo.insert(key(n), true);
                    changed = true;
                }
            }
        }
        memo.into_iter().filter(|(_, v)| *v).map(|(k, _)| k).collect()
    });
    let mut captured: Vec<Option<Tensor>> = targets.as_ref().map(|t| vec![None; t.len()]).unwrap_or_default();
    let target_index: HashMap<(usize, usize), Vec<usize>> = {
        let mut m: HashMap<(usize, usize), Vec<usize>> = HashMap::new();
        if let Some(ts) = &targets {
            for (i, t) in ts.iter().enumerate() {
                m.entry((key(&t.node), t.input_nr)).or_default().push(i);
            }
        }
        m
    };

    let mut buffers: HashMap<usize, Vec<Option<Tensor>>> = HashMap::new();
    let mut heap: BinaryHeap<Ready> = BinaryHeap::new();
    for (e, g) in roots {
        let buf = buffers.entry(key(&e.node)).or_insert_with(|| vec![None; e.node.num_outputs.max(1)]);
        accumulate(&mut buf[e.input_nr], g)?;
    }
    for n in &all {
        if deps.get(&key(n)).copied().unwrap_or(0) == 0 {
            heap.push(Ready(n.seq, n.clone()));
        }
    }

    while let Some(Ready(_, node)) = heap.pop() {
        let k = key(&node);
        let mut grads = buffers.remove(&k).unwrap_or_else(|| vec![None; node.num_outputs.max(1)]);
        // Pre-hooks may replace the incoming gradient.
        let hooks: Vec<_> = node.pre_hooks.lock().unwrap().clone();
        for (nr, h) in hooks {
            if let Some(g) = &grads[nr] {
                if let Some(new) = h(g)? {
                    grads[nr] = Some(new);
                }
            }
        }
        for (nr, w) in node.retained.lock().unwrap().iter() {
            if let (Some(t), Some(g)) = (w.upgrade(), &grads[*nr]) {
                let t = Tensor(t);
                let mut m = t.meta();
                m.grad = Some(match m.grad.take() {
                    None => g.detach(),
                    Some(prev) => ops::add(&prev, g)?,
                });
            }
        }
        for nr in 0..grads.len() {
            if let Some(idx) = target_index.get(&(k, nr)) {
                for &i in idx {
                    if let Some(g) = &grads[nr] {
                        accumulate(&mut captured[i], g.clone())?;
                    }
                }
            }
        }
        let run_it = needed.as_ref().map(|s| s.contains(&k)).unwrap_or(true);
        let outs: Vec<Option<Tensor>> = if !run_it || grads.iter().all(|g| g.is_none()) {
            vec![None; node.next.len()]
        } else {
            let mut kind = node.kind.lock().unwrap();
            match &*kind {
                NodeKind::Accumulate(leaf) => {
                    if targets.is_none() {
                        if let (Some(leaf), Some(g)) = (leaf.upgrade(), grads[0].take()) {
                            timed("AccumulateGrad", || accumulate_into_leaf(&Tensor(leaf), g))?;
                        }
                    }
                    Vec::new()
                }
                NodeKind::Op { f, saved } => {
                    let name = node.name.clone();
                    let unpacked = saved.iter().map(|s| s.unpack(&name)).collect::<Result<Vec<_>>>()?;
                    let r = timed(&name, || f(&grads, &unpacked))?;
                    drop(unpacked);
                    if !retain_graph {
                        *kind = NodeKind::Released;
                    }
                    r
                }
                NodeKind::Custom(c) => {
                    let r = timed(&node.name, || c.apply(&grads))?;
                    if !retain_graph {
                        *kind = NodeKind::Released;
                    }
                    r
                }
                NodeKind::Released => {
                    return Err(Error::Runtime(format!(
                        "Trying to backward through the graph a second time (or directly access saved tensors after they have already been freed). Saved intermediate values of the graph are freed when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the graph a second time. (node: {})",
                        node.name
                    )));
                }
            }
        };
        drop(grads);
        if outs.len() > node.next.len() {
            return Err(Error::Runtime(format!(
                "function {} returned {} gradients but expected {}",
                node.name,
                outs.len(),
                node.next.len()
            )));
        }
        for (i, e) in node.next.iter().enumerate() {
            let Some(e) = e else { continue };
            if let Some(Some(g)) = outs.get(i) {
                let buf = buffers.entry(key(&e.node)).or_insert_with(|| vec![None; e.node.num_outputs.max(1)]);
                accumulate(&mut buf[e.input_nr], g.clone())?;
            }
            let d = deps.get_mut(&key(&e.node)).expect("dependency counted");
            *d -= 1;
            if *d == 0 {
                heap.push(Ready(e.node.seq, e.node.clone()));
            }
        }
    }
    Ok(captured)
}

fn accumulate_into_leaf(leaf: &Tensor, g: Tensor) -> Result<()> {
    let hooks: Vec<_> = leaf.meta().leaf_hooks.clone();
    let mut g = g;
    for h in hooks {
        if let Some(new) = h(&g)? {
            g = new;
        }
    }
    if g.shape() != leaf.shape() {
        return Err(Error::Runtime(format!(
            "AccumulateGrad: gradient of shape {:?} does not match the leaf's shape {:?}",
            g.shape(),
            leaf.shape()
        )));
    }
    let g = if g.dtype() != leaf.dtype() { ops::cast(&g, leaf.dtype())? } else { g };
    let create_graph = crate::autograd::is_grad_enabled();
    let mut m = leaf.meta();
    let post = m.post_accumulate_hooks.clone();
    match m.grad.take() {
        None => {
            // Steal the buffer when nobody else can see it; otherwise keep a private copy.
            let unique = Arc::strong_count(&g.0) == 1 && Arc::strong_count(g.storage()) == 1 && g.is_contiguous();
            m.grad = Some(if create_graph || unique { g } else { ops::clone_contiguous(&g)? });
        }
        Some(prev) => {
            if create_graph || prev.requires_grad() {
                m.grad = Some(ops::add(&prev, &g)?);
            } else {
                ops::add_inplace_nograd(&prev, &g)?;
                m.grad = Some(prev);
            }
        }
    }
    // the meta lock is released first: a hook reads `.grad` through it
    drop(m);
    for h in post {
        h(leaf)?;
    }
    Ok(())
}
