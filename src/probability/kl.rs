//! Chapter 2: KL divergence. See `chapters/02-kl-divergence.md`.

use super::LogVariance;

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
