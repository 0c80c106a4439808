//! Checkpoints and weights folders. Every file is written atomically (temporary name, then
//! rename), and a checkpoint becomes visible only once complete, so a run killed at any moment
//! resumes from its last good checkpoint.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::{AdamConfig, ModuleOptimizer};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::config::TrainingConfig;
use super::files::{
    Damage, Integrity, first_line, from_json_checked, open_burnpack, seal_burnpack, sync_dir,
    to_json_checked,
};
use super::{CONFIG_FILE, MODEL_EMA_FILE, MODEL_FILE, RunLayout, temp_sibling, write_atomic};
use crate::network::UNet;

/// Everything that can go wrong reading or writing checkpoints and weights.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// File system error.
    #[error("cannot access {}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// No `config.json` where weights were expected.
    #[error(
        "{} is not a weights folder: it has no {CONFIG_FILE}; pass --weights with a run folder \
         (runs/<name>) or weights/default, or train one with `ddpm train`",
        dir.display()
    )]
    NotAWeightsFolder {
        /// The folder.
        dir: PathBuf,
    },
    /// `config.json` does not parse as a [`TrainingConfig`].
    #[error("{} is not a valid training config: {message}", path.display())]
    BadConfig {
        /// The file.
        path: PathBuf,
        /// The parser's complaint.
        message: String,
    },
    /// A weights file is missing, truncated, corrupt, or does not fit the network of
    /// `config.json`.
    #[error(
        "cannot load weights {}: {message}; the file is damaged or was written for another \
         network than {CONFIG_FILE} describes (retrain, or restore the folder from git)",
        path.display()
    )]
    BadWeights {
        /// The file.
        path: PathBuf,
        /// burn's message.
        message: String,
    },
    /// Writing a record failed.
    #[error("cannot write {}: {message}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// burn's message.
        message: String,
    },
    /// `--resume` with nothing to resume.
    #[error(
        "nothing to resume in {}: it holds no training run (no config.json); start without \
         --resume, or check the run folder's path",
        dir.display()
    )]
    NothingToResume {
        /// The checkpoints folder.
        dir: PathBuf,
    },
    /// The last-iterate weights were asked of a folder that ships only the EMA weights.
    #[error(
        "{} holds only the EMA weights ({MODEL_EMA_FILE}), not the last-iterate {MODEL_FILE}; \
         sample without --raw, or pass a run folder (runs/<name>), which holds both",
        dir.display()
    )]
    OnlyEmaWeights {
        /// The weights folder.
        dir: PathBuf,
    },
    /// A file is truncated, corrupt or fails its checksum ([`super::files`]).
    #[error(
        "{} is damaged: {what}; it was not loaded (restore it from a copy, resume from an \
         earlier checkpoint, or retrain)",
        path.display()
    )]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: Damage,
    },
    /// Intact weights (their checksum matches) for another network than `config.json`
    /// describes.
    #[error(
        "{} holds weights for another network than {} describes ({message}): keep each \
         config.json with the weights it was written with",
        path.display(),
        config.display()
    )]
    WrongNetwork {
        /// The weights file.
        path: PathBuf,
        /// The config that describes the network.
        config: PathBuf,
        /// What does not fit.
        message: String,
    },
    /// A folder that does not exist.
    #[error(
        "{} does not exist: check the path (a weights folder holds config.json and \
         model-ema.bpk, e.g. weights/default or runs/<name>)",
        dir.display()
    )]
    MissingFolder {
        /// The folder.
        dir: PathBuf,
    },
    /// `state.json` unreadable.
    #[error("{} is not a valid training state: {message}", path.display())]
    BadState {
        /// The file.
        path: PathBuf,
        /// The parser's complaint.
        message: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError + '_ {
    move |source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The non-tensor training state stored with a checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Steps completed.
    pub step: usize,
    /// Position of the host random stream (`ChaCha8Rng::get_word_pos`), as a decimal string
    /// (JSON numbers cannot hold a u128).
    pub rng_word_pos: String,
}

/// The Adam optimiser every run uses ($\epsilon = 10^{-8}$ as in Ho et al.'s TensorFlow code;
/// global-norm clipping is applied by the training step itself).
pub fn optimizer() -> ModuleOptimizer {
    AdamConfig::new().with_epsilon(1e-8).init()
}

/// Reads and parses a `config.json` ([`parse_config`]).
///
/// # Errors
/// [`CheckpointError::MissingFolder`], [`CheckpointError::NotAWeightsFolder`],
/// [`CheckpointError::Io`], [`CheckpointError::Damaged`] or [`CheckpointError::BadConfig`].
pub fn read_config(path: &Path) -> Result<TrainingConfig, CheckpointError> {
    let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !dir.exists() => {
            return Err(CheckpointError::MissingFolder { dir });
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(CheckpointError::NotAWeightsFolder { dir });
        }
        Err(source) => return Err(io(path)(source)),
    };
    parse_config(&bytes, path)
}

/// Parses the bytes of a `config.json` (named `path` in errors): checks its SHA-256 field when
/// it has one ([`super::files::from_json_checked`]), then reads a [`TrainingConfig`]. Settings
/// are not validated here ([`TrainingConfig::validate`]).
///
/// # Errors
/// [`CheckpointError::Damaged`] for bytes that are not JSON or fail the checksum,
/// [`CheckpointError::BadConfig`] for JSON that is not a training config.
pub fn parse_config(bytes: &[u8], path: &Path) -> Result<TrainingConfig, CheckpointError> {
    let (mut value, _) = from_json_checked(bytes).map_err(|what| CheckpointError::Damaged {
        path: path.to_path_buf(),
        what,
    })?;
    let bad = |e: serde_json::Error| CheckpointError::BadConfig {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    // Configs written before `sample_eta` existed drew their grids with DDIM eta = 0.
    if let Some(fields) = value.as_object_mut() {
        fields
            .entry("sample_eta")
            .or_insert(serde_json::Value::from(0.0));
    }
    serde_json::from_value(value).map_err(bad)
}

/// Writes `config.json` atomically, with its SHA-256 field.
///
/// # Errors
/// [`CheckpointError::Io`].
pub fn write_config(path: &Path, config: &TrainingConfig) -> Result<(), CheckpointError> {
    write_atomic(path, to_json_checked(config).as_bytes()).map_err(io(path))
}

/// Writes burnpack bytes (from burn's `into_bytes`) to `path` atomically, with their SHA-256
/// in the burnpack's metadata ([`super::files::seal_burnpack`]).
///
/// # Errors
/// [`CheckpointError::Write`] or [`CheckpointError::Io`].
pub fn save_burnpack(bytes: burn::tensor::Bytes, path: &Path) -> Result<(), CheckpointError> {
    let sealed = seal_burnpack(bytes).map_err(|message| CheckpointError::Write {
        path: path.to_path_buf(),
        message,
    })?;
    write_atomic(path, &sealed).map_err(io(path))
}

/// Reads a burnpack file and checks it ([`super::files::open_burnpack`]).
///
/// # Errors
/// [`CheckpointError::BadWeights`] when it is missing or unreadable,
/// [`CheckpointError::Damaged`] when it is truncated, corrupt or fails its checksum.
pub fn read_burnpack(path: &Path) -> Result<(burn::tensor::Bytes, Integrity), CheckpointError> {
    let bytes = read_file(path)?;
    open_burnpack(bytes).map_err(|what| CheckpointError::Damaged {
        path: path.to_path_buf(),
        what,
    })
}

/// Saves a module's weights (burnpack with a SHA-256) atomically.
///
/// # Errors
/// [`CheckpointError::Write`] or [`CheckpointError::Io`].
pub fn save_module<M: Module>(module: &M, path: &Path) -> Result<(), CheckpointError> {
    let bytes = module
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| CheckpointError::Write {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    save_burnpack(bytes, path)
}

/// Loads weights into a freshly built module, after checking the file ([`read_burnpack`]).
///
/// # Errors
/// [`CheckpointError::BadWeights`] when the file is missing or (without a checksum) does not
/// load, [`CheckpointError::Damaged`] when it is truncated or fails its checksum,
/// [`CheckpointError::WrongNetwork`] when intact weights are of another shape.
pub fn load_module<M: Module>(module: M, path: &Path) -> Result<M, CheckpointError> {
    let bytes = read_file(path)?;
    load_module_from_bytes(module, bytes, path)
}

/// The bytes of a weights file, or [`CheckpointError::BadWeights`] saying why not.
fn read_file(path: &Path) -> Result<Vec<u8>, CheckpointError> {
    std::fs::read(path).map_err(|e| CheckpointError::BadWeights {
        path: path.to_path_buf(),
        message: if e.kind() == std::io::ErrorKind::NotFound {
            "the file does not exist".into()
        } else {
            e.to_string()
        },
    })
}

/// [`load_module`] on the bytes of a file (named `path` in errors): what it does after reading
/// the file, public so that it can be fuzzed (`tests/fuzz_readers.rs`).
///
/// # Errors
/// As [`load_module`].
pub fn load_module_from_bytes<M: Module>(
    module: M,
    bytes: Vec<u8>,
    path: &Path,
) -> Result<M, CheckpointError> {
    let (bytes, integrity) = open_burnpack(bytes).map_err(|what| CheckpointError::Damaged {
        path: path.to_path_buf(),
        what,
    })?;
    let not_loaded = |message: String| match integrity {
        Integrity::Verified => CheckpointError::WrongNetwork {
            path: path.to_path_buf(),
            config: path.with_file_name(CONFIG_FILE),
            message,
        },
        Integrity::Unchecked => CheckpointError::BadWeights {
            path: path.to_path_buf(),
            message,
        },
    };
    let record = burn::store::ModuleRecord::from_bytes(bytes)
        .map_err(|e| not_loaded(first_line(&e.to_string())))?;
    module
        .try_load_record(record)
        .map_err(|e| not_loaded(first_line(&e.to_string())))
}

/// Loads a weights folder (`config.json` + `model-ema.bpk`, or `model.bpk` when `ema` is
/// false; a folder may ship only `model-ema.bpk`, and then `ema = false` is refused by name):
/// checks the config, rebuilds the network it describes on `device` (burn allocates parameters
/// lazily, so nothing is allocated yet), refuses a network larger than the weights file could
/// hold, then loads the weights.
///
/// # Errors
/// [`CheckpointError`] saying what is missing, corrupt or mismatched.
pub fn load_weights(
    dir: &Path,
    ema: bool,
    device: &Device,
) -> Result<(UNet, TrainingConfig), CheckpointError> {
    let config_path = dir.join(CONFIG_FILE);
    let config = read_config(&config_path)?;
    config.validate().map_err(|e| CheckpointError::BadConfig {
        path: config_path.clone(),
        message: e.to_string(),
    })?;
    let model = config.model.init(device).expect("validated just above");
    let file = dir.join(if ema { MODEL_EMA_FILE } else { MODEL_FILE });
    if !ema && !file.exists() && dir.join(MODEL_EMA_FILE).exists() {
        return Err(CheckpointError::OnlyEmaWeights {
            dir: dir.to_path_buf(),
        });
    }
    // Each parameter takes at least 2 bytes (f16) in a burnpack: a config describing more
    // parameters than that cannot be these weights, whatever the file says inside.
    let params = model.num_params() as u64;
    if let Ok(meta) = std::fs::metadata(&file)
        && params.saturating_mul(2) > meta.len()
    {
        return Err(CheckpointError::WrongNetwork {
            path: file,
            config: config_path,
            message: format!(
                "the config describes {params} parameters, more than a file of {} bytes holds",
                meta.len()
            ),
        });
    }
    let model = load_module(model, &file).map_err(|e| match e {
        CheckpointError::WrongNetwork { path, message, .. } => CheckpointError::WrongNetwork {
            path,
            config: config_path.clone(),
            message,
        },
        other => other,
    })?;
    Ok((model, config))
}

/// Writes a checkpoint for `state.step`: the folder is assembled under a temporary name and
/// renamed when complete, then `checkpoints/latest` is pointed at it; older checkpoints but
/// the previous one are removed.
///
/// # Errors
/// [`CheckpointError`] on any I/O failure (the previous checkpoint stays valid).
pub fn save_checkpoint(
    layout: &RunLayout,
    model: &UNet,
    ema: &UNet,
    optim: &ModuleOptimizer,
    state: &TrainState,
) -> Result<PathBuf, CheckpointError> {
    let dir = layout.checkpoint(state.step);
    let tmp = temp_sibling(&dir);
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
    }
    std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    // A failure below (a full disk) leaves `tmp` half written: remove it, so that only complete
    // checkpoints carry a `step-` name and the previous one stays the newest.
    let written = (|| {
        save_module(model, &tmp.join(MODEL_FILE))?;
        save_module(ema, &tmp.join(MODEL_EMA_FILE))?;
        let optim_path = tmp.join(OPTIMIZER_FILE);
        let optim_bytes = optim.into_bytes().map_err(|e| CheckpointError::Write {
            path: optim_path.clone(),
            message: e.to_string(),
        })?;
        save_burnpack(optim_bytes, &optim_path)?;
        let state_path = tmp.join(STATE_FILE);
        write_atomic(&state_path, to_json_checked(state).as_bytes()).map_err(io(&state_path))
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    sync_dir(&tmp);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(io(&dir))?;
    }
    std::fs::rename(&tmp, &dir).map_err(io(&dir))?;
    sync_dir(&layout.checkpoints_dir());
    let name = dir
        .file_name()
        .expect("checkpoint folders have names")
        .to_string_lossy()
        .into_owned();
    let previous = std::fs::read_to_string(layout.latest_pointer()).ok();
    write_atomic(&layout.latest_pointer(), name.as_bytes())
        .map_err(io(&layout.latest_pointer()))?;
    // Keep the newest and the one before it.
    if let Ok(entries) = std::fs::read_dir(layout.checkpoints_dir()) {
        for entry in entries.flatten() {
            let n = entry.file_name().to_string_lossy().into_owned();
            let keep = n == name || previous.as_deref().map(str::trim) == Some(n.as_str());
            if n.starts_with("step-") && !keep {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    Ok(dir)
}

/// File name of the optimiser state in a checkpoint folder.
pub const OPTIMIZER_FILE: &str = "optimizer.bpk";
/// File name of the [`TrainState`] in a checkpoint folder.
pub const STATE_FILE: &str = "state.json";

/// The newest complete checkpoint of a run, if any: the `step-NNNNNN` folder of the highest
/// step, or, when there is none, the folder `checkpoints/latest` names. A folder gets its
/// `step-` name only once complete, so the checkpoint is whole.
pub fn latest_checkpoint(layout: &RunLayout) -> Option<PathBuf> {
    // The highest `step-N` folder first: a folder gets its name only when it is complete (the
    // rename is the commit), while the pointer file is updated after it, so a run killed
    // between the two has a newer complete checkpoint than the pointer names
    // (tests/faults_kill.rs found this). The pointer serves folders named otherwise.
    let newest = std::fs::read_dir(layout.checkpoints_dir())
        .ok()
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let step: usize = name.strip_prefix("step-")?.parse().ok()?;
            entry.path().is_dir().then_some((step, entry.path()))
        })
        .max_by_key(|(step, _)| *step)
        .map(|(_, dir)| dir);
    if newest.is_some() {
        return newest;
    }
    let name = std::fs::read_to_string(layout.latest_pointer()).ok()?;
    let dir = layout.checkpoints_dir().join(name.trim());
    (!name.trim().is_empty() && dir.is_dir()).then_some(dir)
}

/// Parses a checkpoint's `state.json` (named `path` in errors), checking its SHA-256 field
/// when it has one.
///
/// # Errors
/// [`CheckpointError::Damaged`] or [`CheckpointError::BadState`].
pub fn parse_state(bytes: &[u8], path: &Path) -> Result<TrainState, CheckpointError> {
    let (value, _) = from_json_checked(bytes).map_err(|what| CheckpointError::Damaged {
        path: path.to_path_buf(),
        what,
    })?;
    let state: TrainState =
        serde_json::from_value(value).map_err(|e| CheckpointError::BadState {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    if state.rng_word_pos.parse::<u128>().is_err() {
        return Err(CheckpointError::BadState {
            path: path.to_path_buf(),
            message: format!("rng_word_pos {:?} is not an integer", state.rng_word_pos),
        });
    }
    Ok(state)
}

/// The Adam state of a checkpoint's `optimizer.bpk`, from the file's bytes (named `path` in
/// errors).
///
/// # Errors
/// [`CheckpointError::Damaged`] or [`CheckpointError::BadWeights`].
pub fn load_optimizer_from_bytes(
    bytes: Vec<u8>,
    path: &Path,
) -> Result<ModuleOptimizer, CheckpointError> {
    let (bytes, _) = open_burnpack(bytes).map_err(|what| CheckpointError::Damaged {
        path: path.to_path_buf(),
        what,
    })?;
    // burn's optimiser record loader panics on some malformed records ("Optimizer record
    // tensors should carry a parameter id", found by tests/fuzz_readers.rs's budget run)
    // instead of returning its error: caught here and reported as the damaged file it is.
    let loaded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        optimizer().from_bytes(bytes)
    }));
    match loaded {
        Ok(result) => result.map_err(|e| CheckpointError::BadWeights {
            path: path.to_path_buf(),
            message: first_line(&e.to_string()),
        }),
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "the optimiser record could not be read".to_string());
            Err(CheckpointError::BadWeights {
                path: path.to_path_buf(),
                message: first_line(&message),
            })
        }
    }
}

/// A loaded checkpoint.
pub struct Checkpoint {
    /// The trained module (on the device given to [`load_checkpoint`]).
    pub model: UNet,
    /// The EMA module.
    pub ema: UNet,
    /// The optimiser with its moments.
    pub optim: ModuleOptimizer,
    /// Step and random-stream position.
    pub state: TrainState,
}

/// Loads the newest checkpoint of a run: modules are built from `config` on `device`
/// (`train_device` for the trained module, which may carry autodiff).
///
/// # Errors
/// [`CheckpointError`] when there is none or it cannot be read.
pub fn load_checkpoint(
    layout: &RunLayout,
    config: &TrainingConfig,
    device: &Device,
    train_device: &Device,
) -> Result<Checkpoint, CheckpointError> {
    let dir = latest_checkpoint(layout).ok_or_else(|| CheckpointError::NothingToResume {
        dir: layout.checkpoints_dir(),
    })?;
    let build = |d: &Device| {
        config
            .model
            .init(d)
            .map_err(|e| CheckpointError::BadConfig {
                path: layout.config(),
                message: e.to_string(),
            })
    };
    let model = load_module(build(train_device)?, &dir.join(MODEL_FILE))?;
    let ema = load_module(build(device)?, &dir.join(MODEL_EMA_FILE))?;
    let optim_path = dir.join(OPTIMIZER_FILE);
    let optim = load_optimizer_from_bytes(read_file(&optim_path)?, &optim_path)?;
    let state_path = dir.join(STATE_FILE);
    let bytes = std::fs::read(&state_path).map_err(io(&state_path))?;
    let state = parse_state(&bytes, &state_path)?;
    Ok(Checkpoint {
        model,
        ema,
        optim,
        state,
    })
}
