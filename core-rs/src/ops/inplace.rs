//! In-place ops under autograd: the new value is computed out of place from a snapshot (so
//! nothing saved is overwritten), written back, and the tensor's history rebased — through
//! its base when it is a view, so the base's gradient sees the write.
use crate::tensor::graph::{check_inplace, gradient_edge, is_grad_enabled, needs_grad, Edge, Node, NodeKind};
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::ops::{self, copy::clone, shape};
use crate::tensor::Tensor;
use std::sync::Arc;

fn set_history(t: &Tensor, node: Arc<Node>, nr: usize) {
    let mut m = t.meta();
    m.grad_fn = Some(node);
    m.output_nr = nr;
}

fn new_node(name: &str, next: Vec<Option<Edge>>, f: impl Fn(&[Option<Tensor>], &[Tensor]) -> Result<Vec<Option<Tensor>>> + Send + Sync + 'static) -> Arc<Node> {
    Arc::new(Node::new(name.to_string(), next, 1, NodeKind::Op { f: Box::new(f), saved: Vec::new() }))
}

/// Applies an in-place op to `dst`. `f(snapshot_of_dst, others)` computes the new value.
pub fn apply_inplace(
    name: &str,
    dst: &Tensor,
    others: &[&Tensor],
    f: impl FnOnce(&Tensor, &[Tensor]) -> Result<Tensor>,
) -> Result<()> {
    crate::dispatch::check_write(name, dst)?;
    let mut all: Vec<&Tensor> = vec![dst];
    all.extend_from_slice(others);
    let base = dst.view_base().cloned();
    let grad_path = needs_grad(&all) || (is_grad_enabled() && base.as_ref().is_some_and(|b| b.requires_grad()));
    let others: Vec<Tensor> = others.iter().map(|t| (*t).clone()).collect();
    if !grad_path {
        let r = f(dst, &others)?;
        ops::copy_raw(dst, &r)?;
        dst.storage().bump_version();
        return Ok(());
    }
    check_inplace(name, dst)?;
    if let Some(b) = &base {
        check_inplace(name, b)?;
    }
    let snapshot = clone(dst)?;
    let r = f(&snapshot, &others)?;
    if r.shape() != dst.shape() {
        return Err(Error::Runtime(format!(
            "{name}: output with shape {:?} doesn't match the broadcast shape {:?}",
            dst.shape(),
            r.shape()
        )));
    }
    ops::copy_raw(dst, &r)?;
    dst.storage().bump_version();
    match base {
        None => {
            let (gf, nr) = {
                let m = r.meta();
                (m.grad_fn.clone(), m.output_nr)
            };
            if let Some(gf) = gf {
                set_history(dst, gf, nr);
            }
        }
        Some(b) => {
            if b.dtype() != dst.dtype() {
                // offsets of a real/imag view count components, its base's count pairs
                return Err(Error::Runtime(format!(
                    "{name}: in-place write through a view of another dtype ({} view of a {} tensor) is not supported under autograd; write to the base, or use deepseek.complex(re, im)",
                    dst.dtype().name(),
                    b.dtype().name()
                )));
            }
            if !b.is_contiguous() {
                return Err(Error::Runtime(format!(
                    "{name}: in-place write through a view of a non-contiguous tensor is not supported under autograd; call .contiguous() on the base first"
                )));
            }
            let geo = Layout {
                shape: dst.shape().to_vec(),
                strides: dst.strides().to_vec(),
                offset: dst.layout().offset - b.layout().offset,
            };
            let base_shape = b.shape().to_vec();
            // The base's new history: its old gradient outside the region, r's inside.
            let g1 = geo.clone();
            let copy_slices = new_node("CopySlices", vec![gradient_edge(&b), gradient_edge(&r)], move |g, _| {
                let Some(g) = &g[0] else { return Ok(vec![None, None]) };
                let gc = ops::contiguous(g)?;
                let zeros = Tensor::zeros_on(&g1.shape, g.dtype(), g.device())?;
                let outside = shape::strided_scatter(&gc, &zeros, &g1)?;
                let inside = shape::as_strided(&gc, &g1)?;
                Ok(vec![Some(outside), Some(inside)])
            });
            set_history(&b, copy_slices, 0);
            // The view's new history: a view of the base's new history.
            let g2 = geo.clone();
            let view_node = new_node("AsStridedBackward0", vec![gradient_edge(&b)], move |g, _| {
                let Some(g) = &g[0] else { return Ok(vec![None]) };
                let zeros = Tensor::zeros_on(&base_shape, g.dtype(), g.device())?;
                Ok(vec![Some(shape::strided_scatter(&zeros, g, &g2)?)])
            });
            set_history(dst, view_node, 0);
        }
    }
    Ok(())
}
