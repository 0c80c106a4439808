//! Checkpoints and weights folders. Every file is written atomically (temporary name, then
//! rename), and a checkpoint becomes visible only once complete, so a run killed at any moment
//! resumes from its last good checkpoint.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::{AdamConfig, ModuleOptimizer};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::config::TrainingConfig;
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
        "no checkpoint to resume in {}: start without --resume, or check the run folder",
        dir.display()
    )]
    NothingToResume {
        /// The checkpoints folder.
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

/// Reads and parses a `config.json`.
///
/// # Errors
/// [`CheckpointError::NotAWeightsFolder`] or [`CheckpointError::BadConfig`].
pub fn read_config(path: &Path) -> Result<TrainingConfig, CheckpointError> {
    let text = std::fs::read_to_string(path).map_err(|_| CheckpointError::NotAWeightsFolder {
        dir: path.parent().unwrap_or(Path::new(".")).to_path_buf(),
    })?;
    let bad = |e: serde_json::Error| CheckpointError::BadConfig {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut value: serde_json::Value = serde_json::from_str(&text).map_err(bad)?;
    // Configs written before `sample_eta` existed drew their grids with DDIM eta = 0.
    if let Some(fields) = value.as_object_mut() {
        fields
            .entry("sample_eta")
            .or_insert(serde_json::Value::from(0.0));
    }
    serde_json::from_value(value).map_err(bad)
}

/// Writes `config.json` atomically.
///
/// # Errors
/// [`CheckpointError::Io`].
pub fn write_config(path: &Path, config: &TrainingConfig) -> Result<(), CheckpointError> {
    let json = serde_json::to_string_pretty(config).expect("a config always serialises");
    write_atomic(path, json.as_bytes()).map_err(io(path))
}

/// Saves a module's weights (burnpack) atomically.
///
/// # Errors
/// [`CheckpointError::Write`] or [`CheckpointError::Io`].
pub fn save_module<M: Module>(module: &M, path: &Path) -> Result<(), CheckpointError> {
    let tmp = temp_sibling(path);
    module
        .clone()
        .save_file(&tmp)
        .map_err(|e| CheckpointError::Write {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

/// Loads weights into a freshly built module.
///
/// # Errors
/// [`CheckpointError::BadWeights`] when the file is missing, corrupt or of another shape.
pub fn load_module<M: Module>(module: M, path: &Path) -> Result<M, CheckpointError> {
    module
        .try_load_file(path)
        .map_err(|e| CheckpointError::BadWeights {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
}

/// Loads a weights folder (`config.json` + `model-ema.bpk`, or `model.bpk` when `ema` is
/// false): rebuilds the network the config describes on `device`, then loads the weights.
///
/// # Errors
/// [`CheckpointError`] saying what is missing, corrupt or mismatched.
pub fn load_weights(
    dir: &Path,
    ema: bool,
    device: &Device,
) -> Result<(UNet, TrainingConfig), CheckpointError> {
    let config = read_config(&dir.join(CONFIG_FILE))?;
    config
        .model
        .validate()
        .map_err(|e| CheckpointError::BadConfig {
            path: dir.join(CONFIG_FILE),
            message: e.to_string(),
        })?;
    let model = config.model.init(device).expect("validated just above");
    let file = dir.join(if ema { MODEL_EMA_FILE } else { MODEL_FILE });
    let model = load_module(model, &file)?;
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
    save_module(model, &tmp.join(MODEL_FILE))?;
    save_module(ema, &tmp.join(MODEL_EMA_FILE))?;
    let optim_path = tmp.join("optimizer.bpk");
    optim
        .save(&optim_path)
        .map_err(|e| CheckpointError::Write {
            path: optim_path.clone(),
            message: e.to_string(),
        })?;
    let state_json = serde_json::to_string_pretty(state).expect("state serialises");
    std::fs::write(tmp.join("state.json"), state_json).map_err(io(&tmp))?;
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(io(&dir))?;
    }
    std::fs::rename(&tmp, &dir).map_err(io(&dir))?;
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

/// The newest complete checkpoint of a run, if any.
pub fn latest_checkpoint(layout: &RunLayout) -> Option<PathBuf> {
    let name = std::fs::read_to_string(layout.latest_pointer()).ok()?;
    let dir = layout.checkpoints_dir().join(name.trim());
    dir.is_dir().then_some(dir)
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
    let optim_path = dir.join("optimizer.bpk");
    let optim = optimizer()
        .load(&optim_path)
        .map_err(|e| CheckpointError::BadWeights {
            path: optim_path.clone(),
            message: e.to_string(),
        })?;
    let state_path = dir.join("state.json");
    let text = std::fs::read_to_string(&state_path).map_err(io(&state_path))?;
    let state = serde_json::from_str(&text).map_err(|e| CheckpointError::BadState {
        path: state_path.clone(),
        message: e.to_string(),
    })?;
    Ok(Checkpoint {
        model,
        ema,
        optim,
        state,
    })
}
