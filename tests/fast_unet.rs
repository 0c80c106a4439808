//! The whole U-Net with chapter 14's CPU kernels against the same network on burn's own
//! operations (`ddpm::network::fast::set_enabled(false)`): one test in its own binary, since
//! the switch is process-wide.
#![cfg(feature = "burn")]

use burn::module::{ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::prelude::*;
use ddpm::network::{UNetConfig, fast};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn relative_error(a: &[f32], b: &[f32]) -> f32 {
    let scale = b.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    a.iter()
        .zip(b)
        .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()))
        / scale
}

/// The `tiny` preset (3x3, stride-2 and 1x1 convolutions, GroupNorm with and without SiLU,
/// attention) at batch 4: the output and the gradient of every parameter of the loss
/// sum(out^2) agree with burn's operations to 1e-4 of their scale (a network's depth of f32
/// rounding in another summation order), and so does the forward pass without autodiff.
#[test]
fn unet_with_fast_ops_matches_burn_ops() {
    let device = Device::flex().autodiff();
    let model = UNetConfig::tiny().init(&device).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(10);
    let x: Vec<f32> = (0..4 * 28 * 28)
        .map(|_| rng.random_range(-1.0f32..1.0))
        .collect();
    let t = [1.0f32, 250.0, 600.0, 1000.0];
    let run = |ours: bool| {
        fast::set_enabled(ours);
        assert_eq!(fast::takes_fast_path(&device), ours);
        let xs = Tensor::<4>::from_data(TensorData::new(x.clone(), [4, 1, 28, 28]), &device);
        let ts = Tensor::<1>::from_data(TensorData::new(t.to_vec(), [4]), &device);
        let out = model.forward(xs.clone(), ts.clone());
        let grads =
            GradientsParams::from_grads(out.clone().powi_scalar(2).sum().backward(), &model);
        let mut grad_values = Vec::new();
        // every parameter's gradient, in the module's order
        struct Collect<'a> {
            grads: &'a GradientsParams,
            out: &'a mut Vec<f32>,
        }
        impl ModuleVisitor for Collect<'_> {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                let g = self
                    .grads
                    .get::<D>(param.id)
                    .expect("every parameter has a gradient");
                self.out.extend(g.into_data().try_to_vec::<f32>().unwrap());
            }
        }
        model.visit(&mut Collect {
            grads: &grads,
            out: &mut grad_values,
        });
        let inner = model.valid();
        let eval = inner.forward(xs.inner(), ts.inner());
        (
            out.into_data().try_to_vec::<f32>().unwrap(),
            grad_values,
            eval.into_data().try_to_vec::<f32>().unwrap(),
        )
    };
    let theirs = run(false);
    let ours = run(true);
    for (what, a, b) in [
        ("output", &ours.0, &theirs.0),
        ("parameter gradients", &ours.1, &theirs.1),
        ("forward without autodiff", &ours.2, &theirs.2),
    ] {
        assert_eq!(a.len(), b.len(), "{what}: lengths");
        let err = relative_error(a, b);
        assert!(err < 1e-4, "{what}: relative error {err}");
    }
}
