//! Grader for chapter 4's exercises (independent references: closed forms and the library).
//! `cargo test --release --no-default-features --test exercises_ch04`

mod exercise_support;

// The student's file; with `--features solutions`, the instructors' reference solution.
#[cfg(not(feature = "solutions"))]
#[path = "../src/exercises/ch04.rs"]
mod ch04;
#[cfg(feature = "solutions")]
#[path = "../solutions/ch04.rs"]
mod ch04;

#[cfg(not(feature = "solutions"))]
const EXERCISE_FILE: &str = include_str!("../src/exercises/ch04.rs");
#[cfg(feature = "solutions")]
const EXERCISE_FILE: &str = include_str!("../solutions/ch04.rs");

/// The exercise file may not call the library (which computes most answers): see
/// `exercise_support`. When this fails the grader scores the whole chapter 0.
#[test]
fn exercise_file_is_self_contained() {
    exercise_support::assert_self_contained("ch04", EXERCISE_FILE);
}

use approx::assert_abs_diff_eq;
use ddpm::probability::Gaussian;

#[test]
fn exercise_4_1_mean_and_standard_error() {
    // 2, 4, 4, 4, 5, 5, 7, 9: mean 5, sample variance 32/7, SE = sqrt(32/7/8).
    let (m, se) = ch04::mean_and_standard_error(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
    assert_abs_diff_eq!(m, 5.0, epsilon = 1e-14);
    assert_abs_diff_eq!(se, (32.0f64 / 56.0).sqrt(), epsilon = 1e-14);
}

#[test]
fn exercise_4_2_estimate_pi() {
    let (est, se) = ch04::estimate_pi(100_000, 1);
    // The true SE is 4 sqrt(p(1-p)/K) with p = pi/4: about 0.0052.
    let true_se =
        4.0 * (std::f64::consts::FRAC_PI_4 * (1.0 - std::f64::consts::FRAC_PI_4) / 1e5).sqrt();
    assert!(
        (se - true_se).abs() < 0.05 * true_se,
        "se {se} vs {true_se}"
    );
    assert!(
        (est - std::f64::consts::PI).abs() < 4.0 * true_se,
        "estimate {est}"
    );
}

#[test]
fn exercise_4_3_monte_carlo_gaussian_kl() {
    let p = Gaussian::from_mean_std(0.0, 1.0).unwrap();
    let q = Gaussian::from_mean_std(1.0, 2.0).unwrap();
    let (est, se) = ch04::monte_carlo_gaussian_kl((0.0, 1.0), (1.0, 2.0), 50_000, 3);
    assert!(se > 0.0 && se < 0.01, "se {se}");
    assert!(
        (est - p.kl(&q)).abs() < 4.0 * se,
        "estimate {est}, closed form {}",
        p.kl(&q)
    );
}

#[test]
fn exercise_4_4_log_log_slope() {
    let ks = [10.0, 100.0, 1000.0, 10000.0];
    let errors: Vec<f64> = ks.iter().map(|k: &f64| 3.0 / k.sqrt()).collect();
    assert_abs_diff_eq!(ch04::log_log_slope(&ks, &errors), -0.5, epsilon = 1e-12);
    let errors: Vec<f64> = ks.iter().map(|k| 0.2 / k).collect();
    assert_abs_diff_eq!(ch04::log_log_slope(&ks, &errors), -1.0, epsilon = 1e-12);
}
