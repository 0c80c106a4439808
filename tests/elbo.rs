//! Chapter 5: log p(x) = ELBO(q) + KL(q || p(z|x)) on the exact linear-Gaussian model.

use approx::assert_abs_diff_eq;
use ddpm::probability::{
    Gaussian, GaussianMixture, Grid, LinearGaussianModel, ProbabilityError, Variance,
};
use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn model() -> LinearGaussianModel {
    LinearGaussianModel::new(1.5, -0.5, Variance::new(0.5).unwrap()).unwrap()
}

#[test]
fn evidence_matches_numerical_marginalisation() {
    // Independent: p(x) = integral of p(z) p(x|z) dz on a grid.
    let m = model();
    let grid = Grid::new(-12.0, 12.0, 24_001).unwrap();
    for x in [-3.0, 0.0, 1.7] {
        let numeric = grid.integrate(|z| m.log_joint(x, z).exp()).ln();
        assert_abs_diff_eq!(m.log_evidence(x), numeric, epsilon = 1e-10);
    }
}

#[test]
fn posterior_matches_the_grid_posterior() {
    // Independent: Bayes by brute force on a grid (chapter 3).
    let m = model();
    let x = 1.2;
    let grid = Grid::new(-10.0, 10.0, 8001).unwrap();
    let post = ddpm::probability::grid_posterior(
        &grid,
        |z| Gaussian::standard().log_density(z),
        |z| m.likelihood(z).unwrap().log_density(x),
    )
    .unwrap();
    let exact = m.posterior(x).unwrap();
    assert_abs_diff_eq!(post.mean(), exact.mean(), epsilon = 1e-9);
    assert_abs_diff_eq!(post.variance(), exact.variance().get(), epsilon = 1e-9);
    assert_abs_diff_eq!(post.log_evidence(), m.log_evidence(x), epsilon = 1e-9);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]
    /// log p(x) - ELBO(q) = KL(q || p(z|x)) for any Gaussian q and any model.
    #[test]
    fn gap_is_kl_to_the_posterior(
        w in -3.0f64..3.0, b in -2.0f64..2.0, s in 0.2f64..2.0, x in -4.0f64..4.0,
        qm in -3.0f64..3.0, qs in 0.1f64..3.0,
    ) {
        let m = LinearGaussianModel::new(w, b, Variance::new(s * s).unwrap()).unwrap();
        let q = Gaussian::from_mean_std(qm, qs).unwrap();
        let gap = m.log_evidence(x) - m.elbo(x, &q).elbo();
        let kl = q.kl(&m.posterior(x).unwrap());
        prop_assert!((gap - kl).abs() < 1e-9, "gap {gap} kl {kl}");
        prop_assert!(gap >= -1e-12);
    }
}

#[test]
fn gap_is_zero_at_the_true_posterior() {
    let m = model();
    for x in [-2.0, 0.3, 4.0] {
        let post = m.posterior(x).unwrap();
        assert_abs_diff_eq!(m.gap(x, &post), 0.0, epsilon = 1e-12);
    }
}

#[test]
fn closed_form_elbo_matches_monte_carlo_and_quadrature() {
    let m = model();
    let x = 0.8;
    let q = Gaussian::from_mean_std(0.1, 0.9).unwrap();
    let closed = m.elbo(x, &q).elbo();
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let mc = m.monte_carlo_elbo(x, &q, 100_000, &mut rng).unwrap();
    assert!(mc.within(closed, 4.0), "closed {closed} MC {mc:?}");
    // Quadrature of E_q[log p(x, z) - log q(z)].
    let grid = Grid::new(-12.0, 12.0, 24_001).unwrap();
    let numeric = grid.integrate(|z| q.density(z) * (m.log_joint(x, z) - q.log_density(z)));
    assert_abs_diff_eq!(closed, numeric, epsilon = 1e-10);
    // The reconstruction term on its own, too.
    let recon = grid.integrate(|z| q.density(z) * m.likelihood(z).unwrap().log_density(x));
    assert_abs_diff_eq!(m.elbo(x, &q).reconstruction, recon, epsilon = 1e-10);
    // At the posterior, every Monte Carlo sample equals log p(x): zero variance.
    let post = m.posterior(x).unwrap();
    let tight = m.monte_carlo_elbo(x, &post, 100, &mut rng).unwrap();
    assert_abs_diff_eq!(tight.estimate, m.log_evidence(x), epsilon = 1e-12);
    assert!(tight.std_error < 1e-12);
}

#[test]
fn em_never_decreases_the_likelihood_and_converges_to_the_moments() {
    // Data from a mixture (not from the model), so the fit is a real approximation.
    let data = GaussianMixture::chapter2_example().sample_n(&mut ChaCha8Rng::seed_from_u64(1), 500);
    let mut m = LinearGaussianModel::new(0.3, 0.0, Variance::new(1.0).unwrap()).unwrap();
    let mut ll = m.log_likelihood(&data);
    for _ in 0..200 {
        m = m.em_step(&data).unwrap();
        let next = m.log_likelihood(&data);
        assert!(next >= ll - 1e-9, "EM decreased: {ll} -> {next}");
        ll = next;
    }
    // The maximum-likelihood marginal N(b, w^2 + s^2) matches the sample mean and variance.
    let n = data.len() as f64;
    let mean = data.iter().sum::<f64>() / n;
    let var = data.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    assert_abs_diff_eq!(m.b(), mean, epsilon = 1e-6);
    assert_abs_diff_eq!(m.w().powi(2) + m.noise().get(), var, epsilon = 1e-4);
}

#[test]
fn bad_inputs_return_documented_errors() {
    assert!(matches!(
        LinearGaussianModel::new(f64::NAN, 0.0, Variance::new(1.0).unwrap()),
        Err(ProbabilityError::NotFinite { .. })
    ));
    let m = model();
    assert!(matches!(
        m.posterior(f64::INFINITY),
        Err(ProbabilityError::NotFinite { .. })
    ));
    assert!(matches!(
        m.em_step(&[]),
        Err(ProbabilityError::Empty { .. })
    ));
    let q = Gaussian::standard();
    assert!(matches!(
        m.monte_carlo_elbo(0.0, &q, 0, &mut ChaCha8Rng::seed_from_u64(0)),
        Err(ProbabilityError::NoSamples)
    ));
}

/// Chapter 5's gap for DDPM: L(x_0) = -log p_theta(x_0) + KL(q(x_{1:T} | x_0) || p_theta(x_{1:T} | x_0)),
/// with the forward chain as the (fixed) variational distribution. At T = 5 (beta from 0.01 to
/// 0.2), one pixel, four grey levels (0, 85, 170, 255) and their exact denoiser, for each level
/// x_0 and both variance choices:
/// - p_theta(x_0) by brute force: the density of x_T = N(0, 1) pushed through the reverse steps
///   on a grid of 2,401 points (Riemann sums), then the decoder's bin probability at each x_1;
/// - the same p_theta(x_0) by importance sampling over 20,000 forward chains,
///   E_q[p_theta(x_{0:T}) / q(x_{1:T} | x_0)] = E_q[exp(-chain_bound)], within 4 standard errors
///   (sample sd of the weights / sqrt(n)). Not for sigma^2 = beta_t at the edge levels +-1:
///   there the decoder's bin reaches to infinity and p_theta(x_1 | x_0) has wider tails than the
///   proposal q(x_1 | x_0), the weights' variance is infinite (single weights reach 2,000 times
///   their mean) and the estimate runs low;
/// - the bound L(x_0) (`bound_terms`, 20 replicates of 1,000 draws; se = sd / sqrt(20)) is above
///   -log p_theta(x_0) by a gap of more than 4 standard errors: the KL is positive, since the
///   Gaussian reverse steps of T = 5 are far from the true reverse process.
#[test]
fn ddpm_gap_is_bound_minus_log_evidence() {
    use ddpm::diffusion::BetaSchedule;
    use ddpm::diffusion::bound::{bound_terms, chain_bound, discretized_gaussian_log_likelihood};
    use ddpm::diffusion::mixture::GaussianMixture as DataMixture;
    use ddpm::diffusion::reverse::{Denoiser, ReverseOptions, VarianceKind, p_mean_variance};
    use ddpm::diffusion::schedule::NoiseSchedule;
    use ndarray::Array2;
    let levels = [0.0, 85.0, 170.0, 255.0].map(|k: f64| 2.0 * k / 255.0 - 1.0);
    let data = DataMixture::one_d(&[0.1, 0.2, 0.3, 0.4], &levels, &[1e-3; 4]).unwrap();
    let s = NoiseSchedule::new(
        BetaSchedule::Linear {
            beta_start: 0.01,
            beta_end: 0.2,
        },
        5,
    )
    .unwrap();
    let den = data.denoiser(&s);
    let normal = |x: f64, m: f64, v: f64| {
        (-(x - m).powi(2) / (2.0 * v)).exp() / (2.0 * std::f64::consts::PI * v).sqrt()
    };
    let mean_se = |v: &[f64]| {
        let n = v.len() as f64;
        let m = v.iter().sum::<f64>() / n;
        let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
        (m, (var / n).sqrt())
    };
    let (lo, hi, g) = (-6.0, 6.0, 2401);
    let h = (hi - lo) / (g - 1) as f64;
    let grid = Array2::from_shape_fn((g, 1), |(j, _)| lo + j as f64 * h);
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for kind in [VarianceKind::Beta, VarianceKind::PosteriorBeta] {
        let opts = ReverseOptions::unclipped(kind);
        // p_theta(x_1) on the grid: x_T ~ N(0, 1), then x_{t-1} ~ N(mu_theta(x_t), sigma_t^2)
        let mut density: Vec<f64> = grid.iter().map(|&x| normal(x, 0.0, 1.0)).collect();
        for t in (2..=5).rev() {
            let p = p_mean_variance(&s, &grid, t, &den.predict_noise(&grid, t), opts);
            density = (0..g)
                .map(|k| {
                    (0..g)
                        .map(|j| density[j] * h * normal(grid[[k, 0]], p.mean[[j, 0]], p.variance))
                        .sum()
                })
                .collect();
        }
        assert!((density.iter().sum::<f64>() * h - 1.0).abs() < 1e-6);
        let decoder = p_mean_variance(&s, &grid, 1, &den.predict_noise(&grid, 1), opts);
        for &x0 in &levels {
            let p_grid: f64 = (0..g)
                .map(|j| {
                    let bin = discretized_gaussian_log_likelihood(
                        x0,
                        decoder.mean[[j, 0]],
                        decoder.log_variance,
                    );
                    density[j] * h * bin.exp()
                })
                .sum();
            let edge = x0.abs() == 1.0;
            if !(edge && kind == VarianceKind::Beta) {
                let xs = Array2::from_elem((20_000, 1), x0);
                let w: Vec<f64> = chain_bound(&s, &den, &xs, kind, &mut rng)
                    .iter()
                    .map(|l| (-l).exp())
                    .collect();
                let (w_mean, w_se) = mean_se(&w);
                assert!(
                    (w_mean - p_grid).abs() < 4.0 * w_se,
                    "{kind:?}, x0 = {x0}: importance sampling {w_mean} +- {w_se} vs grid {p_grid}"
                );
            }
            let reps: Vec<f64> = (0..20)
                .map(|_| {
                    let xs = Array2::from_elem((1000, 1), x0);
                    bound_terms(&s, &den, &xs, kind, &mut rng).total()
                })
                .collect();
            let (l, l_se) = mean_se(&reps);
            let gap = l + p_grid.ln();
            assert!(
                gap > 4.0 * l_se,
                "{kind:?}, x0 = {x0}: gap {gap}, se {l_se}"
            );
        }
    }
}
