// %% [markdown]
// # 13. Training on MNIST
//
// **Goal.** Train $\epsilon_\theta$ with $L_\text{simple}$ (Ho et al. 2020, Algorithm 1 and
// Eq. (14)): draw $x_0$, $t \sim \mathcal U\{1..T\}$ and $\epsilon \sim \mathcal N(0, I)$, and
// regress $\epsilon$ from $x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\epsilon$:
//
// $$L_\text{simple} = \mathbb E\big[\lVert\epsilon - \epsilon_\theta(x_t, t)\rVert^2\big].$$
//
// We train the `tiny` preset for 200 steps (a couple of minutes on a CPU), look at the loss
// and at its samples, then sample the weights of chapter 13's 1,200-step run (the default run
// of machine A), kept in `weights/run-20min/` (a longer run; its `config.json` says which preset
// and how long).
// Chapter: `chapters/13-training.md`.

// %%
// Builds the ddpm library with burn (the U-Net, training, sampling); the first run
// compiles burn inside the kernel, which takes a while (see notebooks/README.md).
:dep ddpm = { path = "..", default-features = false, features = ["burn"] }

// %% [markdown]
// ## A short run
//
// `train` writes a run folder (config, `loss.csv`, sample grid, checkpoint, weights) and
// returns a report with the per-step losses. The folder goes to the system's temp directory.

// %%
use ddpm::burn::prelude::*;
use ddpm::network::UNetConfig;
use ddpm::workflows::train::{train, TrainOptions, TrainReport};
use ddpm::workflows::{RunLayout, ScheduleConfig, TrainingConfig};

let config: TrainingConfig = TrainingConfig::new(UNetConfig::tiny(), ScheduleConfig::linear_1000(), 200)
    .with_batch(8)
    .with_lr(2e-3)
    .with_warmup_steps(50)
    .with_ema_decay(0.995)
    .with_sample_every(0) // one sample grid, at the end
    .with_sample_steps(20)
    .with_checkpoint_every(0); // one checkpoint, at the end
let run_dir = std::env::temp_dir().join(format!("ddpm-notebook-13-{}", std::process::id()));
let _ = std::fs::remove_dir_all(&run_dir); // `train` refuses to overwrite an existing run
let report: TrainReport = train(&config, &TrainOptions {
    run_dir: run_dir.clone(), resume: false, progress: false,
    device: Device::flex(), peers: Vec::new(),
}).unwrap();
println!("{} steps of batch {} in {:.1} s ({:.2} s a step)", report.steps, config.batch,
    report.seconds, report.seconds / report.steps as f64);
let layout = RunLayout::new(&run_dir);
for path in [layout.config(), layout.loss_csv(), layout.sample_grid(200), layout.model_ema()] {
    println!("wrote {}", path.display());
};

// %% [markdown]
// ## The loss
//
// At initialisation the prediction is unrelated to $\epsilon$ and the loss is about
// $\mathbb E[\epsilon_i^2] = 1$ (as for a network that always predicts 0); everything below 1 is
// learned.

// %%
use ddpm::figures::{LineChart, Series};

let losses: Vec<(f64, f64)> = report.losses.iter().enumerate().map(|(i, &l)| ((i + 1) as f64, f64::from(l))).collect();
let (first, last): (f64, f64) = {
    let mean = |points: &[(f64, f64)]| points.iter().map(|p| p.1).sum::<f64>() / points.len() as f64;
    (mean(&losses[..50]), mean(&losses[losses.len() - 50..]))
};
println!("mean loss, steps 1-50: {first:.4}; steps 151-200: {last:.4}");
assert!(last < 0.5 * first, "the loss did not fall by half: {first} -> {last}");
LineChart::new("L_simple per step (tiny preset, batch 8)", "step", "loss")
    .series(Series::line("loss of the batch", losses.clone()))

// %% [markdown]
// ## Samples of the short run
//
// A run folder is also a weights folder: `load_weights` rebuilds the network from its
// `config.json` and loads the EMA weights. 16 images with DDIM, 20 steps, $\eta = 0$ (chapter 14):
// after 200 steps expect blobs and strokes, not digits.

// %%
use ddpm::workflows::images::sample_grid;
use ddpm::workflows::load_weights;
use ddpm::workflows::sample::{sample, SampleOptions, Sampler, Samples};

let device: Device = Device::flex();
let options = SampleOptions { sampler: Sampler::Ddim { steps: 20, eta: 0.0 }, clip_x0: true, seed: 1, count: 16, frames: 0 };
let run_samples: Samples = {
    let (model, trained) = load_weights(&run_dir, true, &device).unwrap();
    let schedule = trained.schedule.build().unwrap();
    sample(&model, &schedule, trained.model.image_channels, trained.model.image_size, &options, &device, |_, _| {}).unwrap()
};
sample_grid(&run_samples.images, run_samples.count, 28, 8).unwrap()

// %% [markdown]
// ## Samples of the 1,200-step run
//
// The same sampler and seed on `weights/run-20min/`, the weights of the 1,200-step run (the
// first line says with which network and for how long):

// %%
let default_run_samples: Samples = {
    let (model, trained) = load_weights(std::path::Path::new("../weights/run-20min"), true, &device).unwrap();
    println!("weights/run-20min: base {} channels, multipliers {:?}, {} steps of batch {}",
        trained.model.base_channels, trained.model.channel_mults, trained.steps, trained.batch);
    let schedule = trained.schedule.build().unwrap();
    sample(&model, &schedule, trained.model.image_channels, trained.model.image_size, &options, &device, |_, _| {}).unwrap()
};
sample_grid(&default_run_samples.images, default_run_samples.count, 28, 8).unwrap()

// %% [markdown]
// **What you should see.** The loss falls from about 1 to well under 0.1 within the 200
// steps (mean 0.49 over steps 1-50, 0.071 over steps 151-200; the run is seeded, so these
// numbers repeat). The short run's samples are noisy blobs and strokes; the 1,200-step run's
// weights give white strokes on black with the shape of handwriting, some of them readable
// digits.
// Longer runs and larger presets do better (chapter 13).
//
// The run folder was only for this notebook; the last cell removes it (skip that cell to keep
// it and look at `loss.csv`, `config.json` and the sample grid).

// %%
std::fs::remove_dir_all(&run_dir).unwrap();
println!("removed {}", run_dir.display());
