//! Autoguidance (Karras et al. 2024, "Guiding a diffusion model with a bad version of
//! itself"): guidance for an *unconditional* network (chapter 18).
//!
//! Classifier-free guidance extrapolates from a weaker prediction (the unconditional one) past
//! a stronger one (the conditional one). Autoguidance keeps the formula and changes the pair:
//! the stronger prediction is the network $\epsilon_1$, the weaker one a *guide* $\epsilon_0$,
//! a smaller or shorter-trained network of the same data,
//! $$ \tilde\epsilon = (1 + w)\,\epsilon_1(x_t, t) - w\,\epsilon_0(x_t, t)
//!   = \epsilon_1 + w\,(\epsilon_1 - \epsilon_0). $$
//! Where both networks agree (what the guide has learned too) nothing changes; where they
//! differ, the step moves further in the direction the better network improved on the worse
//! one. Both are trained on the same digits, so the difference points away from the blurry,
//! in-between shapes that a less trained network still draws, and no label is needed.
//!
//! [`AutoGuided`] wraps the network, the guide and $w$ into a [`NoisePredictor`] that the
//! samplers of [`crate::workflows::sample`] accept in place of a plain [`UNet`]. With the
//! guide equal to the network, or $w = 0$, it is the network itself.

use burn::prelude::*;

use super::conditional::{NoisePredictor, guided_noise};
use super::unet::UNet;

/// An autoguidance weight that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AutoGuideError {
    /// NaN, infinite or negative.
    #[error(
        "autoguidance weight {0} is not a number >= 0: 0 samples the network alone, and \
         weights around 0.5 to 1 sharpen its digits (chapter 18)"
    )]
    Weight(f64),
}

// ANCHOR: autoguided
/// A network, its guide and the weight $w \ge 0$: a [`NoisePredictor`] returning
/// [`guided_noise`]`(model, guide, w)` $= (1 + w)\,\epsilon_\text{model} - w\,\epsilon_\text{guide}$.
/// The two networks may differ in width and depth; they must share the image shape and the
/// noise schedule, which [`crate::workflows::sample::check_guide`] checks from their configs.
#[derive(Debug, Clone, Copy)]
pub struct AutoGuided<'a> {
    model: &'a UNet,
    guide: &'a UNet,
    w: f64,
}

impl<'a> AutoGuided<'a> {
    /// Checks that `w` is finite and at least 0.
    ///
    /// # Errors
    /// [`AutoGuideError::Weight`] otherwise.
    pub fn new(model: &'a UNet, guide: &'a UNet, w: f64) -> Result<Self, AutoGuideError> {
        if !(w.is_finite() && w >= 0.0) {
            return Err(AutoGuideError::Weight(w));
        }
        Ok(Self { model, guide, w })
    }

    /// The guidance weight $w$.
    pub fn w(&self) -> f64 {
        self.w
    }
}

impl NoisePredictor for AutoGuided<'_> {
    /// Two forward passes (the network, then the guide); only the network's at $w = 0$.
    fn predict_noise(&self, x: Tensor<4>, t: Tensor<1>) -> Tensor<4> {
        let good = self.model.forward(x.clone(), t.clone());
        if self.w == 0.0 {
            return good;
        }
        let bad = self.guide.forward(x, t);
        guided_noise(good, bad, self.w)
    }
}
// ANCHOR_END: autoguided

/// The autoguidance weight `ddpm sample --guide` and `ddpm eval --guide` use unless told
/// otherwise.
pub const DEFAULT_AUTOGUIDE_WEIGHT: f64 = 0.5;
