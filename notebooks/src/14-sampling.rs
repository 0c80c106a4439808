// %% [markdown]
// # 14. Sampling
//
// **Goal.** Turn noise into digits with the weights of chapter 13's 1,200-step run
// (`weights/run-20min/`, the default run of machine A): ancestral DDPM sampling
// (Ho et al. 2020, Algorithm 2, all $T = 1000$ steps) and DDIM (Song et al. 2021), whose
// deterministic update ($\eta = 0$)
//
// $$x_s = \sqrt{\bar\alpha_s}\,\hat x_0 + \sqrt{1-\bar\alpha_s}\;\epsilon_\theta(x_t, t),\qquad
// \hat x_0 = \frac{x_t - \sqrt{1-\bar\alpha_t}\,\epsilon_\theta(x_t, t)}{\sqrt{\bar\alpha_t}},$$
//
// can jump from $t$ to any earlier $s$, so a few dozen network calls replace 1000. No reference
// image is needed anywhere. Chapter: `chapters/14-sampling.md`.

// %%
// Builds the ddpm library with burn (the U-Net, training, sampling); the first run
// compiles burn inside the kernel, which takes a while (see notebooks/README.md).
:dep ddpm = { path = "..", default-features = false, features = ["burn"] }

// %%
use ddpm::burn::prelude::*;
use ddpm::diffusion::NoiseSchedule;
use ddpm::network::UNet;
use ddpm::workflows::images::{sample_grid, trajectory_grid};
use ddpm::workflows::load_weights;
use ddpm::workflows::sample::{sample, SampleOptions, Sampler, Samples, VarianceKind};
use ddpm::workflows::TrainingConfig;
use std::time::Instant;

let device: Device = Device::flex();
let (model, config): (UNet, TrainingConfig) = load_weights(std::path::Path::new("../weights/run-20min"), true, &device).unwrap();
let schedule: NoiseSchedule = config.schedule.build().unwrap();
println!("weights/run-20min: base {} channels, multipliers {:?}, T = {}",
    config.model.base_channels, config.model.channel_mults, schedule.num_timesteps());

// %% [markdown]
// ## DDPM against DDIM
//
// The same seed (so the same $x_T$) through ancestral sampling with $\sigma_t^2 = \beta_t$ (1000
// network calls) and DDIM with 10, 20 and 50 steps; $\hat x_0$ clipped to $[-1, 1]$. One row per
// sampler, top to bottom.

// %%
let samplers = [
    ("DDPM, 1000 steps", Sampler::Ancestral { variance: VarianceKind::Beta }),
    ("DDIM, 10 steps", Sampler::Ddim { steps: 10, eta: 0.0 }),
    ("DDIM, 20 steps", Sampler::Ddim { steps: 20, eta: 0.0 }),
    ("DDIM, 50 steps", Sampler::Ddim { steps: 50, eta: 0.0 }),
];
let mut rows: Vec<f32> = Vec::new();
for &(name, sampler) in &samplers {
    let options = SampleOptions { sampler, clip_x0: true, seed: 0, count: 4, frames: 0 };
    let start = Instant::now();
    let out = sample(&model, &schedule, 1, 28, &options, &device, |_, _| {}).unwrap();
    println!("{name:<17} {:>6.1} s for {} images", start.elapsed().as_secs_f64(), out.count);
    rows.extend(&out.images);
}
sample_grid(&rows, 16, 28, 4).unwrap()

// %% [markdown]
// ## A trajectory
//
// DDIM with 50 steps and 10 evenly spaced snapshots of $x_t$: each row is one image, from $x_T$
// on the left to $x_0$ on the right.

// %%
let options = SampleOptions { sampler: Sampler::Ddim { steps: 50, eta: 0.0 }, clip_x0: true, seed: 1, count: 6, frames: 10 };
let traced: Samples = sample(&model, &schedule, 1, 28, &options, &device, |_, _| {}).unwrap();
println!("{} snapshots (x_T and 10 along the way)", traced.frames.len());
assert_eq!(traced.frames.last().unwrap(), &traced.images);
trajectory_grid(&traced.frames, traced.count, 28).unwrap()

// %% [markdown]
// ## Same seed, same images
//
// All randomness (the starting noise and every noise draw) comes from one `ChaCha8Rng` seeded
// with `seed`, so a seed reproduces its images exactly; another seed gives others.

// %%
// (A block: evcxr cannot keep closures between cells.)
let (a, b, c): (Vec<f32>, Vec<f32>, Vec<f32>) = {
    let draw = |seed: u64| -> Vec<f32> {
        let options = SampleOptions { sampler: Sampler::Ddim { steps: 10, eta: 1.0 }, clip_x0: true, seed, count: 4, frames: 0 };
        sample(&model, &schedule, 1, 28, &options, &device, |_, _| {}).unwrap().images
    };
    (draw(3), draw(3), draw(4))
};
for (name, other) in [("seed 3 twice", &b), ("seed 3 vs 4 ", &c)] {
    let difference = a.iter().zip(other.iter()).fold(0.0f32, |m, (p, q)| m.max((p - q).abs()));
    println!("{name}: max pixel difference {difference}");
}
assert_eq!(a, b);
assert_ne!(a, c);

// %% [markdown]
// **What you should see.** DDPM costs 1000 network calls, DDIM 10 to 50, and the times are in
// proportion (DDPM takes about a minute for these 4 images of the `small` weights on a 2-core
// CPU, DDIM a few seconds). With $\eta = 0$ DDIM is a deterministic map from $x_T$, and the
// 10-, 20- and 50-step rows are almost the same images; the DDPM row, which adds fresh noise at
// every step, ends at other digits from the same $x_T$. With these briefly trained weights
// deterministic DDIM can leave a noisy background or a grey blob where DDPM's strokes are
// cleaner (chapter 17 compares samplers with numbers). In the trajectory the image stays noise
// for most of the chain and the stroke appears in the last third. The same seed reproduces the
// images bit for bit (with $\eta = 1$, so the noise draws are exercised too). Exercises:
// chapter 14.
