//! Tests for `ddpm::diffusion::posterior` (chapter 7): the closed-form posterior
//! q(x_{t-1} | x_t, x_0) against brute-force Bayes' rule on a 1-D grid.

use ddpm::diffusion::forward::{q_mean_variance, q_sample};
use ddpm::diffusion::posterior::q_posterior_mean_variance;
use ddpm::diffusion::schedule::NoiseSchedule;
use ndarray::arr1;

fn normal_pdf(x: f64, mean: f64, var: f64) -> f64 {
    (-(x - mean).powi(2) / (2.0 * var)).exp() / (2.0 * std::f64::consts::PI * var).sqrt()
}

/// Posterior moments by Bayes on a grid: p(x_{t-1} | x_t, x_0) is proportional to
/// q(x_{t-1} | x_0) q(x_t | x_{t-1}), evaluated on 400,001 equally spaced points and
/// normalised numerically (a Riemann sum, spectrally accurate for Gaussian integrands).
fn grid_posterior(s: &NoiseSchedule, x0: f64, xt: f64, t: usize) -> (f64, f64) {
    let prior = q_mean_variance(s, &arr1(&[x0]), t - 1);
    let (pm, pv) = (prior.mean[0], prior.variance.get());
    let (beta, alpha) = (s.beta()[t - 1], s.alpha()[t - 1]);
    // The grid spans the prior's and the likelihood's +-12 standard deviations, so that the
    // posterior (which lies between them) is covered even when x_t is far from x_0.
    let sd = pv.sqrt().max((beta / alpha).sqrt());
    let lik_centre = xt / alpha.sqrt();
    let (lo, hi) = (
        pm.min(lik_centre) - 12.0 * sd,
        pm.max(lik_centre) + 12.0 * sd,
    );
    let n = 400_001;
    let h = (hi - lo) / (n - 1) as f64;
    let (mut z, mut m1, mut m2) = (0.0, 0.0, 0.0);
    for k in 0..n {
        let x = lo + k as f64 * h;
        let w = normal_pdf(x, pm, pv) * normal_pdf(xt, alpha.sqrt() * x, beta);
        z += w;
        m1 += w * x;
        m2 += w * x * x;
    }
    let mean = m1 / z;
    (mean, m2 / z - mean * mean)
}

#[test]
fn posterior_matches_brute_force_bayes_to_1e6() {
    for s in [
        NoiseSchedule::linear(1000).unwrap(),
        NoiseSchedule::cosine(1000).unwrap(),
    ] {
        for (t, x0, xt) in [
            (2usize, 0.5, 0.48),
            (10, -1.0, -0.7),
            (100, 0.3, 1.2),
            (500, 1.0, -0.5),
            (1000, -0.8, 0.1),
        ] {
            let q = q_posterior_mean_variance(&s, &arr1(&[x0]), &arr1(&[xt]), t);
            let (gm, gv) = grid_posterior(&s, x0, xt, t);
            assert!(
                (q.mean[0] - gm).abs() < 1e-6,
                "t={t}: mean {} vs grid {gm}",
                q.mean[0]
            );
            assert!(
                (q.variance - gv).abs() < 1e-6,
                "t={t}: variance {} vs grid {gv}",
                q.variance
            );
            assert!(
                ((q.variance - gv) / gv).abs() < 1e-5,
                "t={t}: relative variance error"
            );
        }
    }
}

/// The posterior mean is a weighted average that undoes one step: if x_t was built from x_0
/// with noise eps, then mu_tilde = (x_t - beta_t / sqrt(1 - abar_t) eps) / sqrt(alpha_t)
/// (Ho et al. 2020, Eq. (10)).
#[test]
fn posterior_mean_in_terms_of_noise() {
    let s = NoiseSchedule::linear(1000).unwrap();
    let (x0, eps) = (arr1(&[0.2, -0.7]), arr1(&[0.9, -1.4]));
    for t in [2usize, 37, 999] {
        let xt = q_sample(&s, &x0, t, &eps);
        let q = q_posterior_mean_variance(&s, &x0, &xt, t);
        let i = t - 1;
        for k in 0..2 {
            let expected = (xt[k] - s.beta()[i] / (1.0 - s.alpha_bar()[i]).sqrt() * eps[k])
                / s.alpha()[i].sqrt();
            assert!((q.mean[k] - expected).abs() < 1e-12);
        }
    }
}

#[test]
fn posterior_variance_is_below_beta() {
    let s = NoiseSchedule::cosine(1000).unwrap();
    for t in 2..=1000 {
        let q = q_posterior_mean_variance(&s, &arr1(&[0.0]), &arr1(&[0.0]), t);
        assert!(q.variance > 0.0 && q.variance < s.beta()[t - 1]);
    }
}
