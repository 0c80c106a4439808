//! Chapter 2: every identity the chapter states, checked numerically.

use approx::assert_abs_diff_eq;
use ddpm::probability::entropy::check_probability_vector;
use ddpm::probability::monte_carlo::monte_carlo_kl;
use ddpm::probability::{
    Gaussian, GaussianMixture, Grid, LogVariance, ProbabilityError, cross_entropy, discrete_kl,
    entropy, normal_kl,
};
use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// A random probability vector of length `n` from positive weights (some set to exactly 0).
fn prob_vector(n: usize) -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(prop_oneof![4 => 0.01f64..10.0, 1 => Just(0.0)], n).prop_filter_map(
        "all zero",
        |w| {
            let s: f64 = w.iter().sum();
            (s > 0.0).then(|| w.iter().map(|x| x / s).collect())
        },
    )
}

/// Two probability vectors of the same length, the second strictly positive (so KL is finite).
fn prob_pair() -> impl Strategy<Value = (Vec<f64>, Vec<f64>)> {
    (1usize..12).prop_flat_map(|n| {
        (
            prob_vector(n),
            prop::collection::vec(0.01f64..10.0, n).prop_map(|w| {
                let s: f64 = w.iter().sum();
                w.iter().map(|x| x / s).collect()
            }),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// D_KL(p||q) = -H(p) + H(p, q).
    #[test]
    fn kl_is_cross_entropy_minus_entropy((p, q) in prob_pair()) {
        let kl = discrete_kl(&p, &q).unwrap();
        let decomposed = -entropy(&p).unwrap() + cross_entropy(&p, &q).unwrap();
        prop_assert!((kl - decomposed).abs() < 1e-12, "{kl} vs {decomposed}");
    }

    /// Gibbs' inequality: KL >= 0, and KL(p||p) = 0.
    #[test]
    fn kl_is_non_negative_and_zero_on_itself((p, q) in prob_pair()) {
        prop_assert!(discrete_kl(&p, &q).unwrap() >= -1e-15);
        prop_assert_eq!(discrete_kl(&p, &p).unwrap(), 0.0);
        prop_assert_eq!(discrete_kl(&q, &q).unwrap(), 0.0);
    }

    /// Gaussian KL: non-negative, zero on itself.
    #[test]
    fn normal_kl_is_non_negative(m1 in -5.0f64..5.0, m2 in -5.0f64..5.0,
                                 l1 in -4.0f64..4.0, l2 in -4.0f64..4.0) {
        let (lv1, lv2) = (LogVariance::new(l1).unwrap(), LogVariance::new(l2).unwrap());
        prop_assert!(normal_kl(m1, lv1, m2, lv2) >= -1e-15);
        prop_assert!(normal_kl(m1, lv1, m1, lv1).abs() < 1e-15);
    }
}

#[test]
fn kl_is_asymmetric_on_a_worked_pair() {
    // p = (0.9, 0.1), q = (0.5, 0.5), by hand:
    // KL(p||q) = 0.9 ln 1.8 + 0.1 ln 0.2 = 0.368064207... (python: math.log)
    // KL(q||p) = 0.5 ln(0.5/0.9) + 0.5 ln(0.5/0.1) = 0.510825624...
    let (p, q) = ([0.9, 0.1], [0.5, 0.5]);
    let pq = 0.9 * 1.8f64.ln() + 0.1 * 0.2f64.ln();
    let qp = 0.5 * (0.5f64 / 0.9).ln() + 0.5 * 5f64.ln();
    assert_abs_diff_eq!(discrete_kl(&p, &q).unwrap(), pq, epsilon = 1e-15);
    assert_abs_diff_eq!(discrete_kl(&q, &p).unwrap(), qp, epsilon = 1e-15);
    assert_abs_diff_eq!(pq, 0.368_064_207, epsilon = 1e-9);
    assert_abs_diff_eq!(qp, 0.510_825_624, epsilon = 1e-9);
}

#[test]
fn kl_is_infinite_when_q_misses_support_of_p() {
    assert_eq!(
        discrete_kl(&[0.5, 0.5], &[1.0, 0.0]).unwrap(),
        f64::INFINITY
    );
    // ... but finite the other way: q's zero outcome contributes 0 log 0 = 0.
    assert!(discrete_kl(&[1.0, 0.0], &[0.5, 0.5]).unwrap().is_finite());
}

#[test]
fn bad_probability_vectors_are_rejected_with_the_documented_errors() {
    assert!(matches!(
        discrete_kl(&[0.5, 0.6], &[0.5, 0.5]),
        Err(ProbabilityError::NotNormalised { name: "p", .. })
    ));
    assert!(matches!(
        discrete_kl(&[0.5, 0.5], &[1.5, -0.5]),
        Err(ProbabilityError::NegativeProbability {
            name: "q",
            index: 1,
            ..
        })
    ));
    assert!(matches!(
        discrete_kl(&[0.5, 0.5], &[0.2, 0.3, 0.5]),
        Err(ProbabilityError::LengthMismatch { .. })
    ));
    assert!(matches!(entropy(&[]), Err(ProbabilityError::Empty { .. })));
    assert!(matches!(
        cross_entropy(&[f64::NAN, 1.0], &[0.5, 0.5]),
        Err(ProbabilityError::NegativeProbability { .. })
    ));
    // The tolerance is 1e-9 on the sum.
    assert!(check_probability_vector(&[0.5, 0.5 + 5e-10], "p").is_ok());
    assert!(check_probability_vector(&[0.5, 0.5 + 5e-9], "p").is_err());
}

#[test]
fn closed_form_gaussian_kl_matches_monte_carlo() {
    // Independent check: E_p[log p - log q] from 200k seeded samples, within 4 standard errors.
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    for (p, q) in [
        ((0.0, 1.0), (1.0, 2.0)),
        ((1.0, 0.5), (-1.0, 1.5)),
        ((-2.0, 3.0), (0.0, 1.0)),
    ] {
        let p = Gaussian::from_mean_std(p.0, p.1).unwrap();
        let q = Gaussian::from_mean_std(q.0, q.1).unwrap();
        let closed = p.kl(&q);
        let mc = monte_carlo_kl(&p, &q, 200_000, &mut rng).unwrap();
        assert!(
            mc.within(closed, 4.0),
            "closed {closed}, MC {} +- {}",
            mc.estimate,
            mc.std_error
        );
    }
}

#[test]
fn closed_form_gaussian_kl_matches_quadrature() {
    // Independent check: integral of p log(p/q) on a fine grid.
    let p = Gaussian::from_mean_std(0.3, 0.8).unwrap();
    let q = Gaussian::from_mean_std(-0.5, 1.7).unwrap();
    let grid = Grid::new(-15.0, 15.0, 30_001).unwrap();
    let numeric = grid.integrate(|x| p.density(x) * (p.log_density(x) - q.log_density(x)));
    assert_abs_diff_eq!(p.kl(&q), numeric, epsilon = 1e-10);
}

#[test]
fn forward_kl_fit_is_moment_matching_and_beats_perturbations() {
    let p = GaussianMixture::chapter2_example();
    let q = p.fit_forward_kl().unwrap();
    // Moments by hand: mean 0.7(-2) + 0.3(2) = -0.8; E[x^2] = 0.36 + 4 = 4.36; var = 3.72.
    assert_abs_diff_eq!(q.mean(), -0.8, epsilon = 1e-12);
    assert_abs_diff_eq!(q.variance().get(), 3.72, epsilon = 1e-12);
    // It minimises KL(p||q): any nearby Gaussian is worse (numerical KL on a grid).
    let grid = Grid::new(-12.0, 12.0, 24_001).unwrap();
    let best = p.forward_kl(&q, &grid);
    for (dm, ds) in [(0.1, 0.0), (-0.1, 0.0), (0.0, 0.1), (0.0, -0.1)] {
        let other = Gaussian::from_mean_std(q.mean() + dm, q.std_dev().get() + ds).unwrap();
        assert!(p.forward_kl(&other, &grid) > best);
    }
}

#[test]
fn reverse_kl_fit_is_mode_seeking_and_a_local_minimum() {
    let p = GaussianMixture::chapter2_example();
    let from_left = p
        .fit_reverse_kl(&Gaussian::from_mean_std(-0.5, 1.0).unwrap())
        .unwrap();
    let from_right = p
        .fit_reverse_kl(&Gaussian::from_mean_std(1.5, 0.5).unwrap())
        .unwrap();
    // Each fit sits on one mode with roughly that mode's width (0.6).
    assert!((from_left.mean() + 2.0).abs() < 0.05, "{from_left:?}");
    assert!((from_right.mean() - 2.0).abs() < 0.05, "{from_right:?}");
    for q in [from_left, from_right] {
        assert!((q.std_dev().get() - 0.6).abs() < 0.05, "{q:?}");
        // Local minimum: perturbing the mean or std increases the reverse KL.
        let best = p.reverse_kl(&q);
        for (dm, ds) in [(0.02, 0.0), (-0.02, 0.0), (0.0, 0.02), (0.0, -0.02)] {
            let other = Gaussian::from_mean_std(q.mean() + dm, q.std_dev().get() + ds).unwrap();
            assert!(p.reverse_kl(&other) > best);
        }
    }
    // The big mode gives the lower reverse KL: it costs log(1/0.7) vs log(1/0.3) roughly.
    assert!(p.reverse_kl(&from_left) < p.reverse_kl(&from_right));
    assert_abs_diff_eq!(p.reverse_kl(&from_left), -(0.7f64.ln()), epsilon = 0.01);
    assert_abs_diff_eq!(p.reverse_kl(&from_right), -(0.3f64.ln()), epsilon = 0.01);
}

#[test]
fn reverse_kl_terms_add_up_and_match_a_grid_integral() {
    let p = GaussianMixture::chapter2_example();
    let q = Gaussian::from_mean_std(-1.0, 1.3).unwrap();
    let terms = p.reverse_kl_terms(&q);
    // Independent: integral of q log(q/p) over x on a plain grid.
    let grid = Grid::new(-15.0, 15.0, 30_001).unwrap();
    let numeric = grid.integrate(|x| q.density(x) * (q.log_density(x) - p.log_density(x)));
    assert_abs_diff_eq!(terms.kl(), numeric, epsilon = 1e-9);
    assert_abs_diff_eq!(terms.neg_entropy, -q.entropy(), epsilon = 1e-15);
}
