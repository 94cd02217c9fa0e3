//! Runs a fused elementwise program (`fuse::Program`) on the CPU: the output is cut into
//! blocks small enough that every live register of a block stays in cache, blocks run in
//! parallel, and each step of a block is the op's own CPU kernel on contiguous 1-d slices, or
//! for plain f32/f64 arithmetic the same expression inline, vectorised (`fused_simd`; the
//! results are those of the unfused launches, bit for bit). Registers are scratch slots reused
//! once their value is dead. The loop walks the output as rows of its trailing dims, as long
//! as the inputs allow (`plan_rows`), and blocks never cross a row: an input contiguous or
//! constant along the row is read in place (a per-channel operand over [N, C, H, W] is one
//! splat value per H x W row, never expanded), any other is gathered per block.
use super::fuse::Program;
use super::fused_simd::{step, Inline};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::storage::Storage;
use crate::tensor::Tensor;
use std::sync::{Arc, Mutex};

/// Bytes of one register's block: 8 KiB keeps the live registers within L1/L2 and each
/// kernel call below the size at which kernels split work across threads themselves.
const BLOCK_BYTES: usize = 8 << 10;

/// How a block of an input is read.
#[derive(Clone)]
enum Src {
    /// In place: within a row of the iteration (the trailing dims it runs over flat) the
    /// input is contiguous (stride 1) or one value (stride 0, a per-channel or scalar operand
    /// broadcast over the row); `outer` holds its strides over the leading dims, which pick
    /// the row.
    Row { stride: isize, outer: Vec<isize> },
    /// Copied into a scratch slot element by element.
    Gather,
}

/// The stride (1: contiguous, 0: one value) of layout `l` over its trailing `k` dims taken as
/// one flat run, if it is either.
fn run_stride(l: &Layout, k: usize) -> Option<isize> {
    let d0 = l.shape.len() - k;
    let (shape, strides) = (&l.shape[d0..], &l.strides[d0..]);
    if shape.iter().zip(strides).all(|(&n, &s)| n <= 1 || s == 0) {
        return Some(0);
    }
    let cs = crate::layout::contiguous_strides(shape);
    shape.iter().zip(strides.iter().zip(&cs)).all(|(&n, (&s, &c))| n <= 1 || s == c).then_some(1)
}

/// Rows shorter than this are not worth a pass per row: the inputs that would need them
/// are gathered over the flat index instead.
const MIN_ROW: usize = 64;

/// How the loop walks `shape`: (trailing dims run as one flat row, each input's source). The
/// row is as long as every input that can be read in place allows: a per-channel operand
/// over [N, C, H, W] makes rows of H x W, where it is one value (a splat) per row.
fn plan_rows(shape: &[usize], ins: &[&Tensor]) -> (usize, Vec<Src>) {
    let nd = shape.len();
    let longest = |t: &Tensor| (0..=nd).rev().find(|&k| run_stride(t.layout(), k).is_some()).unwrap_or(0);
    let ks: Vec<usize> = ins.iter().map(|t| longest(t)).collect();
    let mut k = ks.iter().copied().filter(|&k| k >= 1).min().unwrap_or(nd);
    if shape[nd - k..].iter().product::<usize>() < MIN_ROW {
        k = nd;
    }
    let srcs = ins
        .iter()
        .zip(&ks)
        .map(|(t, &ki)| match (ki >= k).then(|| run_stride(t.layout(), k)).flatten() {
            Some(stride) => Src::Row { stride, outer: t.strides()[..nd - k].to_vec() },
            None => Src::Gather,
        })
        .collect();
    (k, srcs)
}

/// Copies elements `start..start + len` (in the row-major order of `t`'s shape) to `dst`.
/// The trailing dims that are broadcast (a per-channel operand over H x W) or contiguous are
/// handled as runs: a fill or a block copy each, instead of an index step per element.
unsafe fn gather(t: &Tensor, start: usize, len: usize, dst: *mut u8) {
    let (shape, strides, es) = (t.shape(), t.strides(), t.dtype().size());
    let nd = shape.len();
    let (mut d, mut run) = (nd, 1usize);
    while d > 0 && (strides[d - 1] == 0 || shape[d - 1] == 1) {
        run *= shape[d - 1];
        d -= 1;
    }
    let fill = run > 1;
    if !fill {
        let mut expect = 1isize;
        while d > 0 && (shape[d - 1] == 1 || strides[d - 1] == expect) {
            expect *= shape[d - 1] as isize;
            run *= shape[d - 1];
            d -= 1;
        }
    }
    if run > 1 {
        let base = t.data_ptr();
        let (mut pos, mut k) = (start, 0);
        while k < len {
            let (mut r, within) = (pos / run, pos % run);
            let mut off: isize = if fill { 0 } else { within as isize };
            for dd in (0..d).rev() {
                off += (r % shape[dd]) as isize * strides[dd];
                r /= shape[dd];
            }
            let m = (run - within).min(len - k);
            let src = base.offset(off * es as isize);
            let out = dst.add(k * es);
            if !fill {
                std::ptr::copy_nonoverlapping(src, out, m * es);
            } else {
                match es {
                    4 => std::slice::from_raw_parts_mut(out as *mut u32, m).fill(*(src as *const u32)),
                    8 => std::slice::from_raw_parts_mut(out as *mut u64, m).fill(*(src as *const u64)),
                    _ => (0..m).for_each(|j| std::ptr::copy_nonoverlapping(src, out.add(j * es), es)),
                }
            }
            k += m;
            pos += m;
        }
        return;
    }
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

/// Where a register's block lives.
#[derive(Clone, Copy)]
enum Reg {
    /// Input `i`, read in place (its `Src::Row`).
    In(usize),
    /// A scratch slot (a gathered input or a step's result).
    Scratch(usize),
    /// Written straight into output `o`.
    Out(usize),
}

fn inline_of(op: &crate::op::Op, dt: DType) -> Option<Inline> {
    use crate::op::{BinaryOp as B, Op, UnaryOp as U};
    if !matches!(dt, DType::F32 | DType::F64) {
        return None;
    }
    Some(match op {
        Op::Binary(B::Add) => Inline::Add,
        Op::Binary(B::Sub) => Inline::Sub,
        Op::Binary(B::Mul) => Inline::Mul,
        Op::Binary(B::Div) => Inline::Div,
        Op::Unary(U::Neg) => Inline::Neg,
        Op::Unary(U::Relu) => Inline::Relu,
        _ => return None,
    })
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
    let (k_row, srcs) = plan_rows(&shape, ins);
    let outer_shape = &shape[..shape.len() - k_row];
    let row_len: usize = shape[shape.len() - k_row..].iter().product();
    // a step whose register is an output writes into it (the first output naming it)
    let mut direct = vec![None; p.steps.len()];
    for (o, &r) in p.outputs.iter().enumerate() {
        if r >= p.n_inputs && direct[r - p.n_inputs].is_none() {
            direct[r - p.n_inputs] = Some(o);
        }
    }
    let (slots, n_slots) = assign_slots(p, &direct);
    let inline: Vec<Option<Inline>> = p.steps.iter().map(|st| inline_of(&st.op, dt)).collect();
    // every register's place: inputs in place or gathered (scratch after the step slots)
    let mut place: Vec<Reg> = Vec::with_capacity(p.n_regs());
    let mut n_gather = 0;
    for s in &srcs {
        place.push(match s {
            Src::Row { .. } => Reg::In(place.len()),
            Src::Gather => {
                n_gather += 1;
                Reg::Scratch(n_slots + n_gather - 1)
            }
        });
    }
    for k in 0..p.steps.len() {
        place.push(match (direct[k], slots[k]) {
            (Some(o), _) => Reg::Out(o),
            (None, Some(s)) => Reg::Scratch(s),
            (None, None) => unreachable!(),
        });
    }
    let failure: Mutex<Option<Error>> = Mutex::new(None);
    // blocks never cross a row: (row, first column) of block b
    let per_row = row_len.div_ceil(block);
    let nblocks = (n / row_len) * per_row;
    let cost = block.min(row_len) * p.steps.len().max(1);
    crate::kernels::parallel_for(nblocks, cost, |b0, b1| {
        let res = (|| -> Result<()> {
            // registers of the kernel's own (not tensor blocks: a graph run allocates no tensor
            // outside its plan)
            let scratch: Vec<Arc<Storage>> = (0..n_slots + n_gather).map(|_| Arc::new(crate::ops::scratch::storage(block * es))).collect();
            let mut row_off = vec![0isize; ins.len()];
            for b in b0..b1 {
                let (row, c0) = (b / per_row, (b % per_row) * block);
                let len = block.min(row_len - c0);
                let start = row * row_len + c0;
                // each in-place input's element offset at this block's start
                let mut idx = row;
                let mut pos = vec![0usize; outer_shape.len()];
                for d in (0..outer_shape.len()).rev() {
                    pos[d] = idx % outer_shape[d];
                    idx /= outer_shape[d];
                }
                for (i, s) in srcs.iter().enumerate() {
                    if let Src::Row { stride, outer } = s {
                        row_off[i] = pos.iter().zip(outer).map(|(&q, &st)| q as isize * st).sum::<isize>() + c0 as isize * stride;
                    }
                }
                let stride_of = |i: usize| match &srcs[i] {
                    Src::Row { stride, .. } => *stride,
                    Src::Gather => unreachable!(),
                };
                // a register's block as (pointer, element stride) and as a tensor (for kernels)
                let raw = |r: usize| -> (*mut u8, isize) {
                    match place[r] {
                        Reg::In(i) => (unsafe { ins[i].data_ptr().offset(row_off[i] * es as isize) }, stride_of(i)),
                        Reg::Scratch(k) => (scratch[k].ptr(), 1),
                        Reg::Out(o) => (unsafe { outs[o].data_ptr().add(start * es) }, 1),
                    }
                };
                let tensor = |r: usize| -> Tensor {
                    match place[r] {
                        Reg::In(i) => view(ins[i].storage(), (ins[i].layout().offset as isize + row_off[i]) as usize, len, stride_of(i), dt),
                        Reg::Scratch(k) => view(&scratch[k], 0, len, 1, dt),
                        Reg::Out(o) => view(outs[o].storage(), outs[o].layout().offset + start, len, 1, dt),
                    }
                };
                for (i, s) in srcs.iter().enumerate() {
                    if let (Src::Gather, Reg::Scratch(k)) = (s, place[i]) {
                        unsafe { gather(ins[i], start, len, scratch[k].ptr()) };
                    }
                }
                for (k, st) in p.steps.iter().enumerate() {
                    let r = p.n_inputs + k;
                    if let Some(op) = inline[k] {
                        let (o, _) = raw(r);
                        let a = raw(st.args[0]);
                        let b = raw(*st.args.get(1).unwrap_or(&st.args[0]));
                        unsafe {
                            if dt == DType::F32 {
                                step::<f32>(op, len, o as *mut f32, (a.0 as *const f32, a.1), (b.0 as *const f32, b.1));
                            } else {
                                step::<f64>(op, len, o as *mut f64, (a.0 as *const f64, a.1), (b.0 as *const f64, b.1));
                            }
                        }
                        continue;
                    }
                    let out = tensor(r);
                    let args: Vec<Tensor> = st.args.iter().map(|&a| tensor(a)).collect();
                    let args: Vec<&Tensor> = args.iter().collect();
                    crate::backend::cpu::launch(&st.op, &[&out], &args)?;
                }
                // an output naming an input register, or one named twice: copy it
                for (o, &r) in p.outputs.iter().enumerate() {
                    if r < p.n_inputs || direct[r - p.n_inputs] != Some(o) {
                        let dst = view(outs[o].storage(), outs[o].layout().offset + start, len, 1, dt);
                        crate::backend::cpu::launch(&crate::op::Op::Copy, &[&dst], &[&tensor(r)])?;
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
pub(super) fn run_stepwise(p: &Program, outs: &[&Tensor], ins: &[&Tensor]) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The element-by-element reference of `gather`.
    fn naive(t: &Tensor, start: usize, len: usize) -> Vec<f32> {
        let (shape, strides) = (t.shape(), t.strides());
        let base = t.data_ptr() as *const f32;
        (start..start + len)
            .map(|mut i| {
                let mut off = 0isize;
                for d in (0..shape.len()).rev() {
                    off += (i % shape[d]) as isize * strides[d];
                    i /= shape[d];
                }
                unsafe { *base.offset(off) }
            })
            .collect()
    }

    #[test]
    fn gather_runs_match_the_elementwise_walk() {
        let mut seed = 5u64;
        let mut next = |m: usize| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((seed >> 33) as usize) % m
        };
        for _ in 0..300 {
            let nd = 1 + next(4);
            let shape: Vec<usize> = (0..nd).map(|_| 1 + next(5)).collect();
            // strides: contiguous, some dims broadcast, sometimes two dims swapped or spread
            let mut strides: Vec<isize> = crate::layout::contiguous_strides(&shape);
            for s in strides.iter_mut() {
                match next(4) {
                    0 => *s = 0,
                    1 => *s *= 2,
                    _ => {}
                }
            }
            if nd >= 2 && next(2) == 0 {
                strides.swap(0, nd - 1);
            }
            let span = 1 + shape.iter().zip(&strides).map(|(&n, &s)| (n as isize - 1) * s).sum::<isize>() as usize;
            let base = Tensor::from_vec((0..span).map(|i| i as f32).collect::<Vec<f32>>(), &[span]).unwrap();
            let t = Tensor::from_parts(base.storage().clone(), Layout { shape: shape.clone(), strides, offset: 0 }, DType::F32);
            let n = t.numel();
            let start = next(n);
            let len = 1 + next(n - start);
            let mut dst = vec![0f32; len];
            unsafe { gather(&t, start, len, dst.as_mut_ptr() as *mut u8) };
            assert_eq!(dst, naive(&t, start, len), "{:?} {:?} from {start} for {len}", t.shape(), t.strides());
        }
    }
}
