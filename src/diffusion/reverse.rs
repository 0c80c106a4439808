//! Chapter 8: the reverse (generative) process $p_\theta$. See `chapters/08-reverse-process.md`.
//!
//! Everything here takes a noise prediction $\epsilon_\theta(x_t, t)$ from a [`Denoiser`]: a
//! neural network in Part III, the exact optimal predictor of a Gaussian mixture
//! ([`super::mixture`]) in Part II. Timesteps are the paper's $t \in \{1, \dots, T\}$.
//!
//! Note what sampling needs: a denoiser and noise. **No reference image $x_0$ enters
//! [`p_sample_loop`]**; $x_0$ is needed only to build the training target
//! (`tests/errata.rs` checks this by construction).

use ndarray::{Array, ArrayBase, Data, Dimension};
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::forward::{log_variance, slot, standard_normal, weighted_sum};
use super::posterior::q_posterior_mean_variance;
use super::schedule::NoiseSchedule;
use crate::probability::LogVariance;

/// Which fixed variance $\sigma_t^2$ the reverse process uses (Ho et al. 2020, Sec. 3.2: "both
/// gave similar results").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VarianceKind {
    /// $\sigma_t^2 = \beta_t$: optimal when $x_0 \sim \mathcal N(0, I)$ (Ho et al.'s
    /// `fixedlarge`).
    Beta,
    /// $\sigma_t^2 = \tilde\beta_t$: optimal when $x_0$ is a single point (Ho et al.'s
    /// `fixedsmall`).
    PosteriorBeta,
}

/// Options of the reverse process.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ReverseOptions {
    /// The choice of $\sigma_t^2$.
    pub variance: VarianceKind,
    /// Clip the predicted $\hat x_0$ to `[lo, hi]` before forming the mean (Ho et al. clip
    /// images to $[-1, 1]$); `None` for data with no known range, such as a mixture.
    pub clip: Option<(f64, f64)>,
}

impl ReverseOptions {
    /// Ho et al.'s image setting: $\sigma_t^2 = \beta_t$, $\hat x_0$ clipped to $[-1, 1]$.
    pub fn images() -> Self {
        Self {
            variance: VarianceKind::Beta,
            clip: Some((-1.0, 1.0)),
        }
    }
    /// No clipping, with the given variance.
    pub fn unclipped(variance: VarianceKind) -> Self {
        Self {
            variance,
            clip: None,
        }
    }
}

// ANCHOR: denoiser
/// A noise predictor $\epsilon_\theta(x_t, t)$: given a batch $x_t$ at the paper's timestep
/// `t`, return the predicted noise, same shape. Any closure
/// `Fn(&Array<f64, D>, usize) -> Array<f64, D>` is one.
pub trait Denoiser<D: Dimension> {
    /// The predicted noise $\epsilon_\theta(x_t, t)$.
    fn predict_noise(&self, x_t: &Array<f64, D>, t: usize) -> Array<f64, D>;
}

impl<D: Dimension, F: Fn(&Array<f64, D>, usize) -> Array<f64, D>> Denoiser<D> for F {
    fn predict_noise(&self, x_t: &Array<f64, D>, t: usize) -> Array<f64, D> {
        self(x_t, t)
    }
}
// ANCHOR_END: denoiser

// ANCHOR: predict_start_from_noise
/// Inverts $x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\epsilon$ for $x_0$
/// (Ho et al. 2020, Eq. (4) solved for $x_0$; used in Eq. (11)):
///
/// $$\hat x_0 = \frac{1}{\sqrt{\bar\alpha_t}}\,x_t - \sqrt{\frac{1}{\bar\alpha_t} - 1}\;\epsilon.$$
///
/// # Panics
/// If `t` is not in `1..=T` or the shapes differ.
///
/// ```
/// use ddpm::diffusion::{forward::q_sample, reverse::predict_start_from_noise, schedule::NoiseSchedule};
/// use ndarray::arr1;
/// let s = NoiseSchedule::linear(1000).unwrap();
/// let (x0, eps) = (arr1(&[0.7, -0.2]), arr1(&[1.3, 0.4]));
/// let xt = q_sample(&s, &x0, 500, &eps);
/// let back = predict_start_from_noise(&s, &xt, 500, &eps);
/// assert!((&back - &x0).iter().all(|d| d.abs() < 1e-9));
/// ```
#[track_caller]
pub fn predict_start_from_noise<S1, S2, D>(
    schedule: &NoiseSchedule,
    x_t: &ArrayBase<S1, D>,
    t: usize,
    noise: &ArrayBase<S2, D>,
) -> Array<f64, D>
where
    S1: Data<Elem = f64>,
    S2: Data<Elem = f64>,
    D: Dimension,
{
    let i = slot(schedule, t);
    // x_t / sqrt(abar_t) - sqrt(1 / abar_t - 1) eps
    weighted_sum(
        schedule.sqrt_recip_alpha_bar()[i],
        x_t,
        -schedule.sqrt_recipm1_alpha_bar()[i],
        noise,
        "x_t and noise",
    )
}
// ANCHOR_END: predict_start_from_noise

/// The reverse-process Gaussian $p_\theta(x_{t-1} \mid x_t)$ at one step.
#[derive(Debug, Clone, PartialEq)]
pub struct ReverseGaussian<D: Dimension> {
    /// $\mu_\theta(x_t, t)$.
    pub mean: Array<f64, D>,
    /// $\sigma_t^2$ (exact; $\tilde\beta_1 = 0$ for [`VarianceKind::PosteriorBeta`] at $t = 1$).
    pub variance: f64,
    /// $\log\sigma_t^2$ as Ho et al.'s code uses it: at $t = 1$ both kinds use
    /// $\log\tilde\beta_2$ (finite; this is the decoder's scale in $L_0$).
    pub log_variance: LogVariance,
    /// The predicted $\hat x_0$ (after clipping, if any).
    pub pred_x_start: Array<f64, D>,
}

// ANCHOR: mean_from_noise
/// The $\epsilon$-parameterised mean (Ho et al. 2020, Eq. (11)):
///
/// $$\mu_\theta(x_t, t) = \frac{1}{\sqrt{\alpha_t}}\Big(x_t - \frac{\beta_t}{\sqrt{1-\bar\alpha_t}}\,
///   \epsilon_\theta(x_t, t)\Big).$$
///
/// Without clipping this equals the mean [`p_mean_variance`] computes through $\hat x_0$.
///
/// # Panics
/// If `t` is not in `1..=T` or the shapes differ.
#[track_caller]
pub fn mean_from_noise<S1, S2, D>(
    schedule: &NoiseSchedule,
    x_t: &ArrayBase<S1, D>,
    t: usize,
    noise: &ArrayBase<S2, D>,
) -> Array<f64, D>
where
    S1: Data<Elem = f64>,
    S2: Data<Elem = f64>,
    D: Dimension,
{
    let i = slot(schedule, t);
    // (x_t - beta_t / sqrt(1 - abar_t) eps) / sqrt(alpha_t)
    let a = 1.0 / schedule.alpha()[i].sqrt();
    let b = schedule.beta()[i] / schedule.sqrt_one_minus_alpha_bar()[i];
    weighted_sum(a, x_t, -a * b, noise, "x_t and noise")
}
// ANCHOR_END: mean_from_noise

// ANCHOR: p_mean_variance
/// $p_\theta(x_{t-1} \mid x_t) = \mathcal N(\mu_\theta(x_t, t), \sigma_t^2 I)$ from a noise
/// prediction, as Ho et al.'s code computes it: $\hat x_0$ from
/// [`predict_start_from_noise`], optionally clipped, then $\mu_\theta = \tilde\mu_t(x_t, \hat x_0)$
/// (Eq. (7)); without clipping this is Eq. (11).
///
/// # Panics
/// If `t` is not in `1..=T` or the shapes differ.
///
/// ```
/// use ddpm::diffusion::reverse::{p_mean_variance, mean_from_noise, ReverseOptions, VarianceKind};
/// use ddpm::diffusion::schedule::NoiseSchedule;
/// use ndarray::arr1;
/// let s = NoiseSchedule::linear(1000).unwrap();
/// let (xt, eps) = (arr1(&[0.4]), arr1(&[-0.9]));
/// let p = p_mean_variance(&s, &xt, 300, &eps, ReverseOptions::unclipped(VarianceKind::Beta));
/// assert!((p.mean[0] - mean_from_noise(&s, &xt, 300, &eps)[0]).abs() < 1e-12);
/// assert_eq!(p.variance, s.beta()[299]);
/// ```
#[track_caller]
pub fn p_mean_variance<S1, S2, D>(
    schedule: &NoiseSchedule,
    x_t: &ArrayBase<S1, D>,
    t: usize,
    noise_pred: &ArrayBase<S2, D>,
    options: ReverseOptions,
) -> ReverseGaussian<D>
where
    S1: Data<Elem = f64>,
    S2: Data<Elem = f64>,
    D: Dimension,
{
    let i = slot(schedule, t);
    let mut pred_x_start = predict_start_from_noise(schedule, x_t, t, noise_pred);
    if let Some((lo, hi)) = options.clip {
        pred_x_start.mapv_inplace(|x| x.clamp(lo, hi));
    }
    let posterior = q_posterior_mean_variance(schedule, &pred_x_start, x_t, t);
    let (variance, log_var) = match options.variance {
        // Ho et al.: log(append(posterior_variance[1], betas[1:])) for `fixedlarge`.
        VarianceKind::Beta => (
            schedule.beta()[i],
            if i == 0 {
                schedule.posterior_log_variance_clipped()[0]
            } else {
                schedule.beta()[i].ln()
            },
        ),
        VarianceKind::PosteriorBeta => (
            schedule.posterior_variance()[i],
            schedule.posterior_log_variance_clipped()[i],
        ),
    };
    ReverseGaussian {
        mean: posterior.mean,
        variance,
        log_variance: log_variance(log_var),
        pred_x_start,
    }
}
// ANCHOR_END: p_mean_variance

// ANCHOR: p_sample
/// One ancestral step $x_{t-1} \sim p_\theta(x_{t-1} \mid x_t)$ (Ho et al. 2020, Algorithm 2,
/// lines 3-4): $x_{t-1} = \mu_\theta(x_t, t) + \sigma_t z$ with $z \sim \mathcal N(0, I)$, and
/// no noise at $t = 1$ (the last step returns the mean).
///
/// # Panics
/// If `t` is not in `1..=T` or the denoiser returns the wrong shape.
pub fn p_sample<D, M, R>(
    schedule: &NoiseSchedule,
    denoiser: &M,
    x_t: &Array<f64, D>,
    t: usize,
    options: ReverseOptions,
    rng: &mut R,
) -> Array<f64, D>
where
    D: Dimension,
    M: Denoiser<D> + ?Sized,
    R: Rng + ?Sized,
{
    let eps = denoiser.predict_noise(x_t, t);
    let p = p_mean_variance(schedule, x_t, t, &eps, options);
    if t == 1 {
        return p.mean;
    }
    let sigma = p.variance.sqrt();
    let z = standard_normal(x_t.raw_dim(), rng);
    p.mean + z * sigma
}
// ANCHOR_END: p_sample

// ANCHOR: p_sample_loop
/// Ancestral sampling (Ho et al. 2020, Algorithm 2): $x_T \sim \mathcal N(0, I)$, then
/// [`p_sample`] for $t = T, \dots, 1$. Needs only the denoiser and random numbers: **no data
/// point $x_0$ is an input.**
///
/// ```
/// use ddpm::diffusion::{reverse::{p_sample_loop, ReverseOptions, VarianceKind}, schedule::NoiseSchedule};
/// use ndarray::{Array2, Ix2};
/// use rand::SeedableRng;
/// let s = NoiseSchedule::cosine(50).unwrap();
/// // The optimal denoiser for data that is exactly 0 is eps = x_t / sqrt(1 - abar_t).
/// let den = |x: &Array2<f64>, t: usize| x / s.sqrt_one_minus_alpha_bar()[t - 1];
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
/// let x0 = p_sample_loop(&s, &den, Ix2(4, 2), ReverseOptions::unclipped(VarianceKind::PosteriorBeta), &mut rng);
/// assert!(x0.iter().all(|v| v.abs() < 1e-9));
/// ```
pub fn p_sample_loop<D, M, R>(
    schedule: &NoiseSchedule,
    denoiser: &M,
    shape: D,
    options: ReverseOptions,
    rng: &mut R,
) -> Array<f64, D>
where
    D: Dimension,
    M: Denoiser<D> + ?Sized,
    R: Rng + ?Sized,
{
    let mut x = standard_normal(shape, rng); // x_T ~ N(0, I)
    for t in (1..=schedule.num_timesteps()).rev() {
        x = p_sample(schedule, denoiser, &x, t, options, rng);
    }
    x
}
// ANCHOR_END: p_sample_loop

/// As [`p_sample_loop`], also returning $x_t$ at every `t` in `keep` (paper's timesteps;
/// `0` means the final sample), in the order they occur ($t$ decreasing), for plotting.
pub fn p_sample_loop_trajectory<D, M, R>(
    schedule: &NoiseSchedule,
    denoiser: &M,
    shape: D,
    options: ReverseOptions,
    keep: &[usize],
    rng: &mut R,
) -> Vec<(usize, Array<f64, D>)>
where
    D: Dimension,
    M: Denoiser<D> + ?Sized,
    R: Rng + ?Sized,
{
    let num = schedule.num_timesteps();
    let mut x = standard_normal(shape, rng);
    let mut kept = Vec::new();
    if keep.contains(&num) {
        kept.push((num, x.clone()));
    }
    for t in (1..=num).rev() {
        x = p_sample(schedule, denoiser, &x, t, options, rng);
        if keep.contains(&(t - 1)) {
            kept.push((t - 1, x.clone()));
        }
    }
    kept
}
