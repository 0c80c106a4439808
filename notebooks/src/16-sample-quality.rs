// %% [markdown]
// # 16. Sample quality
//
// **Goal.** Measure "the samples look like digits" with the shipped MNIST classifier: the
// Fréchet distance in its feature space (FLD) to the test digits, beside a floor (real
// training digits) and a ceiling (noise) of the same size; the share of samples classified
// with confidence $\ge 0.9$; the entropy of the predicted labels ($\ln 10 \approx 2.303$ is
// uniform). Chapter: `chapters/16-sample-quality.md`.

// %%
// Builds the ddpm library with burn (the U-Net, training, sampling); the first run
// compiles burn inside the kernel, which takes a while (see notebooks/README.md).
:dep ddpm = { path = "..", default-features = false, features = ["burn"] }

// %%
use ddpm::burn::prelude::*;
use ddpm::data::{load_embedded, Split};
use ddpm::workflows::classifier_train::{accuracy, load_classifier};
use ddpm::workflows::eval_report::{evaluate, EvalSettings};
use ddpm::workflows::sample::Sampler;
use ddpm::workflows::images::sample_grid;
use ddpm::workflows::load_weights;

let device: Device = Device::flex();
let (model, config) = load_weights(std::path::Path::new("../weights/run-20min"), true, &device).unwrap();
let (classifier, _) = load_classifier(std::path::Path::new("../weights/classifier"), &device).unwrap();
let train = load_embedded(Split::Train).unwrap();
let test = load_embedded(Split::Test).unwrap();
let acc = accuracy(&classifier, &test, &device);
println!("classifier accuracy on the {} test digits: {:.2}%", test.len(), 100.0 * acc);
assert!(acc >= 0.98);

// %% [markdown]
// ## 200 samples against the floor and the ceiling
//
// DDIM with 10 steps and $\eta = 1$ (a cheap stochastic sampler; chapter 17 compares others).
// 200 images per row keep the notebook quick; the FLD is biased upwards at small sizes, which
// is why the floor and ceiling use the same number of images.

// %%
let settings = EvalSettings {
    bound: None,
    samples: 200,
    samplers: vec!["ddim:10:1".parse::<Sampler>().unwrap()],
    clip_x0: true,
    seed: 0,
    sample_batch: 200,
    keep_images: 32, // kept to look at below
};
let (_, quality) = evaluate(&model, &config, &classifier, &train, &test, &settings, &device, |s| println!("{s}")).unwrap();
let q = quality.unwrap();
// (A block: evcxr cannot keep references between cells.)
{
    let row = &q.samplers[0];
    for (name, r) in [("floor (train digits)", &q.floor), (row.sampler.as_str(), &row.quality), ("ceiling (noise)", &q.ceiling)] {
        println!("{name:<22} FLD {:>7.1}  confident {:>5.1}%  label entropy {:.3}  labels {:?}",
            r.fld, 100.0 * r.confident_share, r.label_entropy, r.label_histogram);
    }
    assert!(q.floor.fld < row.quality.fld && row.quality.fld < q.ceiling.fld);
};

// %% [markdown]
// The first 32 of the 200 samples that were scored:

// %%
sample_grid(&q.samplers[0].images, 32, 28, 8).unwrap()
