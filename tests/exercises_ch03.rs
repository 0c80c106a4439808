//! Grader for chapter 3's exercises (independent references: the library and closed forms).
//! `cargo test --release --no-default-features --test exercises_ch03`

mod exercise_support;

// The student's file; with `--features solutions`, the instructors' reference solution.
#[cfg(not(feature = "solutions"))]
#[path = "../src/exercises/ch03.rs"]
mod ch03;
#[cfg(feature = "solutions")]
#[path = "../solutions/ch03.rs"]
mod ch03;

#[cfg(not(feature = "solutions"))]
const EXERCISE_FILE: &str = include_str!("../src/exercises/ch03.rs");
#[cfg(feature = "solutions")]
const EXERCISE_FILE: &str = include_str!("../solutions/ch03.rs");

/// The exercise file may not call the library (which computes most answers): see
/// `exercise_support`. When this fails the grader scores the whole chapter 0.
#[test]
fn exercise_file_is_self_contained() {
    exercise_support::assert_self_contained("ch03", EXERCISE_FILE);
}

use approx::assert_abs_diff_eq;
use ddpm::probability::bayes::gaussian_log_evidence;
use ddpm::probability::{Gaussian, Variance, gaussian_posterior};

#[test]
fn exercise_3_1_conjugate_posterior() {
    let data = [1.2, 0.7, 2.3, 1.9, 0.4];
    for (m0, v0, s2) in [(0.0, 4.0, 1.5), (3.0, 0.5, 2.0)] {
        let prior = Gaussian::new(m0, Variance::new(v0).unwrap()).unwrap();
        let exact = gaussian_posterior(&prior, Variance::new(s2).unwrap(), &data).unwrap();
        let (m, v) = ch03::conjugate_posterior(m0, v0, s2, &data);
        assert_abs_diff_eq!(m, exact.mean(), epsilon = 1e-12);
        assert_abs_diff_eq!(v, exact.variance().get(), epsilon = 1e-12);
    }
    // No data: the posterior is the prior.
    assert_eq!(ch03::conjugate_posterior(0.5, 2.0, 1.0, &[]), (0.5, 2.0));
}

#[test]
fn exercise_3_2_discrete_posterior() {
    // A disease test: prior 1% ill; P(+|ill) = 0.99, P(+|healthy) = 0.05.
    // P(ill|+) = 0.0099 / (0.0099 + 0.0495) = 1/6.
    let post = ch03::discrete_posterior(&[0.01, 0.99], &[0.99, 0.05]);
    assert_abs_diff_eq!(post[0], 1.0 / 6.0, epsilon = 1e-12);
    assert_abs_diff_eq!(post[1], 5.0 / 6.0, epsilon = 1e-12);
}

#[test]
fn exercise_3_3_log_evidence_one() {
    let prior = Gaussian::new(0.5, Variance::new(2.0).unwrap()).unwrap();
    for x in [-1.0, 0.5, 3.0] {
        let expected = gaussian_log_evidence(&prior, Variance::new(0.7).unwrap(), &[x]).unwrap();
        assert_abs_diff_eq!(
            ch03::log_evidence_one(0.5, 2.0, 0.7, x),
            expected,
            epsilon = 1e-12
        );
    }
}

#[test]
fn exercise_3_4_coin_posterior_mean_on_grid() {
    // Laplace's rule of succession: (h + 1) / (h + t + 2).
    for (h, t) in [(7u32, 3u32), (1, 1), (20, 5)] {
        let m = ch03::coin_posterior_mean_on_grid(h, t, 4001);
        assert_abs_diff_eq!(m, f64::from(h + 1) / f64::from(h + t + 2), epsilon = 1e-6);
    }
}
