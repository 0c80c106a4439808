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

// ANCHOR: ema_decay_at
/// The decay used after `step` completed steps (0-based): `min(decay, (1 + step) / (10 + step))`.
///
/// Early in training the average would otherwise remember the random initial weights for
/// about $1/(1-d)$ steps (200 for $d = 0.995$); the warm-up lets it follow the fast early
/// progress and reach the configured decay after $(10d - 1)/(1 - d)$ steps (1,790 for 0.995).
/// Same rule as `tf.train.ExponentialMovingAverage(num_updates=...)`.
pub fn ema_decay_at(step: usize, decay: f64) -> f64 {
    let warm = (1.0 + step as f64) / (10.0 + step as f64);
    decay.min(warm)
}
// ANCHOR_END: ema_decay_at

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

#[cfg(test)]
mod tests {
    use super::ema_decay_at;

    #[test]
    fn decay_warms_up_then_saturates() {
        assert!((ema_decay_at(0, 0.995) - 0.1).abs() < 1e-12);
        assert!((ema_decay_at(90, 0.995) - 0.91).abs() < 1e-12);
        // (1 + s) / (10 + s) reaches 0.995 at s = 1790.
        assert!(ema_decay_at(1789, 0.995) < 0.995);
        assert_eq!(ema_decay_at(1790, 0.995), 0.995);
        assert_eq!(ema_decay_at(1_000_000, 0.995), 0.995);
        // monotone non-decreasing
        let mut last = 0.0;
        for s in 0..5000 {
            let d = ema_decay_at(s, 0.999);
            assert!(d >= last);
            last = d;
        }
    }
}
