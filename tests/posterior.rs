//! Tests for `ddpm::diffusion::posterior` (chapter 7): the closed-form posterior
//! q(x_{t-1} | x_t, x_0) against brute-force Bayes' rule on a 1-D grid.

use ddpm::diffusion::forward::{q_mean_variance, q_sample};
use ddpm::diffusion::posterior::q_posterior_mean_variance;
use ddpm::diffusion::schedule::NoiseSchedule;
use ddpm::probability::{Gaussian, Variance, gaussian_posterior};
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

/// Chapter 7: the posterior mean is not a weighted average of x_0 and x_t (coef1 + coef2 != 1)
/// but chapter 3's precision-weighted average of two estimates of x_{t-1}: the prior mean
/// sqrt(abar_{t-1}) x_0 (variance 1 - abar_{t-1}) and x_t / sqrt(alpha_t) (noise variance
/// beta_t / alpha_t). Reference: `probability::gaussian_posterior`, chapter 3's conjugate update,
/// a different code path from the schedule's coefficients.
#[test]
fn posterior_is_a_precision_weighted_average() {
    for s in [
        NoiseSchedule::linear(1000).unwrap(),
        NoiseSchedule::cosine(1000).unwrap(),
    ] {
        for t in [2usize, 10, 100, 500, 1000] {
            let i = t - 1;
            let (x0, xt) = (0.6, -0.4);
            let prior = Gaussian::new(
                s.alpha_bar_prev()[i].sqrt() * x0,
                Variance::new(1.0 - s.alpha_bar_prev()[i]).unwrap(),
            )
            .unwrap();
            let noise = Variance::new(s.beta()[i] / s.alpha()[i]).unwrap();
            let bayes = gaussian_posterior(&prior, noise, &[xt / s.alpha()[i].sqrt()]).unwrap();
            let q = q_posterior_mean_variance(&s, &arr1(&[x0]), &arr1(&[xt]), t);
            assert!((q.mean[0] - bayes.mean()).abs() < 1e-12, "t={t}");
            assert!(((q.variance - bayes.variance().get()) / q.variance).abs() < 1e-9);
            // the weights of the two estimates sum to 1 ...
            let w_prior = s.beta()[i] / (1.0 - s.alpha_bar()[i]);
            let w_obs = s.alpha()[i] * (1.0 - s.alpha_bar_prev()[i]) / (1.0 - s.alpha_bar()[i]);
            assert!((w_prior + w_obs - 1.0).abs() < 1e-12);
            assert!(
                (w_prior * s.alpha_bar_prev()[i].sqrt() - s.posterior_mean_coef1()[i]).abs()
                    < 1e-12
            );
        }
        // ... while coef1 + coef2 falls short of 1 by about 1 - sqrt(alpha_T) at large t
        let sum = s.posterior_mean_coef1()[999] + s.posterior_mean_coef2()[999];
        assert!(sum < 0.995, "coef1 + coef2 = {sum} at t = 1000");
    }
}

/// Chapter 7's figure: coef2 = sqrt(alpha_t) beta_tilde_t / beta_t. Both sides from the
/// brute-force grid posterior, independently of the schedule's stored coefficients: the mean is
/// linear in x_t, so coef2 is the slope of the grid mean between two values of x_t, and
/// beta_tilde_t is the grid variance. Tolerance 1e-6 as for the grid test above.
#[test]
fn coef2_is_sqrt_alpha_times_beta_tilde_over_beta() {
    for s in [
        NoiseSchedule::linear(1000).unwrap(),
        NoiseSchedule::cosine(1000).unwrap(),
    ] {
        for t in [2usize, 10, 100, 1000] {
            let i = t - 1;
            // two values of x_t one standard deviation of q(x_t | x_0) apart, around its mean
            // (far from it the grid's products underflow)
            let (x0, sd) = (0.3, s.sqrt_one_minus_alpha_bar()[i]);
            let xt = s.sqrt_alpha_bar()[i] * x0;
            let (m0, v) = grid_posterior(&s, x0, xt, t);
            let (m1, _) = grid_posterior(&s, x0, xt + sd, t);
            let coef2_grid = (m1 - m0) / sd;
            let by_identity = s.alpha()[i].sqrt() * v / s.beta()[i];
            assert!(
                (coef2_grid - by_identity).abs() < 1e-6,
                "t={t}: {coef2_grid} vs {by_identity}"
            );
            assert!((s.posterior_mean_coef2()[i] - coef2_grid).abs() < 1e-6);
        }
    }
}
