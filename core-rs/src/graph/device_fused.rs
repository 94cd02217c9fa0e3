//! Fused elementwise nodes on devices whose backend compiles kernels (ABI 2.1's programs):
//! each node's program, rendered to a portable kernel body when the graph was finished for the
//! device (`deepseek.backends.kernels.fused`), is compiled once per (graph, device) by
//! `attach` and runs as one launch (`run`). A body may index its operands for a bounded
//! coalesced rank only (straight-line index arithmetic, which CPU OpenCL drivers vectorise
//! across work items, unlike the general loop over dims); a launch whose operands coalesce to
//! more dims than that runs as a node without a kernel. A node without a compiled kernel (a
//! CPU node, a backend that compiles nothing, a program the renderer declined, a launch the
//! plugin answers not implemented) runs as before through `fused_run`: one CPU loop, or one
//! launch a step on other devices.
use super::fuse::Program;
use super::ir::{Graph, NodeKind};
use crate::backend::{self, Launched};
use crate::device::Device;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A compiled program; released through its backend when the last graph holding it goes.
struct Compiled {
    backend: u16,
    index: u16,
    handle: usize,
    /// The most dims (after coalescing) the kernel indexes; None: any.
    max_rank: Option<usize>,
}

impl Drop for Compiled {
    fn drop(&mut self) {
        backend::backend_of(self.backend).release_program(self.index, self.handle);
    }
}

/// The kernels compiled for a graph's fused nodes, by program, dtype and device (so a clone of
/// the graph, or a node moved by a pass, finds its kernel). Cloning shares them.
#[derive(Clone, Default)]
pub struct DeviceKernels {
    by_key: Arc<Mutex<HashMap<String, Arc<Compiled>>>>,
}

fn key(p: &Program, dt: DType, dev: Device) -> String {
    format!("{}|{}|{:?}", p.text(), dt.name(), dev)
}

/// How many dims the operands' common iteration space has once size-1 dims are dropped and
/// neighbours every operand walks as one are merged: the shared planner's rule
/// (`dsk_make_meta`), which the launch's `MetaN` will follow.
pub fn coalesced_rank(shape: &[usize], strides: &[&[isize]]) -> usize {
    let mut nd = 0;
    let mut prev: Vec<isize> = vec![0; strides.len()];
    for (d, &s) in shape.iter().enumerate() {
        if s == 1 {
            continue;
        }
        let merge = nd > 0 && strides.iter().zip(&prev).all(|(st, &p)| st[d].checked_mul(s as isize) == Some(p));
        if !merge {
            nd += 1;
        }
        for (p, st) in prev.iter_mut().zip(strides) {
            *p = st[d];
        }
    }
    nd
}

impl DeviceKernels {
    /// How many kernels are compiled.
    pub fn len(&self) -> usize {
        self.by_key.lock().unwrap().len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn get(&self, k: &str) -> Option<Arc<Compiled>> {
        self.by_key.lock().unwrap().get(k).cloned()
    }
    /// The kernel of program key `k` that indexes operands of `rank` coalesced dims: the
    /// rank-bounded one when it reaches that far, else the general one.
    fn find(&self, k: &str, rank: usize) -> Option<Arc<Compiled>> {
        let map = self.by_key.lock().unwrap();
        let prefix = format!("{k}|");
        let mut fit: Option<&Arc<Compiled>> = None;
        for c in map.iter().filter(|(kk, _)| kk.starts_with(&prefix)).map(|(_, c)| c) {
            match c.max_rank {
                Some(r) if r >= rank && fit.is_none_or(|f| f.max_rank.is_none_or(|fr| r < fr)) => fit = Some(c),
                None if fit.is_none() => fit = Some(c),
                _ => {}
            }
        }
        fit.cloned()
    }
}

/// Compiles `body` (a rendering of node `node`'s program; its kernel is `name`, indexing
/// operands of at most `max_rank` coalesced dims, None: any) for the device the node runs on
/// and keeps it in `g.device_kernels`. Ok(false) when nothing was compiled: a CPU node, or a
/// backend that compiles no kernels or declines this one. A compile error names the node and
/// its program.
pub fn attach(g: &Graph, node: usize, name: &str, body: &str, max_rank: Option<usize>) -> Result<bool> {
    let n = g.nodes.get(node).ok_or_else(|| Error::Runtime(format!("graph: node {node} out of range ({} nodes)", g.nodes.len())))?;
    let NodeKind::Elementwise(p) = &n.kind else {
        return Err(Error::Runtime(format!("graph: node {node} is a {} node, not an elementwise one", n.name())));
    };
    let v = &g.values[n.outputs[0]];
    let dev = g.buffers[v.buffer].device;
    let Device::Ext { backend: b, index } = dev else { return Ok(false) };
    let k = format!("{}|{max_rank:?}", key(p, v.dtype, dev));
    if g.device_kernels.get(&k).is_some() {
        return Ok(true);
    }
    let handle = backend::backend_of(b).compile_program(index, body, name).map_err(|e| {
        Error::Runtime(format!("elementwise node {node} [{}] on {}: compiling its generated kernel failed: {e}", p.text(), dev.name()))
    })?;
    let Some(handle) = handle else { return Ok(false) };
    let c = Arc::new(Compiled { backend: b, index, handle, max_rank });
    g.device_kernels.by_key.lock().unwrap().insert(k, c);
    Ok(true)
}

/// Runs fused node program `p` of `g`: its compiled kernel where `attach` made one for the
/// operands' device, else `fused_run::run`.
pub fn run(g: &Graph, p: &Program, outs: &[&Tensor], ins: &[&Tensor]) -> Result<()> {
    let Some(first) = outs.first() else { return super::fused_run::run(p, outs, ins) };
    let (dev, dt, shape) = (first.device(), first.dtype(), first.shape());
    if dev.is_cpu() || g.device_kernels.is_empty() || outs.len() != p.outputs.len() || ins.len() != p.n_inputs {
        return super::fused_run::run(p, outs, ins);
    }
    let same = outs.iter().chain(ins).all(|t| t.device() == dev && t.dtype() == dt && t.shape() == shape);
    let (true, Device::Ext { backend: b, .. }) = (same, dev) else { return super::fused_run::run(p, outs, ins) };
    let strides: Vec<&[isize]> = outs.iter().chain(ins).map(|t| t.strides()).collect();
    let Some(c) = g.device_kernels.find(&key(p, dt, dev), coalesced_rank(shape, &strides)) else {
        return super::fused_run::run(p, outs, ins);
    };
    debug_assert_eq!(c.backend, b);
    match backend::backend_of(b).launch_program(c.index, c.handle, outs, ins)? {
        Launched::Done => Ok(()),
        Launched::NotImplemented(_) => super::fused_run::run(p, outs, ins),
    }
}

#[cfg(test)]
mod tests {
    use super::coalesced_rank;

    #[test]
    fn coalesced_rank_follows_the_planner() {
        // contiguous operands, a scalar broadcast: one dim; size-1 dims never count
        assert_eq!(coalesced_rank(&[4, 5], &[&[5, 1], &[0, 0]]), 1);
        assert_eq!(coalesced_rank(&[1, 4, 1, 5], &[&[20, 5, 5, 1], &[20, 5, 5, 1]]), 1);
        // a row broadcast over a matrix, a transposed operand: two dims
        assert_eq!(coalesced_rank(&[4, 5], &[&[5, 1], &[0, 1]]), 2);
        assert_eq!(coalesced_rank(&[4, 5], &[&[5, 1], &[1, 4]]), 2);
        // a per-channel operand over NCHW: N, C and H*W
        assert_eq!(coalesced_rank(&[2, 3, 4, 5], &[&[60, 20, 5, 1], &[0, 1, 0, 0]]), 3);
        assert_eq!(coalesced_rank(&[], &[&[], &[]]), 0);
        assert_eq!(coalesced_rank(&[1, 1], &[&[1, 1]]), 0);
    }
}
