//! Reverse-mode autograd: the engine that runs a graph backwards. The graph itself (nodes,
//! saved tensors, hooks, grad mode) is `crate::tensor::graph`, re-exported here for the bindings.
mod engine;
pub use crate::tensor::graph::*;
pub use engine::{profile_backward, run_backward, GradTarget};
