// %% [markdown]
// # 17. Samplers compared
//
// **Goal.** Trade network calls for quality: DDIM with few steps, deterministic ($\eta = 0$)
// and stochastic ($\eta = 1$), scored with chapter 16's statistics and timed. (Ancestral
// sampling with all 1000 steps takes minutes per hundred images on a CPU: the chapter's table
// has it; this notebook keeps to cheap samplers.) Chapter: `chapters/17-samplers.md`.

// %%
// Builds the ddpm library with burn (the U-Net, training, sampling); the first run
// compiles burn inside the kernel, which takes a while (see notebooks/README.md).
:dep ddpm = { path = "..", default-features = false, features = ["burn"] }

// %%
use ddpm::burn::prelude::*;
use ddpm::data::{load_embedded, Split};
use ddpm::workflows::classifier_train::load_classifier;
use ddpm::workflows::eval_report::{evaluate, EvalReport, EvalSettings};
use ddpm::workflows::sample::Sampler;
use ddpm::workflows::load_weights;

let device: Device = Device::flex();
let (model, config) = load_weights(std::path::Path::new("../weights/run-20min"), true, &device).unwrap();
let (classifier, _) = load_classifier(std::path::Path::new("../weights/classifier"), &device).unwrap();
let train = load_embedded(Split::Train).unwrap();
let test = load_embedded(Split::Test).unwrap();

// %%
let specs = ["ddim:5:0", "ddim:5:1", "ddim:10:0", "ddim:10:1"];
let settings = EvalSettings {
    bound: None,
    samples: 128,
    samplers: specs.iter().map(|s| s.parse::<Sampler>().unwrap()).collect(),
    clip_x0: true,
    seed: 0,
    sample_batch: 128,
    keep_images: 0,
};
let (_, quality) = evaluate(&model, &config, &classifier, &train, &test, &settings, &device, |s| println!("{s}")).unwrap();
let report = EvalReport { weights: "../weights/run-20min".into(), ema: true, params: model.num_params(), config: config.clone(), bound: None, quality, guide: None };
println!("{}", report.table());

// %% [markdown]
// FLD against network calls (log scale), one line per $\eta$ (lower is better; the dashed
// floor is what real digits score): `sampler_chart`, the function that draws chapter 17's
// figure from `ddpm eval` reports.

// %%
use ddpm::workflows::eval_report::sampler_chart;

// (A block: evcxr cannot keep references between cells.)
let chart = {
    let q = report.quality.as_ref().unwrap();
    sampler_chart(&q.samplers, q.floor.fld)
};
chart
