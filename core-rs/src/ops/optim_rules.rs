//! Fused steps of RMSprop, Adagrad, Adamax, NAdam, RAdam and Adadelta: one call updates every
//! parameter of a group and its state buffers in place, in one pass over memory. Each kernel
//! follows its optimizer's per-parameter sequence (`deepseek.optim`, PyTorch's single-tensor
//! path) with the step's scalar constants computed in f64 and rounded to the parameter's dtype.
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::kernels::{parallel_for, SendPtr};
use crate::op::fused::{AdadeltaAttrs, AdagradAttrs, AdamaxAttrs, NadamAttrs, OptimStep, RadamAttrs, RmspropAttrs};
use crate::op::FusedOp;
use crate::tensor::Tensor;
use num_traits::{Float, NumCast};

fn c<T: Float>(v: f64) -> T {
    <T as NumCast>::from(v).unwrap()
}

/// One fused optimizer step over a parameter group: `states[j][i]` is state buffer j of
/// parameter i (the order `OptimStep` documents). CPU, contiguous, f32 or f64, every buffer of
/// its parameter's dtype and shape.
pub fn optim_step(op: OptimStep, params: &[Tensor], grads: &[Tensor], states: &[Vec<Tensor>]) -> Result<()> {
    let name = op.name();
    let k = op.n_states();
    if states.len() != k {
        return Err(Error::Runtime(format!("{name}: expected {k} list(s) of state buffers for these options, got {}", states.len())));
    }
    if grads.len() != params.len() || states.iter().any(|s| s.len() != params.len()) {
        return Err(Error::Runtime(format!(
            "{name}: params ({}), grads ({}) and every state list ({:?}) must have the same length",
            params.len(),
            grads.len(),
            states.iter().map(|s| s.len()).collect::<Vec<_>>()
        )));
    }
    for (i, (p, g)) in params.iter().zip(grads).enumerate() {
        if !matches!(p.dtype(), DType::F32 | DType::F64) {
            return Err(Error::Runtime(format!("{name}: parameter {i}: the fused kernel runs float32 and float64, got {}", p.dtype().name())));
        }
        let all = std::iter::once(g).chain(states.iter().map(|s| &s[i]));
        if let Some(t) = all.chain(std::iter::once(p)).find(|t| t.is_device() || t.dtype() != p.dtype() || t.shape() != p.shape() || !t.is_contiguous()) {
            return Err(Error::Runtime(format!(
                "{name}: parameter {i} (shape {:?}, {}): its gradient and state must be contiguous CPU tensors of its dtype and shape, got one of shape {:?} ({}{})",
                p.shape(),
                p.dtype().name(),
                t.shape(),
                t.dtype().name(),
                if t.is_device() { ", on a device" } else if !t.is_contiguous() { ", not contiguous" } else { "" }
            )));
        }
    }
    let mut outs: Vec<&Tensor> = params.iter().collect();
    outs.extend(states.iter().flatten());
    let ins: Vec<&Tensor> = grads.iter().collect();
    crate::dispatch::launch_fused(&FusedOp::OptimStep(op), &outs, &ins)
}

/// The fused kernel of `FusedOp::OptimStep`: outs (params, then state buffers state by state),
/// ins (gradients); checked by `optim_step`.
pub(crate) fn optim_cpu_kernel(op: &OptimStep, outs: &[&Tensor], grads: &[&Tensor]) -> Result<()> {
    let n = grads.len();
    for (i, &g) in grads.iter().enumerate() {
        let p = outs[i];
        let st: Vec<&Tensor> = (0..op.n_states()).map(|j| outs[(1 + j) * n + i]).collect();
        match p.dtype() {
            DType::F32 => step_typed::<f32>(op, p, g, &st),
            DType::F64 => step_typed::<f64>(op, p, g, &st),
            d => return Err(Error::Runtime(format!("{}: parameter {i}: the fused kernel runs float32 and float64, got {}", op.name(), d.name()))),
        }
    }
    Ok(())
}

/// Runs `body(p, g, states)` over chunks of one parameter, in parallel for large ones.
fn chunks<T: Float + Send + Sync, const K: usize>(p: &Tensor, g: &Tensor, st: &[&Tensor], body: impl Fn(&mut [T], &[T], [&mut [T]; K]) + Sync) {
    let n = p.numel();
    let (pp, gp) = (SendPtr(p.data_ptr()), SendPtr(g.data_ptr()));
    let sp: [SendPtr; K] = std::array::from_fn(|j| SendPtr(st[j].data_ptr()));
    parallel_for(n, 16, |s, e| unsafe {
        let len = e - s;
        let p = std::slice::from_raw_parts_mut((pp.get() as *mut T).add(s), len);
        let g = std::slice::from_raw_parts((gp.get() as *const T).add(s), len);
        let st: [&mut [T]; K] = std::array::from_fn(|j| std::slice::from_raw_parts_mut((sp[j].get() as *mut T).add(s), len));
        body(p, g, st)
    });
}

/// The gradient as the update sees it: negated when maximizing, plus L2 weight decay.
#[inline(always)]
fn grad<T: Float>(g: T, p: T, sign: T, wd: T) -> T {
    g * sign + wd * p
}

fn sign<T: Float>(maximize: bool) -> T {
    c(if maximize { -1.0 } else { 1.0 })
}

fn step_typed<T: Float + Send + Sync>(op: &OptimStep, p: &Tensor, g: &Tensor, st: &[&Tensor]) {
    match *op {
        OptimStep::Rmsprop(a) => rmsprop::<T>(a, p, g, st),
        OptimStep::Adagrad(a) => adagrad::<T>(a, p, g, st),
        OptimStep::Adamax(a) => adamax::<T>(a, p, g, st),
        OptimStep::Nadam(a) => nadam::<T>(a, p, g, st),
        OptimStep::Radam(a) => radam::<T>(a, p, g, st),
        OptimStep::Adadelta(a) => adadelta::<T>(a, p, g, st),
    }
}

/// square_avg = alpha*square_avg + (1-alpha)*g²; with centered, grad_avg likewise and the
/// denominator sqrt(square_avg - grad_avg²) + eps; with momentum, buf = momentum*buf + g/denom
/// and p -= lr*buf, else p -= lr*g/denom.
fn rmsprop<T: Float + Send + Sync>(a: RmspropAttrs, p: &Tensor, g: &Tensor, st: &[&Tensor]) {
    let (sg, wd, al, one_m_al, eps, mom, lr): (T, T, T, T, T, T, T) =
        (sign(a.maximize), c(a.weight_decay), c(a.alpha), c(1.0 - a.alpha), c(a.eps), c(a.momentum), c(a.lr));
    match (a.momentum != 0.0, a.centered) {
        (false, false) => chunks::<T, 1>(p, g, st, |p, g, [sq]| {
            for i in 0..p.len() {
                let gi = grad(g[i], p[i], sg, wd);
                sq[i] = sq[i] * al + gi * gi * one_m_al;
                p[i] = p[i] - gi / (sq[i].sqrt() + eps) * lr;
            }
        }),
        (true, false) => chunks::<T, 2>(p, g, st, |p, g, [sq, buf]| {
            for i in 0..p.len() {
                let gi = grad(g[i], p[i], sg, wd);
                sq[i] = sq[i] * al + gi * gi * one_m_al;
                buf[i] = buf[i] * mom + gi / (sq[i].sqrt() + eps);
                p[i] = p[i] - buf[i] * lr;
            }
        }),
        (false, true) => chunks::<T, 2>(p, g, st, |p, g, [sq, ga]| {
            for i in 0..p.len() {
                let gi = grad(g[i], p[i], sg, wd);
                sq[i] = sq[i] * al + gi * gi * one_m_al;
                ga[i] = ga[i] * al + gi * one_m_al;
                p[i] = p[i] - gi / ((sq[i] - ga[i] * ga[i]).sqrt() + eps) * lr;
            }
        }),
        (true, true) => chunks::<T, 3>(p, g, st, |p, g, [sq, buf, ga]| {
            for i in 0..p.len() {
                let gi = grad(g[i], p[i], sg, wd);
                sq[i] = sq[i] * al + gi * gi * one_m_al;
                ga[i] = ga[i] * al + gi * one_m_al;
                buf[i] = buf[i] * mom + gi / ((sq[i] - ga[i] * ga[i]).sqrt() + eps);
                p[i] = p[i] - buf[i] * lr;
            }
        }),
    }
}

/// sum += g²; p -= clr * g / (sqrt(sum) + eps) with clr = lr / (1 + (step-1)*lr_decay).
fn adagrad<T: Float + Send + Sync>(a: AdagradAttrs, p: &Tensor, g: &Tensor, st: &[&Tensor]) {
    let clr = a.lr / (1.0 + (a.step.max(1) - 1) as f64 * a.lr_decay);
    let (sg, wd, eps, clr): (T, T, T, T) = (sign(a.maximize), c(a.weight_decay), c(a.eps), c(clr));
    chunks::<T, 1>(p, g, st, |p, g, [sum]| {
        for i in 0..p.len() {
            let gi = grad(g[i], p[i], sg, wd);
            sum[i] = sum[i] + gi * gi;
            p[i] = p[i] - gi / (sum[i].sqrt() + eps) * clr;
        }
    });
}

/// exp_avg lerps to g by 1-beta1; exp_inf = max(beta2*exp_inf, |g| + eps);
/// p -= lr / (1 - beta1^t) * exp_avg / exp_inf.
fn adamax<T: Float + Send + Sync>(a: AdamaxAttrs, p: &Tensor, g: &Tensor, st: &[&Tensor]) {
    let clr = a.lr / (1.0 - a.beta1.powf(a.step as f64));
    let (sg, wd, w, b2, eps, clr): (T, T, T, T, T, T) = (sign(a.maximize), c(a.weight_decay), c(1.0 - a.beta1), c(a.beta2), c(a.eps), c(clr));
    chunks::<T, 2>(p, g, st, |p, g, [m, u]| {
        for i in 0..p.len() {
            let gi = grad(g[i], p[i], sg, wd);
            m[i] = m[i] + (gi - m[i]) * w;
            u[i] = (u[i] * b2).max(gi.abs() + eps);
            p[i] = p[i] - m[i] / u[i] * clr;
        }
    });
}

/// NAdam: decay (decoupled: p *= 1 - lr*wd; else g += wd*p), exp_avg lerps to g, exp_avg_sq
/// as Adam's, denom = sqrt(exp_avg_sq / bc2) + eps, then
/// p -= lr(1-mu)/(1-mu_product) * g/denom + lr*mu_next/(1-mu_product*mu_next) * exp_avg/denom.
fn nadam<T: Float + Send + Sync>(a: NadamAttrs, p: &Tensor, g: &Tensor, st: &[&Tensor]) {
    let t = a.step as f64;
    let mu = a.beta1 * (1.0 - 0.5 * 0.96f64.powf(t * a.momentum_decay));
    let mu_next = a.beta1 * (1.0 - 0.5 * 0.96f64.powf((t + 1.0) * a.momentum_decay));
    let c_g = a.lr * (1.0 - mu) / (1.0 - a.mu_product);
    let c_m = a.lr * mu_next / (1.0 - a.mu_product * mu_next);
    let (l2, decay) = if a.decoupled_weight_decay { (0.0, 1.0 - a.lr * a.weight_decay) } else { (a.weight_decay, 1.0) };
    let (sg, wd, decay, w1, b2, w2, bc2, eps, c_g, c_m): (T, T, T, T, T, T, T, T, T, T) = (
        sign(a.maximize),
        c(l2),
        c(decay),
        c(1.0 - a.beta1),
        c(a.beta2),
        c(1.0 - a.beta2),
        c(1.0 - a.beta2.powf(t)),
        c(a.eps),
        c(c_g),
        c(c_m),
    );
    chunks::<T, 2>(p, g, st, |p, g, [m, v]| {
        for i in 0..p.len() {
            let pi = p[i] * decay;
            let gi = grad(g[i], pi, sg, wd);
            m[i] = m[i] + (gi - m[i]) * w1;
            v[i] = v[i] * b2 + gi * gi * w2;
            let denom = (v[i] / bc2).sqrt() + eps;
            p[i] = pi - gi / denom * c_g - m[i] / denom * c_m;
        }
    });
}

/// RAdam: decay as NAdam's, Adam's moments, then with rho_t > 5 the rectified adaptive step
/// p -= lr*rect * m/bc1 * sqrt(bc2)/(sqrt(v) + eps), else momentum SGD p -= lr * m/bc1.
fn radam<T: Float + Send + Sync>(a: RadamAttrs, p: &Tensor, g: &Tensor, st: &[&Tensor]) {
    let t = a.step as f64;
    let (bc1, bc2) = (1.0 - a.beta1.powf(t), 1.0 - a.beta2.powf(t));
    let rho_inf = 2.0 / (1.0 - a.beta2) - 1.0;
    let rho_t = rho_inf - 2.0 * t * a.beta2.powf(t) / bc2;
    let rect = (rho_t > 5.0).then(|| ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)).sqrt());
    let (l2, decay) = if a.decoupled_weight_decay { (0.0, 1.0 - a.lr * a.weight_decay) } else { (a.weight_decay, 1.0) };
    let (sg, wd, decay, w1, b2, w2, bc1t, sqrt_bc2, eps): (T, T, T, T, T, T, T, T, T) =
        (sign(a.maximize), c(l2), c(decay), c(1.0 - a.beta1), c(a.beta2), c(1.0 - a.beta2), c(bc1), c(bc2.sqrt()), c(a.eps));
    let lr_rect: T = c(a.lr * rect.unwrap_or(1.0));
    // two loops rather than a branch inside one, so that each vectorises
    if rect.is_some() {
        chunks::<T, 2>(p, g, st, |p, g, [m, v]| {
            for i in 0..p.len() {
                let pi = p[i] * decay;
                let gi = grad(g[i], pi, sg, wd);
                m[i] = m[i] + (gi - m[i]) * w1;
                v[i] = v[i] * b2 + gi * gi * w2;
                p[i] = pi - m[i] / bc1t * (sqrt_bc2 / (v[i].sqrt() + eps)) * lr_rect;
            }
        });
    } else {
        chunks::<T, 2>(p, g, st, |p, g, [m, v]| {
            for i in 0..p.len() {
                let pi = p[i] * decay;
                let gi = grad(g[i], pi, sg, wd);
                m[i] = m[i] + (gi - m[i]) * w1;
                v[i] = v[i] * b2 + gi * gi * w2;
                p[i] = pi - m[i] / bc1t * lr_rect;
            }
        });
    }
}

/// square_avg = rho*square_avg + (1-rho)g²; delta = sqrt(acc_delta + eps)/sqrt(square_avg + eps) * g;
/// acc_delta = rho*acc_delta + (1-rho)delta²; p -= lr*delta.
fn adadelta<T: Float + Send + Sync>(a: AdadeltaAttrs, p: &Tensor, g: &Tensor, st: &[&Tensor]) {
    let (sg, wd, rho, w, eps, lr): (T, T, T, T, T, T) = (sign(a.maximize), c(a.weight_decay), c(a.rho), c(1.0 - a.rho), c(a.eps), c(a.lr));
    chunks::<T, 2>(p, g, st, |p, g, [sq, acc]| {
        for i in 0..p.len() {
            let gi = grad(g[i], p[i], sg, wd);
            sq[i] = sq[i] * rho + gi * gi * w;
            let delta = (acc[i] + eps).sqrt() / (sq[i] + eps).sqrt() * gi;
            acc[i] = acc[i] * rho + delta * delta * w;
            p[i] = p[i] - delta * lr;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::launch_log::launches;

    fn t(v: Vec<f32>) -> Tensor {
        crate::init();
        let n = v.len();
        Tensor::from_vec(v, &[n]).unwrap()
    }

    #[test]
    fn a_step_is_one_fused_launch_that_updates_in_place() {
        let (p, g, sum) = (t(vec![1.0, 2.0, 3.0]), t(vec![0.5, -2.0, 0.0]), t(vec![0.0; 3]));
        let before = p.storage().version();
        let op = OptimStep::Adagrad(AdagradAttrs { lr: 0.1, lr_decay: 0.0, weight_decay: 0.0, eps: 1e-10, step: 1, maximize: false });
        let (_, log) = launches(|| optim_step(op, &[p.clone()], &[g.clone()], &[vec![sum.clone()]]).unwrap());
        assert_eq!(log, ["adagrad_step"]);
        assert!(p.storage().version() > before);
        // the first Adagrad step moves each weight by lr against its gradient's sign (0 stays)
        let want = [0.9, 2.1, 3.0];
        assert!(p.to_vec_f64().iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6), "{:?}", p.to_vec_f64());
        assert_eq!(sum.to_vec_f64(), [0.25, 4.0, 0.0]);
        // a state list too few for the options is refused before any launch
        let rms = OptimStep::Rmsprop(RmspropAttrs { lr: 0.1, alpha: 0.9, eps: 1e-8, weight_decay: 0.0, momentum: 0.9, centered: false, maximize: false });
        let (r, log) = launches(|| optim_step(rms, &[p.clone()], &[g.clone()], &[vec![sum.clone()]]));
        assert!(r.unwrap_err().to_string().contains("expected 2 list(s)") && log.is_empty());
    }
}
