//! `kill -9` during training (issue 21): a tiny run is started in a child process and killed
//! with SIGKILL at random moments, then started again with `--resume` (the library's
//! `TrainOptions::resume`), until it finishes. Every restart must continue from the last
//! complete checkpoint on disk (the child reports the step it resumed at), and the finished
//! run must be bit-identical to one that was never interrupted: every parameter of `model.bpk`
//! and `model-ema.bpk` equal (max abs diff 0), and the same `loss.csv`.
//!
//! The child is this test binary itself, re-run with `--exact child --ignored` and the run
//! folder in an environment variable, so no CLI flag is involved. In the check: one trial with
//! up to two kills (a few seconds). `scripts/faults.sh` runs `DDPM_KILL_TRIALS` trials (the
//! ignored test `kill_budget`) and prints the counts quoted in the book's appendix.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;
use ddpm::network::UNetConfig;
use ddpm::workflows::train::{TrainOptions, train};
use ddpm::workflows::{RunLayout, ScheduleConfig, TrainingConfig, load_weights};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const CHILD_ENV: &str = "DDPM_FAULTS_CHILD_RUN_DIR";

/// The run every trial makes: the tiny network, 12 steps of 4 images, a checkpoint every 2.
fn config() -> TrainingConfig {
    TrainingConfig::new(UNetConfig::tiny(), ScheduleConfig::linear_1000(), 12)
        .with_batch(4)
        .with_lr(2e-3)
        .with_warmup_steps(3)
        .with_max_images(64)
        .with_sample_every(0)
        .with_sample_steps(2)
        .with_checkpoint_every(2)
        .with_seed(17)
}

/// The child: trains into the folder named by the environment, resuming if a run was
/// started there, and prints the step it started from.
#[test]
#[ignore = "the child process of the kill tests; does nothing without its environment"]
fn child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let dir = PathBuf::from(dir);
    let resume = RunLayout::new(&dir).config().exists();
    let options = TrainOptions {
        run_dir: dir,
        resume,
        progress: true, // prints "resuming <dir> at step N" when resuming
        device: Device::flex(),
        peers: Vec::new(),
    };
    train(&config(), &options).expect("the child's training failed");
    eprintln!("CHILD-DONE");
}

fn spawn_child(dir: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child",
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD_ENV, dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The step of the newest complete checkpoint, read from the folder names (complete
/// checkpoints are renamed to `step-NNNNNN` once whole): independent of the crate's pointer.
fn last_complete_step(dir: &Path) -> usize {
    std::fs::read_dir(RunLayout::new(dir).checkpoints_dir())
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    e.file_name()
                        .to_str()?
                        .strip_prefix("step-")?
                        .parse::<usize>()
                        .ok()
                })
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0)
}

/// The step a child said it resumed at (`None`: it started a new run).
fn resumed_at(stderr: &str) -> Option<usize> {
    stderr
        .lines()
        .find_map(|l| l.split(" at step ").nth(1)?.trim().parse().ok())
}

/// Every float parameter of a module.
fn parameters<M: Module>(module: &M) -> Vec<f32> {
    struct Collect(Vec<f32>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let values = param.val().into_data().convert::<f32>();
            self.0.extend(values.iter::<f32>());
        }
    }
    let mut c = Collect(Vec::new());
    module.visit(&mut c);
    c.0
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// What a series of trials did.
#[derive(Debug, Default)]
struct KillStats {
    trials: usize,
    kills: usize,
    resumes_checked: usize,
    kills_before_first_checkpoint: usize,
    identical_runs: usize,
    worst_max_abs_diff: f32,
}

/// Runs the uninterrupted reference and `trials` interrupted runs, each killed at most
/// `max_kills` times at moments uniform in the reference run's duration.
fn kill_trials(name: &str, trials: usize, max_kills: usize, seed: u64) -> KillStats {
    let root = std::env::temp_dir().join(format!("ddpm-kill-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    // The reference, in a child like the others, timed.
    let reference = root.join("reference");
    let started = Instant::now();
    let out = spawn_child(&reference).wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let duration = started.elapsed();
    let device = Device::flex();
    let ref_raw = parameters(&load_weights(&reference, false, &device).unwrap().0);
    let ref_ema = parameters(&load_weights(&reference, true, &device).unwrap().0);
    let ref_csv = std::fs::read_to_string(RunLayout::new(&reference).loss_csv()).unwrap();

    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut stats = KillStats::default();
    for trial in 0..trials {
        let dir = root.join(format!("trial-{trial}"));
        let mut kills = 0;
        loop {
            let expected_start = last_complete_step(&dir);
            let had_run = RunLayout::new(&dir).config().exists();
            let mut child = spawn_child(&dir);
            let mut stderr = child.stderr.take().unwrap();
            let finished = if kills < max_kills {
                let delay = duration.mul_f64(rng.random_range(0.0..1.0));
                std::thread::sleep(delay);
                match child.try_wait().unwrap() {
                    Some(_) => true,
                    None => {
                        child.kill().unwrap(); // SIGKILL
                        child.wait().unwrap();
                        kills += 1;
                        stats.kills += 1;
                        if expected_start == 0 && last_complete_step(&dir) == 0 {
                            stats.kills_before_first_checkpoint += 1;
                        }
                        false
                    }
                }
            } else {
                let status = child.wait().unwrap();
                assert!(status.success(), "trial {trial}: the last child failed");
                true
            };
            let mut text = String::new();
            stderr.read_to_string(&mut text).unwrap();
            // A child that got as far as resuming says where it resumed: the last complete
            // checkpoint before it started (step 0 when none was complete).
            if let Some(step) = resumed_at(&text) {
                assert!(
                    had_run,
                    "trial {trial}: resumed a run that was never started"
                );
                assert_eq!(
                    step, expected_start,
                    "trial {trial}: resumed at step {step}, the last complete checkpoint was \
                     step {expected_start}"
                );
                stats.resumes_checked += 1;
            }
            if finished {
                assert!(text.contains("CHILD-DONE"), "trial {trial}: {text}");
                break;
            }
        }
        let raw = parameters(&load_weights(&dir, false, &device).unwrap().0);
        let ema = parameters(&load_weights(&dir, true, &device).unwrap().0);
        let diff = max_abs_diff(&raw, &ref_raw).max(max_abs_diff(&ema, &ref_ema));
        stats.worst_max_abs_diff = stats.worst_max_abs_diff.max(diff);
        let csv = std::fs::read_to_string(RunLayout::new(&dir).loss_csv()).unwrap();
        if diff == 0.0 && csv == ref_csv {
            stats.identical_runs += 1;
        }
        stats.trials += 1;
        std::fs::remove_dir_all(&dir).unwrap();
    }
    std::fs::remove_dir_all(&root).unwrap();
    stats
}

#[test]
fn killed_runs_resume_from_the_last_checkpoint_and_end_identical() {
    let stats = kill_trials("check", 1, 2, 21);
    assert_eq!(stats.identical_runs, stats.trials, "{stats:?}");
    assert_eq!(stats.worst_max_abs_diff, 0.0, "{stats:?}");
}

#[test]
#[ignore = "long: run by scripts/faults.sh with DDPM_KILL_TRIALS trials"]
fn kill_budget() {
    let trials: usize = std::env::var("DDPM_KILL_TRIALS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let max_kills: usize = std::env::var("DDPM_KILL_MAX_PER_TRIAL")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4);
    let started = Instant::now();
    let stats = kill_trials("budget", trials, max_kills, 2026);
    println!(
        "KILL {{\"trials\": {}, \"kills\": {}, \"kills_before_first_checkpoint\": {}, \"resumes_checked\": {}, \"identical_runs\": {}, \"worst_max_abs_diff\": {}, \"seconds\": {:.0}}}",
        stats.trials,
        stats.kills,
        stats.kills_before_first_checkpoint,
        stats.resumes_checked,
        stats.identical_runs,
        stats.worst_max_abs_diff,
        started.elapsed().as_secs_f64()
    );
    assert_eq!(stats.identical_runs, stats.trials, "{stats:?}");
}
