//! Chapter 10: DDPM as a discretised stochastic differential equation (Song et al. 2021).
//! See `chapters/10-sde-view.md`.
//!
//! Time here is continuous, $\tau \in [0, 1]$, with $\tau = t/T$. The variance-preserving
//! SDE is
//!
//! $$dx = -\tfrac12\beta(\tau)\,x\,d\tau + \sqrt{\beta(\tau)}\,dw,$$
//!
//! whose marginals are $x(\tau) \mid x_0 \sim \mathcal N\big(\sqrt{\bar\alpha(\tau)}\,x_0,
//! (1-\bar\alpha(\tau))I\big)$ with $\bar\alpha(\tau) = \exp(-\int_0^\tau\beta(s)\,ds)$.
//! [`VpSde::from_schedule`] picks the piecewise-constant $\beta(\tau)$ that makes
//! $\bar\alpha(t/T)$ equal the discrete schedule's $\bar\alpha_t$ **exactly** at every grid
//! point: $\beta(\tau) = -T\log(1-\beta_t)$ on $((t-1)/T, t/T]$, which is $\approx T\beta_t$
//! (Song et al.'s $\beta(\tau)$ with $\beta_{\min} = 0.1$, $\beta_{\max} = 20$ for the linear
//! schedule).

use ndarray::Array2;
use rand::Rng;

use super::forward::standard_normal;
use super::schedule::NoiseSchedule;

/// Why an SDE/ODE sampler could not run.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum SdeError {
    /// The number of integration steps was zero.
    #[error("steps must be at least 1, got 0; chapter 10 uses 50 to 1000 steps")]
    NoSteps,
}

/// The variance-preserving SDE matched to a discrete [`NoiseSchedule`].
#[derive(Debug, Clone, PartialEq)]
pub struct VpSde {
    /// $\beta(\tau)$ on each of the $T$ pieces.
    rates: Vec<f64>,
    /// $\int_0^{t/T}\beta$, for $t = 0..=T$.
    cumulative: Vec<f64>,
}

impl VpSde {
    // ANCHOR: from_schedule
    /// The VP-SDE whose $\bar\alpha(t/T)$ equals `schedule.alpha_bar()[t - 1]` for every $t$.
    ///
    /// ```
    /// use ddpm::diffusion::{schedule::NoiseSchedule, sde::VpSde};
    /// let s = NoiseSchedule::linear(1000).unwrap();
    /// let sde = VpSde::from_schedule(&s);
    /// assert!((sde.alpha_bar(0.5) - s.alpha_bar()[499]).abs() < 1e-12);
    /// assert!((sde.beta(0.0005) - 0.1).abs() < 1e-5); // T * beta_1 = 0.1
    /// ```
    pub fn from_schedule(schedule: &NoiseSchedule) -> Self {
        let big_t = schedule.num_timesteps() as f64;
        let rates: Vec<f64> = schedule.alpha().iter().map(|a| -big_t * a.ln()).collect();
        let mut cumulative = vec![0.0];
        for r in &rates {
            let last = cumulative[cumulative.len() - 1];
            cumulative.push(last + r / big_t);
        }
        Self { rates, cumulative }
    }
    // ANCHOR_END: from_schedule

    fn piece(&self, tau: f64) -> (usize, f64) {
        let n = self.rates.len();
        let pos = (tau.clamp(0.0, 1.0) * n as f64).max(0.0);
        let k = (pos.ceil() as usize).clamp(1, n) - 1; // piece ((k)/T, (k+1)/T]
        (k, pos - k as f64)
    }

    /// $\beta(\tau)$, piecewise constant.
    pub fn beta(&self, tau: f64) -> f64 {
        self.rates[self.piece(tau).0]
    }

    /// $\int_0^\tau \beta(s)\,ds$.
    pub fn integrated_beta(&self, tau: f64) -> f64 {
        let (k, frac) = self.piece(tau);
        self.cumulative[k] + self.rates[k] * frac / self.rates.len() as f64
    }

    /// $\bar\alpha(\tau) = \exp(-\int_0^\tau\beta)$.
    pub fn alpha_bar(&self, tau: f64) -> f64 {
        (-self.integrated_beta(tau)).exp()
    }

    /// The drift $f(x, \tau) = -\tfrac12\beta(\tau)\,x$.
    pub fn drift(&self, x: &Array2<f64>, tau: f64) -> Array2<f64> {
        x * (-0.5 * self.beta(tau))
    }

    /// The diffusion coefficient $g(\tau) = \sqrt{\beta(\tau)}$.
    pub fn diffusion(&self, tau: f64) -> f64 {
        self.beta(tau).sqrt()
    }
}

// ANCHOR: score_from_noise
/// The score of $q(x_t)$ from the optimal noise prediction (Song et al. 2021, Eq. (9) with
/// Tweedie's formula): $\nabla_x \log q_t(x) = -\,\mathbb E[\epsilon \mid x_t = x] / \sqrt{1-\bar\alpha_t}$.
/// Note the **minus sign** and the division by the *standard deviation* $\sqrt{1-\bar\alpha_t}$,
/// not by the variance.
///
/// ```
/// use ddpm::diffusion::sde::score_from_noise;
/// let eps = ndarray::arr2(&[[0.5, -1.0]]);
/// let s = score_from_noise(&eps, 0.75);
/// assert_eq!(s, ndarray::arr2(&[[-1.0, 2.0]]));
/// ```
pub fn score_from_noise(noise: &Array2<f64>, alpha_bar: f64) -> Array2<f64> {
    noise * (-1.0 / (1.0 - alpha_bar).sqrt())
}
// ANCHOR_END: score_from_noise

// ANCHOR: reverse_sde
/// Samples by integrating the reverse-time SDE (Anderson 1982; Song et al. 2021, Eq. (6))
///
/// $$dx = \big[f(x, \tau) - g(\tau)^2\,\nabla_x\log q_\tau(x)\big]\,d\tau + g(\tau)\,d\bar w$$
///
/// from $\tau = 1$ down to $\tau = 0$ with `steps` Euler-Maruyama steps, starting from
/// `x_init` (normally $\mathcal N(0, I)$ draws). `score(x, tau)` returns
/// $\nabla_x \log q_\tau(x)$ row by row. The last step adds no noise.
///
/// # Errors
/// [`SdeError::NoSteps`] if `steps == 0`.
pub fn reverse_sde_euler_maruyama<F, R>(
    sde: &VpSde,
    score: F,
    x_init: Array2<f64>,
    steps: usize,
    rng: &mut R,
) -> Result<Array2<f64>, SdeError>
where
    F: Fn(&Array2<f64>, f64) -> Array2<f64>,
    R: Rng + ?Sized,
{
    if steps == 0 {
        return Err(SdeError::NoSteps);
    }
    let dt = 1.0 / steps as f64;
    let mut x = x_init;
    for k in (1..=steps).rev() {
        let tau = k as f64 * dt;
        let s = score(&x, tau);
        // the last step adds no noise
        let z = if k > 1 {
            standard_normal(x.raw_dim(), rng)
        } else {
            Array2::zeros(x.raw_dim())
        };
        x = reverse_sde_step(sde, &x, &s, tau, dt, &z);
    }
    Ok(x)
}

/// One Euler-Maruyama step of the reverse-time SDE, from $\tau$ back to $\tau - \Delta\tau$:
///
/// $$x(\tau-\Delta\tau) = x - \big[f(x,\tau) - g(\tau)^2 s\big]\Delta\tau + g(\tau)\sqrt{\Delta\tau}\,z
///  = x + \big[\tfrac12\beta(\tau)\,x + \beta(\tau)\,s\big]\Delta\tau + \sqrt{\beta(\tau)\Delta\tau}\,z,$$
///
/// with `score` $= s = \nabla_x\log q_\tau(x)$ and the standard normal draws `z` given.
/// With $s = -\epsilon/\sqrt{1-\bar\alpha}$ this is DDPM's ancestral step with
/// $\sigma_t^2 = \beta_t$ to first order in $\beta_t$ (chapter 10).
///
/// # Panics
/// If the shapes differ.
pub fn reverse_sde_step(
    sde: &VpSde,
    x: &Array2<f64>,
    score: &Array2<f64>,
    tau: f64,
    dt: f64,
    z: &Array2<f64>,
) -> Array2<f64> {
    let g = sde.diffusion(tau);
    // going backwards in time: x <- x - [f - g^2 s] dt + g sqrt(dt) z
    let drift = sde.drift(x, tau) - score * (g * g);
    x - &(drift * dt) + &(z * (g * dt.sqrt()))
}
// ANCHOR_END: reverse_sde

// ANCHOR: probability_flow
/// Samples deterministically by integrating the probability-flow ODE (Song et al. 2021,
/// Eq. (13))
///
/// $$\frac{dx}{d\tau} = f(x, \tau) - \tfrac12 g(\tau)^2\,\nabla_x\log q_\tau(x)$$
///
/// from $\tau = 1$ to $\tau = 0$ with `steps` steps of Heun's method (explicit trapezoid), from
/// `x_init`. Its solutions have the same marginals $q_\tau$ as the SDE.
///
/// # Errors
/// [`SdeError::NoSteps`] if `steps == 0`.
pub fn probability_flow_heun<F>(
    sde: &VpSde,
    score: F,
    x_init: Array2<f64>,
    steps: usize,
) -> Result<Array2<f64>, SdeError>
where
    F: Fn(&Array2<f64>, f64) -> Array2<f64>,
{
    if steps == 0 {
        return Err(SdeError::NoSteps);
    }
    let velocity =
        |x: &Array2<f64>, tau: f64| sde.drift(x, tau) - score(x, tau) * (0.5 * sde.beta(tau));
    let dt = 1.0 / steps as f64;
    let mut x = x_init;
    for k in (1..=steps).rev() {
        let (tau, tau_next) = (k as f64 * dt, (k - 1) as f64 * dt);
        let v1 = velocity(&x, tau);
        let x_euler = &x - &(&v1 * dt);
        let v2 = velocity(&x_euler, tau_next);
        x = x - (v1 + v2) * (0.5 * dt);
    }
    Ok(x)
}
// ANCHOR_END: probability_flow
