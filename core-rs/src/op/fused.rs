//! Fused CPU kernels as data: each is an optimisation of a composite (batch norm, max
//! pooling, an optimizer step ...), not a new meaning, so it stays out of the primitive
//! table (`primitives.toml`: what autograd differentiates and every backend implements).
//! What a fused kernel shares with the primitives is the form a graph records and replays:
//! a `FusedOp` (name + typed attributes that serialise by name, as `op_from_named` does for
//! `Op`), run by `dispatch::launch_fused(&FusedOp, outs, ins)` with outputs allocated by
//! the caller. They run on the CPU only; other devices compose the same meaning from
//! primitives.
//!
//! Operands that are written: always exactly `outs`. An op that updates tensors in place (the
//! optimizer steps) says so with `updates_in_place()`: its outputs are also read (their
//! previous values are operands), and the dispatcher bumps their version counters.
use super::AttrValue;
pub use super::fused_nn::NnOp;
use crate::error::{Error, Result};
use crate::scalar::Scalar;

/// Training-mode batch norm: outs (y [x's shape and dtype], mean [C], invstd [C]; the
/// statistics in the compute dtype, f32 or f64); ins (x [N, C, ...], weight [C] if
/// `has_weight`, bias [C] if `has_bias`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchNormAttrs {
    pub eps: f64,
    pub has_weight: bool,
    pub has_bias: bool,
}

/// The closed-form batch norm backward: outs (gx [x's shape] or [0] when not
/// `input_grad`, gweight [C], gbias [C]; all in the compute dtype); ins (gy, x, mean,
/// invstd, weight if `has_weight`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchNormBackwardAttrs {
    pub has_weight: bool,
    pub input_grad: bool,
}

/// Max pooling over [N, C, H, W]: outs (values [N, C, OH, OW] in x's dtype, then optionally
/// the indices, int64 into each unpadded input plane); ins (x). Sizes as (height, width).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MaxPool2dAttrs {
    pub kernel: [i64; 2],
    pub stride: [i64; 2],
    pub padding: [i64; 2],
    pub dilation: [i64; 2],
    pub ceil_mode: bool,
}

/// One AdamW step over n parameters, in place: outs (p_1..p_n, m_1..m_n, v_1..v_n, all
/// read and written); ins (g_1..g_n).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamwAttrs {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub step: u64,
    pub maximize: bool,
}

/// One SGD step over n parameters, in place: outs (p_1..p_n, then the momentum buffers
/// b_1..b_n when momentum != 0; all read and written); ins (g_1..g_n). `fresh[i]` says
/// buffer i is new and takes the step's direction as it is.
#[derive(Clone, Debug, PartialEq)]
pub struct SgdAttrs {
    pub lr: f64,
    pub momentum: f64,
    pub dampening: f64,
    pub weight_decay: f64,
    pub nesterov: bool,
    pub maximize: bool,
    pub fresh: Vec<bool>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum FusedOp {
    BatchNormTrain(BatchNormAttrs),
    BatchNormTrainBackward(BatchNormBackwardAttrs),
    MaxPool2d(MaxPool2dAttrs),
    /// outs (gx [the input's shape]); ins (gy, indices from max_pool2d).
    MaxPool2dBackward,
    /// `g where y > 0 else 0`: outs (gx); ins (g, y), one shape and dtype.
    ReluBackward,
    AdamwStep(AdamwAttrs),
    /// RMSprop, Adagrad, Adamax, NAdam, RAdam or Adadelta over n parameters (`OptimStep`).
    OptimStep(OptimStep),
    SgdStep(SgdAttrs),
    /// The transformer composites' kernels (`super::fused_nn`).
    Nn(NnOp),
}

/// Every fused op's name, in a stable order.
pub const FUSED_OPS: &[&str] = &["batch_norm_train", "batch_norm_train_backward", "max_pool2d", "max_pool2d_backward", "relu_backward", "adamw_step", "sgd_step"];

fn b(v: bool) -> AttrValue {
    AttrValue::Scalar(Scalar::Bool(v))
}
fn f(v: f64) -> AttrValue {
    AttrValue::Scalar(Scalar::Float(v))
}
fn pair(v: [i64; 2]) -> AttrValue {
    AttrValue::List(v.to_vec())
}

impl FusedOp {
    pub fn name(&self) -> &'static str {
        match self {
            FusedOp::BatchNormTrain(_) => "batch_norm_train",
            FusedOp::BatchNormTrainBackward(_) => "batch_norm_train_backward",
            FusedOp::MaxPool2d(_) => "max_pool2d",
            FusedOp::MaxPool2dBackward => "max_pool2d_backward",
            FusedOp::ReluBackward => "relu_backward",
            FusedOp::AdamwStep(_) => "adamw_step",
            FusedOp::OptimStep(o) => o.name(),
            FusedOp::SgdStep(_) => "sgd_step",
            FusedOp::Nn(op) => op.name(),
        }
    }

    /// Whether the outputs are updated in place (read as well as written).
    pub fn updates_in_place(&self) -> bool {
        matches!(self, FusedOp::AdamwStep(_) | FusedOp::SgdStep(_) | FusedOp::OptimStep(_))
    }

    /// The attributes by name, for a serialised graph (`from_named` reads them back).
    pub fn attrs(&self) -> Vec<(&'static str, AttrValue)> {
        match self {
            FusedOp::BatchNormTrain(a) => vec![("eps", f(a.eps)), ("has_weight", b(a.has_weight)), ("has_bias", b(a.has_bias))],
            FusedOp::BatchNormTrainBackward(a) => vec![("has_weight", b(a.has_weight)), ("input_grad", b(a.input_grad))],
            FusedOp::MaxPool2d(a) => vec![
                ("kernel", pair(a.kernel)),
                ("stride", pair(a.stride)),
                ("padding", pair(a.padding)),
                ("dilation", pair(a.dilation)),
                ("ceil_mode", b(a.ceil_mode)),
            ],
            FusedOp::MaxPool2dBackward | FusedOp::ReluBackward => vec![],
            FusedOp::AdamwStep(a) => vec![
                ("lr", f(a.lr)),
                ("beta1", f(a.beta1)),
                ("beta2", f(a.beta2)),
                ("eps", f(a.eps)),
                ("weight_decay", f(a.weight_decay)),
                ("step", AttrValue::Scalar(Scalar::Int(a.step as i64))),
                ("maximize", b(a.maximize)),
            ],
            FusedOp::OptimStep(o) => o.attrs(),
            FusedOp::SgdStep(a) => vec![
                ("lr", f(a.lr)),
                ("momentum", f(a.momentum)),
                ("dampening", f(a.dampening)),
                ("weight_decay", f(a.weight_decay)),
                ("nesterov", b(a.nesterov)),
                ("maximize", b(a.maximize)),
                ("fresh", AttrValue::List(a.fresh.iter().map(|&x| x as i64).collect())),
            ],
            FusedOp::Nn(op) => op.attrs(),
        }
    }

    /// Builds the fused op called `name` from named attribute values.
    pub fn from_named(name: &str, mut lookup: impl FnMut(&str) -> Option<AttrValue>) -> Result<FusedOp> {
        if let Some(op) = NnOp::from_named(name, |attr| lookup(attr).ok_or_else(|| Error::Runtime(format!("{name}: missing attribute '{attr}'"))))? {
            return Ok(FusedOp::Nn(op));
        }
        let mut get = |attr: &str| lookup(attr).ok_or_else(|| Error::Runtime(format!("{name}: missing attribute '{attr}'")));
        let mut list2 = |attr: &str| -> Result<[i64; 2]> {
            match get(attr)? {
                AttrValue::List(v) if v.len() == 2 => Ok([v[0], v[1]]),
                v => Err(Error::Type(format!("{name}: attribute '{attr}' must be a list of 2 ints, got {v:?}"))),
            }
        };
        Ok(match name {
            "batch_norm_train" => FusedOp::BatchNormTrain(BatchNormAttrs {
                eps: get("eps")?.as_f64(),
                has_weight: get("has_weight")?.as_bool(),
                has_bias: get("has_bias")?.as_bool(),
            }),
            "batch_norm_train_backward" => FusedOp::BatchNormTrainBackward(BatchNormBackwardAttrs {
                has_weight: get("has_weight")?.as_bool(),
                input_grad: get("input_grad")?.as_bool(),
            }),
            "max_pool2d" => {
                let (kernel, stride, padding, dilation) = (list2("kernel")?, list2("stride")?, list2("padding")?, list2("dilation")?);
                FusedOp::MaxPool2d(MaxPool2dAttrs { kernel, stride, padding, dilation, ceil_mode: get("ceil_mode")?.as_bool() })
            }
            "max_pool2d_backward" => FusedOp::MaxPool2dBackward,
            "relu_backward" => FusedOp::ReluBackward,
            "adamw_step" => FusedOp::AdamwStep(AdamwAttrs {
                lr: get("lr")?.as_f64(),
                beta1: get("beta1")?.as_f64(),
                beta2: get("beta2")?.as_f64(),
                eps: get("eps")?.as_f64(),
                weight_decay: get("weight_decay")?.as_f64(),
                step: get("step")?.as_u64(),
                maximize: get("maximize")?.as_bool(),
            }),
            n if OPTIM_STEP_OPS.contains(&n) => FusedOp::OptimStep(OptimStep::from_named(n, &mut get)?),
            "sgd_step" => FusedOp::SgdStep(SgdAttrs {
                lr: get("lr")?.as_f64(),
                momentum: get("momentum")?.as_f64(),
                dampening: get("dampening")?.as_f64(),
                weight_decay: get("weight_decay")?.as_f64(),
                nesterov: get("nesterov")?.as_bool(),
                maximize: get("maximize")?.as_bool(),
                fresh: get("fresh")?.as_i64_list().iter().map(|&x| x != 0).collect(),
            }),
            _ => return Err(Error::Runtime(format!("'{name}' is not a fused op (known: {}, {}, {})", FUSED_OPS.join(", "), OPTIM_STEP_OPS.join(", "), super::fused_nn::NN_FUSED_OPS.join(", ")))),
        })
    }

    /// Checks the number of tensors a kernel gets for this op.
    pub fn check_arity(&self, n_out: usize, n_in: usize) -> Result<()> {
        let ok = match self {
            FusedOp::BatchNormTrain(a) => n_out == 3 && n_in == 1 + a.has_weight as usize + a.has_bias as usize,
            FusedOp::BatchNormTrainBackward(a) => n_out == 3 && n_in == 4 + a.has_weight as usize,
            FusedOp::MaxPool2d(_) => (n_out == 1 || n_out == 2) && n_in == 1,
            FusedOp::MaxPool2dBackward | FusedOp::ReluBackward => n_out == 1 && n_in == 2,
            FusedOp::AdamwStep(_) => n_out == 3 * n_in,
            FusedOp::OptimStep(o) => n_out == (1 + o.n_states()) * n_in,
            FusedOp::SgdStep(a) => {
                if a.momentum != 0.0 {
                    n_out == 2 * n_in && a.fresh.len() == n_in
                } else {
                    n_out == n_in
                }
            }
            FusedOp::Nn(op) => op.arity_ok(n_out, n_in),
        };
        if ok {
            return Ok(());
        }
        Err(Error::Runtime(format!("{}: the fused kernel got {n_out} output(s) and {n_in} input(s), which its form does not take ({self:?})", self.name())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_round_trip_by_name() {
        let ops = [
            FusedOp::BatchNormTrain(BatchNormAttrs { eps: 1e-5, has_weight: true, has_bias: false }),
            FusedOp::BatchNormTrainBackward(BatchNormBackwardAttrs { has_weight: false, input_grad: true }),
            FusedOp::MaxPool2d(MaxPool2dAttrs { kernel: [3, 2], stride: [2, 1], padding: [1, 0], dilation: [1, 2], ceil_mode: true }),
            FusedOp::MaxPool2dBackward,
            FusedOp::ReluBackward,
            FusedOp::AdamwStep(AdamwAttrs { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.01, step: 7, maximize: false }),
            FusedOp::SgdStep(SgdAttrs { lr: 0.1, momentum: 0.9, dampening: 0.0, weight_decay: 0.0, nesterov: true, maximize: false, fresh: vec![true, false] }),
        ];
        assert_eq!(ops.iter().map(|o| o.name()).collect::<Vec<_>>(), FUSED_OPS);
        for op in &ops {
            let attrs = op.attrs();
            let back = FusedOp::from_named(op.name(), |n| attrs.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone())).unwrap();
            assert_eq!(&back, op);
        }
        assert!(FusedOp::from_named("softmax_v2", |_| None).is_err());
        assert!(FusedOp::from_named("max_pool2d", |_| Some(AttrValue::List(vec![1]))).is_err());
        assert!(ops[5].updates_in_place() && ops[6].updates_in_place() && !ops[0].updates_in_place());
        assert!(ops[6].check_arity(4, 2).is_ok() && ops[6].check_arity(2, 2).is_err());
    }
}

// ---- optimizer steps beyond AdamW and SGD: one fused op per rule, declared once below ----

/// A hyper-parameter type of an optimizer step (f64, u64 or bool), read and written by name.
trait OptimField: Sized {
    fn to_attr(self) -> AttrValue;
    fn from_attr(v: &AttrValue) -> Self;
}
impl OptimField for f64 {
    fn to_attr(self) -> AttrValue {
        f(self)
    }
    fn from_attr(v: &AttrValue) -> Self {
        v.as_f64()
    }
}
impl OptimField for u64 {
    fn to_attr(self) -> AttrValue {
        AttrValue::Scalar(Scalar::Int(self as i64))
    }
    fn from_attr(v: &AttrValue) -> Self {
        v.as_u64()
    }
}
impl OptimField for bool {
    fn to_attr(self) -> AttrValue {
        b(self)
    }
    fn from_attr(v: &AttrValue) -> Self {
        v.as_bool()
    }
}

/// Declares each optimizer rule once: its attribute struct, its name and the `OptimStep` enum
/// with serialisation by name, so the op's fields and names cannot drift apart.
macro_rules! optim_rules {
    ($($(#[$doc:meta])* $variant:ident($attrs:ident, $name:literal) { $($field:ident: $ty:ty),* $(,)? })*) => {
        $(
            $(#[$doc])*
            #[derive(Clone, Copy, Debug, PartialEq)]
            pub struct $attrs { $(pub $field: $ty),* }
        )*

        /// One step of an optimizer rule over n parameters, in place: outs (p_1..p_n, then each
        /// state buffer of every parameter, state by state: s1_1..s1_n, s2_1..s2_n ...; all read
        /// and written); ins (g_1..g_n). `n_states()` says how many buffers a parameter has.
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub enum OptimStep { $($variant($attrs)),* }

        /// Every optimizer-rule fused op's name, in a stable order.
        pub const OPTIM_STEP_OPS: &[&str] = &[$($name),*];

        impl OptimStep {
            pub fn name(&self) -> &'static str {
                match self { $(OptimStep::$variant(_) => $name),* }
            }
            pub fn attrs(&self) -> Vec<(&'static str, AttrValue)> {
                match self { $(OptimStep::$variant(a) => vec![$((stringify!($field), OptimField::to_attr(a.$field))),*]),* }
            }
            pub fn from_named(name: &str, get: &mut impl FnMut(&str) -> Result<AttrValue>) -> Result<OptimStep> {
                Ok(match name {
                    $($name => OptimStep::$variant($attrs { $($field: <$ty as OptimField>::from_attr(&get(stringify!($field))?)),* }),)*
                    _ => return Err(Error::Runtime(format!("'{name}' is not an optimizer step (known: {})", OPTIM_STEP_OPS.join(", ")))),
                })
            }
        }
    };
}

optim_rules! {
    /// RMSprop: states square_avg, then momentum_buffer when momentum != 0, then grad_avg when
    /// centered.
    Rmsprop(RmspropAttrs, "rmsprop_step") { lr: f64, alpha: f64, eps: f64, weight_decay: f64, momentum: f64, centered: bool, maximize: bool }
    /// Adagrad at step `step` (the learning rate decays as lr / (1 + (step - 1) * lr_decay)):
    /// state sum.
    Adagrad(AdagradAttrs, "adagrad_step") { lr: f64, lr_decay: f64, weight_decay: f64, eps: f64, step: u64, maximize: bool }
    /// Adamax at step `step`: states exp_avg, exp_inf.
    Adamax(AdamaxAttrs, "adamax_step") { lr: f64, beta1: f64, beta2: f64, eps: f64, weight_decay: f64, step: u64, maximize: bool }
    /// NAdam at step `step`; `mu_product` is the product of the momentum coefficients up to
    /// and including this step's (state the caller keeps per parameter): states exp_avg,
    /// exp_avg_sq.
    Nadam(NadamAttrs, "nadam_step") {
        lr: f64, beta1: f64, beta2: f64, eps: f64, weight_decay: f64, momentum_decay: f64, mu_product: f64,
        decoupled_weight_decay: bool, step: u64, maximize: bool,
    }
    /// RAdam at step `step`: states exp_avg, exp_avg_sq.
    Radam(RadamAttrs, "radam_step") { lr: f64, beta1: f64, beta2: f64, eps: f64, weight_decay: f64, decoupled_weight_decay: bool, step: u64, maximize: bool }
    /// Adadelta: states square_avg, acc_delta.
    Adadelta(AdadeltaAttrs, "adadelta_step") { lr: f64, rho: f64, eps: f64, weight_decay: f64, maximize: bool }
}

impl OptimStep {
    /// The number of state buffers each parameter has.
    pub fn n_states(&self) -> usize {
        match self {
            OptimStep::Rmsprop(a) => 1 + (a.momentum != 0.0) as usize + a.centered as usize,
            OptimStep::Adagrad(_) => 1,
            OptimStep::Adamax(_) | OptimStep::Nadam(_) | OptimStep::Radam(_) | OptimStep::Adadelta(_) => 2,
        }
    }
}

#[cfg(test)]
mod optim_step_tests {
    use super::*;

    #[test]
    fn optimizer_steps_round_trip_by_name() {
        let ops = [
            OptimStep::Rmsprop(RmspropAttrs { lr: 0.01, alpha: 0.99, eps: 1e-8, weight_decay: 0.1, momentum: 0.9, centered: true, maximize: false }),
            OptimStep::Adagrad(AdagradAttrs { lr: 0.01, lr_decay: 0.1, weight_decay: 0.0, eps: 1e-10, step: 3, maximize: true }),
            OptimStep::Adamax(AdamaxAttrs { lr: 2e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0, step: 2, maximize: false }),
            OptimStep::Nadam(NadamAttrs {
                lr: 2e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0, momentum_decay: 4e-3, mu_product: 0.4,
                decoupled_weight_decay: true, step: 5, maximize: false,
            }),
            OptimStep::Radam(RadamAttrs { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.01, decoupled_weight_decay: false, step: 9, maximize: true }),
            OptimStep::Adadelta(AdadeltaAttrs { lr: 1.0, rho: 0.9, eps: 1e-6, weight_decay: 0.0, maximize: false }),
        ];
        assert_eq!(ops.iter().map(|o| o.name()).collect::<Vec<_>>(), OPTIM_STEP_OPS);
        for o in ops {
            let op = FusedOp::OptimStep(o);
            let attrs = op.attrs();
            let back = FusedOp::from_named(op.name(), |n| attrs.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone())).unwrap();
            assert_eq!(back, op);
            assert!(op.updates_in_place());
            let k = o.n_states();
            assert!(op.check_arity((1 + k) * 2, 2).is_ok() && op.check_arity(2, 2).is_err());
        }
        assert_eq!(ops[0].n_states(), 3);
        assert!(FusedOp::from_named("adamax_step", |_| None).is_err());
    }
}
