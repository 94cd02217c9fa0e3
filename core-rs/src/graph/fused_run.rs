//! Runs a fused elementwise program (`fuse::Program`) on the CPU: the output is cut into
//! blocks small enough that every live register of a block stays in cache, blocks run in
//! parallel, and each step of a block is the op's own CPU kernel on contiguous 1-d slices
//! (so the results are those of the unfused launches, bit for bit). Registers are scratch
//! slots reused once their value is dead; inputs are read in place when their layout is
//! contiguous or one broadcast element, and gathered per block otherwise.
use super::fuse::Program;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::storage::Storage;
use crate::tensor::Tensor;
use std::sync::{Arc, Mutex};

/// Bytes of one register's block: 16 KiB keeps a few live registers within L1/L2.
const BLOCK_BYTES: usize = 16 << 10;

/// How a block of an input is read.
#[derive(Clone, Copy)]
enum Src {
    /// In place, as a 1-d view with this stride over the flat index (1: contiguous, 0: one
    /// element broadcast).
    Flat(isize),
    /// Copied into a scratch slot element by element.
    Gather,
}

fn flat_stride(l: &Layout) -> Option<isize> {
    if l.shape.iter().zip(&l.strides).all(|(&n, &s)| n <= 1 || s == 0) {
        return Some(0);
    }
    let cs = crate::layout::contiguous_strides(&l.shape);
    l.shape.iter().zip(l.strides.iter().zip(&cs)).all(|(&n, (&s, &c))| n <= 1 || s == c).then_some(1)
}

/// Copies elements `start..start + len` (in the row-major order of `t`'s shape) to `dst`.
unsafe fn gather(t: &Tensor, start: usize, len: usize, dst: *mut u8) {
    let (shape, strides, es) = (t.shape(), t.strides(), t.dtype().size());
    let nd = shape.len();
    let mut idx = vec![0usize; nd];
    let mut rem = start;
    for d in (0..nd).rev() {
        idx[d] = rem % shape[d];
        rem /= shape[d];
    }
    let mut off: isize = idx.iter().zip(strides).map(|(&i, &s)| i as isize * s).sum();
    let base = t.data_ptr();
    for k in 0..len {
        std::ptr::copy_nonoverlapping(base.offset(off * es as isize), dst.add(k * es), es);
        for d in (0..nd).rev() {
            idx[d] += 1;
            off += strides[d];
            if idx[d] < shape[d] {
                break;
            }
            off -= strides[d] * shape[d] as isize;
            idx[d] = 0;
        }
    }
}

fn view(storage: &Arc<Storage>, offset: usize, len: usize, stride: isize, dt: DType) -> Tensor {
    Tensor::from_parts(storage.clone(), Layout { shape: vec![len], strides: vec![stride], offset }, dt)
}

/// The scratch slot of each step's register (None: written straight into an output), and
/// the number of slots; a slot is reused once every reader of its register has run.
fn assign_slots(p: &Program, direct: &[Option<usize>]) -> (Vec<Option<usize>>, usize) {
    let n = p.n_regs();
    let mut last = vec![0usize; n];
    for (k, st) in p.steps.iter().enumerate() {
        for &a in &st.args {
            last[a] = k;
        }
    }
    let mut free: Vec<usize> = Vec::new();
    let mut slots = vec![None; p.steps.len()];
    let mut count = 0;
    let mut slot_of_reg: Vec<Option<usize>> = vec![None; n];
    for (k, st) in p.steps.iter().enumerate() {
        if direct[k].is_none() {
            let s = free.pop().unwrap_or_else(|| {
                count += 1;
                count - 1
            });
            slots[k] = Some(s);
            slot_of_reg[p.n_inputs + k] = Some(s);
        }
        // after the step: slots whose register was last read here are free again
        for &a in &st.args {
            if last[a] == k {
                if let Some(s) = slot_of_reg[a].take() {
                    free.push(s);
                }
            }
        }
    }
    (slots, count)
}

/// Runs `p` with `outs` (allocated, of one shape and dtype) and `ins` (that shape and dtype,
/// any strides), all on the CPU.
pub fn run(p: &Program, outs: &[&Tensor], ins: &[&Tensor]) -> Result<()> {
    if outs.len() != p.outputs.len() || ins.len() != p.n_inputs || outs.is_empty() {
        return Err(Error::Runtime(format!("elementwise: the program takes {} input(s) and {} output(s), got {} and {}", p.n_inputs, p.outputs.len(), ins.len(), outs.len())));
    }
    let (shape, dt) = (outs[0].shape().to_vec(), outs[0].dtype());
    for t in outs.iter().chain(ins) {
        if t.shape() != shape.as_slice() || t.dtype() != dt {
            return Err(Error::Runtime(format!("elementwise: every operand must be {}{:?}, got {}{:?}", dt.name(), shape, t.dtype().name(), t.shape())));
        }
    }
    if !outs.iter().chain(ins).all(|t| t.device().is_cpu()) {
        return run_stepwise(p, outs, ins);
    }
    if outs.iter().any(|t| !t.is_contiguous()) {
        return Err(Error::Runtime("elementwise: outputs must be contiguous".into()));
    }
    let n = outs[0].numel();
    if n == 0 {
        return Ok(());
    }
    let es = dt.size();
    let block = (BLOCK_BYTES / es).max(1);
    let srcs: Vec<Src> = ins.iter().map(|t| flat_stride(t.layout()).map_or(Src::Gather, Src::Flat)).collect();
    // a step whose register is an output writes into it (the first output naming it)
    let mut direct = vec![None; p.steps.len()];
    for (o, &r) in p.outputs.iter().enumerate() {
        if r >= p.n_inputs && direct[r - p.n_inputs].is_none() {
            direct[r - p.n_inputs] = Some(o);
        }
    }
    let (slots, n_slots) = assign_slots(p, &direct);
    let n_gather = srcs.iter().filter(|s| matches!(s, Src::Gather)).count();
    let failure: Mutex<Option<Error>> = Mutex::new(None);
    let nblocks = n.div_ceil(block);
    let cost = block * p.steps.len().max(1);
    crate::kernels::parallel_for(nblocks, cost, |b0, b1| {
        let res = (|| -> Result<()> {
            let scratch: Vec<Arc<Storage>> = (0..n_slots + n_gather).map(|_| Storage::new(block * es, false).map(Arc::new)).collect::<Result<_>>()?;
            let mut regs: Vec<Option<Tensor>> = vec![None; p.n_regs()];
            for b in b0..b1 {
                let start = b * block;
                let len = block.min(n - start);
                let mut g = n_slots;
                for (i, t) in ins.iter().enumerate() {
                    regs[i] = Some(match srcs[i] {
                        Src::Flat(s) => view(t.storage(), t.layout().offset + start * s as usize, len, s, dt),
                        Src::Gather => {
                            unsafe { gather(t, start, len, scratch[g].ptr()) };
                            g += 1;
                            view(&scratch[g - 1], 0, len, 1, dt)
                        }
                    });
                }
                for (k, st) in p.steps.iter().enumerate() {
                    let out = match (direct[k], slots[k]) {
                        (Some(o), _) => view(outs[o].storage(), outs[o].layout().offset + start, len, 1, dt),
                        (None, Some(s)) => view(&scratch[s], 0, len, 1, dt),
                        (None, None) => unreachable!(),
                    };
                    let args: Vec<&Tensor> = st.args.iter().map(|&a| regs[a].as_ref().unwrap()).collect();
                    crate::backend::cpu::launch(&st.op, &[&out], &args)?;
                    regs[p.n_inputs + k] = Some(out);
                }
                // an output naming an input register, or one named twice: copy it
                for (o, &r) in p.outputs.iter().enumerate() {
                    if r < p.n_inputs || direct[r - p.n_inputs] != Some(o) {
                        let dst = view(outs[o].storage(), outs[o].layout().offset + start, len, 1, dt);
                        crate::backend::cpu::launch(&crate::op::Op::Copy, &[&dst], &[regs[r].as_ref().unwrap()])?;
                    }
                }
            }
            Ok(())
        })();
        if let Err(e) = res {
            failure.lock().unwrap().get_or_insert(e);
        }
    });
    match failure.into_inner().unwrap() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The program one launch a step through the dispatcher, with whole temporaries: how a fused
/// node runs on a device that has no fused loop (a graph loaded with `map_location`).
fn run_stepwise(p: &Program, outs: &[&Tensor], ins: &[&Tensor]) -> Result<()> {
    let (shape, dt, dev) = (outs[0].shape().to_vec(), outs[0].dtype(), outs[0].device());
    let mut regs: Vec<Tensor> = ins.iter().map(|t| (*t).clone()).collect();
    for st in &p.steps {
        let out = Tensor::empty_on(&shape, dt, dev)?;
        let args: Vec<&Tensor> = st.args.iter().map(|&a| &regs[a]).collect();
        crate::dispatch::launch(&st.op, &[&out], &args)?;
        regs.push(out);
    }
    for (o, &r) in p.outputs.iter().enumerate() {
        crate::dispatch::launch(&crate::op::Op::Copy, &[outs[o]], &[&regs[r]])?;
    }
    Ok(())
}
