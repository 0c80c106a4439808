//! Chapter 7: the forward-process posterior $q(x_{t-1} \mid x_t, x_0)$.
//! See `chapters/07-posterior.md`.
//!
//! Timesteps are the paper's $t \in \{1, \dots, T\}$ (see [`super::forward::slot`]).

use ndarray::{Array, ArrayBase, Data, Dimension};

use super::forward::{log_variance, slot, weighted_sum};
use super::schedule::NoiseSchedule;
use crate::probability::LogVariance;

/// A Gaussian over an array with one shared variance that may be exactly zero (the posterior
/// at $t = 1$ is a point mass at $x_0$), plus the log-variance Ho et al.'s code actually uses.
#[derive(Debug, Clone, PartialEq)]
pub struct PosteriorGaussian<D: Dimension> {
    /// The mean $\tilde\mu_t(x_t, x_0)$, same shape as the inputs.
    pub mean: Array<f64, D>,
    /// The exact variance $\tilde\beta_t \ge 0$ ($= 0$ at $t = 1$, so not a
    /// [`crate::probability::Variance`]).
    pub variance: f64,
    /// $\log\tilde\beta_t$, with $t = 1$'s $-\infty$ replaced by $\log\tilde\beta_2$
    /// ([`NoiseSchedule::posterior_log_variance_clipped`]).
    pub log_variance_clipped: LogVariance,
}

// ANCHOR: q_posterior_mean_variance
/// The forward-process posterior (Ho et al. 2020, Eqs. (6)-(7)):
///
/// $$q(x_{t-1} \mid x_t, x_0) = \mathcal N\big(x_{t-1};\ \tilde\mu_t(x_t, x_0),\ \tilde\beta_t I\big),$$
/// $$\tilde\mu_t = \frac{\sqrt{\bar\alpha_{t-1}}\,\beta_t}{1-\bar\alpha_t}\,x_0
///   {}+ \frac{\sqrt{\alpha_t}\,(1-\bar\alpha_{t-1})}{1-\bar\alpha_t}\,x_t, \qquad
///   \tilde\beta_t = \frac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}\,\beta_t.$$
///
/// `t` is the paper's timestep, $1 \le t \le T$.
///
/// # Shapes
/// `x_start` and `x_t`: the same shape; so is the mean.
///
/// # Panics
/// If `t` is not in `1..=T` or the shapes differ.
///
/// ```
/// use ddpm::diffusion::{posterior::q_posterior_mean_variance, schedule::NoiseSchedule};
/// use ndarray::arr1;
/// let s = NoiseSchedule::linear(1000).unwrap();
/// // At t = 1 the posterior is a point mass at x_0, whatever x_1 is.
/// let p = q_posterior_mean_variance(&s, &arr1(&[0.3]), &arr1(&[5.0]), 1);
/// assert!((p.mean[0] - 0.3).abs() < 1e-12 && p.variance == 0.0);
/// ```
#[track_caller]
pub fn q_posterior_mean_variance<S1, S2, D>(
    schedule: &NoiseSchedule,
    x_start: &ArrayBase<S1, D>,
    x_t: &ArrayBase<S2, D>,
    t: usize,
) -> PosteriorGaussian<D>
where
    S1: Data<Elem = f64>,
    S2: Data<Elem = f64>,
    D: Dimension,
{
    let i = slot(schedule, t);
    PosteriorGaussian {
        // coef1 x_0 + coef2 x_t
        mean: weighted_sum(
            schedule.posterior_mean_coef1()[i],
            x_start,
            schedule.posterior_mean_coef2()[i],
            x_t,
            "x_start and x_t",
        ),
        variance: schedule.posterior_variance()[i],
        log_variance_clipped: log_variance(schedule.posterior_log_variance_clipped()[i]),
    }
}
// ANCHOR_END: q_posterior_mean_variance
