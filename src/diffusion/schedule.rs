//! Chapter 6: the noise schedule $\beta_1, \dots, \beta_T$ and every quantity derived from it.
//! See `chapters/06-forward-process.md`.
//!
//! # Indexing: slot `i` holds the paper's `t = i + 1`
//!
//! **Every slice returned by [`NoiseSchedule`] has length $T$, and its element `i` (0-based)
//! holds the value at the paper's timestep $t = i + 1$ (1-based).** So `beta()[0]` is
//! $\beta_1$, `alpha_bar()[T - 1]` is $\bar\alpha_T$, and `alpha_bar_prev()[0]` is
//! $\bar\alpha_0 = 1$. This is the convention of Ho et al.'s code (`diffusion_utils_2.py`),
//! where the network is fed the 0-based index; the book always writes the paper's $t$.
//!
//! All values are computed once, in `f64`, here; the network layer converts them to tensors
//! and never re-derives them.
//!
//! A check to run (chapter 6; `cargo test --release --no-default-features --doc
//! diffusion::schedule`): Ho et al.'s linear schedule runs from $\beta_1 = 10^{-4}$ to
//! $\beta_T = 0.02$, $\bar\alpha_t$ falls at every step, and after $T = 1000$ steps only
//! $\bar\alpha_T \approx 4 \times 10^{-5}$ of the signal's variance is left.
//!
//! ```
//! use ddpm::diffusion::schedule::NoiseSchedule;
//! let s = NoiseSchedule::linear(1000).unwrap();
//! assert!((s.beta()[0] - 1e-4).abs() < 1e-15 && (s.beta()[999] - 0.02).abs() < 1e-15);
//! assert!(s.alpha_bar().windows(2).all(|w| w[1] < w[0]));
//! assert!((s.alpha_bar()[999] - 4.0e-5).abs() < 0.1e-5);
//! ```

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Which sequence of variances $\beta_t$ the forward process uses.
///
/// Serialised (in `config.json`) as `{"kind": "linear", "beta_start": 0.0001, "beta_end": 0.02}`
/// or `{"kind": "cosine", "s": 0.008}`.
///
/// ```
/// use ddpm::diffusion::schedule::BetaSchedule;
/// let k = BetaSchedule::Linear { beta_start: 1e-4, beta_end: 0.02 };
/// let json = serde_json::to_string(&k).unwrap();
/// assert_eq!(serde_json::from_str::<BetaSchedule>(&json).unwrap(), k);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BetaSchedule {
    /// $\beta_t$ linearly spaced from `beta_start` ($t = 1$) to `beta_end` ($t = T$), as
    /// `np.linspace(beta_start, beta_end, T)` in Ho et al.'s code (they use $10^{-4}$ to $0.02$
    /// with $T = 1000$; Ho et al. 2020, Sec. 4).
    Linear {
        /// $\beta_1$.
        beta_start: f64,
        /// $\beta_T$.
        beta_end: f64,
    },
    /// Nichol & Dhariwal (2021), Eq. (17): $\bar\alpha_t = f(t)/f(0)$ with
    /// $f(t) = \cos^2\!\big(\frac{t/T + s}{1 + s}\cdot\frac{\pi}{2}\big)$, and
    /// $\beta_t = \min\big(1 - \bar\alpha_t/\bar\alpha_{t-1},\ 0.999\big)$.
    Cosine {
        /// The small offset $s$ (they use $0.008$) that keeps $\beta_1$ from being tiny.
        s: f64,
    },
}

/// The cap on cosine-schedule betas (Nichol & Dhariwal 2021, Sec. 3.2: "we clip $\beta_t$ to be
/// no larger than 0.999 to prevent singularities at the end of the diffusion process").
pub const COSINE_MAX_BETA: f64 = 0.999;

/// Why a schedule could not be built.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ScheduleError {
    /// $T$ must be at least 1.
    #[error("num_timesteps must be at least 1, got 0; Ho et al. use T = 1000")]
    NoTimesteps,
    /// A schedule parameter is out of range.
    #[error("invalid {name} = {value}: {hint}")]
    InvalidParameter {
        /// Which parameter.
        name: &'static str,
        /// The rejected value.
        value: f64,
        /// What a valid value looks like.
        hint: &'static str,
    },
    /// A computed $\beta_t$ is not in the open interval $(0, 1)$.
    #[error(
        "beta_{t} = {value} is not in the open interval (0, 1); every beta_t must be a valid \
         variance with alpha_t = 1 - beta_t > 0 (check beta_start/beta_end, or use more timesteps)"
    )]
    BetaOutOfRange {
        /// The paper's (1-based) timestep.
        t: usize,
        /// The offending value.
        value: f64,
    },
}

/// The forward-process variances $\beta_{1..T}$ and everything Ho et al.'s code precomputes
/// from them.
///
/// **Indexing:** each slice has length $T$ and element `i` is the value at the paper's
/// timestep $t = i + 1$ (see the [module docs](self)).
#[derive(Debug, Clone, PartialEq)]
pub struct NoiseSchedule {
    kind: BetaSchedule,
    beta: Vec<f64>,
    alpha: Vec<f64>,
    alpha_bar: Vec<f64>,
    alpha_bar_prev: Vec<f64>,
    sqrt_alpha_bar: Vec<f64>,
    sqrt_one_minus_alpha_bar: Vec<f64>,
    sqrt_recip_alpha_bar: Vec<f64>,
    sqrt_recipm1_alpha_bar: Vec<f64>,
    posterior_variance: Vec<f64>,
    posterior_log_variance_clipped: Vec<f64>,
    posterior_mean_coef1: Vec<f64>,
    posterior_mean_coef2: Vec<f64>,
}

fn map(v: &[f64], f: impl Fn(f64) -> f64) -> Vec<f64> {
    v.iter().map(|&x| f(x)).collect()
}

// ANCHOR: betas
/// The betas $\beta_1, \dots, \beta_T$ of a schedule, before validation.
fn betas(kind: BetaSchedule, num_timesteps: usize) -> Vec<f64> {
    let t_max = num_timesteps as f64;
    match kind {
        BetaSchedule::Linear {
            beta_start,
            beta_end,
        } => {
            // As np.linspace(beta_start, beta_end, T): start + i * step, last value exactly
            // beta_end, and [beta_start] when T = 1.
            let step = (beta_end - beta_start) / (t_max - 1.0).max(1.0);
            (0..num_timesteps)
                .map(|i| {
                    if i + 1 == num_timesteps && num_timesteps > 1 {
                        beta_end
                    } else {
                        i as f64 * step + beta_start
                    }
                })
                .collect()
        }
        BetaSchedule::Cosine { s } => {
            let f = |t: f64| ((t / t_max + s) / (1.0 + s) * std::f64::consts::FRAC_PI_2).cos();
            let f = |t: f64| f(t) * f(t);
            // beta_t = 1 - abar_t / abar_{t-1} = 1 - f(t) / f(t-1), for t = 1..=T.
            (1..=num_timesteps)
                .map(|t| (1.0 - f(t as f64) / f(t as f64 - 1.0)).min(COSINE_MAX_BETA))
                .collect()
        }
    }
}
// ANCHOR_END: betas

impl NoiseSchedule {
    /// Builds the schedule `kind` with `num_timesteps` $= T$ steps and precomputes
    /// $\alpha_t = 1 - \beta_t$, $\bar\alpha_t = \prod_{s=1}^{t}\alpha_s$ (Ho et al. 2020, Eq. (4)
    /// and the line above it) and the posterior coefficients of Eq. (7).
    ///
    /// # Errors
    /// [`ScheduleError::NoTimesteps`] if $T = 0$; [`ScheduleError::InvalidParameter`] for a
    /// non-finite parameter or a cosine offset $s < 0$; [`ScheduleError::BetaOutOfRange`] if
    /// any $\beta_t \notin (0, 1)$.
    ///
    /// ```
    /// use ddpm::diffusion::schedule::{BetaSchedule, NoiseSchedule};
    /// let sched = NoiseSchedule::new(BetaSchedule::Linear { beta_start: 1e-4, beta_end: 0.02 }, 1000)?;
    /// // alpha_bar is strictly decreasing: each step adds noise.
    /// assert!(sched.alpha_bar().windows(2).all(|w| w[1] < w[0]));
    /// // A beta of 1 or more is not a valid variance for q(x_t | x_{t-1}).
    /// assert!(NoiseSchedule::new(BetaSchedule::Linear { beta_start: 0.5, beta_end: 1.0 }, 10).is_err());
    /// # Ok::<(), ddpm::diffusion::schedule::ScheduleError>(())
    /// ```
    pub fn new(kind: BetaSchedule, num_timesteps: usize) -> Result<Self, ScheduleError> {
        if num_timesteps == 0 {
            return Err(ScheduleError::NoTimesteps);
        }
        match kind {
            BetaSchedule::Linear {
                beta_start,
                beta_end,
            } => {
                for (name, value) in [("beta_start", beta_start), ("beta_end", beta_end)] {
                    if !value.is_finite() {
                        return Err(ScheduleError::InvalidParameter {
                            name,
                            value,
                            hint: "betas must be finite numbers in (0, 1), e.g. 1e-4 and 0.02",
                        });
                    }
                }
            }
            BetaSchedule::Cosine { s } => {
                if !(s.is_finite() && s >= 0.0) {
                    return Err(ScheduleError::InvalidParameter {
                        name: "s",
                        value: s,
                        hint: "the cosine offset must be finite and >= 0; Nichol & Dhariwal use 0.008",
                    });
                }
            }
        }
        let beta = betas(kind, num_timesteps);
        if let Some((i, &value)) = beta
            .iter()
            .enumerate()
            .find(|&(_, &b)| !(b.is_finite() && b > 0.0 && b < 1.0))
        {
            return Err(ScheduleError::BetaOutOfRange { t: i + 1, value });
        }
        Ok(Self::from_valid_betas(kind, beta))
    }

    /// Ho et al.'s linear schedule: $\beta_t$ from $10^{-4}$ to $0.02$, linearly spaced over
    /// `num_timesteps` steps (Ho et al. 2020, Sec. 4, with $T = 1000$).
    ///
    /// # Errors
    /// As [`NoiseSchedule::new`]; only $T = 0$ can fail.
    ///
    /// ```
    /// let s = ddpm::diffusion::schedule::NoiseSchedule::linear(1000)?;
    /// assert_eq!(s.beta()[0], 1e-4);
    /// assert_eq!(s.beta()[999], 0.02);
    /// # Ok::<(), ddpm::diffusion::schedule::ScheduleError>(())
    /// ```
    pub fn linear(num_timesteps: usize) -> Result<Self, ScheduleError> {
        Self::new(
            BetaSchedule::Linear {
                beta_start: 1e-4,
                beta_end: 0.02,
            },
            num_timesteps,
        )
    }

    /// Nichol & Dhariwal's cosine schedule with $s = 0.008$.
    ///
    /// # Errors
    /// As [`NoiseSchedule::new`]; only $T = 0$ can fail.
    ///
    /// ```
    /// let s = ddpm::diffusion::schedule::NoiseSchedule::cosine(1000)?;
    /// assert_eq!(s.beta()[999], 0.999); // clipped
    /// # Ok::<(), ddpm::diffusion::schedule::ScheduleError>(())
    /// ```
    pub fn cosine(num_timesteps: usize) -> Result<Self, ScheduleError> {
        Self::new(BetaSchedule::Cosine { s: 0.008 }, num_timesteps)
    }

    // ANCHOR: derived
    fn from_valid_betas(kind: BetaSchedule, beta: Vec<f64>) -> Self {
        let alpha = map(&beta, |b| 1.0 - b);
        // alpha_bar_t = prod_{s=1}^{t} alpha_s  (the product starts at s = 1, not s = 0)
        let alpha_bar: Vec<f64> = alpha
            .iter()
            .scan(1.0, |acc, &a| {
                *acc *= a;
                Some(*acc)
            })
            .collect();
        // alpha_bar_{t-1}, with alpha_bar_0 = 1 (the empty product)
        let alpha_bar_prev: Vec<f64> = std::iter::once(1.0)
            .chain(alpha_bar[..alpha_bar.len() - 1].iter().copied())
            .collect();
        let n = beta.len();
        // beta_tilde_t = beta_t (1 - abar_{t-1}) / (1 - abar_t)   (Ho et al. 2020, Eq. (7))
        let posterior_variance: Vec<f64> = (0..n)
            .map(|i| beta[i] * (1.0 - alpha_bar_prev[i]) / (1.0 - alpha_bar[i]))
            .collect();
        // beta_tilde_1 = 0, so its log is -inf; Ho et al. replace it by beta_tilde_2's value.
        // With T = 1 there is no beta_tilde_2 and we fall back to beta_1.
        let first = if n > 1 {
            posterior_variance[1]
        } else {
            beta[0]
        };
        let posterior_log_variance_clipped: Vec<f64> = std::iter::once(first.ln())
            .chain(posterior_variance[1..].iter().map(|v| v.ln()))
            .collect();
        let posterior_mean_coef1 = (0..n)
            .map(|i| beta[i] * alpha_bar_prev[i].sqrt() / (1.0 - alpha_bar[i]))
            .collect();
        let posterior_mean_coef2 = (0..n)
            .map(|i| (1.0 - alpha_bar_prev[i]) * alpha[i].sqrt() / (1.0 - alpha_bar[i]))
            .collect();
        Self {
            kind,
            sqrt_alpha_bar: map(&alpha_bar, f64::sqrt),
            sqrt_one_minus_alpha_bar: map(&alpha_bar, |a| (1.0 - a).sqrt()),
            sqrt_recip_alpha_bar: map(&alpha_bar, |a| (1.0 / a).sqrt()),
            sqrt_recipm1_alpha_bar: map(&alpha_bar, |a| (1.0 / a - 1.0).sqrt()),
            beta,
            alpha,
            alpha_bar,
            alpha_bar_prev,
            posterior_variance,
            posterior_log_variance_clipped,
            posterior_mean_coef1,
            posterior_mean_coef2,
        }
    }
    // ANCHOR_END: derived

    /// $T$, the number of diffusion steps.
    pub fn num_timesteps(&self) -> usize {
        self.beta.len()
    }

    /// The kind of schedule this was built from.
    pub fn kind(&self) -> BetaSchedule {
        self.kind
    }

    /// $\beta_t$, the variance of $q(x_t \mid x_{t-1})$ (Ho et al. 2020, Eq. (2)).
    /// Index `i` holds $t = i + 1$.
    #[doc(alias = "betas")]
    pub fn beta(&self) -> &[f64] {
        &self.beta
    }

    /// $\alpha_t = 1 - \beta_t$. Index `i` holds $t = i + 1$.
    #[doc(alias = "alphas")]
    pub fn alpha(&self) -> &[f64] {
        &self.alpha
    }

    /// $\bar\alpha_t = \prod_{s=1}^{t} \alpha_s$ (Ho et al. 2020, above Eq. (4)). Index `i`
    /// holds $t = i + 1$.
    ///
    /// ```
    /// let s = ddpm::diffusion::schedule::NoiseSchedule::linear(3)?;
    /// let a = s.alpha();
    /// assert_eq!(s.alpha_bar()[2], a[0] * a[1] * a[2]);
    /// # Ok::<(), ddpm::diffusion::schedule::ScheduleError>(())
    /// ```
    #[doc(alias = "alphas_cumprod")]
    pub fn alpha_bar(&self) -> &[f64] {
        &self.alpha_bar
    }

    /// $\bar\alpha_{t-1}$, with $\bar\alpha_0 = 1$. Index `i` holds $t = i + 1$, so
    /// `alpha_bar_prev()[0] == 1.0`.
    #[doc(alias = "alphas_cumprod_prev")]
    pub fn alpha_bar_prev(&self) -> &[f64] {
        &self.alpha_bar_prev
    }

    /// $\sqrt{\bar\alpha_t}$, the mean coefficient of $q(x_t \mid x_0)$ (Ho et al. 2020,
    /// Eq. (4)). Index `i` holds $t = i + 1$.
    #[doc(alias = "sqrt_alphas_cumprod")]
    pub fn sqrt_alpha_bar(&self) -> &[f64] {
        &self.sqrt_alpha_bar
    }

    /// $\sqrt{1 - \bar\alpha_t}$, the noise scale of $q(x_t \mid x_0)$. Index `i` holds
    /// $t = i + 1$.
    #[doc(alias = "sqrt_one_minus_alphas_cumprod")]
    pub fn sqrt_one_minus_alpha_bar(&self) -> &[f64] {
        &self.sqrt_one_minus_alpha_bar
    }

    /// $1/\sqrt{\bar\alpha_t}$, used to recover $x_0$ from $x_t$ and $\epsilon$. Index `i`
    /// holds $t = i + 1$.
    #[doc(alias = "sqrt_recip_alphas_cumprod")]
    pub fn sqrt_recip_alpha_bar(&self) -> &[f64] {
        &self.sqrt_recip_alpha_bar
    }

    /// $\sqrt{1/\bar\alpha_t - 1}$, so that
    /// $x_0 = \frac{x_t}{\sqrt{\bar\alpha_t}} - \sqrt{1/\bar\alpha_t - 1}\,\epsilon$.
    /// Index `i` holds $t = i + 1$.
    #[doc(alias = "sqrt_recipm1_alphas_cumprod")]
    pub fn sqrt_recipm1_alpha_bar(&self) -> &[f64] {
        &self.sqrt_recipm1_alpha_bar
    }

    /// $\tilde\beta_t = \beta_t \frac{1 - \bar\alpha_{t-1}}{1 - \bar\alpha_t}$, the variance of
    /// $q(x_{t-1} \mid x_t, x_0)$ (Ho et al. 2020, Eq. (7)). Index `i` holds $t = i + 1$;
    /// $\tilde\beta_1 = 0$.
    ///
    /// ```
    /// let s = ddpm::diffusion::schedule::NoiseSchedule::linear(1000)?;
    /// assert_eq!(s.posterior_variance()[0], 0.0);
    /// assert!(s.posterior_variance().iter().zip(s.beta()).all(|(v, b)| v <= b));
    /// # Ok::<(), ddpm::diffusion::schedule::ScheduleError>(())
    /// ```
    pub fn posterior_variance(&self) -> &[f64] {
        &self.posterior_variance
    }

    /// $\log\tilde\beta_t$, except at $t = 1$ where $\tilde\beta_1 = 0$ would give
    /// $-\infty$: there it holds $\log\tilde\beta_2$, as in Ho et al.'s code (for $T = 1$,
    /// $\log\beta_1$). Index `i` holds $t = i + 1$.
    pub fn posterior_log_variance_clipped(&self) -> &[f64] {
        &self.posterior_log_variance_clipped
    }

    /// $\frac{\sqrt{\bar\alpha_{t-1}}\,\beta_t}{1 - \bar\alpha_t}$, the coefficient of $x_0$ in
    /// $\tilde\mu_t(x_t, x_0)$ (Ho et al. 2020, Eq. (7)). Index `i` holds $t = i + 1$.
    pub fn posterior_mean_coef1(&self) -> &[f64] {
        &self.posterior_mean_coef1
    }

    /// $\frac{\sqrt{\alpha_t}\,(1 - \bar\alpha_{t-1})}{1 - \bar\alpha_t}$, the coefficient of
    /// $x_t$ in $\tilde\mu_t(x_t, x_0)$ (Ho et al. 2020, Eq. (7)). Index `i` holds $t = i + 1$.
    pub fn posterior_mean_coef2(&self) -> &[f64] {
        &self.posterior_mean_coef2
    }

    /// The signal-to-noise ratio $\mathrm{SNR}(t) = \bar\alpha_t / (1 - \bar\alpha_t)$ of
    /// $x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\epsilon$ (Kingma et al. 2021).
    /// Index `i` holds $t = i + 1$.
    ///
    /// ```
    /// let s = ddpm::diffusion::schedule::NoiseSchedule::cosine(1000)?;
    /// assert!(s.snr().windows(2).all(|w| w[1] < w[0]));
    /// # Ok::<(), ddpm::diffusion::schedule::ScheduleError>(())
    /// ```
    pub fn snr(&self) -> Vec<f64> {
        map(&self.alpha_bar, |a| a / (1.0 - a))
    }
}
