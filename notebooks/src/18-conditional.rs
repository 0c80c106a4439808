// %% [markdown]
// # 18. Class-conditional diffusion and classifier-free guidance
//
// **Goal.** Ask the conditional model of `weights/conditional` for a digit, check that the
// null class is the unconditional path, and watch the guidance weight $w$ trade variety for
// fidelity: $\tilde\epsilon = (1 + w)\,\epsilon_\theta(x_t, t, y) - w\,\epsilon_\theta(x_t, t, \varnothing)$.
// Chapter: `chapters/18-conditional.md`.

// %%
// Builds the ddpm library with burn (the U-Net, training, sampling); the first run
// compiles burn inside the kernel, which takes a while (see notebooks/README.md).
:dep ddpm = { path = "..", default-features = false, features = ["burn"] }

// %%
use ddpm::burn::prelude::*;
use ddpm::network::conditional::{label_tensor, parse_label};
use ddpm::network::{Guided, NoisePredictor};
use ddpm::workflows::conditional::{digit_rows, sample_digits};
use ddpm::workflows::load_weights;
use ddpm::workflows::sample::{SampleOptions, Sampler};

let device: Device = Device::flex();
let (model, config) = load_weights(std::path::Path::new("../weights/conditional"), true, &device).unwrap();
println!("classes: {:?}, label dropout: {:?}", model.num_classes(), config.label_dropout);

// %% [markdown]
// The null class (index 10) has embedding zero: with it, the conditional network computes
// exactly what `forward` (the unconditional path of the same weights) computes. A real label
// changes the prediction.

// %%
let x = Tensor::<4>::random([2, 1, 28, 28], ddpm::burn::tensor::Distribution::Normal(0.0, 1.0), &device);
let t = Tensor::<1>::from_data(TensorData::new(vec![300.0f32, 700.0], [2]), &device);
fn max_diff(a: Tensor<4>, b: Tensor<4>) -> f32 {
    (a - b).abs().max().into_scalar()
}
let plain = model.forward(x.clone(), t.clone());
let null = model.forward_conditional(x.clone(), t.clone(), label_tensor(&[10, 10], &device));
let seven = model.forward_conditional(x.clone(), t.clone(), label_tensor(&[7, 7], &device));
println!("null vs unconditional: {:.1e}", max_diff(plain.clone(), null));
println!("label 7 vs unconditional: {:.3}", max_diff(plain, seven));

// %% [markdown]
// Guidance at $w = 0$ is the conditional prediction; bad labels are refused with a message.

// %%
let w0 = Guided::new(&model, vec![7, 7], 0.0).unwrap().predict_noise(x.clone(), t.clone());
let cond = model.forward_conditional(x, t, label_tensor(&[7, 7], &device));
println!("w = 0 vs conditional: {:.1e}", max_diff(w0, cond));
for text in ["7", "10", "-1", "seven"] {
    println!("{text:>6}: {:?}", parse_label(text, 10).map_err(|e| e.to_string()));
}

// %% [markdown]
// One row per digit, for three guidance weights (DDIM, 20 steps, $\eta = 1$; the same
// starting noise for every $w$). With more guidance the rows look more alike and more
// clearly like their digit.

// %%
use ddpm::figures::ImageGrid;

let options = SampleOptions { sampler: Sampler::Ddim { steps: 20, eta: 1.0 }, clip_x0: true, seed: 0, count: 0, frames: 0 };
let s = sample_digits(&model, &config, digit_rows(10, 6), 0.0, &options, &device, |_, _| {}).unwrap();
let unit: Vec<f32> = s.images.iter().map(|v| (v + 1.0) / 2.0).collect();
ImageGrid::from_unit(&unit, s.count, 28, 28).unwrap().with_cols(6).unwrap().with_scale(2).unwrap()

// %%
let s = sample_digits(&model, &config, digit_rows(10, 6), 2.0, &options, &device, |_, _| {}).unwrap();
let unit: Vec<f32> = s.images.iter().map(|v| (v + 1.0) / 2.0).collect();
ImageGrid::from_unit(&unit, s.count, 28, 28).unwrap().with_cols(6).unwrap().with_scale(2).unwrap()

// %%
let s = sample_digits(&model, &config, digit_rows(10, 6), 4.0, &options, &device, |_, _| {}).unwrap();
let unit: Vec<f32> = s.images.iter().map(|v| (v + 1.0) / 2.0).collect();
ImageGrid::from_unit(&unit, s.count, 28, 28).unwrap().with_cols(6).unwrap().with_scale(2).unwrap()
