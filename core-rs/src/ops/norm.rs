//! Fused batch normalisation (training mode): statistics, normalisation and the closed-form
//! backward in single passes per channel. Saves only the input and two [C] vectors, where
//! the composite would keep several full-size intermediates for backward.
use super::{cast, contiguous};
use crate::autograd::{record, Save};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::kernels::{parallel_for, SendPtr};
use crate::tensor::Tensor;

fn dims(x: &Tensor) -> Result<(usize, usize, usize)> {
    if x.ndim() < 2 {
        return Err(Error::Runtime(format!("batch_norm: expected an input with at least 2 dims [N, C, ...], got shape {:?}", x.shape())));
    }
    let (n, c) = (x.shape()[0], x.shape()[1]);
    let s: usize = x.shape()[2..].iter().product();
    Ok((n, c, s))
}

fn prep(t: &Tensor, dt: DType) -> Result<Tensor> {
    crate::autograd::with_grad_mode(false, || contiguous(&cast(t, dt)?))
}

macro_rules! typed {
    ($T:ty, $x:expr, $w:expr, $b:expr, $eps:expr, $n:expr, $c:expr, $s:expr) => {{
        let (xs, n, c, s) = ($x.as_slice::<$T>(), $n, $c, $s);
        let y = Tensor::empty($x.shape(), <$T as crate::dtype::Element>::DTYPE)?;
        let mean = Tensor::empty(&[c], <$T as crate::dtype::Element>::DTYPE)?;
        let invstd = Tensor::empty(&[c], <$T as crate::dtype::Element>::DTYPE)?;
        let (py, pm, pi) = (SendPtr(y.data_ptr()), SendPtr(mean.data_ptr()), SendPtr(invstd.data_ptr()));
        let w: Option<Vec<$T>> = $w.map(|t: &Tensor| t.as_slice::<$T>().to_vec());
        let b: Option<Vec<$T>> = $b.map(|t: &Tensor| t.as_slice::<$T>().to_vec());
        let cnt = (n * s) as f64;
        parallel_for(c, n * s * 4, |c0, c1| {
            for ch in c0..c1 {
                let mut sum = 0f64;
                for ni in 0..n {
                    let row = &xs[(ni * c + ch) * s..(ni * c + ch + 1) * s];
                    sum += row.iter().map(|&v| v as f64).sum::<f64>();
                }
                let mu = sum / cnt;
                let mut sq = 0f64;
                for ni in 0..n {
                    let row = &xs[(ni * c + ch) * s..(ni * c + ch + 1) * s];
                    sq += row.iter().map(|&v| { let d = v as f64 - mu; d * d }).sum::<f64>();
                }
                let inv = 1.0 / (sq / cnt + $eps).sqrt();
                let scale = inv * w.as_ref().map(|w| w[ch] as f64).unwrap_or(1.0);
                let shift = b.as_ref().map(|b| b[ch] as f64).unwrap_or(0.0) - mu * scale;
                let (sc, sh) = (scale as $T, shift as $T);
                unsafe {
                    *(pm.get() as *mut $T).add(ch) = mu as $T;
                    *(pi.get() as *mut $T).add(ch) = inv as $T;
                    for ni in 0..n {
                        let off = (ni * c + ch) * s;
                        let dst = std::slice::from_raw_parts_mut((py.get() as *mut $T).add(off), s);
                        for (d, &v) in dst.iter_mut().zip(&xs[off..off + s]) {
                            *d = v * sc + sh;
                        }
                    }
                }
            }
        });
        (y, mean, invstd)
    }};
}

macro_rules! typed_back {
    ($T:ty, $gy:expr, $x:expr, $mean:expr, $inv:expr, $w:expr, $n:expr, $c:expr, $s:expr, $need_x:expr) => {{
        let (gys, xs, n, c, s) = ($gy.as_slice::<$T>(), $x.as_slice::<$T>(), $n, $c, $s);
        let ms = $mean.as_slice::<$T>().to_vec();
        let is = $inv.as_slice::<$T>().to_vec();
        let w: Option<Vec<$T>> = $w.map(|t: &Tensor| t.as_slice::<$T>().to_vec());
        let gx = Tensor::empty($x.shape(), <$T as crate::dtype::Element>::DTYPE)?;
        let gw = Tensor::empty(&[c], <$T as crate::dtype::Element>::DTYPE)?;
        let gb = Tensor::empty(&[c], <$T as crate::dtype::Element>::DTYPE)?;
        let (px, pw, pb) = (SendPtr(gx.data_ptr()), SendPtr(gw.data_ptr()), SendPtr(gb.data_ptr()));
        let cnt = (n * s) as f64;
        parallel_for(c, n * s * 4, |c0, c1| {
            for ch in c0..c1 {
                let (mu, inv) = (ms[ch] as f64, is[ch] as f64);
                let (mut sg, mut sgx) = (0f64, 0f64);
                for ni in 0..n {
                    let off = (ni * c + ch) * s;
                    for (&g, &v) in gys[off..off + s].iter().zip(&xs[off..off + s]) {
                        sg += g as f64;
                        sgx += g as f64 * (v as f64 - mu) * inv;
                    }
                }
                unsafe {
                    *(pb.get() as *mut $T).add(ch) = sg as $T;
                    *(pw.get() as *mut $T).add(ch) = sgx as $T;
                }
                if !$need_x {
                    continue;
                }
                let wv = w.as_ref().map(|w| w[ch] as f64).unwrap_or(1.0);
                let k = wv * inv / cnt;
                for ni in 0..n {
                    let off = (ni * c + ch) * s;
                    let dst = unsafe { std::slice::from_raw_parts_mut((px.get() as *mut $T).add(off), s) };
                    for ((d, &g), &v) in dst.iter_mut().zip(&gys[off..off + s]).zip(&xs[off..off + s]) {
                        let xhat = (v as f64 - mu) * inv;
                        *d = (k * (cnt * g as f64 - sg - xhat * sgx)) as $T;
                    }
                }
            }
        });
        (gx, gw, gb)
    }};
}

/// Training-mode batch norm over every dim but 1. Returns (y, batch mean, 1/sqrt(var + eps)),
/// var being the biased batch variance.
pub fn batch_norm_train(x: &Tensor, weight: Option<&Tensor>, bias: Option<&Tensor>, eps: f64) -> Result<(Tensor, Tensor, Tensor)> {
    let (n, c, s) = dims(x)?;
    if crate::device::common_opt("batch_norm", &[Some(x), weight, bias])? != crate::device::Device::Cpu {
        return Err(Error::Runtime("batch_norm_train: the fused kernel is CPU-only; on other devices batch_norm is composed from primitives".into()));
    }
    if !x.dtype().is_float() {
        return Err(Error::Runtime(format!("batch_norm: expected a floating input, got {}", x.dtype().name())));
    }
    for (name, t) in [("weight", weight), ("bias", bias)] {
        if let Some(t) = t {
            if t.shape() != [c] {
                return Err(Error::Runtime(format!("batch_norm: {name} of shape {:?} does not match {c} channels of input {:?}", t.shape(), x.shape())));
            }
        }
    }
    if n * s <= 1 {
        return Err(Error::Value(format!("Expected more than 1 value per channel when training, got input size {:?}", x.shape())));
    }
    let cd = if x.dtype() == DType::F64 { DType::F64 } else { DType::F32 };
    let xc = prep(x, cd)?;
    let wc = weight.map(|w| prep(w, cd)).transpose()?;
    let bc = bias.map(|b| prep(b, cd)).transpose()?;
    let (y, mean, inv) = if cd == DType::F64 {
        typed!(f64, xc, wc.as_ref(), bc.as_ref(), eps, n, c, s)
    } else {
        typed!(f32, xc, wc.as_ref(), bc.as_ref(), eps, n, c, s)
    };
    let y = crate::autograd::with_grad_mode(false, || cast(&y, x.dtype()))?;
    let mut ins: Vec<&Tensor> = vec![x];
    let (has_w, has_b) = (weight.is_some(), bias.is_some());
    if let Some(w) = weight {
        ins.push(w);
    }
    if let Some(b) = bias {
        ins.push(b);
    }
    if crate::autograd::needs_grad(&ins) {
        let mut saves = vec![Save::Input(x.clone()), Save::Input(mean.clone()), Save::Input(inv.clone())];
        if let Some(w) = weight {
            saves.push(Save::Input(w.clone()));
        }
        let (xdt, wdt) = (x.dtype(), weight.map(|w| w.dtype()));
        let bdt = bias.map(|b| b.dtype());
        let rx = x.requires_grad();
        record("NativeBatchNormBackward0", &ins, &[&y], saves, move |g, sv| {
            let Some(gy) = &g[0] else { return Ok(vec![None; 1 + has_w as usize + has_b as usize]) };
            if crate::autograd::is_grad_enabled() && (gy.requires_grad() || sv[0].requires_grad()) {
                return Err(Error::Runtime("batch_norm: double backward (create_graph=True) is not supported yet".into()));
            }
            let gyc = prep(gy, cd)?;
            let xc = prep(&sv[0], cd)?;
            let wc = if has_w { Some(prep(&sv[3], cd)?) } else { None };
            let (gx, gw, gb) = if cd == DType::F64 {
                typed_back!(f64, gyc, xc, sv[1], sv[2], wc.as_ref(), n, c, s, rx)
            } else {
                typed_back!(f32, gyc, xc, sv[1], sv[2], wc.as_ref(), n, c, s, rx)
            };
            let mut out = vec![if rx { Some(cast(&gx, xdt)?) } else { None }];
            if has_w {
                out.push(Some(cast(&gw, wdt.unwrap())?));
            }
            if has_b {
                out.push(Some(cast(&gb, bdt.unwrap())?));
            }
            Ok(out)
        });
    }
    Ok((y, mean, inv))
}
