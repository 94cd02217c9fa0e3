//! Random numbers from a counter-based generator (Philox 4x32-10): the stream for a given
//! seed and offset is the same on every device and for every thread split.
use crate::dtype::DType;
use crate::op::RandomOp;
use crate::error::Result;
use crate::tensor::Tensor;
use std::sync::Mutex;

fn philox(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let (mut c, mut k) = (counter, key);
    for _ in 0..10 {
        let p0 = (c[0] as u64) * 0xD251_1F53;
        let p1 = (c[2] as u64) * 0xCD9E_8D57;
        c = [
            ((p1 >> 32) as u32) ^ c[1] ^ k[0],
            p1 as u32,
            ((p0 >> 32) as u32) ^ c[3] ^ k[1],
            p0 as u32,
        ];
        k[0] = k[0].wrapping_add(0x9E37_79B9);
        k[1] = k[1].wrapping_add(0xBB67_AE85);
    }
    c
}

/// Seed plus how many 128-bit blocks have been consumed.
#[derive(Clone, Copy, Debug)]
pub struct GenState {
    pub seed: u64,
    pub offset: u64,
}

pub struct Generator {
    state: Mutex<GenState>,
}

impl Generator {
    pub const fn new(seed: u64) -> Self {
        Generator { state: Mutex::new(GenState { seed, offset: 0 }) }
    }
    pub fn manual_seed(&self, seed: u64) {
        *self.state.lock().unwrap() = GenState { seed, offset: 0 };
    }
    pub fn get_state(&self) -> GenState {
        *self.state.lock().unwrap()
    }
    pub fn set_state(&self, s: GenState) {
        *self.state.lock().unwrap() = s;
    }
    /// Reserves `n` 32-bit words; returns the state to draw them from.
    fn reserve(&self, n: usize) -> GenState {
        let mut s = self.state.lock().unwrap();
        let r = *s;
        s.offset += n.div_ceil(4) as u64;
        r
    }
    /// Reserves `n` words for a device kernel that draws them itself (the same stream).
    pub fn reserve_words(&self, n: usize) -> GenState {
        self.reserve(n)
    }
    /// `n` uniform words.
    pub fn words(&self, n: usize) -> Vec<u32> {
        let st = self.reserve(n);
        let key = [st.seed as u32, (st.seed >> 32) as u32];
        let mut out = Vec::with_capacity(n + 4);
        let mut blk = st.offset;
        while out.len() < n {
            out.extend_from_slice(&philox([blk as u32, (blk >> 32) as u32, 0, 0], key));
            blk += 1;
        }
        out.truncate(n);
        out
    }
    /// Uniform [0, 1) doubles with 53 random bits each.
    pub fn uniform(&self, n: usize) -> Vec<f64> {
        let w = self.words(2 * n);
        (0..n)
            .map(|i| {
                let hi = (w[2 * i] as u64) >> 5; // 27 bits
                let lo = (w[2 * i + 1] as u64) >> 6; // 26 bits
                ((hi << 26) | lo) as f64 * (1.0 / (1u64 << 53) as f64)
            })
            .collect()
    }
    /// Standard normals by Box–Muller.
    pub fn normal(&self, n: usize) -> Vec<f64> {
        let u = self.uniform(n + (n & 1));
        let mut out = Vec::with_capacity(n + 1);
        for p in u.chunks(2) {
            let r = (-2.0 * (1.0 - p[0]).ln()).sqrt();
            let th = 2.0 * std::f64::consts::PI * p[1];
            out.push(r * th.cos());
            out.push(r * th.sin());
        }
        out.truncate(n);
        out
    }
}

pub static DEFAULT: Generator = Generator::new(67280421310721);

/// A random op on any device: the generator reserves the words the op draws (so it advances
/// the same everywhere), and the kernel draws them itself from the reserved (seed, offset).
pub fn device_random(g: &Generator, op: RandomOp, dev: crate::device::Device, shape: &[usize], dtype: DType, words: usize, ins: &[&Tensor], (low, high): (i64, i64)) -> Result<Tensor> {
    let st = g.reserve_words(words);
    let out = Tensor::empty_on(shape, dtype, dev)?;
    if out.numel() > 0 {
        let attrs = crate::op::RandomAttrs { seed: st.seed, offset: st.offset, low, high };
        crate::dispatch::launch(&crate::op::Op::Random(op, attrs), &[&out], ins)?;
    }
    Ok(out)
}

pub fn rand_on(g: &Generator, shape: &[usize], dtype: DType, dev: crate::device::Device) -> Result<Tensor> {
    check_float("rand", dtype)?;
    let n = crate::layout::numel(shape);
    device_random(g, RandomOp::Rand, dev, shape, dtype, 2 * n, &[], (0, 0))
}

pub fn randn_on(g: &Generator, shape: &[usize], dtype: DType, dev: crate::device::Device) -> Result<Tensor> {
    check_float("randn", dtype)?;
    let n = crate::layout::numel(shape);
    device_random(g, RandomOp::Randn, dev, shape, dtype, 2 * (n + (n & 1)), &[], (0, 0))
}

pub fn randint_on(g: &Generator, low: i64, high: i64, shape: &[usize], dtype: DType, dev: crate::device::Device) -> Result<Tensor> {
    if high <= low {
        return Err(crate::error::Error::Runtime(format!(
            "random_ expects 'from' to be less than 'to', but got from={low} >= to={high}"
        )));
    }
    let n = crate::layout::numel(shape);
    device_random(g, RandomOp::Randint, dev, shape, dtype, 2 * n, &[], (low, high))
}

pub fn randperm_on(g: &Generator, n: usize, dtype: DType, dev: crate::device::Device) -> Result<Tensor> {
    device_random(g, RandomOp::Randperm, dev, &[n], dtype, 2 * n, &[], (0, 0))
}

fn check_float(op: &str, dtype: DType) -> Result<()> {
    if !dtype.is_float() {
        return Err(crate::error::Error::Runtime(format!("{op}: expected a floating dtype, got {}", dtype.name())));
    }
    Ok(())
}

pub fn rand(g: &Generator, shape: &[usize], dtype: DType) -> Result<Tensor> {
    rand_on(g, shape, dtype, crate::device::Device::Cpu)
}

pub fn randn(g: &Generator, shape: &[usize], dtype: DType) -> Result<Tensor> {
    randn_on(g, shape, dtype, crate::device::Device::Cpu)
}

/// Integers uniformly in [low, high).
pub fn randint(g: &Generator, low: i64, high: i64, shape: &[usize], dtype: DType) -> Result<Tensor> {
    randint_on(g, low, high, shape, dtype, crate::device::Device::Cpu)
}

pub fn randperm(g: &Generator, n: usize, dtype: DType) -> Result<Tensor> {
    randperm_on(g, n, dtype, crate::device::Device::Cpu)
}

/// 1 with probability p (elementwise), as the dtype of `p` (float32 for an integer `p`).
pub fn bernoulli(g: &Generator, p: &Tensor) -> Result<Tensor> {
    let dt = if p.dtype().is_float() { p.dtype() } else { DType::F32 };
    let pc = crate::tensor::graph::with_grad_mode(false, || super::cast(p, dt))?;
    device_random(g, RandomOp::Bernoulli, p.device(), p.shape(), dt, 2 * p.numel(), &[&pc], (0, 0))
}

/// The CPU kernel of the random family in the contract's form: draws `out`'s values from
/// the stream at (seed, offset), the words `device_random` reserved for it.
pub(crate) fn random_cpu_kernel(op: RandomOp, out: &Tensor, ins: &[&Tensor], a: &crate::op::RandomAttrs) -> Result<()> {
    let g = Generator::new(0);
    g.set_state(GenState { seed: a.seed, offset: a.offset });
    let n = out.numel();
    let vals = match op {
        RandomOp::Rand => {
            let mut v = g.uniform(n);
            // keep values strictly below 1 after rounding to a narrower float
            let top = match out.dtype() {
                DType::F32 => 1.0 - f32::EPSILON as f64 / 2.0,
                DType::F16 => 1.0 - 0.000_488_281_25,
                DType::BF16 => 1.0 - 0.003_906_25,
                _ => 1.0,
            };
            for x in v.iter_mut() {
                *x = x.min(top);
            }
            Tensor::from_vec(v, out.shape())?
        }
        RandomOp::Randn => Tensor::from_vec(g.normal(n), out.shape())?,
        RandomOp::Randint => {
            if a.high <= a.low {
                return Err(crate::error::Error::Runtime(format!("random_ expects 'from' to be less than 'to', but got from={} >= to={}", a.low, a.high)));
            }
            let span = (a.high - a.low) as u64;
            let w = g.words(2 * n);
            let v: Vec<i64> = (0..n)
                .map(|i| {
                    let r = ((w[2 * i] as u64) << 32) | w[2 * i + 1] as u64;
                    a.low + (r % span) as i64
                })
                .collect();
            Tensor::from_vec(v, out.shape())?
        }
        RandomOp::Randperm => {
            let mut p: Vec<i64> = (0..n as i64).collect();
            let u = g.uniform(n);
            for i in (1..n).rev() {
                let j = ((u[i] * (i + 1) as f64) as usize).min(i);
                p.swap(i, j);
            }
            Tensor::from_vec(p, out.shape())?
        }
        RandomOp::Bernoulli => {
            let p = Tensor::empty(out.shape(), DType::F64)?;
            super::copy::copy_cpu_kernel(&p, ins[0])?;
            let u = g.uniform(n);
            let v: Vec<f64> = p.as_slice::<f64>().iter().zip(u).map(|(&p, u)| if u < p { 1.0 } else { 0.0 }).collect();
            Tensor::from_vec(v, out.shape())?
        }
    };
    super::copy::copy_cpu_kernel(out, &vals)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn same_seed_same_stream_and_uniform_moments() {
        let g = Generator::new(7);
        let a = g.uniform(10_000);
        g.manual_seed(7);
        let b = g.uniform(10_000);
        assert_eq!(a, b);
        let mean = a.iter().sum::<f64>() / a.len() as f64;
        assert!((mean - 0.5).abs() < 0.02);
        assert!(a.iter().all(|&x| (0.0..1.0).contains(&x)));
    }
}
