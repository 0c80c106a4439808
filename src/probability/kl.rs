//! Chapter 2: KL divergence. See `chapters/02-kl-divergence.md`.
//!
//! - [`discrete_kl`]: between probability vectors.
//! - [`normal_kl`]: between univariate Gaussians given by mean and log-variance, as Ho et al.'s
//!   code computes it (used again in chapter 9 for every term $L_{t-1}$ of the bound).
//! - Between a Gaussian and a mixture, numerically: [`crate::probability::mixture`].

use super::entropy::check_pair;
use super::{LogVariance, ProbabilityError};

// ANCHOR: discrete_kl
/// KL divergence between probability vectors,
///
/// $$D_{\mathrm{KL}}(p\,\|\,q) = \sum_i p_i \log\frac{p_i}{q_i} = -H(p) + H(p, q),$$
///
/// in nats, with $0 \log(0/q_i) = 0$; it is $+\infty$ when some $p_i > 0$ has $q_i = 0$.
///
/// # Errors
/// [`ProbabilityError::NegativeProbability`], [`ProbabilityError::NotNormalised`] (sum not 1
/// within 1e-9), [`ProbabilityError::Empty`] or [`ProbabilityError::LengthMismatch`].
///
/// ```
/// use ddpm::probability::discrete_kl;
/// let (p, q) = ([0.9, 0.1], [0.5, 0.5]);
/// assert_eq!(discrete_kl(&p, &p).unwrap(), 0.0); // KL(p || p) = 0
/// assert!(discrete_kl(&p, &q).unwrap() > 0.0); // Gibbs: KL >= 0
/// // Not symmetric.
/// assert!((discrete_kl(&p, &q).unwrap() - discrete_kl(&q, &p).unwrap()).abs() > 0.1);
/// ```
pub fn discrete_kl(p: &[f64], q: &[f64]) -> Result<f64, ProbabilityError> {
    check_pair(p, q)?;
    Ok(p.iter()
        .zip(q)
        .filter(|&(&pi, _)| pi > 0.0)
        .map(|(&pi, &qi)| pi * (pi / qi).ln())
        .sum())
}
// ANCHOR_END: discrete_kl

// ANCHOR: normal_kl
/// KL divergence between two univariate Gaussians, elementwise:
///
/// $$D_{\mathrm{KL}}\big(\mathcal N(\mu_1,\sigma_1^2)\,\|\,\mathcal N(\mu_2,\sigma_2^2)\big)
///   = \tfrac12\Big(-1 + \log\sigma_2^2 - \log\sigma_1^2
///     + e^{\log\sigma_1^2 - \log\sigma_2^2} + \frac{(\mu_1-\mu_2)^2}{\sigma_2^2}\Big)$$
///
/// in nats, taking log-variances as Ho et al.'s `diffusion_utils_2.normal_kl` does.
///
/// ```
/// use ddpm::probability::{kl::normal_kl, LogVariance};
/// let lv = LogVariance::new(0.3).unwrap();
/// assert_eq!(normal_kl(1.5, lv, 1.5, lv), 0.0); // KL(p || p) = 0
/// assert!(normal_kl(0.0, lv, 1.0, LogVariance::new(-0.2).unwrap()) > 0.0);
/// ```
pub fn normal_kl(mean1: f64, log_var1: LogVariance, mean2: f64, log_var2: LogVariance) -> f64 {
    let (lv1, lv2) = (log_var1.get(), log_var2.get());
    0.5 * (-1.0 + lv2 - lv1 + (lv1 - lv2).exp() + (mean1 - mean2).powi(2) * (-lv2).exp())
}
// ANCHOR_END: normal_kl
