//! Chapter 13: training. A seeded tiny run whose loss falls, same seed -> same run, resume ==
//! uninterrupted, a diverging run stops with a clear error and keeps its checkpoint, bad
//! configurations and damaged weights are refused with messages.
//!
//! burn's CPU random generator is process-global, so the tests that train take a lock.

mod grad_support;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use burn::prelude::*;
use ddpm::network::ScheduleTensors;
use ddpm::network::UNetConfig;
use ddpm::workflows::checkpoint::optimizer;
use ddpm::workflows::config::LrSchedule;
use ddpm::workflows::train::{Batch, TrainError, TrainOptions, init_model, train, train_step};
use ddpm::workflows::{RunLayout, ScheduleConfig, TrainingConfig, load_weights};

static LOCK: Mutex<()> = Mutex::new(());

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ddpm-training-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
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

fn options(dir: &Path, resume: bool) -> TrainOptions {
    TrainOptions {
        run_dir: dir.to_path_buf(),
        resume,
        progress: false,
        device: Device::flex(),
        peers: Vec::new(),
    }
}

/// Asserts that `train` refuses `config` with an error that names `field`, before it creates
/// the run folder `dir`.
fn assert_refused(config: &TrainingConfig, dir: &Path, field: &str) {
    let err = train(config, &options(dir, false)).unwrap_err().to_string();
    assert!(err.contains(field), "{err}");
    assert!(!dir.exists(), "{} was created", dir.display());
}

/// The configuration of the run in `dir` after deleting `field` from its config.json, as a
/// config.json written before the field existed reads (written before checksums too: its
/// `sha256` goes with it, since an edited file with a checksum is refused as damaged).
fn reload_without(dir: &Path, field: &str) -> TrainingConfig {
    let layout = RunLayout::new(dir);
    let text = std::fs::read_to_string(layout.config()).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let object = json.as_object_mut().unwrap();
    assert!(object.remove(field).is_some(), "{field} in {text}");
    assert!(object.remove("sha256").is_some(), "a checksum in {text}");
    std::fs::write(layout.config(), json.to_string()).unwrap();
    load_weights(dir, true, &Device::flex()).unwrap().1
}

fn outputs(dir: &Path) -> Vec<f32> {
    let device = Device::flex();
    let (model, _) = load_weights(dir, true, &device).unwrap();
    let x = Tensor::<4>::from_data(
        TensorData::new(
            (0..2 * 784)
                .map(|i| ((i % 17) as f32 / 8.0) - 1.0)
                .collect::<Vec<_>>(),
            [2, 1, 28, 28],
        ),
        &device,
    );
    let out = model.forward(x, Tensor::from_floats([5.0, 500.0], &device));
    out.into_data().convert::<f32>().try_to_vec().unwrap()
}

#[test]
fn seeded_tiny_run_loss_falls() {
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tmp("falls");
    let report = train(&tiny(120), &options(&dir, false)).unwrap();
    let first: f32 = report.losses[..10].iter().sum::<f32>() / 10.0;
    let last: f32 = report.losses[100..].iter().sum::<f32>() / 20.0;
    // At initialisation the prediction is ~uncorrelated with eps: loss ~ 1 (E||eps||^2 / d).
    assert!(first > 0.5, "first losses {first}");
    assert!(
        last < 0.8 * first,
        "loss did not fall: first {first}, last {last}"
    );
    // The run folder has its layout.
    let layout = RunLayout::new(&dir);
    for path in [
        layout.config(),
        layout.loss_csv(),
        layout.model(),
        layout.model_ema(),
        layout.loss_plot(),
        report.final_grid.clone(),
    ] {
        assert!(path.exists(), "missing {}", path.display());
    }
    let csv = std::fs::read_to_string(layout.loss_csv()).unwrap();
    assert_eq!(csv.lines().count(), 121);
    // Reading the CSV back gives the losses the run reported.
    let read = ddpm::workflows::loss::read_loss_csv(&layout.loss_csv()).unwrap();
    assert_eq!(read.len(), 120);
    assert_eq!(read[0].0, 1);
    assert!((read[119].1 - f64::from(report.losses[119])).abs() < 1e-6);
    let bad = dir.join("bad.csv");
    std::fs::write(&bad, "step,loss\n1,0.5\n2,oops\n").unwrap();
    let err = ddpm::workflows::loss::read_loss_csv(&bad)
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 3"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn same_seed_same_run_and_resume_equals_uninterrupted() {
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let mut config = tiny(12).with_checkpoint_every(6);
    config.model = UNetConfig::tiny().with_dropout(0.1);
    let a = tmp("a");
    let b = tmp("b");
    let c = tmp("c");
    let run_a = train(&config, &options(&a, false)).unwrap();
    let run_b = train(&config, &options(&b, false)).unwrap();
    assert_eq!(
        run_a.losses, run_b.losses,
        "same seed must give the same losses"
    );
    assert_eq!(outputs(&a), outputs(&b));

    // Interrupted after 6 steps (a 6-step run of the same config), then resumed to 12.
    let mut six = config.clone();
    six.steps = 6;
    train(&six, &options(&c, false)).unwrap();
    // `--resume --steps 12`: only the step count may differ from the saved config.
    let resumed = train(&config, &options(&c, true)).unwrap();
    assert_eq!(resumed.steps_this_session, 6);
    assert_eq!(
        &run_a.losses[6..],
        &resumed.losses[..],
        "resumed losses differ"
    );
    let (oa, oc) = (outputs(&a), outputs(&c));
    for (x, y) in oa.iter().zip(&oc) {
        assert!((x - y).abs() <= 1e-6, "{x} vs {y}");
    }
    let csv_a = std::fs::read_to_string(RunLayout::new(&a).loss_csv()).unwrap();
    let csv_c = std::fs::read_to_string(RunLayout::new(&c).loss_csv()).unwrap();
    assert_eq!(csv_a, csv_c);
    for d in [a, b, c] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn diverging_run_stops_and_keeps_its_checkpoint() {
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tmp("nan");
    // An absurd learning rate with clipping disabled blows the weights up after one step.
    let config = tiny(5)
        .with_lr(1e30)
        .with_warmup_steps(0)
        .with_grad_clip_norm(f64::MAX)
        .with_checkpoint_every(1);
    let err = train(&config, &options(&dir, false)).unwrap_err();
    let TrainError::NonFinite {
        step, checkpoint, ..
    } = &err
    else {
        panic!("expected NonFinite, got {err}");
    };
    assert!(*step >= 2);
    let checkpoint = checkpoint.clone().expect("step 1 was checkpointed");
    assert!(checkpoint.join("model.bpk").exists());
    assert!(err.to_string().contains("--resume"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_settings_are_refused_with_messages() {
    let dir = tmp("bad");
    let mut zero_t = tiny(5);
    zero_t.schedule = ScheduleConfig::new(
        ddpm::diffusion::schedule::BetaSchedule::Linear {
            beta_start: 1e-4,
            beta_end: 0.02,
        },
        0,
    );
    let err = train(&zero_t, &options(&dir, false)).unwrap_err();
    assert!(err.to_string().contains("num_timesteps"), "{err}");
    let mut groups = tiny(5);
    groups.model = UNetConfig::tiny().with_norm_groups(3);
    let err = train(&groups, &options(&dir, false)).unwrap_err();
    assert!(err.to_string().contains("norm_groups"), "{err}");
    let decay = tiny(5).with_ema_decay(1.5);
    assert!(
        train(&decay, &options(&dir, false))
            .unwrap_err()
            .to_string()
            .contains("ema_decay")
    );
    assert!(!dir.exists(), "nothing is written for a refused config");
}

#[test]
fn damaged_or_mismatched_weights_are_refused() {
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tmp("damaged");
    train(&tiny(2), &options(&dir, false)).unwrap();
    let layout = RunLayout::new(&dir);
    let device = Device::flex();
    assert!(load_weights(&dir, true, &device).is_ok());
    // A config that describes another network.
    let mut other = tiny(2);
    other.model = UNetConfig {
        base_channels: 16,
        ..UNetConfig::tiny()
    };
    ddpm::workflows::checkpoint::write_config(&layout.config(), &other).unwrap();
    let err = load_weights(&dir, true, &device).unwrap_err().to_string();
    assert!(err.contains("another network"), "{err}");
    // A truncated weights file.
    ddpm::workflows::checkpoint::write_config(&layout.config(), &tiny(2)).unwrap();
    let bytes = std::fs::read(layout.model_ema()).unwrap();
    std::fs::write(layout.model_ema(), &bytes[..bytes.len() / 2]).unwrap();
    let err = load_weights(&dir, true, &device).unwrap_err().to_string();
    assert!(err.contains("damaged"), "{err}");
    // Not a weights folder at all.
    let err = load_weights(&dir.join("samples"), true, &device)
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a weights folder"), "{err}");
    // Starting a second run into the same folder is refused.
    let err = train(&tiny(2), &options(&dir, false)).unwrap_err();
    assert!(matches!(err, TrainError::RunExists(..)), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn channel_multipliers_from_the_command_line() {
    // `ddpm train --channel-mults` changes the network the run builds and records it in
    // config.json (sampling and evaluation rebuild the network from that file); a bad list is
    // refused before anything is written.
    let ddpm = env!("CARGO_BIN_EXE_ddpm");
    let bad = tmp("cli-bad-mults");
    for (list, expected) in [
        ("1,two", "--channel-mults 1,two"),
        ("1,0", "channel multiplier"),
    ] {
        let output = std::process::Command::new(ddpm)
            .args(["train", "--preset", "tiny", "--channel-mults", list])
            .arg("--run-dir")
            .arg(&bad)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success() && stderr.contains(expected),
            "--channel-mults {list}: {stderr}"
        );
    }
    assert!(
        !bad.exists(),
        "a refused configuration still created {}",
        bad.display()
    );

    let dir = tmp("cli-mults");
    let output = std::process::Command::new(ddpm)
        .args([
            "train",
            "--preset",
            "tiny",
            "--channel-mults",
            "1,2,4",
            "--steps",
            "1",
        ])
        .args([
            "--batch",
            "2",
            "--sample-every",
            "0",
            "--checkpoint-every",
            "0",
        ])
        .arg("--run-dir")
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let device = Device::flex();
    // load_weights reads config.json and builds the network it describes.
    let (model, loaded) = load_weights(&dir, true, &device).unwrap();
    assert_eq!(loaded.model.channel_mults, vec![1, 2, 4]);
    // Three levels: 28 -> 14 -> 7, and the network still maps an image to an image.
    let x = Tensor::<4>::zeros([1, 1, 28, 28], &device);
    let t = Tensor::<1>::from_data(TensorData::new(vec![10.0f32], [1]), &device);
    assert_eq!(model.forward(x, t).dims(), [1, 1, 28, 28]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn width_depth_and_dropout_from_the_command_line() {
    // `--base-channels`, `--res-blocks` and `--dropout` override the preset's network and are
    // recorded in config.json; a value the network cannot be built with is refused before
    // anything is written, with the reason.
    let ddpm = env!("CARGO_BIN_EXE_ddpm");
    let bad = tmp("cli-bad-width");
    for (flags, expected) in [
        (["--base-channels", "7"], "must be even"),
        // tiny's GroupNorm has 4 groups: 6 channels cannot be split into them.
        (["--base-channels", "6"], "GroupNorm cannot split"),
        (["--res-blocks", "0"], "num_res_blocks must be at least 1"),
        (["--dropout", "1.5"], "dropout must lie in [0, 1)"),
    ] {
        let output = std::process::Command::new(ddpm)
            .args(["train", "--preset", "tiny"])
            .args(flags)
            .arg("--run-dir")
            .arg(&bad)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success() && stderr.contains(expected),
            "{flags:?}: expected {expected:?} in: {stderr}"
        );
    }
    assert!(
        !bad.exists(),
        "a refused configuration still created {}",
        bad.display()
    );

    let dir = tmp("cli-width");
    let output = std::process::Command::new(ddpm)
        .args(["train", "--preset", "tiny", "--steps", "1", "--batch", "2"])
        .args([
            "--base-channels",
            "12",
            "--res-blocks",
            "2",
            "--dropout",
            "0.25",
        ])
        .args(["--sample-every", "0", "--checkpoint-every", "0"])
        .arg("--run-dir")
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let device = Device::flex();
    let (model, loaded) = load_weights(&dir, true, &device).unwrap();
    assert_eq!(loaded.model.base_channels, 12);
    assert_eq!(loaded.model.num_res_blocks, 2);
    assert_eq!(loaded.model.dropout, 0.25);
    // Dropout takes one thread (the threads would share one random generator).
    assert_eq!(loaded.threads, None);
    let tiny = UNetConfig::tiny();
    let expected = UNetConfig {
        base_channels: 12,
        num_res_blocks: 2,
        dropout: 0.25,
        ..tiny.clone()
    };
    assert_eq!(loaded.model, expected);
    assert!(
        model.num_params() > tiny.init(&device).unwrap().num_params(),
        "a wider, deeper network has more parameters than tiny"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn ddpm_train_without_flags_is_the_default_run_and_one_thread_where_two_cannot_work() {
    // `ddpm train` computes each step in two threads (TrainingConfig::default_run), except
    // where two threads cannot work or gain nothing: a network with dropout (`paper`), a batch
    // of one image, --devices (one share per device).
    let ddpm = env!("CARGO_BIN_EXE_ddpm");
    let written = |name: &str, extra: &[&str]| {
        let dir = tmp(name);
        let output = std::process::Command::new(ddpm)
            .args(["train", "--steps", "1", "--sample-every", "0"])
            .args(["--checkpoint-every", "0", "--sampler", "ddim:2:1"])
            .args(extra)
            .arg("--run-dir")
            .arg(&dir)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{extra:?}: {stderr}");
        let config = ddpm::workflows::checkpoint::read_config(&dir.join("config.json")).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        config
    };
    let mut expected = TrainingConfig::default_run();
    expected.steps = 1;
    expected.sample_every = 0;
    expected.checkpoint_every = 0;
    expected.sample_steps = 2;
    expected.batch = 2;
    expected.model = UNetConfig::tiny();
    assert_eq!(
        written("default-flags", &["--preset", "tiny", "--batch", "2"]),
        expected
    );
    assert_eq!(expected.threads, Some(2));
    let one_image = written("default-one-image", &["--preset", "tiny", "--batch", "1"]);
    assert_eq!(one_image.threads, None);
    let dropout = written("default-dropout", &["--preset", "paper", "--batch", "2"]);
    assert!(dropout.model.dropout > 0.0);
    assert_eq!(dropout.threads, None);
    let devices = written(
        "default-devices",
        &["--preset", "tiny", "--batch", "2", "--devices", "cpu"],
    );
    assert_eq!(devices.threads, None);
    let asked = written(
        "default-asked",
        &["--preset", "tiny", "--batch", "2", "--threads", "1"],
    );
    assert_eq!(asked.threads, Some(1));
}

#[test]
fn loss_weights_multiply_each_example_by_the_weight_of_its_t() {
    // train_step's reported loss (before its update) with weights w is the mean over examples
    // and pixels of w[t - 1] * (eps - eps_theta)^2, and without weights the plain mean
    // (L_simple); the per-example errors are computed here from the same network. The weights
    // w[t - 1] = t make an off-by-one slot or a weight applied to the wrong example visible.
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let config = tiny(1);
    let device = Device::flex().autodiff();
    let schedule = config.schedule.build().unwrap();
    let tensors = ScheduleTensors::new(&schedule, &device);
    let model = init_model(&config, &device);
    let ts = [1i64, 2, 500, 1000];
    let batch = || Batch {
        x_start: Tensor::<4>::from_data(
            TensorData::new(
                (0..4 * 784)
                    .map(|i| ((i % 23) as f32 / 11.0) - 1.0)
                    .collect::<Vec<_>>(),
                [4, 1, 28, 28],
            ),
            &device,
        ),
        t: Tensor::from_data(TensorData::new(ts.to_vec(), [4]), &device),
        noise: Tensor::<4>::from_data(
            TensorData::new(
                (0..4 * 784)
                    .map(|i| ((i * 7 % 31) as f32 / 10.0) - 1.5)
                    .collect::<Vec<_>>(),
                [4, 1, 28, 28],
            ),
            &device,
        ),
        labels: None,
        target: None,
    };
    let b = batch();
    let x_t = tensors.q_sample(b.x_start, &b.t, b.noise.clone());
    let predicted = model.forward(x_t, b.t.float());
    let per_example: Vec<f64> = (predicted - b.noise)
        .square()
        .mean_dim(3)
        .mean_dim(2)
        .into_data()
        .convert::<f64>()
        .try_to_vec()
        .unwrap();
    let weights: Vec<f32> = (1..=1000).map(|t| t as f32).collect();
    let weights = Tensor::<1>::from_data(TensorData::new(weights, [1000]), &device);
    let loss = |w: Option<&Tensor<1>>| {
        let (_, stats) = train_step(
            model.clone(),
            &mut optimizer(),
            &tensors,
            batch(),
            w,
            1e-4,
            1.0,
        )
        .unwrap();
        f64::from(stats.loss)
    };
    let plain = per_example.iter().sum::<f64>() / 4.0;
    let weighted = per_example
        .iter()
        .zip(ts)
        .map(|(e, t)| e * t as f64)
        .sum::<f64>()
        / 4.0;
    let (got_plain, got_weighted) = (loss(None), loss(Some(&weights)));
    assert!(
        ((got_plain - plain) / plain).abs() < 1e-5,
        "{got_plain} vs {plain}"
    );
    assert!(
        ((got_weighted - weighted) / weighted).abs() < 1e-5,
        "{got_weighted} vs {weighted}"
    );
}

#[test]
fn min_snr_gamma_is_validated_and_recorded() {
    // A bad gamma is refused by name before anything is written; a good one is saved in
    // config.json, and a config.json written before the field existed reads as None (L_simple).
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tmp("min-snr");
    for gamma in [0.0, -1.0, f64::NAN] {
        assert_refused(
            &tiny(1).with_min_snr_gamma(Some(gamma)),
            &dir,
            "min_snr_gamma",
        );
    }
    train(
        &tiny(1).with_min_snr_gamma(Some(5.0)),
        &options(&dir, false),
    )
    .unwrap();
    let (_, loaded) = load_weights(&dir, true, &Device::flex()).unwrap();
    assert_eq!(loaded.min_snr_gamma, Some(5.0));
    let layout = RunLayout::new(&dir);
    // The loss curve says that its losses are weighted ones.
    let svg = std::fs::read_to_string(layout.loss_plot()).unwrap();
    assert!(svg.contains("min-SNR-5 weighted"), "loss.svg's label");
    assert_eq!(reload_without(&dir, "min_snr_gamma").min_snr_gamma, None);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn cosine_learning_rate_is_followed_recorded_and_optional() {
    // The lr column of loss.csv is what each step used: linear warmup over 2 steps, then half
    // a cosine, computed here from its formula; config.json records the schedule, and a
    // config.json written before the field existed reads as None (constant).
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tmp("lr-cosine");
    let (steps, warmup, lr) = (6, 2, 2e-3);
    let config = tiny(steps)
        .with_warmup_steps(warmup)
        .with_lr_schedule(Some(LrSchedule::Cosine));
    train(&config, &options(&dir, false)).unwrap();
    let layout = RunLayout::new(&dir);
    let csv = std::fs::read_to_string(layout.loss_csv()).unwrap();
    let used: Vec<f64> = csv
        .lines()
        .skip(1)
        .map(|line| line.split(',').nth(2).unwrap().parse().unwrap())
        .collect();
    assert_eq!(used.len(), steps);
    for (i, &got) in used.iter().enumerate() {
        let want = if i < warmup {
            lr * (i + 1) as f64 / warmup as f64
        } else {
            let p = (i + 1 - warmup) as f64 / (steps - warmup + 1) as f64;
            lr * 0.5 * (1.0 + (std::f64::consts::PI * p).cos())
        };
        assert!(
            (got - want).abs() <= 1e-9 * lr,
            "step {}: {got} vs {want}",
            i + 1
        );
    }
    assert!(
        used[steps - 1] > 0.0 && used[steps - 1] < 0.1 * lr,
        "{used:?}"
    );
    let (_, loaded) = load_weights(&dir, true, &Device::flex()).unwrap();
    assert_eq!(loaded.lr_schedule, Some(LrSchedule::Cosine));
    let text = std::fs::read_to_string(layout.config()).unwrap();
    assert!(text.contains("\"cosine\""), "{text}");
    assert_eq!(reload_without(&dir, "lr_schedule").lr_schedule, None);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn parallel_gradients_add_up_to_the_whole_batch() {
    // The shares' gradients, summed, are the gradient of the whole batch's loss (`batch_loss`,
    // the loss `train_step` differentiates, in one graph), for an uneven split (5 images in 2 and 3 threads) and with loss weights:
    // a share's loss not scaled by its size, a share dropped or a weight applied to the wrong
    // example would move the sum far beyond float rounding.
    use ddpm::workflows::train::{batch_loss, parallel_gradients};
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let config = tiny(1);
    let device = Device::flex().autodiff();
    let schedule = config.schedule.build().unwrap();
    let tensors = ScheduleTensors::new(&schedule, &device);
    let model = init_model(&config, &device);
    let batch = || grad_support::fixed_batch(5, &device);
    let weights: Vec<f32> = (1..=1000).map(|t| 1.0 + (t % 7) as f32).collect();
    let weights = Tensor::<1>::from_data(TensorData::new(weights, [1000]), &device);
    for w in [None, Some(&weights)] {
        let loss = batch_loss(&model, &tensors, batch(), w);
        let whole_loss = loss.clone().into_scalar::<f32>();
        let whole = burn::optim::GradientsParams::from_grads(loss.backward(), &model);
        for threads in [2, 3] {
            let (parallel, parallel_loss) =
                parallel_gradients(&model, &tensors, batch(), w, threads);
            let d = grad_support::GradDistance::of(&model, &whole, &parallel);
            assert_eq!(d.missing, 0, "every parameter has a gradient");
            assert!(d.norm > 0.0);
            let rel = d.relative();
            assert!(
                rel < 1e-4,
                "{threads} threads, weighted {}: |g - g_par| / |g| = {rel}",
                w.is_some()
            );
            assert!(
                ((parallel_loss - whole_loss) / whole_loss).abs() < 1e-5,
                "{parallel_loss} vs {whole_loss}"
            );
            // The same from a thread of the kernels' pool, as `ddpm` runs it
            // (`on_kernel_threads`; with 3 shares on a pool of 2 threads, as on the 2-core CI
            // machine, a waiting thread may run a second share inside the first): the same shares, whoever computes them, so
            // the same gradients and loss to the last bit, and no deadlock.
            let (pooled, pooled_loss) = ddpm::network::fast::on_kernel_threads(|| {
                let here = rayon::current_thread_index();
                assert!(here.is_some(), "on a thread of rayon's pool");
                let nested = ddpm::network::fast::on_kernel_threads(rayon::current_thread_index);
                assert_eq!(nested, here, "already on the pool: runs in place");
                parallel_gradients(&model, &tensors, batch(), w, threads)
            });
            let d = grad_support::GradDistance::of(&model, &parallel, &pooled);
            assert_eq!(d.missing, 0);
            assert_eq!(d.relative(), 0.0, "{threads} threads on the pool");
            assert_eq!(pooled_loss.to_bits(), parallel_loss.to_bits());
        }
    }
}

#[test]
fn threads_are_validated_recorded_and_train_the_same_run() {
    // A bad thread count is refused by name; 2 threads train the same run as 1 (the losses of
    // 3 steps agree to float rounding), config.json records the count, and one written
    // before the field existed reads as None (one thread).
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tmp("threads");
    for (threads, dropout) in [(0, 0.0), (9, 0.0), (2, 0.1)] {
        let mut config = tiny(1).with_threads(Some(threads));
        config.model.dropout = dropout;
        assert_refused(&config, &dir, "threads");
    }
    let losses = |threads: Option<usize>| {
        let _ = std::fs::remove_dir_all(&dir);
        train(&tiny(3).with_threads(threads), &options(&dir, false)).unwrap();
        let csv = std::fs::read_to_string(RunLayout::new(&dir).loss_csv()).unwrap();
        csv.lines()
            .skip(1)
            .map(|l| l.split(',').nth(1).unwrap().parse::<f64>().unwrap())
            .collect::<Vec<_>>()
    };
    let one = losses(None);
    let two = losses(Some(2));
    assert_eq!(one.len(), 3);
    for (a, b) in one.iter().zip(&two) {
        assert!(((a - b) / a).abs() < 1e-4, "{one:?} vs {two:?}");
    }
    let (_, loaded) = load_weights(&dir, true, &Device::flex()).unwrap();
    assert_eq!(loaded.threads, Some(2));
    assert_eq!(reload_without(&dir, "threads").threads, None);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_default_runs_and_older_config_files_still_load() {
    use ddpm::workflows::checkpoint::read_config;
    use ddpm::workflows::sample::DEFAULT_SAMPLER;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let default_run = root.join("weights/run-20min").join("config.json");
    // weights/run-20min/config.json was written before min_snr_gamma, lr_schedule and threads
    // existed; it reads as the 1,200-step default run of the book's first machine
    // (weights/run-20min/README.md), whose grids use the default sampler.
    let config = read_config(&default_run).unwrap();
    assert_eq!(config, TrainingConfig::run_20min());
    assert_ne!(config, TrainingConfig::default_run());
    assert_eq!(config.grid_sampler(), DEFAULT_SAMPLER);
    assert_eq!(config.validate().unwrap().num_timesteps(), 1000);

    // A config.json written before `sample_eta` existed: its grids were DDIM with eta = 0.
    let text = std::fs::read_to_string(&default_run).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json.as_object_mut().unwrap().remove("sample_eta").unwrap();
    let dir = tmp("old-config");
    std::fs::create_dir_all(&dir).unwrap();
    let old = dir.join("config.json");
    std::fs::write(&old, json.to_string()).unwrap();
    let config = read_config(&old).unwrap();
    assert_eq!(
        config.grid_sampler(),
        ddpm::workflows::sample::Sampler::Ddim {
            steps: 50,
            eta: 0.0
        }
    );
    std::fs::remove_dir_all(&dir).unwrap();

    // The configurations recorded in the book's `ddpm eval` reports, written by every version
    // of the crate since `ddpm eval` existed, read as TrainingConfig.
    let mut reports = 0;
    for entry in std::fs::read_dir(root.join("chapters/output")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !(name.starts_with("eval-") && name.ends_with(".json")) {
            continue;
        }
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let config: TrainingConfig = serde_json::from_value(report["config"].clone())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        config.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
        reports += 1;
    }
    assert!(
        reports >= 10,
        "only {reports} eval reports in chapters/output"
    );
}
