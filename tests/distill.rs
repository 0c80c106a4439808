//! Chapter 18, guidance distillation: the target of a distillation batch is the teacher's
//! autoguided noise at the batch's own x_t; a student that is its teacher has loss
//! w^2 mean((eps_teacher - eps_guide)^2), so 0 at w = 0; a distillation run moves a network
//! toward the guided teacher and away from what plain training on the same batches gives;
//! the setting is recorded in config.json and resumed; teachers and guides that cannot teach
//! the run are refused before anything is written, and `ddpm train --distill` wires it up.
//!
//! burn's CPU random generator is process-global, so the tests that train take a lock.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use burn::prelude::*;
use ddpm::diffusion::schedule::NoiseSchedule;
use ddpm::network::{ScheduleTensors, UNet, UNetConfig};
use ddpm::workflows::config::DistillConfig;
use ddpm::workflows::distill::{DistillError, Distiller};
use ddpm::workflows::train::{Batch, TrainError, TrainOptions, batch_loss, init_model, train};
use ddpm::workflows::{RunLayout, ScheduleConfig, TrainingConfig, load_weights};

static LOCK: Mutex<()> = Mutex::new(());

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ddpm-distill-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn tiny(steps: usize, seed: u64) -> TrainingConfig {
    TrainingConfig::new(UNetConfig::tiny(), ScheduleConfig::linear_1000(), steps)
        .with_batch(8)
        .with_lr(2e-3)
        .with_warmup_steps(5)
        .with_max_images(256)
        .with_sample_every(0)
        .with_sample_steps(2)
        .with_checkpoint_every(0)
        .with_seed(seed)
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

/// A weights folder: a tiny run of `steps` steps with `seed`, trained once per process.
fn weights(name: &str, config: &TrainingConfig) -> PathBuf {
    let dir = tmp(name);
    train(config, &options(&dir, false)).unwrap();
    dir
}

/// The teacher (40 steps) and its guide (3 steps), shared by the tests.
fn teacher_and_guide() -> (PathBuf, PathBuf) {
    static PAIR: Mutex<Option<(PathBuf, PathBuf)>> = Mutex::new(None);
    let mut pair = PAIR.lock().unwrap_or_else(|e| e.into_inner());
    pair.get_or_insert_with(|| {
        (
            weights("teacher", &tiny(40, 1)),
            weights("guide", &tiny(3, 2)),
        )
    })
    .clone()
}

fn distilled(steps: usize, seed: u64, teacher: &Path, guide: &Path, w: f64) -> TrainingConfig {
    let mut config = tiny(steps, seed);
    config.distill = Some(DistillConfig::new(
        teacher.display().to_string(),
        guide.display().to_string(),
        w,
    ));
    config
}

/// The distiller of the shared teacher and guide at weight `w`, on `device`.
fn distiller(w: f64, device: &Device) -> Distiller {
    let (teacher_dir, guide_dir) = teacher_and_guide();
    let config = distilled(1, 3, &teacher_dir, &guide_dir, w);
    Distiller::load(config.distill.as_ref().unwrap(), &config, device).unwrap()
}

/// Four images at timesteps 1, 250, 600 and 1000 with fixed pixels and noise, on `device`.
fn fixed_batch(device: &Device) -> Batch {
    let pattern = |k: usize, scale: f32, shift: f32| -> Vec<f32> {
        (0..4 * 784)
            .map(|i| ((i * k % 29) as f32 / scale) - shift)
            .collect()
    };
    Batch {
        x_start: Tensor::from_data(
            TensorData::new(pattern(1, 14.0, 1.0), [4, 1, 28, 28]),
            device,
        ),
        t: Tensor::from_data(TensorData::new(vec![1i64, 250, 600, 1000], [4]), device),
        noise: Tensor::from_data(
            TensorData::new(pattern(7, 9.0, 1.5), [4, 1, 28, 28]),
            device,
        ),
        labels: None,
        target: None,
    }
}

fn to_vec(x: Tensor<4>) -> Vec<f32> {
    x.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

/// The batch's x_t made on the host from the f64 schedule (chapter 7's closed form).
fn x_t_by_hand(batch: &Batch) -> Vec<f32> {
    let schedule = NoiseSchedule::linear(1000).unwrap();
    let x0 = to_vec(batch.x_start.clone());
    let eps = to_vec(batch.noise.clone());
    let ts: Vec<i64> = batch
        .t
        .to_data()
        .convert::<i64>()
        .try_to_vec::<i64>()
        .unwrap();
    (0..x0.len())
        .map(|i| {
            let ab = schedule.alpha_bar()[ts[i / 784] as usize - 1];
            (ab.sqrt() * f64::from(x0[i]) + (1.0 - ab).sqrt() * f64::from(eps[i])) as f32
        })
        .collect()
}

fn predict(network: &UNet, x_t: &[f32], batch: &Batch, device: &Device) -> Vec<f32> {
    let x = Tensor::<4>::from_data(TensorData::new(x_t.to_vec(), [4, 1, 28, 28]), device);
    let t = Tensor::<1, Int>::from_data(batch.t.to_data(), device).float();
    to_vec(network.forward(x, t))
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn mean_squared(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from(x - y).powi(2))
        .sum::<f64>()
        / a.len() as f64
}

#[test]
fn the_target_is_the_teachers_autoguided_noise_at_the_batchs_x_t() {
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let (teacher_dir, guide_dir) = teacher_and_guide();
    let device = Device::flex();
    let (teacher, _) = load_weights(&teacher_dir, true, &device).unwrap();
    let (guide, _) = load_weights(&guide_dir, true, &device).unwrap();
    // The batch on the autodiff device training uses: the target comes back there.
    let train_device = device.clone().autodiff();
    let batch = fixed_batch(&train_device);
    let x_t = x_t_by_hand(&batch);
    let good = predict(&teacher, &x_t, &batch, &device);
    let bad = predict(&guide, &x_t, &batch, &device);
    assert!(max_abs_diff(&good, &bad) > 1e-3, "teacher and guide differ");
    for w in [0.0, 0.5, 2.0] {
        let target = distiller(w, &device)
            .attach(fixed_batch(&train_device))
            .target
            .unwrap();
        assert_eq!(target.device(), train_device);
        let by_hand: Vec<f32> = good
            .iter()
            .zip(&bad)
            .map(|(g, b)| ((1.0 + w) * f64::from(*g) - w * f64::from(*b)) as f32)
            .collect();
        let diff = max_abs_diff(&to_vec(target), &by_hand);
        assert!(diff < 1e-4, "w = {w}: {diff}");
    }
}

#[test]
fn a_student_that_is_its_teacher_has_loss_w_squared_times_the_teacher_guide_gap() {
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let (teacher_dir, guide_dir) = teacher_and_guide();
    let device = Device::flex();
    let (student, _) = load_weights(&teacher_dir, true, &device).unwrap();
    let (guide, _) = load_weights(&guide_dir, true, &device).unwrap();
    let schedule = ScheduleTensors::new(&NoiseSchedule::linear(1000).unwrap(), &device);
    let batch = fixed_batch(&device);
    let x_t = x_t_by_hand(&batch);
    let gap = mean_squared(
        &predict(&student, &x_t, &batch, &device),
        &predict(&guide, &x_t, &batch, &device),
    );
    assert!(gap > 1e-4, "{gap}");
    let plain =
        f64::from(batch_loss(&student, &schedule, fixed_batch(&device), None).into_scalar::<f32>());
    for w in [0.0, 0.5, 1.0] {
        let batch = distiller(w, &device).attach(fixed_batch(&device));
        let loss = f64::from(batch_loss(&student, &schedule, batch, None).into_scalar::<f32>());
        // (eps_s - ((1 + w) eps_s - w eps_g))^2 = w^2 (eps_s - eps_g)^2.
        let expected = w * w * gap;
        assert!(
            (loss - expected).abs() <= 1e-6 + 1e-3 * expected,
            "w = {w}: loss {loss}, w^2 gap {expected}"
        );
        // Not the noise-prediction loss of the same batch.
        assert!((loss - plain).abs() > 1e-3, "w = {w}: {loss} vs {plain}");
    }
}

#[test]
fn a_distillation_run_moves_the_network_toward_the_guided_teacher() {
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let (teacher_dir, guide_dir) = teacher_and_guide();
    let device = Device::flex();
    let w = 1.0;
    // The same seed, batches and steps; one learns the noise, the other the guided teacher.
    let config = distilled(40, 5, &teacher_dir, &guide_dir, w);
    let student_dir = tmp("student");
    train(&config, &options(&student_dir, false)).unwrap();
    let mut plain = config.clone();
    plain.distill = None;
    let plain_dir = tmp("plain");
    train(&plain, &options(&plain_dir, false)).unwrap();

    let distiller = Distiller::load(config.distill.as_ref().unwrap(), &config, &device).unwrap();
    let batch = fixed_batch(&device);
    let target = to_vec(distiller.target(&batch));
    let x_t = x_t_by_hand(&batch);
    let raw = |dir: &Path| load_weights(dir, false, &device).unwrap().0;
    let before = mean_squared(
        &predict(&init_model(&config, &device), &x_t, &batch, &device),
        &target,
    );
    let student = mean_squared(&predict(&raw(&student_dir), &x_t, &batch, &device), &target);
    let noise_trained = mean_squared(&predict(&raw(&plain_dir), &x_t, &batch, &device), &target);
    eprintln!(
        "distance to the target: init {before}, distilled {student}, noise-trained {noise_trained}"
    );
    assert!(
        student < 0.5 * before,
        "distillation: {student} from {before} at initialisation"
    );
    assert!(
        student < 0.8 * noise_trained,
        "distilled {student} vs noise-trained {noise_trained}"
    );
    for dir in [student_dir, plain_dir] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn the_teacher_is_recorded_resumed_and_optional_in_config_files() {
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let (teacher_dir, guide_dir) = teacher_and_guide();
    let config = distilled(4, 3, &teacher_dir, &guide_dir, 0.5);
    let dir = tmp("resume");
    let mut two = config.clone();
    two.steps = 2;
    train(&two, &options(&dir, false)).unwrap();
    let saved = load_weights(&dir, true, &Device::flex()).unwrap().1;
    assert_eq!(saved.distill, config.distill);
    // Resuming with the same teacher continues; with another weight it is refused.
    let mut other = config.clone();
    other.distill.as_mut().unwrap().weight = 1.0;
    let err = train(&other, &options(&dir, true)).unwrap_err();
    assert!(matches!(err, TrainError::ConfigMismatch(_)), "{err}");
    train(&config, &options(&dir, true)).unwrap();
    assert_eq!(
        ddpm::workflows::loss::read_loss_csv(&RunLayout::new(&dir).loss_csv())
            .unwrap()
            .len(),
        4
    );
    std::fs::remove_dir_all(&dir).unwrap();
    // The shipped weights were written before the field existed: no teacher.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shipped = load_weights(&root.join("weights/default"), true, &Device::flex()).unwrap();
    assert_eq!(shipped.1.distill, None);
}

#[test]
fn teachers_and_guides_that_cannot_teach_the_run_are_refused_before_anything_is_written() {
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let (teacher_dir, guide_dir) = teacher_and_guide();
    let refused = |config: &TrainingConfig, name: &str| -> TrainError {
        let dir = tmp(name);
        let err = train(config, &options(&dir, false)).unwrap_err();
        assert!(!dir.exists(), "{name}: {} was created", dir.display());
        err
    };
    // A folder that is not there.
    let missing = tmp("nowhere");
    let err = refused(&distilled(2, 3, &missing, &guide_dir, 0.5), "missing");
    assert!(
        matches!(
            err,
            TrainError::Distill(DistillError::Load {
                role: "teacher",
                ..
            })
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains(&missing.display().to_string()),
        "{err}"
    );
    // A guide of another noise schedule.
    let mut short = tiny(2, 4);
    short.schedule.num_timesteps = 500;
    let short_dir = weights("short", &short);
    let err = refused(
        &distilled(2, 3, &teacher_dir, &short_dir, 0.5),
        "short-guided",
    );
    assert!(
        matches!(
            err,
            TrainError::Distill(DistillError::Mismatch { role: "guide", .. })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("noise schedule"), "{err}");
    // A negative weight, refused by the config's own check, by `train` and by the public
    // `Distiller::load` alike (an error, not a panic).
    let negative = distilled(2, 3, &teacher_dir, &guide_dir, -1.0);
    let err = refused(&negative, "negative");
    assert!(err.to_string().contains("distill.weight"), "{err}");
    let err = Distiller::load(
        negative.distill.as_ref().unwrap(),
        &negative,
        &Device::flex(),
    )
    .unwrap_err();
    assert!(matches!(err, DistillError::Config(_)), "{err}");
    assert!(err.to_string().contains("distill.weight"), "{err}");
    // A conditional run.
    let mut conditional = distilled(2, 3, &teacher_dir, &guide_dir, 0.5);
    conditional.model.num_classes = Some(10);
    let err = refused(&conditional, "conditional");
    assert!(err.to_string().contains("unconditional"), "{err}");
    std::fs::remove_dir_all(short_dir).unwrap();
}

#[test]
fn ddpm_train_distill_needs_its_guide_and_records_both() {
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let (teacher_dir, guide_dir) = teacher_and_guide();
    let ddpm = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_ddpm"))
            .args(args)
            .output()
            .expect("the ddpm binary runs")
    };
    let dir = tmp("cli");
    let run = dir.display().to_string();
    let teacher = teacher_dir.display().to_string();
    let guide = guide_dir.display().to_string();
    for args in [
        vec!["train", "--distill", &teacher, "--run-dir", &run],
        vec!["train", "--guide", &guide, "--run-dir", &run],
    ] {
        let out = ddpm(&args);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("--guide") || err.contains("--distill"),
            "{err}"
        );
        assert!(!dir.exists());
    }
    let out = ddpm(&[
        "train",
        "--preset",
        "tiny",
        "--steps",
        "2",
        "--batch",
        "4",
        "--threads",
        "1",
        "--distill",
        &teacher,
        "--guide",
        &guide,
        "--guide-weight",
        "0.75",
        "--init-weights",
        &teacher,
        "--sample-every",
        "0",
        "--run-dir",
        &run,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let saved = load_weights(&dir, true, &Device::flex()).unwrap().1;
    assert_eq!(
        saved.distill,
        Some(DistillConfig::new(teacher, guide, 0.75))
    );
    assert_eq!(saved.init_weights, Some(teacher_dir.display().to_string()));
    std::fs::remove_dir_all(&dir).unwrap();
}
