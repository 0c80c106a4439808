//! Chapter 3: the grid (brute-force) posterior agrees with the conjugate closed form.

use approx::assert_abs_diff_eq;
use ddpm::probability::bayes::gaussian_log_evidence;
use ddpm::probability::{
    Gaussian, Grid, ProbabilityError, Variance, gaussian_posterior, grid_posterior,
};
use proptest::prelude::*;

fn setup() -> (Gaussian, Variance, Vec<f64>) {
    let prior = Gaussian::from_mean_std(0.0, 2.0).unwrap();
    let noise = Variance::new(1.5).unwrap();
    let data = vec![1.2, 0.7, 2.3, 1.9, 0.4];
    (prior, noise, data)
}

#[test]
fn conjugate_posterior_matches_hand_computation() {
    // tau0^2 = 4, sigma^2 = 1.5, n = 5, sum = 6.5:
    // precision = 1/4 + 5/1.5 = 3.58333..., var = 0.27906976..., mean = var * 6.5/1.5 = 1.2093023...
    let (prior, noise, data) = setup();
    let post = gaussian_posterior(&prior, noise, &data).unwrap();
    let var = 1.0 / (0.25 + 5.0 / 1.5);
    assert_abs_diff_eq!(post.variance().get(), var, epsilon = 1e-15);
    assert_abs_diff_eq!(post.mean(), var * 6.5 / 1.5, epsilon = 1e-14);
    assert_abs_diff_eq!(post.mean(), 1.209_302_325_581_395_3, epsilon = 1e-12);
}

#[test]
fn grid_posterior_agrees_with_conjugate_posterior() {
    let (prior, noise, data) = setup();
    let exact = gaussian_posterior(&prior, noise, &data).unwrap();
    let grid = Grid::new(-10.0, 10.0, 4001).unwrap();
    let lik = |t: f64| {
        data.iter()
            .map(|&x| Gaussian::new(t, noise).unwrap().log_density(x))
            .sum::<f64>()
    };
    let post = grid_posterior(&grid, |t| prior.log_density(t), lik).unwrap();
    assert_abs_diff_eq!(post.mean(), exact.mean(), epsilon = 1e-9);
    assert_abs_diff_eq!(post.variance(), exact.variance().get(), epsilon = 1e-9);
    // Pointwise densities agree too.
    for (&t, &d) in post.points().iter().zip(post.density()).step_by(97) {
        assert_abs_diff_eq!(d, exact.density(t), epsilon = 1e-9);
    }
    // And the evidence: grid integral vs the exact chain-rule formula.
    assert_abs_diff_eq!(
        post.log_evidence(),
        gaussian_log_evidence(&prior, noise, &data).unwrap(),
        epsilon = 1e-9
    );
}

#[test]
fn log_evidence_of_two_points_matches_the_bivariate_normal() {
    // (x1, x2) is jointly Gaussian with mean (m, m), var tau^2 + s^2, covariance tau^2.
    let (prior, noise, _) = setup();
    let (x1, x2) = (0.3, -1.1);
    let (t2, s2) = (prior.variance().get(), noise.get());
    let (a, c) = (t2 + s2, t2);
    let det = a * a - c * c;
    let (d1, d2) = (x1 - prior.mean(), x2 - prior.mean());
    let quad = (a * d1 * d1 - 2.0 * c * d1 * d2 + a * d2 * d2) / det;
    let direct = -(2.0 * std::f64::consts::PI).ln() - 0.5 * det.ln() - 0.5 * quad;
    assert_abs_diff_eq!(
        gaussian_log_evidence(&prior, noise, &[x1, x2]).unwrap(),
        direct,
        epsilon = 1e-13
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn grid_and_conjugate_agree_on_random_problems(
        m0 in -2.0f64..2.0, t0 in 0.5f64..3.0, s in 0.5f64..2.0,
        data in prop::collection::vec(-3.0f64..3.0, 0..6),
    ) {
        let prior = Gaussian::from_mean_std(m0, t0).unwrap();
        let noise = Variance::new(s * s).unwrap();
        let exact = gaussian_posterior(&prior, noise, &data).unwrap();
        let grid = Grid::new(-30.0, 30.0, 12_001).unwrap(); // >= 10 prior stds each side
        let post = grid_posterior(
            &grid,
            |t| prior.log_density(t),
            |t| data.iter().map(|&x| Gaussian::new(t, noise).unwrap().log_density(x)).sum(),
        ).unwrap();
        prop_assert!((post.mean() - exact.mean()).abs() < 1e-8);
        prop_assert!((post.variance() - exact.variance().get()).abs() < 1e-8);
    }
}

#[test]
fn bad_inputs_return_documented_errors() {
    let (prior, noise, _) = setup();
    assert!(matches!(
        gaussian_posterior(&prior, noise, &[1.0, f64::NAN]),
        Err(ProbabilityError::NotFinite { .. })
    ));
    assert!(matches!(
        Grid::new(1.0, 1.0, 10),
        Err(ProbabilityError::BadGrid { .. })
    ));
    assert!(matches!(
        Grid::new(0.0, 1.0, 1),
        Err(ProbabilityError::BadGrid { .. })
    ));
    let grid = Grid::new(0.0, 1.0, 11).unwrap();
    assert!(matches!(
        grid_posterior(&grid, |_| f64::NEG_INFINITY, |_| 0.0),
        Err(ProbabilityError::DegeneratePosterior)
    ));
    assert!(matches!(
        grid_posterior(&grid, |_| f64::NAN, |_| 0.0),
        Err(ProbabilityError::DegeneratePosterior)
    ));
}
