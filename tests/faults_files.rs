//! Faults (issue 21): damaged files are refused by name, a full disk while writing a
//! checkpoint leaves the previous one intact, bad run folders and bad values each give one
//! clear line, and wrong data is refused before anything is written.
//!
//! burn's CPU random generator is process-global, so the tests that train take a lock.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;
use ddpm::network::UNetConfig;
use ddpm::workflows::checkpoint::{
    self, TrainState, latest_checkpoint, load_checkpoint, save_checkpoint,
};
use ddpm::workflows::files::{Integrity, fail_writes_after, write_atomic};
use ddpm::workflows::train::{TrainError, TrainOptions, train};
use ddpm::workflows::{
    RUN_20MIN_WEIGHTS_DIR, RunLayout, ScheduleConfig, TrainingConfig, load_weights,
};

static LOCK: Mutex<()> = Mutex::new(());

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ddpm-faults-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn tiny(steps: usize) -> TrainingConfig {
    TrainingConfig::new(UNetConfig::tiny(), ScheduleConfig::linear_1000(), steps)
        .with_batch(4)
        .with_lr(2e-3)
        .with_warmup_steps(2)
        .with_max_images(64)
        .with_sample_every(0)
        .with_sample_steps(2)
        .with_checkpoint_every(2)
        .with_seed(11)
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

/// Every float parameter of a module, in visiting order.
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

/// Asserts that a message is one line and mentions each of `needles`.
fn one_line(message: &str, needles: &[&str]) {
    assert!(!message.contains('\n'), "more than one line: {message}");
    for n in needles {
        assert!(message.contains(n), "{n:?} missing from: {message}");
    }
}

fn flip(path: &Path, at: usize, mask: u8) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[at] ^= mask;
    std::fs::write(path, bytes).unwrap();
}

fn truncate(path: &Path, keep: usize) {
    let bytes = std::fs::read(path).unwrap();
    std::fs::write(path, &bytes[..keep]).unwrap();
}

// ---------------------------------------------------------------------------------------
// Damaged files.
// ---------------------------------------------------------------------------------------

#[test]
fn the_default_runs_weights_without_checksums_still_load() {
    // weights/run-20min was written before checksums existed: it loads, unchecked.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(RUN_20MIN_WEIGHTS_DIR);
    let (model, config) = load_weights(&dir, true, &Device::flex()).unwrap();
    assert_eq!(config.model.base_channels, 16);
    assert!(model.num_params() > 0);
    let (_, integrity) = checkpoint::read_burnpack(&dir.join("model-ema.bpk")).unwrap();
    assert_eq!(integrity, Integrity::Unchecked);
}

#[test]
fn damaged_weights_config_and_checkpoint_files_are_refused_by_name() {
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tmp("damaged");
    train(&tiny(2), &options(&dir, false)).unwrap();
    let layout = RunLayout::new(&dir);
    let device = Device::flex();
    let ckpt = layout.checkpoint(2);
    // What this crate writes is checksummed.
    for file in [
        layout.model(),
        layout.model_ema(),
        ckpt.join("optimizer.bpk"),
    ] {
        assert_eq!(
            checkpoint::read_burnpack(&file).unwrap().1,
            Integrity::Verified
        );
    }
    let pristine: Vec<(PathBuf, Vec<u8>)> = [
        layout.config(),
        layout.model_ema(),
        layout.model(),
        ckpt.join("model.bpk"),
        ckpt.join("model-ema.bpk"),
        ckpt.join("optimizer.bpk"),
        ckpt.join("state.json"),
    ]
    .into_iter()
    .map(|p| {
        let b = std::fs::read(&p).unwrap();
        (p, b)
    })
    .collect();
    let restore = || {
        for (p, b) in &pristine {
            std::fs::write(p, b).unwrap();
        }
    };
    // Loading the weights folder (model-ema.bpk, or model.bpk with `raw`), and resuming from
    // the checkpoint, both read the damaged file.
    let attempt = |file: &Path| -> String {
        let name = file.file_name().unwrap().to_str().unwrap();
        let in_checkpoint = file.starts_with(&ckpt);
        if in_checkpoint {
            load_checkpoint(&layout, &tiny(2), &device, &device.clone().autodiff())
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        } else {
            load_weights(&dir, name != "model.bpk", &device)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        }
    };
    let mut refused = 0;
    for (file, bytes) in &pristine {
        let n = bytes.len();
        let name = file.display().to_string();
        // Truncations: to nothing, to half, by two bytes (a JSON file's closing brace and
        // newline; the last bytes of a weights file's last tensor).
        for keep in [0, n / 2, n - 2] {
            truncate(file, keep);
            let err = attempt(file);
            one_line(&err, &[&name]);
            refused += 1;
            restore();
        }
        // Bit flips: in the middle (tensor data for weights, a value for JSON) and near the
        // end (the last tensor's data; the closing of a JSON object).
        let is_json = name.ends_with(".json");
        let positions: Vec<usize> = if is_json {
            // Each digit of the file (a JSON value changes, the file still parses).
            let text = String::from_utf8(bytes.clone()).unwrap();
            let digits: Vec<usize> = text
                .char_indices()
                .filter(|(_, c)| c.is_ascii_digit())
                .map(|(i, _)| i)
                .collect();
            vec![digits[0], digits[digits.len() / 2], *digits.last().unwrap()]
        } else {
            // Inside tensor data, not the zero padding that aligns each tensor to 256 bytes:
            // the middle of the first run of 8 non-zero bytes from n/2 and from 3n/4, and the
            // last byte of the file (the last tensor's).
            let in_data = |from: usize| {
                (from..n - 8)
                    .find(|&i| bytes[i..i + 8].iter().all(|&b| b != 0))
                    .map_or(from, |i| i + 4)
            };
            vec![in_data(n / 2), in_data(3 * n / 4), n - 1]
        };
        // JSON: flip the lowest bit, so that a digit stays a digit and the file still parses.
        let mask = if is_json { 0x01 } else { 0x10 };
        for at in positions {
            flip(file, at, mask);
            let err = attempt(file);
            one_line(&err, &[&name, "damaged"]);
            refused += 1;
            restore();
        }
    }
    assert_eq!(refused, 6 * pristine.len());
    // After restoring, everything loads again.
    assert!(load_weights(&dir, true, &device).is_ok());
    assert!(load_checkpoint(&layout, &tiny(2), &device, &device.clone().autodiff()).is_ok());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn weights_of_another_network_give_one_line() {
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tmp("other-net");
    train(&tiny(2), &options(&dir, false)).unwrap();
    let layout = RunLayout::new(&dir);
    // Intact weights with the config of another (smaller, then larger) network.
    for model in [
        UNetConfig {
            num_res_blocks: 2,
            ..UNetConfig::tiny()
        },
        UNetConfig {
            base_channels: 64,
            ..UNetConfig::tiny()
        },
    ] {
        let mut other = tiny(2);
        other.model = model;
        checkpoint::write_config(&layout.config(), &other).unwrap();
        let err = load_weights(&dir, true, &Device::flex())
            .unwrap_err()
            .to_string();
        one_line(&err, &["model-ema.bpk", "another network", "config.json"]);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---------------------------------------------------------------------------------------
// A full disk.
// ---------------------------------------------------------------------------------------

#[test]
fn a_failed_atomic_write_leaves_the_old_file() {
    let dir = tmp("atomic");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("file.json");
    write_atomic(&path, b"old contents").unwrap();
    let new = vec![b'x'; 100_000];
    for budget in [0, 1, 4095, 4096, 65_536, 99_999] {
        fail_writes_after(Some(budget));
        let err = write_atomic(&path, &new).unwrap_err();
        fail_writes_after(None);
        assert_eq!(err.kind(), std::io::ErrorKind::StorageFull, "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"old contents");
        let names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["file.json"], "a temporary file was left");
    }
    fail_writes_after(Some(100_000));
    write_atomic(&path, &new).unwrap();
    fail_writes_after(None);
    assert_eq!(std::fs::read(&path).unwrap(), new);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_full_disk_while_checkpointing_keeps_the_previous_checkpoint() {
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tmp("disk-full");
    let config = tiny(4);
    // Steps 1-2 and their checkpoint.
    let mut two = config.clone();
    two.steps = 2;
    train(&two, &options(&dir, false)).unwrap();
    let layout = RunLayout::new(&dir);
    let device = Device::flex();
    let train_device = device.clone().autodiff();
    let before = load_checkpoint(&layout, &config, &device, &train_device).unwrap();
    let size: u64 = ["model.bpk", "model-ema.bpk", "optimizer.bpk", "state.json"]
        .iter()
        .map(|f| {
            std::fs::metadata(layout.checkpoint(2).join(f))
                .unwrap()
                .len()
        })
        .sum();
    // The disk fills at points throughout the writing of the checkpoint of step 4.
    let state = TrainState {
        step: 4,
        rng_word_pos: "99".into(),
    };
    for budget in [0, 1, size / 4, size / 2, size - 100] {
        fail_writes_after(Some(budget));
        let err = save_checkpoint(&layout, &before.model, &before.ema, &before.optim, &state)
            .unwrap_err()
            .to_string();
        fail_writes_after(None);
        one_line(&err, &["no space left", "step-000004"]);
        assert_eq!(latest_checkpoint(&layout), Some(layout.checkpoint(2)));
        let names: Vec<String> = std::fs::read_dir(layout.checkpoints_dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            !names.iter().any(|n| n.contains("000004")),
            "a partial checkpoint was left: {names:?}"
        );
        let again = load_checkpoint(&layout, &config, &device, &train_device).unwrap();
        assert_eq!(again.state, before.state);
        assert_eq!(parameters(&again.ema), parameters(&before.ema));
    }
    // The same inside a training run: the disk fills at the checkpoint of step 4, the run
    // stops with the error, and resuming gives the run that never failed.
    fail_writes_after(Some(size / 2));
    let err = train(&config, &options(&dir, true))
        .unwrap_err()
        .to_string();
    fail_writes_after(None);
    one_line(&err, &["no space left"]);
    assert_eq!(latest_checkpoint(&layout), Some(layout.checkpoint(2)));
    train(&config, &options(&dir, true)).unwrap();
    let straight = tmp("disk-full-straight");
    train(&config, &options(&straight, false)).unwrap();
    let (a, _) = load_weights(&dir, true, &device).unwrap();
    let (b, _) = load_weights(&straight, true, &device).unwrap();
    assert_eq!(parameters(&a), parameters(&b));
    for d in [dir, straight] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn a_folder_of_ema_weights_only_refuses_raw_by_name() {
    // A weights folder may ship only model-ema.bpk (weights/default does, to stay under its
    // size limit): the EMA weights load, and asking for the last iterate (`--raw`) says that
    // the folder has none, not that a file is damaged or missing in general.
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tmp("ema-only");
    train(&tiny(2), &options(&dir, false)).unwrap();
    let layout = RunLayout::new(&dir);
    let (full_ema, _) = load_weights(&dir, true, &Device::flex()).unwrap();
    std::fs::remove_file(layout.model()).unwrap();
    let (ema, _) = load_weights(&dir, true, &Device::flex()).unwrap();
    assert_eq!(parameters(&ema), parameters(&full_ema));
    let err = load_weights(&dir, false, &Device::flex())
        .unwrap_err()
        .to_string();
    one_line(
        &err,
        &["only the EMA weights", "model.bpk", "without --raw"],
    );
    // With neither file, the missing file is named as before.
    std::fs::remove_file(layout.model_ema()).unwrap();
    let err = load_weights(&dir, false, &Device::flex())
        .unwrap_err()
        .to_string();
    one_line(&err, &["model.bpk", "does not exist"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---------------------------------------------------------------------------------------
// Run folders.
// ---------------------------------------------------------------------------------------

#[test]
fn bad_run_folders_give_one_line() {
    // Missing weights folder.
    let missing = tmp("missing").join("nowhere");
    let err = load_weights(&missing, true, &Device::flex())
        .unwrap_err()
        .to_string();
    one_line(&err, &["does not exist", "nowhere"]);
    // A folder that exists but holds no weights.
    let empty = tmp("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let err = load_weights(&empty, true, &Device::flex())
        .unwrap_err()
        .to_string();
    one_line(&err, &["not a weights folder"]);
    // --resume where nothing was ever started.
    let err = train(&tiny(2), &options(&missing, true))
        .unwrap_err()
        .to_string();
    one_line(&err, &["nothing to resume", "nowhere"]);
    // An existing non-empty --run-dir without --resume: refused, and left as it was.
    std::fs::write(empty.join("notes.txt"), "mine").unwrap();
    let err = train(&tiny(2), &options(&empty, false)).unwrap_err();
    assert!(matches!(err, TrainError::RunExists(..)), "{err}");
    one_line(&err.to_string(), &["not empty", "notes.txt", "--resume"]);
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 1);
    // A run folder below a file (cannot be created) and a read-only one.
    let file = empty.join("notes.txt");
    let err = train(&tiny(2), &options(&file.join("run"), false))
        .unwrap_err()
        .to_string();
    one_line(&err, &["cannot write", "notes.txt"]);
    let read_only = tmp("read-only");
    std::fs::create_dir_all(&read_only).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&read_only, std::fs::Permissions::from_mode(0o555)).unwrap();
    // Root may write anywhere: then a folder of a read-only file system stands in.
    let target = if std::fs::write(read_only.join("probe"), "").is_err() {
        read_only.join("run")
    } else {
        PathBuf::from("/proc/ddpm-faults-run")
    };
    let err = train(&tiny(2), &options(&target, false))
        .unwrap_err()
        .to_string();
    one_line(&err, &["cannot write", &target.display().to_string()]);
    std::fs::set_permissions(&read_only, std::fs::Permissions::from_mode(0o755)).unwrap();
    for d in [empty, read_only] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

// ---------------------------------------------------------------------------------------
// Bad values.
// ---------------------------------------------------------------------------------------

/// Every numeric setting of a training config at 0, negative (the float ones), NaN and huge:
/// each is refused naming the setting, or accepted for a stated reason.
#[test]
fn every_numeric_setting_at_zero_negative_nan_and_huge() {
    type Set = fn(&mut TrainingConfig, f64);
    // (name as in the error, setter, which of [0, -1, NaN, huge] are accepted)
    let settings: [(&str, Set, [bool; 4]); 16] = [
        (
            "steps",
            |c, v| c.steps = v as usize,
            [false, false, false, true],
        ),
        (
            "batch",
            |c, v| c.batch = v as usize,
            [false, false, false, false],
        ),
        ("lr", |c, v| c.lr = v, [false, false, false, true]),
        (
            "warmup_steps",
            |c, v| c.warmup_steps = v as usize,
            [true, true, true, true],
        ),
        (
            "grad_clip_norm",
            |c, v| c.grad_clip_norm = v,
            [false, false, false, true],
        ),
        (
            "ema_decay",
            |c, v| c.ema_decay = v,
            [true, false, false, false],
        ),
        ("seed", |c, v| c.seed = v as u64, [true, true, true, true]),
        (
            "max_images",
            |c, v| c.max_images = v as usize,
            [true, true, true, true],
        ),
        (
            "sample_every",
            |c, v| c.sample_every = v as usize,
            [true, true, true, true],
        ),
        (
            "sample_steps",
            |c, v| c.sample_steps = v as usize,
            [false, false, false, false],
        ),
        (
            "sample_eta",
            |c, v| c.sample_eta = v,
            [true, false, false, true],
        ),
        (
            "checkpoint_every",
            |c, v| c.checkpoint_every = v as usize,
            [true, true, true, true],
        ),
        (
            "min_snr_gamma",
            |c, v| c.min_snr_gamma = Some(v),
            [false, false, false, true],
        ),
        (
            "threads",
            |c, v| c.threads = Some(v as usize),
            [false, false, false, false],
        ),
        (
            "num_timesteps",
            |c, v| c.schedule.num_timesteps = v as usize,
            [false, false, false, false],
        ),
        (
            "base_channels",
            |c, v| c.model.base_channels = v as usize,
            [false, false, false, false],
        ),
    ];
    // `as usize` saturates: -1 and NaN become 0, 1e300 becomes usize::MAX.
    let values = [0.0, -1.0, f64::NAN, 1e300];
    let mut checked = 0;
    for (name, set, accepted) in settings {
        for (value, ok) in values.iter().zip(accepted) {
            let mut config = tiny(4);
            set(&mut config, *value);
            let result = config.validate();
            match (result, ok) {
                (Ok(_), true) => {}
                (Err(e), false) => {
                    let message = e.to_string();
                    assert!(!message.contains('\n'), "{message}");
                    let model_field = name == "base_channels" || name == "num_timesteps";
                    assert!(
                        message.contains(name) || (model_field && message.contains("model")),
                        "{name} = {value}: the error does not name it: {message}"
                    );
                }
                (Ok(_), false) => panic!("{name} = {value} was accepted"),
                (Err(e), true) => panic!("{name} = {value} was refused: {e}"),
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 64);
}

fn write_idx_folder(dir: &Path, side: usize, images: usize, labels: usize) {
    std::fs::create_dir_all(dir).unwrap();
    for prefix in ["train", "t10k"] {
        let pixels = vec![0u8; images * side * side];
        std::fs::write(
            dir.join(format!("{prefix}-images-idx3-ubyte")),
            ddpm::data::idx::encode_idx_images(images, side, side, &pixels),
        )
        .unwrap();
        std::fs::write(
            dir.join(format!("{prefix}-labels-idx1-ubyte")),
            ddpm::data::idx::encode_idx_labels(&vec![3; labels]),
        )
        .unwrap();
    }
}

#[test]
fn wrong_data_is_refused_before_the_run_folder_is_made() {
    let data = tmp("wrong-data");
    let run = tmp("wrong-data-run");
    // 14x14 images.
    write_idx_folder(&data.join("small"), 14, 8, 8);
    // 28x28 images with one label too few.
    write_idx_folder(&data.join("count"), 28, 8, 7);
    for (folder, needles) in [
        ("small", vec!["14x14", "28x28"]),
        (
            "count",
            vec!["8 images", "7 labels", "train-labels-idx1-ubyte"],
        ),
        ("absent", vec!["no train-images-idx3-ubyte"]),
    ] {
        let mut config = tiny(2);
        config.data = data.join(folder).display().to_string();
        let err = train(&config, &options(&run, false))
            .unwrap_err()
            .to_string();
        one_line(&err, &needles);
        assert!(!run.exists(), "{folder}: the run folder was created");
    }
    std::fs::remove_dir_all(&data).unwrap();
}

/// A real full disk: `scripts/faults.sh` mounts a small tmpfs and names a folder on it in
/// `DDPM_FULL_DISK_DIR`. A run with a checkpoint every step fills it; the error is one line
/// naming the file, and the newest checkpoint on the full disk still loads and resumes.
#[test]
#[ignore = "needs a small file system: run by scripts/faults.sh"]
fn a_real_full_disk() {
    let Ok(dir) = std::env::var("DDPM_FULL_DISK_DIR") else {
        return;
    };
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = PathBuf::from(dir).join("run");
    let config = tiny(1000).with_checkpoint_every(1);
    let err = train(&config, &options(&dir, false))
        .unwrap_err()
        .to_string();
    one_line(&err, &["No space left on device"]);
    let layout = RunLayout::new(&dir);
    let device = Device::flex();
    let last = latest_checkpoint(&layout).expect("a checkpoint before the disk filled");
    let ckpt = load_checkpoint(&layout, &config, &device, &device.clone().autodiff()).unwrap();
    println!(
        "FULL-DISK stopped with: {err}\nFULL-DISK newest checkpoint {} (step {}) loads",
        last.display(),
        ckpt.state.step
    );
}
