//! Fused optimizer updates: one call updates every parameter of a group in place.
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::kernels::float::FloatElem;
use crate::kernels::{parallel_for, SendPtr};
use crate::tensor::Tensor;
use num_traits::{Float, NumCast};

/// AdamW hyper-parameters for one step of one group.
#[derive(Clone, Copy, Debug)]
pub struct AdamW {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub step: u64,
    pub maximize: bool,
}

fn c<C: Float>(v: f64) -> C {
    <C as NumCast>::from(v).unwrap()
}

/// AdamW's per-step constants, rounded to the compute type once.
#[derive(Clone, Copy)]
struct AdamConsts<C> {
    sign: C,
    decay: C,
    b1: C,
    b2: C,
    one_m_b1: C,
    one_m_b2: C,
    sqrt_bc2: C,
    eps: C,
    step_size: C,
}

/// One chunk of the update. Branch-free so that it vectorises: `maximize` is a multiplication by
/// -1 and a zero weight decay a multiplication by 1, both exact, so the results equal the unfused
/// sequence's bit for bit.
#[inline(always)]
fn adamw_chunk<P: FloatElem, M: FloatElem<C = P::C>>(p: &mut [P], g: &[P], m: &mut [M], v: &mut [M], k: AdamConsts<P::C>) {
    for i in 0..p.len() {
        let gi = g[i].up() * k.sign;
        let pi = P::up(P::down(p[i].up() * k.decay));
        let mi = M::up(M::down(m[i].up() * k.b1 + M::up(M::down(gi * k.one_m_b1))));
        let vi = M::up(M::down(v[i].up() * k.b2 + M::up(M::down(gi * gi * k.one_m_b2))));
        m[i] = M::down(mi);
        v[i] = M::down(vi);
        let denom = vi.sqrt() / k.sqrt_bc2 + k.eps;
        p[i] = P::down(pi - mi / denom * k.step_size);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn adamw_chunk_avx2<P: FloatElem, M: FloatElem<C = P::C>>(p: &mut [P], g: &[P], m: &mut [M], v: &mut [M], k: AdamConsts<P::C>) {
    adamw_chunk(p, g, m, v, k)
}

/// Updates p, m, v in place. The arithmetic follows AdamW's unfused sequence op for op (each
/// constant rounded to the compute type first), so results match it exactly.
fn adamw_typed<P: FloatElem, M: FloatElem<C = P::C>>(p: &Tensor, g: &Tensor, m: &Tensor, v: &Tensor, h: AdamW) {
    let n = p.numel();
    let (pp, gp, mp, vp) = (SendPtr(p.data_ptr()), SendPtr(g.data_ptr()), SendPtr(m.data_ptr()), SendPtr(v.data_ptr()));
    let bc1 = 1.0 - h.beta1.powf(h.step as f64);
    let bc2 = 1.0 - h.beta2.powf(h.step as f64);
    let k = AdamConsts::<P::C> {
        sign: c(if h.maximize { -1.0 } else { 1.0 }),
        decay: c(if h.weight_decay != 0.0 { 1.0 - h.lr * h.weight_decay } else { 1.0 }),
        b1: c(h.beta1),
        b2: c(h.beta2),
        one_m_b1: c(1.0 - h.beta1),
        one_m_b2: c(1.0 - h.beta2),
        sqrt_bc2: c(bc2.sqrt()),
        eps: c(h.eps),
        step_size: c(h.lr / bc1),
    };
    parallel_for(n, 16, |s, e| unsafe {
        let len = e - s;
        let p = std::slice::from_raw_parts_mut((pp.get() as *mut P).add(s), len);
        let g = std::slice::from_raw_parts((gp.get() as *const P).add(s), len);
        let m = std::slice::from_raw_parts_mut((mp.get() as *mut M).add(s), len);
        let v = std::slice::from_raw_parts_mut((vp.get() as *mut M).add(s), len);
        #[cfg(target_arch = "x86_64")]
        if crate::kernels::elementwise::has_avx2() {
            return adamw_chunk_avx2(p, g, m, v, k);
        }
        adamw_chunk(p, g, m, v, k)
    });
}

/// One fused AdamW step over a whole parameter group.
pub fn adamw_step(params: &[Tensor], grads: &[Tensor], ms: &[Tensor], vs: &[Tensor], h: AdamW) -> Result<()> {
    if params.len() != grads.len() || params.len() != ms.len() || params.len() != vs.len() {
        return Err(Error::Runtime("adamw_step: params, grads and moment lists must have the same length".into()));
    }
    if let Some(t) = params.iter().chain(grads).chain(ms).chain(vs).find(|t| t.is_device()) {
        return Err(Error::Runtime(format!(
            "adamw_step: the fused kernel is CPU-only, got a tensor on {}; DeepSeekAdam composes the same update from primitives there",
            t.device().name()
        )));
    }
    for (i, (((p, g), m), v)) in params.iter().zip(grads).zip(ms).zip(vs).enumerate() {
        if !p.dtype().is_float() || g.dtype() != p.dtype() {
            return Err(Error::Runtime(format!(
                "adamw_step: parameter {i} ({}) and its gradient ({}) must share a floating dtype",
                p.dtype().name(),
                g.dtype().name()
            )));
        }
        if g.shape() != p.shape() || m.shape() != p.shape() || v.shape() != p.shape() {
            return Err(Error::Runtime(format!(
                "adamw_step: parameter {i} has shape {:?} but its gradient/moments have {:?}/{:?}/{:?}",
                p.shape(), g.shape(), m.shape(), v.shape()
            )));
        }
        if !(p.is_contiguous() && g.is_contiguous() && m.is_contiguous() && v.is_contiguous()) || m.dtype() != v.dtype() {
            return Err(Error::Runtime(format!("adamw_step: parameter {i}: tensors must be contiguous and moments of one dtype")));
        }
        let md = m.dtype();
        match (p.dtype(), md) {
            (DType::F64, DType::F64) => adamw_typed::<f64, f64>(p, g, m, v, h),
            // every f16/bf16/f32 pairing computes in f32
            (pd, md) if pd != DType::F64 && md != DType::F64 => unsafe { adamw_erased(p, g, m, v, h, pd, md) },
            (pd, md) => {
                return Err(Error::Runtime(format!(
                    "adamw_step: parameter {i}: moments of dtype {} cannot be used with a {} parameter",
                    md.name(),
                    pd.name()
                )))
            }
        }
        p.storage().bump_version();
        m.storage().bump_version();
        v.storage().bump_version();
    }
    Ok(())
}

unsafe fn adamw_erased(p: &Tensor, g: &Tensor, m: &Tensor, v: &Tensor, h: AdamW, pd: DType, md: DType) {
    use half::{bf16, f16};
    match (pd, md) {
        (DType::F32, DType::F32) => adamw_typed::<f32, f32>(p, g, m, v, h),
        (DType::F32, DType::BF16) => adamw_typed::<f32, bf16>(p, g, m, v, h),
        (DType::F32, DType::F16) => adamw_typed::<f32, f16>(p, g, m, v, h),
        (DType::F16, DType::F16) => adamw_typed::<f16, f16>(p, g, m, v, h),
        (DType::F16, DType::BF16) => adamw_typed::<f16, bf16>(p, g, m, v, h),
        (DType::F16, DType::F32) => adamw_typed::<f16, f32>(p, g, m, v, h),
        (DType::BF16, DType::BF16) => adamw_typed::<bf16, bf16>(p, g, m, v, h),
        (DType::BF16, DType::F16) => adamw_typed::<bf16, f16>(p, g, m, v, h),
        (DType::BF16, DType::F32) => adamw_typed::<bf16, f32>(p, g, m, v, h),
        _ => {}
    }
}

/// SGD hyper-parameters for one step of one group.
#[derive(Clone, Copy, Debug)]
pub struct Sgd {
    pub lr: f64,
    pub momentum: f64,
    pub dampening: f64,
    pub weight_decay: f64,
    pub nesterov: bool,
    pub maximize: bool,
}

/// Updates p (and its momentum buffer) in place, op for op as the unfused sequence
/// d = g + wd*p; buf = m*buf + (1-dampening)*d (buf = d on the first step);
/// d = d + m*buf (nesterov) or buf; p = p - lr*d, each constant rounded to T first.
fn sgd_typed<T: Float + Send + Sync>(p: &Tensor, g: &Tensor, buf: Option<&Tensor>, fresh: bool, h: Sgd) {
    let n = p.numel();
    let (pp, gp) = (SendPtr(p.data_ptr()), SendPtr(g.data_ptr()));
    let bp = buf.map(|b| SendPtr(b.data_ptr()));
    let (wd, mom, alpha, lr): (T, T, T, T) = (c(h.weight_decay), c(h.momentum), c(1.0 - h.dampening), c(h.lr));
    let (use_wd, use_alpha) = (h.weight_decay != 0.0, h.dampening != 0.0);
    parallel_for(n, 8, |s, e| unsafe {
        let p = (pp.get() as *mut T).add(s);
        let g = (gp.get() as *const T).add(s);
        let b = bp.map(|b| (b.get() as *mut T).add(s));
        for i in 0..e - s {
            let mut d = *g.add(i);
            if h.maximize {
                d = -d;
            }
            if use_wd {
                d = d + wd * *p.add(i);
            }
            if let Some(b) = b {
                let nb = if fresh { d } else { *b.add(i) * mom + if use_alpha { d * alpha } else { d } };
                *b.add(i) = nb;
                d = if h.nesterov { d + mom * nb } else { nb };
            }
            *p.add(i) = *p.add(i) - d * lr;
        }
    });
}

/// One fused SGD step over a list of parameters (CPU, contiguous, f32 or f64). `bufs` holds
/// the momentum buffers (empty without momentum); `fresh[i]` says buffer i is new and takes
/// the step's direction as it is.
pub fn sgd_step(params: &[Tensor], grads: &[Tensor], bufs: &[Tensor], fresh: &[bool], h: Sgd) -> Result<()> {
    let with_buf = h.momentum != 0.0;
    if params.len() != grads.len() || (with_buf && (bufs.len() != params.len() || fresh.len() != params.len())) {
        return Err(Error::Runtime("sgd_step: params, grads and momentum buffer lists must have the same length".into()));
    }
    for (i, (p, g)) in params.iter().zip(grads).enumerate() {
        let b = if with_buf { Some(&bufs[i]) } else { None };
        let ok_dev = !p.is_device() && !g.is_device() && b.map(|b| !b.is_device()).unwrap_or(true);
        let same = g.dtype() == p.dtype() && g.shape() == p.shape() && b.map(|b| b.dtype() == p.dtype() && b.shape() == p.shape()).unwrap_or(true);
        let contiguous = p.is_contiguous() && g.is_contiguous() && b.map(|b| b.is_contiguous()).unwrap_or(true);
        if !(ok_dev && same && contiguous) {
            return Err(Error::Runtime(format!(
                "sgd_step: parameter {i} (shape {:?}, {}): the fused kernel needs CPU tensors, contiguous, of one dtype and shape (gradient {:?} {})",
                p.shape(), p.dtype().name(), g.shape(), g.dtype().name()
            )));
        }
        let f = with_buf && fresh[i];
        match p.dtype() {
            DType::F32 => sgd_typed::<f32>(p, g, b, f, h),
            DType::F64 => sgd_typed::<f64>(p, g, b, f, h),
            d => return Err(Error::Runtime(format!("sgd_step: parameter {i}: the fused kernel runs f32 and f64, got {}", d.name()))),
        }
        p.storage().bump_version();
        if let Some(b) = b {
            b.storage().bump_version();
        }
    }
    Ok(())
}
