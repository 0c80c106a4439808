//! Guidance distillation (chapter 18; Meng et al. 2023, "On distillation of guided diffusion
//! models"): a network that samples alone as a guided pair does.
//!
//! Autoguidance ([`crate::network::AutoGuided`]) draws sharper digits than the network alone,
//! at the price of a second network evaluated at every step. Its prediction
//! $\tilde\epsilon(x_t, t) = (1 + w)\,\epsilon_\text{teacher}(x_t, t) - w\,\epsilon_\text{guide}(x_t, t)$
//! is a function of $(x_t, t)$ like any noise prediction, so a third network can learn it by
//! regression: draw $x_0$, $t$ and $\epsilon$ as Algorithm 1 does, make
//! $x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1 - \bar\alpha_t}\,\epsilon$, and minimise
//! $$ \lVert \tilde\epsilon(x_t, t) - \epsilon_\theta(x_t, t) \rVert^2 $$
//! in place of $\lVert \epsilon - \epsilon_\theta(x_t, t) \rVert^2$. Started from the
//! teacher's own weights, the network only has to learn the guide's correction. What it gives
//! up is the link to the data's likelihood: $\tilde\epsilon$ is not the noise of any
//! forward process, so the bound of chapter 15 no longer describes what the network was
//! trained on.
//!
//! [`Distiller`] loads the teacher and the guide of a [`DistillConfig`] and writes
//! $\tilde\epsilon$ into each training batch ([`Batch::target`]); everything else is
//! [`super::train::train`] as before (`ddpm train --distill TEACHER --guide GUIDE`).

use std::path::Path;

use burn::prelude::*;

use super::checkpoint::{self, CheckpointError};
use super::config::{DistillConfig, TrainingConfig, TrainingConfigError};
use super::sample::{GuideMismatch, check_guide};
use super::train::Batch;
use crate::network::{AutoGuided, NoisePredictor, ScheduleTensors, UNet};

/// Why the teacher or the guide of a distillation run cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DistillError {
    /// The weights folder cannot be loaded.
    #[error("cannot load the distillation {role} from {dir}: {source}")]
    Load {
        /// `teacher` or `guide`.
        role: &'static str,
        /// The folder.
        dir: String,
        /// Why.
        source: CheckpointError,
    },
    /// Its images or noise schedule differ from the run's.
    #[error(
        "the distillation {role} {dir} cannot teach this run: its {} ({}) differs from the \
         run's ({}); teacher, guide and run must share the image shape and noise schedule",
        .source.what, .source.guide, .source.network
    )]
    Mismatch {
        /// `teacher` or `guide`.
        role: &'static str,
        /// The folder.
        dir: String,
        /// What differs.
        source: GuideMismatch,
    },
    /// The folder holds a class-conditional network.
    #[error(
        "the distillation {role} {dir} is a class-conditional network; autoguidance and its \
         distillation use unconditional networks (e.g. weights/default guided by \
         weights/run-20min)"
    )]
    Conditional {
        /// `teacher` or `guide`.
        role: &'static str,
        /// The folder.
        dir: String,
    },
    /// The guidance weight is negative or not a number.
    #[error(transparent)]
    Weight(#[from] crate::network::AutoGuideError),
    /// The run's own configuration is invalid (checked first, so that its noise schedule can
    /// be built).
    #[error(transparent)]
    Config(#[from] TrainingConfigError),
}

/// The teacher and guide of a distillation run, on a plain (non-autodiff) device, and the
/// noise schedule there.
#[derive(Debug)]
pub struct Distiller {
    teacher: UNet,
    guide: UNet,
    weight: f64,
    schedule: ScheduleTensors,
    device: Device,
}

impl Distiller {
    /// Loads the EMA weights of `distill`'s teacher and guide onto `device` and checks them
    /// against the run's `config`.
    ///
    /// # Errors
    /// [`DistillError`] naming the folder and what is wrong with it, or what is wrong with
    /// `config` itself.
    pub fn load(
        distill: &DistillConfig,
        config: &TrainingConfig,
        device: &Device,
    ) -> Result<Self, DistillError> {
        let schedule = config.validate()?;
        let load =
            |role: &'static str, dir: &str| -> Result<UNet, DistillError> {
                let (network, saved) = checkpoint::load_weights(Path::new(dir), true, device)
                    .map_err(|source| DistillError::Load {
                        role,
                        dir: dir.to_string(),
                        source,
                    })?;
                if saved.model.num_classes.is_some() {
                    return Err(DistillError::Conditional {
                        role,
                        dir: dir.to_string(),
                    });
                }
                check_guide(config, &saved).map_err(|source| DistillError::Mismatch {
                    role,
                    dir: dir.to_string(),
                    source,
                })?;
                Ok(network)
            };
        let teacher = load("teacher", &distill.teacher)?;
        let guide = load("guide", &distill.guide)?;
        AutoGuided::new(&teacher, &guide, distill.weight)?;
        Ok(Self {
            teacher,
            guide,
            weight: distill.weight,
            schedule: ScheduleTensors::new(&schedule, device),
            device: device.clone(),
        })
    }

    // ANCHOR: distill_target
    /// The teacher's autoguided prediction $\tilde\epsilon(x_t, t)$ at the $x_t$ of `batch`
    /// (made from its $x_0$, $t$ and $\epsilon$), on the batch's device. The teacher runs on
    /// its own plain device, so no gradient flows into it.
    ///
    /// # Shapes
    /// - returns `[batch, c, h, w]`, like `batch.noise`
    pub fn target(&self, batch: &Batch) -> Tensor<4> {
        let here = |x: &Tensor<4>| Tensor::<4>::from_data(x.to_data(), &self.device);
        let t = Tensor::<1, Int>::from_data(batch.t.to_data(), &self.device); // [b]
        let x_t = self
            .schedule
            .q_sample(here(&batch.x_start), &t, here(&batch.noise)); // [b, c, h, w]
        let guided = AutoGuided::new(&self.teacher, &self.guide, self.weight)
            .expect("checked by Distiller::load");
        let target = guided.predict_noise(x_t, t.float()); // [b, c, h, w]
        Tensor::from_data(target.into_data(), &batch.noise.device())
    }
    // ANCHOR_END: distill_target

    /// `batch` with [`Distiller::target`] as its regression target.
    pub fn attach(&self, mut batch: Batch) -> Batch {
        batch.target = Some(self.target(&batch));
        batch
    }
}
