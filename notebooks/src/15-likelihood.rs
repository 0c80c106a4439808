// %% [markdown]
// # 15. Likelihood in bits per dimension
//
// **Goal.** Score the weights of chapter 13's 1,200-step run (`weights/run-20min/`, the
// default run of machine A and the model chapter 15 measures) by the variational bound on
// test digits,
//
// $$L = L_T + \sum_{t=2}^{T} L_{t-1} + L_0 \;\ge\; -\log p_\theta(x_0),$$
//
// in bits per dimension ($L / (784 \ln 2)$), exactly (all $T$ terms) and as an unbiased
// estimate over sampled $t$. The same Part II functions that the math chapters test, run on
// the network's noise predictions. Chapter: `chapters/15-likelihood.md`.

// %%
// Builds the ddpm library with burn (the U-Net, training, sampling); the first run
// compiles burn inside the kernel, which takes a while (see notebooks/README.md).
:dep ddpm = { path = "..", default-features = false, features = ["burn"] }

// %%
use ddpm::burn::prelude::*;
use ddpm::data::{load_embedded, Split};
use ddpm::workflows::measure::{variational_bound, BoundMode, BoundOptions, BoundReport};
use ddpm::workflows::eval_report::bound_terms_chart;
use ddpm::workflows::load_weights;

let device: Device = Device::flex();
let (model, config) = load_weights(std::path::Path::new("../weights/run-20min"), true, &device).unwrap();
let schedule = config.schedule.build().unwrap();
let test = load_embedded(Split::Test).unwrap();
println!("{} test digits, T = {}", test.len(), schedule.num_timesteps());

// %% [markdown]
// ## All $T$ terms for two test digits
//
// 1000 network calls per image. Both choices of $\sigma_t^2$ are scored on the same noise
// predictions; the parts add up to the total.

// %%
let exact: BoundReport = variational_bound(|x, t| model.forward(x, t), &schedule, &test,
    &BoundOptions { images: 2, mode: BoundMode::Exact, batch: 2, seed: 0 }, &device).unwrap();
for p in &exact.parts {
    println!("{:?}: {:.3} bits/dim = L_T {:.1e} + sum L_t-1 {:.3} + L_0 {:.3}",
        p.variance, p.bits_per_dim, p.prior_bpd, p.diffusion_bpd, p.decoder_bpd);
    assert!((p.bits_per_dim - (p.prior_bpd + p.diffusion_bpd + p.decoder_bpd)).abs() < 1e-9);
    assert!(p.bits_per_dim < 8.0, "worse than a uniform guess over 256 levels");
};

// %% [markdown]
// The per-timestep terms (entry $t-1$ is the term at timestep $t$; $t = 1$ is $L_0$): most of
// the bound is spent on the last few steps.

// %%
bound_terms_chart(&exact).unwrap()

// %% [markdown]
// ## The sampled estimate
//
// $L_T$ and $L_0$ exactly, $\sum_{t\ge2} L_{t-1}$ estimated as $(T-1)$ times the mean of $K$
// terms at uniformly drawn $t$: unbiased, $1 + K$ network calls per image instead of $T$, with a
// standard error over images and timesteps.

// %%
let sampled: BoundReport = variational_bound(|x, t| model.forward(x, t), &schedule, &test,
    &BoundOptions { images: 40, mode: BoundMode::Sampled { timesteps_per_image: 5 }, batch: 40, seed: 1 }, &device).unwrap();
for p in &sampled.parts {
    println!("{:?}: {:.3} +- {:.3} bits/dim ({} images, {} network calls each)",
        p.variance, p.bits_per_dim, p.standard_error, sampled.images, sampled.evaluations_per_image);
};
