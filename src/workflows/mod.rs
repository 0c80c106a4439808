//! Workflows (chapters 13-14): training, sampling and benchmarking loops. They own all file I/O:
//! run folders, checkpoints, `config.json`, the loss CSV and PNG/GIF images.
//!
//! A training run writes everything into one folder whose layout is defined once, in
//! [`RunLayout`]:
//!
//! ```text
//! runs/<name>/
//!   config.json              TrainingConfig (model + schedule + optimiser settings)
//!   loss.csv                 step,loss,lr,grad_norm
//!   loss.svg                 the loss curve (written at the end)
//!   samples/step-000500.png  sample grids written during training (EMA weights)
//!   checkpoints/latest       name of the newest complete checkpoint
//!   checkpoints/step-000500/ model.bpk, model-ema.bpk, optimizer.bpk, state.json
//!   model.bpk, model-ema.bpk final raw and EMA weights (burnpack)
//! ```
//!
//! A folder holding `config.json` and `model-ema.bpk` is a *weights folder*: `ddpm sample
//! --weights <folder>` rebuilds the network from the config and loads the weights
//! ([`checkpoint::load_weights`]). `weights/default/` is one, shipped with the crate; so is
//! `weights/run-20min/`, the weights of chapter 13's 1,200-step run (the default training run
//! of machine A).

pub mod bench;
pub mod checkpoint;
pub mod classifier_train;
pub mod conditional;
pub mod config;
pub mod distill;
pub mod ema;
pub mod eval_report;
pub mod files;
pub mod images;
pub mod loss;
pub mod measure;
pub mod sample;
pub mod train;

use std::path::{Path, PathBuf};

use burn::tensor::Device;

pub use checkpoint::{CheckpointError, load_weights};
pub use config::{ScheduleConfig, TrainingConfig};

/// Where the files of a run live. The only place that spells these paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunLayout {
    /// The run folder, e.g. `runs/small`.
    pub root: PathBuf,
}

impl RunLayout {
    /// The layout of the run folder `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }
    /// `config.json`: the [`TrainingConfig`].
    pub fn config(&self) -> PathBuf {
        self.root.join(CONFIG_FILE)
    }
    /// `loss.csv`.
    pub fn loss_csv(&self) -> PathBuf {
        self.root.join("loss.csv")
    }
    /// `loss.svg`: the loss curve, drawn at the end of a run.
    pub fn loss_plot(&self) -> PathBuf {
        self.root.join("loss.svg")
    }
    /// `samples/`.
    pub fn samples_dir(&self) -> PathBuf {
        self.root.join("samples")
    }
    /// `samples/step-NNNNNN.png`.
    pub fn sample_grid(&self, step: usize) -> PathBuf {
        self.samples_dir().join(format!("step-{step:06}.png"))
    }
    /// `checkpoints/`.
    pub fn checkpoints_dir(&self) -> PathBuf {
        self.root.join("checkpoints")
    }
    /// `checkpoints/step-NNNNNN/`.
    pub fn checkpoint(&self, step: usize) -> PathBuf {
        self.checkpoints_dir().join(format!("step-{step:06}"))
    }
    /// `checkpoints/latest`: a one-line file naming the newest complete checkpoint.
    pub fn latest_pointer(&self) -> PathBuf {
        self.checkpoints_dir().join("latest")
    }
    /// `model.bpk`: the final raw weights.
    pub fn model(&self) -> PathBuf {
        self.root.join(MODEL_FILE)
    }
    /// `model-ema.bpk`: the final EMA weights (what sampling uses by default).
    pub fn model_ema(&self) -> PathBuf {
        self.root.join(MODEL_EMA_FILE)
    }
}

/// File name of the configuration in run, checkpoint and weights folders.
pub const CONFIG_FILE: &str = "config.json";
/// File name of raw weights.
pub const MODEL_FILE: &str = "model.bpk";
/// File name of EMA weights.
pub const MODEL_EMA_FILE: &str = "model-ema.bpk";
/// The weights shipped with the crate, which `ddpm sample` and `ddpm eval` use without
/// `--weights`: a longer-trained model (chapter 13, "The shipped weights").
pub const DEFAULT_WEIGHTS_DIR: &str = "weights/default";
/// The weights of chapter 13's 1,200-step run ([`TrainingConfig::run_20min`], the default
/// training run of machine A, about 20 minutes on its 2 cores), on which the book's figures for
/// the 1,200-step run are measured.
/// Written before checksums and several `config.json` fields existed, so the tests of old
/// files read it.
pub const RUN_20MIN_WEIGHTS_DIR: &str = "weights/run-20min";

/// Which compute backend to run on; chosen by the launcher (`--backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendKind {
    /// burn's pure-Rust CPU backend `flex` (always compiled in).
    #[default]
    Cpu,
    /// wgpu (Vulkan/Metal/DX12), with the `wgpu` cargo feature.
    Wgpu,
    /// wgpu pinned to Vulkan with kernels compiled to SPIR-V, with the `vulkan` cargo feature.
    Vulkan,
    /// CUDA, with the `cuda` cargo feature.
    Cuda,
}

impl std::str::FromStr for BackendKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "cpu" | "flex" => Ok(Self::Cpu),
            "wgpu" | "gpu" => Ok(Self::Wgpu),
            "vulkan" | "spirv" => Ok(Self::Vulkan),
            "cuda" => Ok(Self::Cuda),
            other => Err(format!(
                "unknown backend `{other}`: use cpu, wgpu (build with --features wgpu), vulkan \
                 (build with --features vulkan) or cuda (build with --features cuda)"
            )),
        }
    }
}

/// One entry of `ddpm train --devices`: a backend and, for a GPU backend, which of the
/// machine's GPUs (`cuda:1`; none: the backend's default device).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceSpec {
    /// The backend.
    pub kind: BackendKind,
    /// The GPU's index (`cuda:N`; `wgpu:N` and `vulkan:N` count discrete GPUs).
    pub index: Option<usize>,
}

impl std::str::FromStr for DeviceSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (name, index) = match s.trim().split_once(':') {
            None => (s.trim(), None),
            Some((name, n)) => {
                let index = n.trim().parse::<usize>().map_err(|_| {
                    format!("`{s}`: the part after `:` must be a GPU index, e.g. cuda:0 or cuda:1")
                })?;
                (name, Some(index))
            }
        };
        let kind: BackendKind = name.parse()?;
        if kind == BackendKind::Cpu && index.is_some() {
            return Err(format!(
                "`{s}`: the CPU backend takes no index (write `cpu`; `--threads N` runs N \
                 threads on it)"
            ));
        }
        Ok(Self { kind, index })
    }
}

impl DeviceSpec {
    /// A comma-separated list (`--devices cuda:0,cuda:1`), at least one entry.
    ///
    /// # Errors
    /// Which entry is wrong and why.
    pub fn parse_list(list: &str) -> Result<Vec<Self>, String> {
        let specs = list
            .split(',')
            .map(str::parse)
            .collect::<Result<Vec<Self>, String>>()?;
        if specs.is_empty() {
            return Err("--devices needs at least one device, e.g. cuda:0,cuda:1".into());
        }
        Ok(specs)
    }

    /// The device.
    ///
    /// # Errors
    /// As [`BackendKind::device`].
    pub fn device(self) -> Result<Device, String> {
        self.kind.device_at(self.index)
    }
}

impl BackendKind {
    /// The device for this backend.
    ///
    /// # Errors
    /// A message saying which cargo feature to enable when the backend is not compiled in.
    pub fn device(self) -> Result<Device, String> {
        self.device_at(None)
    }

    /// The device for this backend: its GPU number `index` (CUDA's numbering; discrete GPUs
    /// in wgpu's), or the default device for `None`.
    ///
    /// # Errors
    /// A message saying which cargo feature to enable when the backend is not compiled in.
    pub fn device_at(self, index: Option<usize>) -> Result<Device, String> {
        // Without a GPU feature every index names the one CPU device.
        #[cfg(not(any(feature = "wgpu", feature = "cuda")))]
        let _ = index;
        #[cfg(feature = "wgpu")]
        let wgpu_kind = || match index {
            None => burn::tensor::DeviceKind::DefaultDevice,
            Some(i) => burn::tensor::DeviceKind::DiscreteGpu(i),
        };
        match self {
            Self::Cpu => Ok(Device::flex()),
            #[cfg(feature = "wgpu")]
            Self::Wgpu => Ok(Device::wgpu(wgpu_kind())),
            #[cfg(feature = "vulkan")]
            Self::Vulkan => Ok(Device::vulkan(wgpu_kind())),
            #[cfg(feature = "cuda")]
            Self::Cuda => Ok(Device::cuda(index.unwrap_or(0))),
            #[allow(unreachable_patterns)]
            other => Err(format!(
                "the {other:?} backend is not compiled in: rebuild with `--features {}`",
                format!("{other:?}").to_lowercase()
            )),
        }
    }
}

/// Writes `bytes` to `path` atomically and durably ([`files::write_atomic`]: temporary file,
/// `fsync`, rename), so a crash never leaves a half-written file under the final name.
///
/// # Errors
/// Any I/O error; the old file is then untouched.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    files::write_atomic(path, bytes)
}

/// `dir/.name.tmp` for `dir/name`.
pub(crate) fn temp_sibling(path: &Path) -> PathBuf {
    files::temp_sibling(path)
}
