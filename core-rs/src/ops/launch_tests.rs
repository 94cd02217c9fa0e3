//! Every primitive runs through `dispatch::launch` on the CPU too, exactly once per call and
//! with no launch from inside its kernel: what a graph recorder sees is what ran.
use crate::dispatch::launch_log::launches;
use crate::dtype::DType;
use crate::tensor::Tensor;

fn t(v: Vec<f32>, shape: &[usize]) -> Tensor {
    crate::init();
    Tensor::from_vec(v, shape).unwrap()
}

fn seq(shape: &[usize]) -> Tensor {
    let n: usize = shape.iter().product();
    t((0..n).map(|i| (i as f32 * 0.37).sin()).collect(), shape)
}

#[test]
fn matmul_launches_matmul() {
    let (a, b) = (seq(&[3, 4]), seq(&[4, 5]));
    let (r, log) = launches(|| super::matmul::matmul(&a, &b).unwrap());
    assert_eq!(log, ["matmul"]);
    let (av, bv, rv) = (a.to_vec_f64(), b.to_vec_f64(), r.to_vec_f64());
    for i in 0..3 {
        for j in 0..5 {
            let want: f64 = (0..4).map(|l| av[i * 4 + l] * bv[l * 5 + j]).sum();
            assert!((rv[i * 5 + j] - want).abs() < 1e-5);
        }
    }
    // batched, every float and integer dtype the kernel takes
    for dt in [DType::F64, DType::F16, DType::BF16, DType::I32, DType::I64] {
        let (a, b) = (super::cast(&seq(&[2, 3, 4]), dt).unwrap(), super::cast(&seq(&[2, 4, 2]), dt).unwrap());
        let (r, log) = launches(|| super::matmul::matmul(&a, &b).unwrap());
        assert_eq!((log, r.dtype(), r.shape().to_vec()), (vec!["matmul"], dt, vec![2, 3, 2]));
    }
    // an empty product writes nothing; an empty inner dim is a fill of zeros
    let (_, log) = launches(|| super::matmul::matmul(&seq(&[0, 4]), &seq(&[4, 2])).unwrap());
    assert!(log.is_empty());
    let (r, log) = launches(|| super::matmul::matmul(&seq(&[2, 0]), &seq(&[0, 3])).unwrap());
    assert_eq!((log, r.to_vec_f64()), (vec!["fill"], vec![0.0; 6]));
}

fn i64s(v: Vec<i64>, shape: &[usize]) -> Tensor {
    crate::init();
    Tensor::from_vec(v, shape).unwrap()
}

fn close(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-5 * (1.0 + y.abs()))
}

#[test]
fn conv_family_launches_its_primitive() {
    use super::conv::{conv2d_input_grad, conv2d_raw, conv2d_weight_grad, Conv2dParams};
    let p = Conv2dParams { stride: (1, 1), padding: (1, 1), dilation: (1, 1), groups: 1 };
    let (x, w) = (seq(&[2, 3, 5, 5]), seq(&[4, 3, 3, 3]));
    let (y, log) = launches(|| conv2d_raw(&x, &w, p).unwrap());
    assert_eq!((log, y.shape().to_vec()), (vec!["conv2d"], vec![2, 4, 5, 5]));
    let (gx, log) = launches(|| conv2d_input_grad(&y, &w, x.shape(), p).unwrap());
    assert_eq!((log, gx.shape().to_vec()), (vec!["conv2d_input_grad"], x.shape().to_vec()));
    let (gw, log) = launches(|| conv2d_weight_grad(&y, &x, w.shape(), p).unwrap());
    assert_eq!((log, gw.shape().to_vec()), (vec!["conv2d_weight_grad"], w.shape().to_vec()));
    // a strided (transposed) input and a half output: the kernel stages them itself
    let xt = super::shape::transpose(&seq(&[2, 3, 5, 5]), 2, 3).unwrap();
    let (y2, log) = launches(|| conv2d_raw(&xt, &w, p).unwrap());
    assert_eq!(log, ["conv2d"]);
    let want = conv2d_raw(&super::contiguous(&xt).unwrap(), &w, p).unwrap();
    assert!(close(&y2.to_vec_f64(), &want.to_vec_f64()));
    let (xh, wh) = (super::cast(&x, DType::F16).unwrap(), super::cast(&w, DType::F16).unwrap());
    let (yh, log) = launches(|| conv2d_raw(&xh, &wh, p).unwrap());
    assert_eq!((log, yh.dtype()), (vec!["conv2d"], DType::F16));
}

#[test]
fn where_cat_pad_launch_their_primitive() {
    let c = Tensor::from_vec(vec![true, false, true], &[3]).unwrap();
    let (a, b) = (seq(&[2, 3]), seq(&[1]));
    let (r, log) = launches(|| super::where_(&c, &a, &b).unwrap());
    assert_eq!(log, ["where"]);
    let (av, bv) = (a.to_vec_f64(), b.to_vec_f64());
    let want: Vec<f64> = (0..6).map(|i| if i % 3 != 1 { av[i] } else { bv[0] }).collect();
    assert_eq!(r.to_vec_f64(), want);

    let (p, q) = (seq(&[2, 3]), seq(&[2, 1]));
    let (r, log) = launches(|| super::shape::cat(&[p.clone(), q.clone()], 1).unwrap());
    assert_eq!((log, r.shape().to_vec()), (vec!["cat"], vec![2, 4]));
    let (pv, qv, rv) = (p.to_vec_f64(), q.to_vec_f64(), r.to_vec_f64());
    assert_eq!(rv, [pv[0], pv[1], pv[2], qv[0], pv[3], pv[4], pv[5], qv[1]]);
    // an empty result launches nothing
    let (_, log) = launches(|| super::shape::cat(&[seq(&[0, 2]), seq(&[0, 2])], 0).unwrap());
    assert!(log.is_empty());

    let (r, log) = launches(|| super::shape::pad(&p, &[1, 0, 0, 1], -1.0).unwrap());
    assert_eq!((log, r.shape().to_vec()), (vec!["pad"], vec![3, 4]));
    assert_eq!(r.to_vec_f64(), [-1.0, pv[0], pv[1], pv[2], -1.0, pv[3], pv[4], pv[5], -1.0, -1.0, -1.0, -1.0]);
}

#[test]
fn random_draws_through_the_random_primitive_with_the_same_stream() {
    use super::random::{bernoulli, rand, randint, randn, randperm, Generator};
    let g = Generator::new(11);
    let (a, log) = launches(|| randn(&g, &[3, 5], DType::F32).unwrap());
    assert_eq!(log, ["randn"]);
    // the generator advanced by the words drawn: the next draw continues the stream
    let st = g.get_state();
    assert_eq!(st.offset, 2 * 16 / 4);
    g.manual_seed(11);
    let direct: Vec<f64> = g.normal(15).iter().map(|&v| v as f32 as f64).collect();
    assert_eq!(a.to_vec_f64(), direct);
    assert_eq!(g.get_state().offset, st.offset);
    for (name, f) in [
        ("rand", Box::new(|g: &Generator| rand(g, &[4], DType::F64)) as Box<dyn Fn(&Generator) -> crate::Result<Tensor>>),
        ("randint", Box::new(|g: &Generator| randint(g, -3, 9, &[4], DType::I64))),
        ("randperm", Box::new(|g: &Generator| randperm(g, 6, DType::I64))),
        ("bernoulli", Box::new(|g: &Generator| bernoulli(g, &t(vec![0.0, 1.0, 0.5], &[3])))),
    ] {
        let (r, log) = launches(|| f(&g).unwrap());
        assert_eq!(log, [name]);
        assert!(r.numel() > 0);
    }
    let mut perm: Vec<f64> = randperm(&g, 6, DType::I64).unwrap().to_vec_f64();
    perm.sort_by(f64::total_cmp);
    assert_eq!(perm, [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    assert_eq!(bernoulli(&g, &t(vec![0.0, 1.0], &[2])).unwrap().to_vec_f64(), [0.0, 1.0]);
}

#[test]
fn sort_and_topk_launch_their_primitive() {
    let x = t(vec![3.0, f32::NAN, -1.0, 2.0, 2.0, 0.5], &[2, 3]);
    let ((v, i), log) = launches(|| super::sort::sort(&x, 1, false).unwrap());
    assert_eq!(log, ["sort"]);
    assert_eq!(i.to_vec_f64(), [2.0, 0.0, 1.0, 2.0, 0.0, 1.0]);
    let v = v.to_vec_f64();
    assert_eq!((v[0], v[1], v[3], v[4], v[5]), (-1.0, 3.0, 0.5, 2.0, 2.0));
    assert!(v[2].is_nan());
    let ((v, i), log) = launches(|| super::sort::topk(&x, 1, 0, true).unwrap());
    assert_eq!(log, ["topk"]);
    assert_eq!(i.to_vec_f64(), [0.0, 0.0, 1.0]);
    assert!(v.to_vec_f64()[1].is_nan());
    // exact int64 ordering along a non-last dim
    let big = i64s(vec![i64::MAX, i64::MAX - 1, 5, -7], &[4, 1]);
    let ((v, _), log) = launches(|| super::sort::sort(&big, 0, true).unwrap());
    assert_eq!(log, ["sort"]);
    let c = super::contiguous(&v).unwrap();
    assert_eq!(c.as_slice::<i64>(), &[i64::MAX, i64::MAX - 1, 5, -7]);
}

#[test]
fn index_family_launches_its_primitive() {
    use super::index::*;
    let x = seq(&[3, 4]);
    let xv = x.to_vec_f64();
    let idx = i64s(vec![2, 0, 1, 1], &[1, 4]);
    let (r, log) = launches(|| gather(&x, 0, &idx).unwrap());
    assert_eq!(log, ["gather"]);
    assert_eq!(r.to_vec_f64(), [xv[8], xv[1], xv[6], xv[7]]);
    let (r, log) = launches(|| scatter(&x, 0, &idx, &seq(&[1, 4]), true).unwrap());
    assert_eq!(log, ["scatter_add"]);
    let sv = seq(&[1, 4]).to_vec_f64();
    assert!(close(&r.to_vec_f64()[..4], &[xv[0], xv[1] + sv[1], xv[2], xv[3]]));
    let sel = i64s(vec![2, 2, 0], &[3]);
    let (r, log) = launches(|| index_select(&x, 0, &sel).unwrap());
    assert_eq!((log, r.shape().to_vec()), (vec!["index_select"], vec![3, 4]));
    assert_eq!(r.to_vec_f64()[..4], xv[8..12]);
    let (r, log) = launches(|| index_add(&x, 1, &i64s(vec![3], &[1]), &seq(&[3, 1])).unwrap());
    assert_eq!(log, ["index_add"]);
    let s1 = seq(&[3, 1]).to_vec_f64();
    assert!(close(&[r.to_vec_f64()[3], r.to_vec_f64()[7]], &[xv[3] + s1[0], xv[7] + s1[1]]));
    // advanced indexing wraps negative indices
    let (r, log) = launches(|| index_leading(&x, &[i64s(vec![-1, 0], &[2])]).unwrap());
    assert_eq!((log, r.shape().to_vec()), (vec!["index"], vec![2, 4]));
    assert_eq!(r.to_vec_f64()[..4], xv[8..12]);
    let (r, log) = launches(|| index_put_leading(&x, &[i64s(vec![1], &[1]), i64s(vec![-1], &[1])], &t(vec![9.0], &[]), false).unwrap());
    assert_eq!(log, ["index_put"]);
    assert_eq!(r.to_vec_f64()[7], 9.0);
    // bad indices are IndexErrors from the kernel
    let e = gather(&x, 0, &i64s(vec![3], &[1, 1])).err().unwrap();
    assert!(matches!(e, crate::Error::Index(_)), "{e:?}");
    let e = index_select(&x, 1, &i64s(vec![-1], &[1])).err().unwrap();
    assert!(matches!(e, crate::Error::Index(_)), "{e:?}");
}

#[test]
fn fused_kernels_run_through_launch_fused() {
    use super::norm::batch_norm_train;
    use super::optim::{adamw_step, sgd_step, AdamW, Sgd};
    use super::pool::{max_pool2d, Pool2dParams};
    let x = seq(&[2, 3, 4, 4]);
    let (w, b) = (seq(&[3]), seq(&[3]));
    let ((y, mean, _), log) = launches(|| batch_norm_train(&x, Some(&w), Some(&b), 1e-5).unwrap());
    assert_eq!(log, ["batch_norm_train"]);
    // the channel mean, against a direct sum
    let xv = x.to_vec_f64();
    let m0: f64 = (0..2).flat_map(|n| (0..16).map(move |i| n * 48 + i)).map(|i| xv[i]).sum::<f64>() / 32.0;
    assert!((mean.to_vec_f64()[0] - m0).abs() < 1e-5);
    assert_eq!(y.shape(), x.shape());

    // the backward: gbias is sum(gy) per channel; gx sums to zero per channel
    use crate::op::fused::{BatchNormBackwardAttrs, FusedOp};
    let (_, mean, inv) = batch_norm_train(&x, None, None, 1e-5).unwrap();
    let gy = seq(&[2, 3, 4, 4]).alias(crate::layout::Layout { shape: vec![2, 3, 4, 4], strides: vec![48, 16, 1, 4], offset: 0 });
    let (gx, gw, gb) = (Tensor::empty(x.shape(), DType::F32).unwrap(), Tensor::empty(&[3], DType::F32).unwrap(), Tensor::empty(&[3], DType::F32).unwrap());
    let op = FusedOp::BatchNormTrainBackward(BatchNormBackwardAttrs { has_weight: false, input_grad: true });
    let (_, log) = launches(|| crate::dispatch::launch_fused(&op, &[&gx, &gw, &gb], &[&gy, &x, &mean, &inv]).unwrap());
    assert_eq!(log, ["batch_norm_train_backward"]);
    let (gyv, gxv) = (gy.to_vec_f64(), gx.to_vec_f64());
    let per_channel = |v: &[f64], ch: usize| -> f64 { (0..2).flat_map(|n| (0..16).map(move |i| n * 48 + ch * 16 + i)).map(|i| v[i]).sum() };
    for ch in 0..3 {
        assert!((gb.to_vec_f64()[ch] - per_channel(&gyv, ch)).abs() < 1e-4);
        assert!(per_channel(&gxv, ch).abs() < 1e-4);
    }
    // a device-only or misshapen call is refused by the dispatcher, not the kernel
    assert!(crate::dispatch::launch_fused(&op, &[&gx, &gw], &[&gy, &x, &mean, &inv]).is_err());

    let p = Pool2dParams { kernel: (2, 2), stride: (2, 2), padding: (0, 0), dilation: (1, 1), ceil_mode: false };
    // without indices (inference) the kernel writes the values alone: the same maxima
    let ((y0, none), _) = launches(|| max_pool2d(&x, p, false).unwrap());
    assert!(none.is_none());
    let ((y, i), log) = launches(|| max_pool2d(&x, p, true).unwrap());
    let i = i.unwrap();
    assert_eq!(y0.to_vec_f64(), y.to_vec_f64());
    assert_eq!((log, y.shape().to_vec(), i.dtype()), (vec!["max_pool2d"], vec![2, 3, 2, 2], DType::I64));
    let gx = super::pool::max_pool2d_backward(&y, &i, x.shape(), DType::F32);
    assert_eq!(gx.unwrap().to_vec_f64().iter().sum::<f64>(), y.to_vec_f64().iter().sum::<f64>());

    // the optimizer steps update their outputs in place and bump their versions
    let (p, g) = (seq(&[5]), t(vec![1.0; 5], &[5]));
    let (m, v) = (t(vec![0.0; 5], &[5]), t(vec![0.0; 5], &[5]));
    let before = p.storage().version();
    let h = AdamW { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0, step: 1, maximize: false };
    let pv = p.to_vec_f64();
    let (_, log) = launches(|| adamw_step(&[p.clone()], &[g.clone()], &[m.clone()], &[v.clone()], h).unwrap());
    assert_eq!(log, ["adamw_step"]);
    assert!(p.storage().version() > before && m.storage().version() > 0);
    // the first AdamW step moves every weight by lr against the gradient's sign
    assert!(close(&p.to_vec_f64(), &pv.iter().map(|x| x - 0.1).collect::<Vec<_>>()));
    let h = Sgd { lr: 0.5, momentum: 0.9, dampening: 0.0, weight_decay: 0.0, nesterov: false, maximize: false };
    let buf = t(vec![0.0; 5], &[5]);
    let pv = p.to_vec_f64();
    let (_, log) = launches(|| sgd_step(&[p.clone()], &[g.clone()], &[buf.clone()], &[true], h).unwrap());
    assert_eq!(log, ["sgd_step"]);
    assert!(close(&p.to_vec_f64(), &pv.iter().map(|x| x - 0.5).collect::<Vec<_>>()));
    assert_eq!(buf.to_vec_f64(), [1.0; 5]);
}
