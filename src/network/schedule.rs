//! The noise schedule as tensors: the f64 values of
//! [`NoiseSchedule`](crate::diffusion::schedule::NoiseSchedule), computed once there (chapter 6)
//! and converted to `f32` tensors here. Nothing is re-derived.

use burn::prelude::*;

use crate::diffusion::schedule::NoiseSchedule;

/// Per-timestep schedule coefficients on a device, each a `[T]` tensor whose element `i`
/// belongs to the paper's $t = i + 1$ (the convention of
/// [`NoiseSchedule`](crate::diffusion::schedule::NoiseSchedule)).
#[derive(Debug, Clone)]
pub struct ScheduleTensors {
    /// $T$.
    pub num_timesteps: usize,
    /// $\beta_t$.
    pub beta: Tensor<1>,
    /// $\bar\alpha_t$.
    pub alpha_bar: Tensor<1>,
    /// $\sqrt{\bar\alpha_t}$.
    pub sqrt_alpha_bar: Tensor<1>,
    /// $\sqrt{1 - \bar\alpha_t}$.
    pub sqrt_one_minus_alpha_bar: Tensor<1>,
    /// $\tilde\beta_t$ (Ho et al. 2020, Eq. (7)).
    pub posterior_variance: Tensor<1>,
    /// $\log\tilde\beta_t$ with $\tilde\beta_1$ replaced by $\tilde\beta_2$.
    pub posterior_log_variance_clipped: Tensor<1>,
    /// Coefficient of $x_0$ in $\tilde\mu_t$.
    pub posterior_mean_coef1: Tensor<1>,
    /// Coefficient of $x_t$ in $\tilde\mu_t$.
    pub posterior_mean_coef2: Tensor<1>,
}

fn to_tensor(values: &[f64], device: &Device) -> Tensor<1> {
    let values: Vec<f32> = values.iter().map(|&v| v as f32).collect();
    let n = values.len();
    Tensor::from_data(TensorData::new(values, [n]), device)
}

impl ScheduleTensors {
    /// Copies `schedule`'s f64 slices to `f32` tensors on `device`.
    pub fn new(schedule: &NoiseSchedule, device: &Device) -> Self {
        Self {
            num_timesteps: schedule.num_timesteps(),
            beta: to_tensor(schedule.beta(), device),
            alpha_bar: to_tensor(schedule.alpha_bar(), device),
            sqrt_alpha_bar: to_tensor(schedule.sqrt_alpha_bar(), device),
            sqrt_one_minus_alpha_bar: to_tensor(schedule.sqrt_one_minus_alpha_bar(), device),
            posterior_variance: to_tensor(schedule.posterior_variance(), device),
            posterior_log_variance_clipped: to_tensor(
                schedule.posterior_log_variance_clipped(),
                device,
            ),
            posterior_mean_coef1: to_tensor(schedule.posterior_mean_coef1(), device),
            posterior_mean_coef2: to_tensor(schedule.posterior_mean_coef2(), device),
        }
    }

    /// The same coefficients on `device`.
    pub fn to_device(&self, device: &Device) -> Self {
        let to = |x: &Tensor<1>| x.clone().to_device(device);
        Self {
            num_timesteps: self.num_timesteps,
            beta: to(&self.beta),
            alpha_bar: to(&self.alpha_bar),
            sqrt_alpha_bar: to(&self.sqrt_alpha_bar),
            sqrt_one_minus_alpha_bar: to(&self.sqrt_one_minus_alpha_bar),
            posterior_variance: to(&self.posterior_variance),
            posterior_log_variance_clipped: to(&self.posterior_log_variance_clipped),
            posterior_mean_coef1: to(&self.posterior_mean_coef1),
            posterior_mean_coef2: to(&self.posterior_mean_coef2),
        }
    }

    /// Picks `coefficients[t - 1]` for each example and shapes it to broadcast over images
    /// (Ho et al.'s `_extract`).
    ///
    /// # Shapes
    /// - `coefficients`: `[T]`, `t`: `[batch]` (1-based timesteps); returns `[batch, 1, 1, 1]`
    pub fn extract(coefficients: &Tensor<1>, t: &Tensor<1, Int>) -> Tensor<4> {
        let [batch] = t.dims();
        coefficients
            .clone()
            .select(0, t.clone().sub_scalar(1)) // [batch]
            .reshape([batch, 1, 1, 1])
    }

    // ANCHOR: q_sample_tensor
    /// $x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1 - \bar\alpha_t}\,\epsilon$
    /// (Ho et al. 2020, Eq. (4) reparameterised; the tensor twin of
    /// `ddpm::diffusion::forward::q_sample`).
    ///
    /// # Shapes
    /// - `x_start`, `noise`: `[batch, c, h, w]`; `t`: `[batch]` (1-based); returns `[batch, c, h, w]`
    pub fn q_sample(&self, x_start: Tensor<4>, t: &Tensor<1, Int>, noise: Tensor<4>) -> Tensor<4> {
        let a = Self::extract(&self.sqrt_alpha_bar, t); // [batch, 1, 1, 1]
        let s = Self::extract(&self.sqrt_one_minus_alpha_bar, t); // [batch, 1, 1, 1]
        x_start * a + noise * s
    }
    // ANCHOR_END: q_sample_tensor
}
