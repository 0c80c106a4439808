//! Exponential moving average of the weights (Ho et al. 2020, Appendix B: "We used EMA on
//! model parameters with a decay factor of 0.9999"):
//! $\theta_{\text{EMA}} \leftarrow d\,\theta_{\text{EMA}} + (1 - d)\,\theta$ after every step.
//! Sampling with the averaged weights gives smoother, better samples than the last iterate.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;

/// Collects every float parameter, flattened and detached from autodiff, in visiting order.
struct Collect {
    tensors: Vec<Tensor<1>>,
}

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let tensor = param.val().inner(); // no autodiff graph
        let n = tensor.shape().num_elements();
        self.tensors.push(tensor.reshape([n]));
    }
}

/// Blends each parameter of the EMA module with the matching collected tensor.
struct Blend {
    tensors: std::vec::IntoIter<Tensor<1>>,
    decay: f64,
}

impl ModuleMapper for Blend {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let current = self
            .tensors
            .next()
            .expect("the EMA module and the trained module have the same parameters");
        let decay = self.decay;
        param.map(|average| {
            let shape = average.shape();
            average.mul_scalar(decay) + current.reshape(shape).mul_scalar(1.0 - decay)
        })
    }
}

// ANCHOR: ema_update
/// One EMA step: returns `decay * ema + (1 - decay) * model`, parameter by parameter.
///
/// `ema` lives on a plain (non-autodiff) device; `model` may be the autodiff module being
/// trained. Both must come from the same configuration.
pub fn ema_update<M: Module>(ema: M, model: &M, decay: f64) -> M {
    let mut collect = Collect {
        tensors: Vec::new(),
    };
    model.visit(&mut collect);
    let mut blend = Blend {
        tensors: collect.tensors.into_iter(),
        decay,
    };
    ema.map(&mut blend)
}
// ANCHOR_END: ema_update
