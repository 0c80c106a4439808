//! Chapter 3: Bayes' rule, exactly (conjugate Gaussian) and by brute force (a grid).
//! See `chapters/03-bayes-rule.md`.
//!
//! $$\underbrace{p(\theta\mid x)}_{\text{posterior}}
//!   = \frac{\overbrace{p(x\mid\theta)}^{\text{likelihood}}\ \overbrace{p(\theta)}^{\text{prior}}}
//!          {\underbrace{p(x)}_{\text{evidence}}},\qquad p(x) = \int p(x\mid\theta)\,p(\theta)\,d\theta.$$

use super::{Gaussian, Grid, ProbabilityError, Variance};

fn check_data(data: &[f64]) -> Result<(), ProbabilityError> {
    match data.iter().find(|x| !x.is_finite()) {
        Some(&value) => Err(ProbabilityError::NotFinite {
            what: "observation",
            value,
        }),
        None => Ok(()),
    }
}

// ANCHOR: gaussian_posterior
/// The conjugate posterior of a Gaussian mean. Prior $\theta \sim \mathcal N(\mu_0, \tau_0^2)$,
/// observations $x_i \mid \theta \sim \mathcal N(\theta, \sigma^2)$ i.i.d. with known
/// $\sigma^2$ (`noise`). Then $\theta \mid x_{1:n} \sim \mathcal N(\mu_n, \tau_n^2)$ with
///
/// $$\frac1{\tau_n^2} = \frac1{\tau_0^2} + \frac{n}{\sigma^2},\qquad
///   \mu_n = \tau_n^2\left(\frac{\mu_0}{\tau_0^2} + \frac{\sum_i x_i}{\sigma^2}\right):$$
///
/// precisions add, and the mean is the precision-weighted average of prior mean and data.
/// With no data the posterior is the prior.
///
/// # Errors
/// [`ProbabilityError::NotFinite`] if an observation is NaN or infinite.
///
/// ```
/// use ddpm::probability::{gaussian_posterior, Gaussian, Variance};
/// let prior = Gaussian::from_mean_std(0.0, 1.0).unwrap();
/// let post = gaussian_posterior(&prior, Variance::new(1.0).unwrap(), &[2.0]).unwrap();
/// // Equal precisions: the posterior mean is halfway, the variance halves.
/// assert_eq!(post.mean(), 1.0);
/// assert_eq!(post.variance().get(), 0.5);
/// ```
pub fn gaussian_posterior(
    prior: &Gaussian,
    noise: Variance,
    data: &[f64],
) -> Result<Gaussian, ProbabilityError> {
    check_data(data)?;
    let prior_precision = 1.0 / prior.variance().get();
    let data_precision = data.len() as f64 / noise.get();
    let var = 1.0 / (prior_precision + data_precision);
    let mean = var * (prior.mean() * prior_precision + data.iter().sum::<f64>() / noise.get());
    Gaussian::new(mean, Variance::new(var)?)
}
// ANCHOR_END: gaussian_posterior

/// The exact log-evidence $\log p(x_{1:n})$ of the conjugate model of [`gaussian_posterior`],
/// by the chain rule $p(x_{1:n}) = \prod_i p(x_i \mid x_{<i})$, each factor being the
/// predictive $\mathcal N(x_i; \mu_{i-1}, \tau_{i-1}^2 + \sigma^2)$.
///
/// # Errors
/// [`ProbabilityError::NotFinite`] if an observation is NaN or infinite.
///
/// ```
/// use ddpm::probability::{bayes::gaussian_log_evidence, Gaussian, Variance};
/// let prior = Gaussian::from_mean_std(0.0, 1.0).unwrap();
/// let noise = Variance::new(3.0).unwrap();
/// // One observation: x ~ N(mu_0, tau_0^2 + sigma^2) = N(0, 4).
/// let direct = Gaussian::from_mean_std(0.0, 2.0).unwrap().log_density(1.5);
/// assert!((gaussian_log_evidence(&prior, noise, &[1.5]).unwrap() - direct).abs() < 1e-14);
/// ```
pub fn gaussian_log_evidence(
    prior: &Gaussian,
    noise: Variance,
    data: &[f64],
) -> Result<f64, ProbabilityError> {
    check_data(data)?;
    let mut belief = *prior;
    let mut total = 0.0;
    for &x in data {
        let predictive = Gaussian::new(
            belief.mean(),
            Variance::new(belief.variance().get() + noise.get())?,
        )?;
        total += predictive.log_density(x);
        belief = gaussian_posterior(&belief, noise, &[x])?;
    }
    Ok(total)
}

/// A posterior computed by brute force on a grid of parameter values.
#[derive(Debug, Clone, PartialEq)]
pub struct GridPosterior {
    points: Vec<f64>,
    density: Vec<f64>,
    weights: Vec<f64>,
    log_evidence: f64,
}

// ANCHOR: grid_posterior
/// Bayes' rule by brute force: evaluate $\log p(\theta) + \log p(x\mid\theta)$ at every grid
/// point $\theta_i$, exponentiate (after subtracting the maximum, to avoid underflow), and
/// divide by the trapezoid-rule integral, which is the evidence $p(x)$.
///
/// `log_prior(theta)` and `log_likelihood(theta)` may return $-\infty$ (zero probability);
/// a NaN is also treated as zero probability at that point.
///
/// # Errors
/// [`ProbabilityError::DegeneratePosterior`] if prior times likelihood is zero or NaN at every
/// grid point.
///
/// ```
/// use ddpm::probability::{grid_posterior, Gaussian, Grid};
/// // Flat prior on [0, 1], coin with 7 heads in 10 flips: posterior Beta(8, 4), mean 8/12.
/// let grid = Grid::new(0.0, 1.0, 2001).unwrap();
/// let post = grid_posterior(&grid, |_| 0.0, |t| 7.0 * t.ln() + 3.0 * (1.0 - t).ln()).unwrap();
/// assert!((post.mean() - 8.0 / 12.0).abs() < 1e-6);
/// ```
pub fn grid_posterior(
    grid: &Grid,
    log_prior: impl Fn(f64) -> f64,
    log_likelihood: impl Fn(f64) -> f64,
) -> Result<GridPosterior, ProbabilityError> {
    let points = grid.points();
    let weights = grid.weights();
    let log_joint: Vec<f64> = points
        .iter()
        .map(|&t| log_prior(t) + log_likelihood(t))
        .collect();
    let max = log_joint
        .iter()
        .copied()
        .filter(|v| !v.is_nan())
        .fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        return Err(ProbabilityError::DegeneratePosterior);
    }
    // Unnormalised, scaled by exp(-max) so the largest value is 1.
    let scaled: Vec<f64> = log_joint
        .iter()
        .map(|&l| if l.is_nan() { 0.0 } else { (l - max).exp() })
        .collect();
    let mass: f64 = scaled.iter().zip(&weights).map(|(s, w)| s * w).sum();
    let density = scaled.iter().map(|s| s / mass).collect();
    Ok(GridPosterior {
        points,
        density,
        weights,
        log_evidence: max + mass.ln(),
    })
}
// ANCHOR_END: grid_posterior

impl GridPosterior {
    /// The grid points $\theta_i$.
    pub fn points(&self) -> &[f64] {
        &self.points
    }
    /// The posterior density $p(\theta_i \mid x)$ at each point (integrates to 1).
    pub fn density(&self) -> &[f64] {
        &self.density
    }
    /// $\log p(x) = \log\int p(x\mid\theta)p(\theta)\,d\theta$ (trapezoid rule).
    pub fn log_evidence(&self) -> f64 {
        self.log_evidence
    }
    /// $\mathbb E[\theta \mid x]$.
    pub fn mean(&self) -> f64 {
        self.expect(|t| t)
    }
    /// $\mathrm{Var}[\theta \mid x]$.
    pub fn variance(&self) -> f64 {
        let m = self.mean();
        self.expect(|t| (t - m).powi(2))
    }
    /// $\mathbb E[f(\theta) \mid x]$ by the trapezoid rule.
    pub fn expect(&self, f: impl Fn(f64) -> f64) -> f64 {
        self.points
            .iter()
            .zip(&self.density)
            .zip(&self.weights)
            .map(|((&t, &d), &w)| w * d * f(t))
            .sum()
    }
}
