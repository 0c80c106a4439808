//! Shared by the tests of data-parallel gradients (`tests/training.rs`, `tests/backends.rs`):
//! a fixed batch and the distance between two gradient sets.

use burn::prelude::*;
use ddpm::workflows::train::Batch;

/// Squared distance between two gradient sets and the squared norm of the first; `missing`
/// counts the parameters either set lacks.
pub struct GradDistance<'a> {
    pub a: &'a burn::optim::GradientsParams,
    pub b: &'a burn::optim::GradientsParams,
    pub diff: f64,
    pub norm: f64,
    pub missing: usize,
}

impl<'a> GradDistance<'a> {
    /// Compares `a` and `b` over the parameters of `model`.
    pub fn of<M: burn::module::Module>(
        model: &M,
        a: &'a burn::optim::GradientsParams,
        b: &'a burn::optim::GradientsParams,
    ) -> Self {
        let mut d = Self {
            a,
            b,
            diff: 0.0,
            norm: 0.0,
            missing: 0,
        };
        model.visit(&mut d);
        d
    }

    /// $\lVert a - b\rVert / \lVert a\rVert$.
    pub fn relative(&self) -> f64 {
        (self.diff / self.norm).sqrt()
    }
}

impl burn::module::ModuleVisitor for GradDistance<'_> {
    fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
        match (self.a.get::<D>(param.id), self.b.get::<D>(param.id)) {
            (Some(a), Some(b)) => {
                self.diff += f64::from((a.clone() - b).square().sum().into_scalar::<f32>());
                self.norm += f64::from(a.square().sum().into_scalar::<f32>());
            }
            _ => self.missing += 1,
        }
    }
}

/// A deterministic unconditional batch of `n` <= 5 images at timesteps 1, 40, 300, 700, 1000
/// (the first `n` of them), on `device`.
pub fn fixed_batch(n: usize, device: &Device) -> Batch {
    assert!(n <= 5);
    let ts = [1i64, 40, 300, 700, 1000];
    Batch {
        x_start: Tensor::<4>::from_data(
            TensorData::new(
                (0..n * 784)
                    .map(|i| ((i % 23) as f32 / 11.0) - 1.0)
                    .collect::<Vec<_>>(),
                [n, 1, 28, 28],
            ),
            device,
        ),
        t: Tensor::from_data(TensorData::new(ts[..n].to_vec(), [n]), device),
        noise: Tensor::<4>::from_data(
            TensorData::new(
                (0..n * 784)
                    .map(|i| ((i * 7 % 31) as f32 / 10.0) - 1.5)
                    .collect::<Vec<_>>(),
                [n, 1, 28, 28],
            ),
            device,
        ),
        labels: None,
        target: None,
    }
}
