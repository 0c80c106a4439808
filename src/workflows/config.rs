//! Typed training configuration, saved as `config.json` beside the weights so that sampling
//! rebuilds exactly the trained network.

use burn::prelude::*;

use crate::diffusion::schedule::{BetaSchedule, NoiseSchedule, ScheduleError};
use crate::network::{UNetConfig, UNetConfigError};
use crate::workflows::sample::Sampler;

/// Which noise schedule, and how many steps.
#[derive(Config, Debug, PartialEq)]
pub struct ScheduleConfig {
    /// Linear (Ho et al.) or cosine (Nichol & Dhariwal).
    pub kind: BetaSchedule,
    /// $T$.
    pub num_timesteps: usize,
}

impl ScheduleConfig {
    /// Ho et al.'s schedule: $\beta_t$ linear from $10^{-4}$ to $0.02$, $T = 1000$ (Sec. 4).
    pub fn linear_1000() -> Self {
        Self::new(
            BetaSchedule::Linear {
                beta_start: 1e-4,
                beta_end: 0.02,
            },
            1000,
        )
    }

    /// Builds the f64 schedule (Part II).
    ///
    /// # Errors
    /// [`ScheduleError`] for $T = 0$ or invalid betas.
    pub fn build(&self) -> Result<NoiseSchedule, ScheduleError> {
        NoiseSchedule::new(self.kind, self.num_timesteps)
    }
}

// ANCHOR: training_config
/// Everything that defines a training run. Saved as `config.json`.
#[derive(Config, Debug, PartialEq)]
pub struct TrainingConfig {
    /// The network.
    pub model: UNetConfig,
    /// The noise schedule.
    pub schedule: ScheduleConfig,
    /// Optimisation steps.
    pub steps: usize,
    /// Images per step.
    #[config(default = 64)]
    pub batch: usize,
    /// Adam learning rate after warmup (Ho et al.: 2e-4 on CIFAR-10).
    #[config(default = 2e-4)]
    pub lr: f64,
    /// Steps of linear learning-rate warmup from 0 (Ho et al.: 5000).
    #[config(default = 200)]
    pub warmup_steps: usize,
    /// Clip the global gradient norm to this (Ho et al.: 1.0).
    #[config(default = 1.0)]
    pub grad_clip_norm: f64,
    /// Decay of the exponential moving average of the weights (Ho et al.: 0.9999).
    #[config(default = 0.999)]
    pub ema_decay: f64,
    /// Seed of every random choice (initial weights, batches, timesteps, noise, dropout).
    #[config(default = 0)]
    pub seed: u64,
    /// Data source: `embedded`, `mnist` or a folder of IDX files.
    #[config(default = "String::from(\"embedded\")")]
    pub data: String,
    /// Use only the first this-many training images (0 = all).
    #[config(default = 0)]
    pub max_images: usize,
    /// Write a sample grid every this-many steps (0 = only at the end).
    #[config(default = 500)]
    pub sample_every: usize,
    /// DDIM steps used for the grids written during training (with `sample_eta`, the
    /// [`TrainingConfig::grid_sampler`]; `ddpm train --sampler ddim:STEPS:ETA` sets both).
    #[config(default = 50)]
    pub sample_steps: usize,
    /// DDIM $\eta$ of those grids: 1 (stochastic, like ancestral sampling) gives clean strokes
    /// early in training, where $\eta = 0$ still draws grey blobs and noisy backgrounds
    /// (chapter 13 shows both).
    #[config(default = 1.0)]
    pub sample_eta: f64,
    /// Write a checkpoint every this-many steps (0 = only at the end).
    #[config(default = 500)]
    pub checkpoint_every: usize,
    /// Min-SNR-$\gamma$ loss weighting (Hang et al. 2023): each example's squared noise error
    /// is weighted by $\min(\mathrm{SNR}(t), \gamma)/\mathrm{SNR}(t)$
    /// ([`crate::diffusion::bound::min_snr_weights`]). `None` (the default, and what a
    /// `config.json` without this field means) is Ho et al.'s unweighted $L_\text{simple}$.
    pub min_snr_gamma: Option<f64>,
    /// How the learning rate moves after warmup. `None` (the default, and what a
    /// `config.json` without this field means) holds it constant, as Ho et al. do.
    pub lr_schedule: Option<LrSchedule>,
    /// Compute each step's gradients in this many threads, each on an equal share of the
    /// batch (data parallelism on the CPU's cores; [`crate::workflows::train::parallel_train_step`]).
    /// `None` (the default, and what a `config.json` without this field means) is one thread.
    /// The sum of the shares' gradients equals the batch's up to float rounding, so a run with
    /// 2 threads is the same training, not bit-identical to the one-thread run.
    pub threads: Option<usize>,
    /// Class-conditional training (chapter 18; the network's
    /// [`UNetConfig::num_classes`] must be set): each label is replaced by the null class with
    /// this probability, so that one network learns $\epsilon_\theta(x_t, t, y)$ and
    /// $\epsilon_\theta(x_t, t, \varnothing)$ (Ho & Salimans 2022 use 0.1 or 0.2). `None` (the
    /// default, and what a `config.json` without this field means) is 0.
    pub label_dropout: Option<f64>,
    /// Start from the weights in this weights folder instead of a random initialisation. The
    /// folder's network must match `model` except for `num_classes`: unconditional weights
    /// get a fresh label embedding ([`crate::network::UNet::into_conditional`]). `None` (the
    /// default) starts from random weights.
    pub init_weights: Option<String>,
    /// Guidance distillation (chapter 18): regress the network on a teacher's autoguided
    /// prediction instead of on the noise, so that the network alone samples as the guided
    /// pair does. `None` (the default, and what a `config.json` without this field means)
    /// trains on $L_\text{simple}$.
    pub distill: Option<DistillConfig>,
}
// ANCHOR_END: training_config

/// The teacher of a distillation run ([`TrainingConfig::distill`]; `ddpm train --distill`):
/// the network learns $\tilde\epsilon = (1 + w)\,\epsilon_\text{teacher} -
/// w\,\epsilon_\text{guide}$ at the same $(x_t, t)$ ([`crate::workflows::distill`]).
#[derive(Config, Debug, PartialEq)]
pub struct DistillConfig {
    /// The weights folder of the teacher (its EMA weights are used).
    pub teacher: String,
    /// The weights folder of the teacher's autoguidance guide (its EMA weights).
    pub guide: String,
    /// The autoguidance weight $w \ge 0$.
    pub weight: f64,
}

/// The learning rate after warmup ([`crate::workflows::train::scheduled_learning_rate`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LrSchedule {
    /// Held at `lr` (Ho et al. 2020).
    Constant,
    /// Half a cosine from `lr` at the end of warmup down to 0 after the last step
    /// (Loshchilov & Hutter 2017, without restarts). It depends on `steps`: resuming with more
    /// steps stretches the rest of the curve.
    Cosine,
}

impl std::str::FromStr for LrSchedule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "constant" => Ok(Self::Constant),
            "cosine" => Ok(Self::Cosine),
            other => Err(format!(
                "unknown learning-rate schedule {other:?}: use constant or cosine"
            )),
        }
    }
}

/// The most diffusion steps $T$ a config may ask for ([`TrainingConfig::validate`]).
pub const MAX_TIMESTEPS: usize = 100_000;
/// The most channels at one level of the network (`base_channels x channel_mult`).
pub const MAX_CHANNELS: usize = 1 << 16;
/// The most residual blocks per level.
pub const MAX_RES_BLOCKS: usize = 64;
/// The most parameters a network may have: 2^28 floats, 1 GiB of weights.
pub const MAX_PARAMS: usize = 1 << 28;
/// The most values in one feature map of a whole batch at the first level (`batch x
/// channels x side x side`): 2^28 floats, 1 GiB.
pub const MAX_FEATURE_MAP: usize = 1 << 28;

/// What is wrong with a [`TrainingConfig`].
#[derive(Debug, thiserror::Error)]
pub enum TrainingConfigError {
    /// The network configuration is invalid.
    #[error("invalid model: {0}")]
    Model(#[from] UNetConfigError),
    /// The schedule is invalid.
    #[error("invalid schedule: {0}")]
    Schedule(#[from] ScheduleError),
    /// A setting out of range.
    #[error("invalid setting {name} = {value}: {hint}")]
    Setting {
        /// Which field.
        name: &'static str,
        /// Its value, printed.
        value: String,
        /// What a valid value is.
        hint: &'static str,
    },
}

impl TrainingConfig {
    /// The default run (`ddpm train` with no flags): the `small` network, $T = 1000$ linear
    /// schedule, 8,500 steps of batch 32 computed in two threads, learning rate
    /// $2\cdot10^{-3}$ after 100 warmup steps and then half a cosine down to 0, EMA decay 0.999
    /// (with warm-up), a grid and a checkpoint every 500 steps. Sized to finish within 20
    /// minutes on an idle 2-core CPU with the crate's own CPU kernels (chapter 13 gives the
    /// measured time). Before those kernels, the default was 1,200 steps with a constant rate
    /// and EMA 0.995 on one thread ([`TrainingConfig::run_20min`]).
    pub fn default_run() -> Self {
        let mut config = Self::new(UNetConfig::small(), ScheduleConfig::linear_1000(), 8_500)
            .with_batch(32)
            .with_lr(2e-3)
            .with_warmup_steps(100)
            .with_ema_decay(0.999)
            .with_sample_every(500)
            .with_checkpoint_every(500);
        config.lr_schedule = Some(LrSchedule::Cosine);
        config.threads = Some(2);
        config
    }

    /// The default run as it was on the book's first machine, whose 20 minutes held 1,200
    /// steps of burn's own CPU operations: `small`, 1,200 steps of batch 32 on one thread,
    /// learning rate $2\cdot10^{-3}$ held after 100 warmup steps, EMA decay 0.995, a grid and
    /// a checkpoint every 200 steps. Its weights are `weights/run-20min/`, on which chapters 13
    /// to 18 measure sampling, likelihood and sample quality.
    pub fn run_20min() -> Self {
        Self::new(UNetConfig::small(), ScheduleConfig::linear_1000(), 1200)
            .with_batch(32)
            .with_lr(2e-3)
            .with_warmup_steps(100)
            .with_ema_decay(0.995)
            .with_sample_every(200)
            .with_checkpoint_every(200)
    }

    /// The sampler of the sample grids written during training: DDIM with `sample_steps` and
    /// `sample_eta` (the defaults are [`crate::workflows::sample::DEFAULT_SAMPLER`]).
    pub fn grid_sampler(&self) -> Sampler {
        Sampler::Ddim {
            steps: self.sample_steps,
            eta: self.sample_eta,
        }
    }

    /// Sets the sampler of the grids written during training (`ddpm train --sampler`).
    ///
    /// # Errors
    /// [`TrainingConfigError::Setting`] for ancestral sampling: the grids are drawn with DDIM,
    /// which a config stores as `sample_steps` and `sample_eta` (ancestral sampling would take
    /// $T$ network evaluations per grid, more than most training steps between grids).
    pub fn set_grid_sampler(&mut self, sampler: Sampler) -> Result<(), TrainingConfigError> {
        match sampler {
            Sampler::Ddim { steps, eta } => {
                self.sample_steps = steps;
                self.sample_eta = eta;
                Ok(())
            }
            Sampler::Ancestral { .. } => Err(TrainingConfigError::Setting {
                name: "sampler",
                value: sampler.to_string(),
                hint: "the grids written during training are drawn with DDIM: give \
                       ddim:STEPS:ETA, e.g. ddim:50:1",
            }),
        }
    }

    /// Checks every setting.
    ///
    /// # Errors
    /// [`TrainingConfigError`] naming the first bad setting.
    pub fn validate(&self) -> Result<NoiseSchedule, TrainingConfigError> {
        self.model.validate()?;
        let bad =
            |name, value: String, hint| Err(TrainingConfigError::Setting { name, value, hint });
        // Sizes are bounded before anything is built, so that a typo (or a damaged
        // config.json) is refused with a message instead of exhausting memory.
        if self.schedule.num_timesteps > MAX_TIMESTEPS {
            return bad(
                "num_timesteps",
                self.schedule.num_timesteps.to_string(),
                "use at most 100000 diffusion steps (Ho et al. use 1000)",
            );
        }
        let schedule = self.schedule.build()?;
        let widest = self.model.channel_mults.iter().max().copied().unwrap_or(1);
        if self
            .model
            .base_channels
            .checked_mul(widest)
            .is_none_or(|c| c > MAX_CHANNELS)
            || self.model.num_res_blocks > MAX_RES_BLOCKS
        {
            return bad(
                "model",
                format!(
                    "{} channels x {widest}, {} blocks per level",
                    self.model.base_channels, self.model.num_res_blocks
                ),
                "use at most 65536 channels at a level and 64 residual blocks per level",
            );
        }
        let params = self
            .model
            .init(&burn::tensor::Device::flex())
            .map(|m| burn::module::Module::num_params(&m))
            .unwrap_or(0);
        if params > MAX_PARAMS {
            return bad(
                "model",
                format!("{params} parameters"),
                "the network would need more than 1 GiB of weights; use fewer channels, \
                 levels or blocks (the paper preset has 1.6M parameters)",
            );
        }
        let side = self.model.image_size / self.model.patch().max(1);
        let first_map = [
            self.batch,
            self.model.base_channels,
            self.model.channel_mults.first().copied().unwrap_or(1),
            side,
            side,
        ]
        .iter()
        .try_fold(1usize, |acc, &n| acc.checked_mul(n));
        if first_map.is_none_or(|n| n > MAX_FEATURE_MAP) {
            return bad(
                "batch",
                self.batch.to_string(),
                "one feature map of the batch would exceed 1 GiB; use a smaller batch \
                 (64 is Ho et al.'s) or a smaller network",
            );
        }
        if self.steps == 0 {
            return bad("steps", "0".into(), "train for at least 1 step");
        }
        if self.batch == 0 {
            return bad("batch", "0".into(), "use at least 1 image per step");
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad(
                "lr",
                self.lr.to_string(),
                "the learning rate must be positive",
            );
        }
        if !(0.0..1.0).contains(&self.ema_decay) {
            return bad(
                "ema_decay",
                self.ema_decay.to_string(),
                "use a decay in [0, 1), e.g. 0.999",
            );
        }
        if self.grad_clip_norm.is_nan() || self.grad_clip_norm <= 0.0 {
            return bad(
                "grad_clip_norm",
                self.grad_clip_norm.to_string(),
                "the clipping norm must be positive (use a large value to disable clipping)",
            );
        }
        if let Some(gamma) = self.min_snr_gamma
            && !(gamma.is_finite() && gamma > 0.0)
        {
            return bad(
                "min_snr_gamma",
                gamma.to_string(),
                "min-SNR gamma must be finite and positive (Hang et al. use 5)",
            );
        }
        if let Some(threads) = self.threads {
            if threads == 0 || threads > self.batch {
                return bad(
                    "threads",
                    threads.to_string(),
                    "use 1 to batch threads (each needs at least one image of the batch)",
                );
            }
            if threads > 1 && self.model.dropout > 0.0 {
                return bad(
                    "threads",
                    threads.to_string(),
                    "more than one thread needs dropout = 0: the threads share burn's random \
                     generator, so dropout masks would depend on their timing",
                );
            }
        }
        if let Some(p) = self.label_dropout {
            if !(0.0..1.0).contains(&p) {
                return bad(
                    "label_dropout",
                    p.to_string(),
                    "the label dropout rate is a probability in [0, 1), e.g. 0.1",
                );
            }
            if self.model.num_classes.is_none() {
                return bad(
                    "label_dropout",
                    p.to_string(),
                    "label dropout needs a conditional network: set model.num_classes \
                     (`ddpm train --conditional`)",
                );
            }
        }
        if let Some(d) = &self.distill {
            if !(d.weight.is_finite() && d.weight >= 0.0) {
                return bad(
                    "distill.weight",
                    d.weight.to_string(),
                    "the autoguidance weight of the teacher must be a number >= 0 (0 distils \
                     the teacher alone; chapter 18 uses 0.5)",
                );
            }
            if self.model.num_classes.is_some() {
                return bad(
                    "distill",
                    d.teacher.clone(),
                    "distillation of autoguidance trains an unconditional network: drop \
                     --conditional",
                );
            }
        }
        if !(self.sample_eta.is_finite() && self.sample_eta >= 0.0) {
            return bad(
                "sample_eta",
                self.sample_eta.to_string(),
                "DDIM eta must be finite and >= 0 (0 deterministic, 1 stochastic)",
            );
        }
        if self.sample_steps == 0 || self.sample_steps > self.schedule.num_timesteps {
            return bad(
                "sample_steps",
                self.sample_steps.to_string(),
                "DDIM steps must lie in 1..=T",
            );
        }
        Ok(schedule)
    }
}
