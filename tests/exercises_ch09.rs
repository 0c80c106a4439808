//! Grader for chapter 9's exercises: compares with the library (`ddpm::diffusion::bound`).
//! Each test panics on the unimplemented stub.

mod exercise_support;

// The student's file; with `--features solutions`, the instructors' reference solution.
#[cfg(not(feature = "solutions"))]
#[path = "../src/exercises/ch09.rs"]
mod ch09;
#[cfg(feature = "solutions")]
#[path = "../solutions/ch09.rs"]
mod ch09;

#[cfg(not(feature = "solutions"))]
const EXERCISE_FILE: &str = include_str!("../src/exercises/ch09.rs");
#[cfg(feature = "solutions")]
const EXERCISE_FILE: &str = include_str!("../solutions/ch09.rs");

/// The exercise file may not call the library (which computes most answers): see
/// `exercise_support`. When this fails the grader scores the whole chapter 0.
#[test]
fn exercise_file_is_self_contained() {
    exercise_support::assert_self_contained("ch09", EXERCISE_FILE);
}

use ddpm::diffusion::bound::{
    discretized_gaussian_log_likelihood, loss_weight, nats_to_bits, prior_kl, standard_normal_cdf,
};
use ddpm::diffusion::reverse::VarianceKind;
use ddpm::diffusion::schedule::NoiseSchedule;
use ddpm::probability::LogVariance;

#[test]
fn exercise_9_1_prior_bits() {
    let s = NoiseSchedule::linear(1000).unwrap();
    for x0 in [-1.0, 0.0, 0.5, 1.0] {
        let want = nats_to_bits(prior_kl(&s, &ndarray::arr1(&[x0]))[0]);
        let got = ch09::prior_bits(s.alpha_bar()[999], x0);
        assert!((got - want).abs() < 1e-15, "{got} vs {want}");
    }
}

#[test]
fn exercise_9_2_loss_weight() {
    let s = NoiseSchedule::linear(1000).unwrap();
    for t in [2usize, 100, 1000] {
        let i = t - 1;
        for (kind, sigma2) in [
            (VarianceKind::Beta, s.beta()[i]),
            (VarianceKind::PosteriorBeta, s.posterior_variance()[i]),
        ] {
            let want = loss_weight(&s, t, kind);
            let got = ch09::loss_weight(s.beta()[i], s.alpha_bar()[i], sigma2);
            assert!((got / want - 1.0).abs() < 1e-12);
        }
    }
}

#[test]
fn exercise_9_3_bin_probability() {
    for (mean, sd) in [(0.0, 0.1), (0.95, 0.05), (-1.0, 0.02)] {
        let lv = LogVariance::new(2.0 * f64::ln(sd)).unwrap();
        let mut total = 0.0;
        for k in 0..=255u8 {
            let x = 2.0 * f64::from(k) / 255.0 - 1.0;
            let want = discretized_gaussian_log_likelihood(x, mean, lv).exp();
            let got = ch09::bin_probability(k, mean, sd, standard_normal_cdf);
            assert!(
                (got - want).abs() < 1e-11 || want <= 1e-12,
                "k={k}: {got} vs {want}"
            );
            total += got;
        }
        assert!((total - 1.0).abs() < 1e-12);
    }
}
