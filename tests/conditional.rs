//! Chapter 18: class-conditional diffusion with classifier-free guidance. The null label is
//! the unconditional path of the same weights, guidance at w = 0 is the conditional
//! prediction and at w = 2 is 3 eps(y) - 2 eps(null) computed by two separate passes, label
//! dropout happens at the configured rate, bad labels are refused with messages, old configs
//! and the 1,200-step run's weights (`weights/run-20min`) still load, and a tiny conditional
//! run trains, resumes and samples.

use std::path::PathBuf;
use std::sync::Mutex;

use burn::prelude::*;
use ddpm::network::conditional::{LabelError, check_label, label_tensor, parse_label};
use ddpm::network::{Guided, LabelEmbedding, NoisePredictor, UNetConfig, guided_noise};
use ddpm::workflows::conditional::{
    apply_conditioning, digit_rows, drop_labels, requested_labels, requested_share,
};
use ddpm::workflows::sample::{SampleOptions, Sampler};
use ddpm::workflows::train::{TrainOptions, train};
use ddpm::workflows::{RUN_20MIN_WEIGHTS_DIR, ScheduleConfig, TrainingConfig, load_weights};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// burn's CPU generator is process-global: tests that draw from it take this lock.
static LOCK: Mutex<()> = Mutex::new(());

/// The lock, also after a test that held it failed (so one failure is reported once).
fn lock() -> std::sync::MutexGuard<'static, ()> {
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn device() -> Device {
    Device::flex()
}

fn to_vec<const D: usize>(x: Tensor<D>) -> Vec<f32> {
    x.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// A batch of 4 inputs (fixed pixel patterns) at timesteps 1, 10, 500, 1000.
fn inputs_on(d: &Device) -> (Tensor<4>, Tensor<1>) {
    let pixels: Vec<f32> = (0..4 * 784)
        .map(|i| ((i % 29) as f32 / 14.0) - 1.0)
        .collect();
    let x = Tensor::<4>::from_data(TensorData::new(pixels, [4, 1, 28, 28]), d);
    let t = Tensor::<1>::from_data(TensorData::new(vec![1.0f32, 10.0, 500.0, 1000.0], [4]), d);
    (x, t)
}

fn inputs() -> (Tensor<4>, Tensor<1>) {
    inputs_on(&device())
}

#[test]
fn the_null_label_is_the_unconditional_network_with_the_same_weights() {
    let _guard = lock();
    let d = device();
    d.seed(3);
    let unconditional = UNetConfig::tiny().init(&d).unwrap();
    // The same weights with a label table attached, rows drawn from N(0, 1) so that a real
    // label changes the output visibly.
    let table = Tensor::<2>::random([10, 32], burn::tensor::Distribution::Normal(0.0, 1.0), &d);
    let conditional = unconditional.clone().into_conditional(10, &d);
    assert_eq!(conditional.num_classes(), Some(10));
    let conditional = {
        // Replace the fresh table by the N(0, 1) one through a save/load-free route: build a
        // network whose embedding is `table` and compare through `forward_conditional`.
        let mut c = conditional;
        c = c.with_label_embedding(LabelEmbedding::from_table(table));
        c
    };
    let (x, t) = inputs();
    let plain = to_vec(unconditional.forward(x.clone(), t.clone()));
    let null =
        to_vec(conditional.forward_conditional(x.clone(), t.clone(), label_tensor(&[10; 4], &d)));
    // e_null = 0 exactly, so the two paths add the same numbers: equal to float rounding.
    assert!(
        max_abs_diff(&plain, &null) < 1e-6,
        "{}",
        max_abs_diff(&plain, &null)
    );
    // A real label does change the prediction (the test above could not pass by ignoring it).
    let three = to_vec(conditional.forward_conditional(x, t, label_tensor(&[3; 4], &d)));
    assert!(
        max_abs_diff(&plain, &three) > 1e-3,
        "{}",
        max_abs_diff(&plain, &three)
    );
}

#[test]
fn guided_noise_is_one_plus_w_times_conditional_minus_w_times_unconditional() {
    let d = device();
    let c = Tensor::<4>::from_data(
        TensorData::new(vec![1.0f32, -2.0, 0.5, 3.0], [1, 1, 2, 2]),
        &d,
    );
    let u = Tensor::<4>::from_data(
        TensorData::new(vec![0.0f32, 1.0, 0.5, -1.0], [1, 1, 2, 2]),
        &d,
    );
    // w = 0: the conditional prediction, exactly.
    assert_eq!(
        to_vec(guided_noise(c.clone(), u.clone(), 0.0)),
        vec![1.0, -2.0, 0.5, 3.0]
    );
    // w = -1: the unconditional one.
    assert_eq!(
        to_vec(guided_noise(c.clone(), u.clone(), -1.0)),
        vec![0.0, 1.0, 0.5, -1.0]
    );
    // w = 2: 3c - 2u, by hand: 3 - 0, -6 - 2, 1.5 - 1, 9 + 2.
    assert_eq!(to_vec(guided_noise(c, u, 2.0)), vec![3.0, -8.0, 0.5, 11.0]);
}

#[test]
fn guided_network_at_w_0_is_the_conditional_prediction_and_at_w_2_extrapolates() {
    let _guard = lock();
    let d = device();
    d.seed(5);
    let config = UNetConfig::tiny().with_num_classes(Some(10));
    let model = config.init(&d).unwrap();
    let model = model.with_label_embedding(LabelEmbedding::from_table(Tensor::<2>::random(
        [10, 32],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &d,
    )));
    let (x, t) = inputs();
    let labels = vec![7, 0, 3, 9];
    let conditional =
        to_vec(model.forward_conditional(x.clone(), t.clone(), label_tensor(&labels, &d)));
    let unconditional =
        to_vec(model.forward_conditional(x.clone(), t.clone(), label_tensor(&[10; 4], &d)));
    let w0 = to_vec(
        Guided::new(&model, labels.clone(), 0.0)
            .unwrap()
            .predict_noise(x.clone(), t.clone()),
    );
    assert!(max_abs_diff(&w0, &conditional) < 1e-6);
    // w = 2 from the batched pass against 3 eps(y) - 2 eps(null) from the two separate passes.
    let w2 = to_vec(
        Guided::new(&model, labels, 2.0)
            .unwrap()
            .predict_noise(x, t),
    );
    let by_hand: Vec<f32> = conditional
        .iter()
        .zip(&unconditional)
        .map(|(c, u)| 3.0 * c - 2.0 * u)
        .collect();
    assert!(
        max_abs_diff(&w2, &by_hand) < 1e-4,
        "{}",
        max_abs_diff(&w2, &by_hand)
    );
    assert!(max_abs_diff(&w2, &conditional) > 1e-3);
}

#[test]
fn label_dropout_happens_at_the_configured_rate() {
    // 100,000 labels at p = 0.1: the count of null labels is Binomial(n, p), standard error
    // sqrt(n p (1 - p)) = 94.9; the dropped ones are exactly the null ones, the rest keep
    // their label.
    for (p, seed) in [(0.1, 0u64), (0.25, 1), (0.0, 2)] {
        let n = 100_000;
        let labels: Vec<usize> = (0..n).map(|i| i % 10).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let dropped = drop_labels(&labels, p, 10, &mut rng);
        let nulls = dropped.iter().filter(|&&y| y == 10).count() as f64;
        let se = (n as f64 * p * (1.0 - p)).sqrt();
        let expected = n as f64 * p;
        assert!(
            (nulls - expected).abs() <= 4.0 * se.max(1e-9),
            "p = {p}: {nulls} nulls, expected {expected} +- 4 x {se:.1}"
        );
        for (kept, original) in dropped.iter().zip(&labels) {
            assert!(kept == original || *kept == 10);
        }
    }
}

#[test]
fn bad_labels_are_refused_with_a_message() {
    for (text, needle) in [
        ("10", "out of range"),
        ("-1", "out of range"),
        ("seven", "not a number"),
        ("7.5", "not a number"),
        ("", "not a number"),
    ] {
        let err = parse_label(text, 10).unwrap_err();
        let message = err.to_string();
        assert!(message.contains(needle), "{text:?}: {message}");
        assert!(message.contains("0 to 9"), "{text:?}: {message}");
    }
    assert_eq!(parse_label(" 0 ", 10), Ok(0));
    assert_eq!(parse_label("9", 10), Ok(9));
    assert!(check_label(10, 10).is_err());
    // --digit on an unconditional network.
    let err = requested_labels(None, Some("3"), 4).unwrap_err();
    assert_eq!(err, LabelError::Unconditional);
    assert!(err.to_string().contains("--conditional"));
    // Guided refuses labels out of range and unconditional networks.
    let d = device();
    let unconditional = UNetConfig::tiny().init(&d).unwrap();
    assert_eq!(
        Guided::new(&unconditional, vec![1], 1.0).unwrap_err(),
        LabelError::Unconditional
    );
    let conditional = unconditional.into_conditional(10, &d);
    assert!(matches!(
        Guided::new(&conditional, vec![1, 10], 1.0).unwrap_err(),
        LabelError::OutOfRange { label: 10, .. }
    ));
    // --label-dropout without --conditional, and out of [0, 1).
    let mut config = tiny(1);
    assert!(
        apply_conditioning(&mut config, false, Some(0.1), 10)
            .unwrap_err()
            .contains("--conditional")
    );
    apply_conditioning(&mut config, true, Some(1.5), 10).unwrap();
    assert!(
        config
            .validate()
            .unwrap_err()
            .to_string()
            .contains("label_dropout")
    );
}

#[test]
fn the_sample_grid_has_one_row_per_digit() {
    assert_eq!(digit_rows(3, 2), vec![0, 0, 1, 1, 2, 2]);
    let labels = requested_labels(Some(10), None, 64).unwrap().unwrap();
    assert_eq!(labels.len(), 60); // 6 per digit
    assert_eq!(&labels[..7], &[0, 0, 0, 0, 0, 0, 1]);
    assert_eq!(
        requested_labels(Some(10), None, 3).unwrap().unwrap().len(),
        10
    );
}

#[test]
fn requested_share_counts_the_top_class() {
    // Three images asked to be 0, 0, 1; the classifier's top classes are 0, 1, 1.
    let p = ndarray::arr2(&[[0.9, 0.1], [0.4, 0.6], [0.2, 0.8]]);
    let (all, per) = requested_share(p.view(), &[0, 0, 1], 2);
    assert!((all - 2.0 / 3.0).abs() < 1e-12);
    assert_eq!(per, vec![0.5, 1.0]);
}

#[test]
fn configs_without_conditioning_and_the_default_runs_weights_still_load() {
    // weights/run-20min/config.json predates num_classes, label_dropout and init_weights.
    let (model, config) =
        load_weights(&PathBuf::from(RUN_20MIN_WEIGHTS_DIR), true, &device()).unwrap();
    assert_eq!(config.model.num_classes, None);
    assert_eq!(config.label_dropout, None);
    assert_eq!(config.init_weights, None);
    assert_eq!(model.num_classes(), None);
}

fn tiny(steps: usize) -> TrainingConfig {
    TrainingConfig::new(UNetConfig::tiny(), ScheduleConfig::linear_1000(), steps)
        .with_batch(8)
        .with_lr(2e-3)
        .with_warmup_steps(5)
        .with_max_images(256)
        .with_sample_every(0)
        .with_sample_steps(2)
        .with_checkpoint_every(0)
        .with_seed(7)
}

#[test]
fn a_tiny_conditional_run_trains_saves_and_samples_digits() {
    let _guard = lock();
    let dir = std::env::temp_dir().join(format!("ddpm-conditional-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut config = tiny(6);
    apply_conditioning(&mut config, true, None, 10).unwrap();
    assert_eq!(config.model.num_classes, Some(10));
    assert_eq!(config.label_dropout, Some(0.1));
    let options = TrainOptions {
        run_dir: dir.clone(),
        resume: false,
        progress: false,
        device: device(),
        peers: Vec::new(),
    };
    let report = train(&config, &options).unwrap();
    assert!(report.losses.iter().all(|l| l.is_finite()));
    // config.json records the conditioning, and the weights reload as a conditional network.
    let (model, saved) = load_weights(&dir, true, &device()).unwrap();
    assert_eq!(saved.model.num_classes, Some(10));
    assert_eq!(saved.label_dropout, Some(0.1));
    assert_eq!(model.num_classes(), Some(10));
    let options = SampleOptions {
        sampler: Sampler::Ddim { steps: 2, eta: 0.0 },
        clip_x0: true,
        seed: 0,
        count: 0,
        frames: 0,
    };
    let samples = ddpm::workflows::conditional::sample_digits(
        &model,
        &saved,
        vec![7, 7, 2],
        2.0,
        &options,
        &device(),
        |_, _| {},
    )
    .unwrap();
    assert_eq!(samples.count, 3);
    assert!(samples.images.iter().all(|v| v.is_finite()));
    // Fine-tuning: an unconditional run's weights start a conditional one.
    let uncond_dir = dir.join("uncond");
    train(
        &tiny(2),
        &TrainOptions {
            run_dir: uncond_dir.clone(),
            ..options_for(&dir)
        },
    )
    .unwrap();
    let mut from = tiny(2);
    apply_conditioning(&mut from, true, Some(0.2), 10).unwrap();
    from.init_weights = Some(uncond_dir.display().to_string());
    train(
        &from,
        &TrainOptions {
            run_dir: dir.join("finetuned"),
            ..options_for(&dir)
        },
    )
    .unwrap();
    // A mismatched network is refused with a message.
    let mut bad = from.clone();
    bad.model.base_channels = 16;
    let err = train(
        &bad,
        &TrainOptions {
            run_dir: dir.join("bad"),
            ..options_for(&dir)
        },
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("same preset"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn options_for(dir: &std::path::Path) -> TrainOptions {
    TrainOptions {
        run_dir: dir.to_path_buf(),
        resume: false,
        progress: false,
        device: device(),
        peers: Vec::new(),
    }
}

#[test]
fn training_reaches_the_rows_of_the_labels_used_and_not_the_null_class() {
    // The label table must be a trainable parameter: the loss's gradient reaches the rows of
    // the labels in the batch, and no other row (the null class has no row at all).
    let _guard = lock();
    let d = device().autodiff();
    d.seed(11);
    let model = UNetConfig::tiny()
        .with_num_classes(Some(10))
        .init(&d)
        .unwrap();
    let (x, t) = inputs_on(&d);
    let loss = model
        .forward_conditional(x, t, label_tensor(&[2, 5, 10, 2], &d))
        .square()
        .mean();
    let grads = burn::optim::GradientsParams::from_grads(loss.backward(), &model);
    let table = model.label_embedding().unwrap();
    let g = grads
        .get::<2>(table.weight.id)
        .expect("the label table receives a gradient");
    let g = g.into_data().convert::<f32>().try_to_vec::<f32>().unwrap(); // [10, 32]
    let row_norm = |r: usize| g[r * 32..(r + 1) * 32].iter().map(|v| v.abs()).sum::<f32>();
    for row in 0..10 {
        if row == 2 || row == 5 {
            assert!(row_norm(row) > 0.0, "row {row} got no gradient");
        } else {
            assert_eq!(row_norm(row), 0.0, "row {row} was not in the batch");
        }
    }
}
