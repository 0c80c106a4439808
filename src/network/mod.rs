//! The burn network layer (chapter 12): the DDPM U-Net $\epsilon_\theta(x_t, t)$, its
//! sinusoidal timestep embedding, and the noise schedule as tensors.
//!
//! Generic over the device (tensors carry their backend in burn 0.22): the same code runs on
//! `Device::flex()` (CPU) and on a GPU device. No file I/O here; [`crate::workflows`] owns it.

pub mod autoguide;
pub mod classifier;
pub mod conditional;
pub mod cpu_kernels;
pub mod embedding;
pub mod fast;
pub mod schedule;
pub mod unet;

pub use autoguide::{AutoGuideError, AutoGuided};
pub use conditional::{Guided, LabelEmbedding, LabelError, NoisePredictor, guided_noise};
pub use embedding::{TimeEmbedding, timestep_embedding};
pub use schedule::ScheduleTensors;
pub use unet::{
    AttentionBlock, ResidualBlock, UNet, UNetConfig, UNetConfigError, depth_to_space,
    space_to_depth, upsample_nearest_2x,
};
