//! Grader for chapter 2's exercises: each compares the student's function with an independent
//! computation (the library's validated implementation, or a hand-computed value).
//! `cargo test --release --no-default-features --test exercises_ch02`

mod exercise_support;

// The student's file; with `--features solutions`, the instructors' reference solution.
#[cfg(not(feature = "solutions"))]
#[path = "../src/exercises/ch02.rs"]
mod ch02;
#[cfg(feature = "solutions")]
#[path = "../solutions/ch02.rs"]
mod ch02;

#[cfg(not(feature = "solutions"))]
const EXERCISE_FILE: &str = include_str!("../src/exercises/ch02.rs");
#[cfg(feature = "solutions")]
const EXERCISE_FILE: &str = include_str!("../solutions/ch02.rs");

/// The exercise file may not call the library (which computes most answers): see
/// `exercise_support`. When this fails the grader scores the whole chapter 0.
#[test]
fn exercise_file_is_self_contained() {
    exercise_support::assert_self_contained("ch02", EXERCISE_FILE);
}

use approx::assert_abs_diff_eq;
use ddpm::probability::{GaussianMixture, LogVariance, discrete_kl, entropy, normal_kl};

#[test]
fn exercise_2_1_discrete_kl() {
    let cases: [(&[f64], &[f64]); 4] = [
        (&[0.9, 0.1], &[0.5, 0.5]),
        (&[0.5, 0.5], &[0.9, 0.1]),
        (&[0.2, 0.0, 0.8], &[0.3, 0.3, 0.4]),
        (&[0.25; 4], &[0.25; 4]),
    ];
    for (p, q) in cases {
        assert_abs_diff_eq!(
            ch02::discrete_kl(p, q),
            discrete_kl(p, q).unwrap(),
            epsilon = 1e-12
        );
    }
    assert_eq!(ch02::discrete_kl(&[0.5, 0.5], &[1.0, 0.0]), f64::INFINITY);
}

#[test]
fn exercise_2_2_gaussian_kl() {
    for (m1, v1, m2, v2) in [
        (0.0, 1.0, 1.0, 2.0),
        (1.0, 0.3, -1.0, 4.0),
        (2.0, 5.0, 2.0, 5.0),
    ] {
        let expected = normal_kl(
            m1,
            LogVariance::new(f64::ln(v1)).unwrap(),
            m2,
            LogVariance::new(f64::ln(v2)).unwrap(),
        );
        assert_abs_diff_eq!(ch02::gaussian_kl(m1, v1, m2, v2), expected, epsilon = 1e-12);
    }
}

#[test]
fn exercise_2_3_forward_kl_fit() {
    let p = GaussianMixture::chapter2_example();
    let q = p.fit_forward_kl().unwrap();
    let (mean, var) = ch02::forward_kl_fit(&[0.7, 0.3], &[-2.0, 2.0], &[0.6, 0.6]);
    assert_abs_diff_eq!(mean, q.mean(), epsilon = 1e-12);
    assert_abs_diff_eq!(var, q.variance().get(), epsilon = 1e-12);
    // Three components, by hand: mean 0.2*0 + 0.5*1 + 0.3*3 = 1.4,
    // E[x^2] = 0.2*1 + 0.5*(0.25+1) + 0.3*(4+9) = 4.725, var = 4.725 - 1.96 = 2.765.
    let (mean, var) = ch02::forward_kl_fit(&[0.2, 0.5, 0.3], &[0.0, 1.0, 3.0], &[1.0, 0.5, 2.0]);
    assert_abs_diff_eq!(mean, 1.4, epsilon = 1e-12);
    assert_abs_diff_eq!(var, 2.765, epsilon = 1e-12);
}

#[test]
fn exercise_2_4_entropy_bits() {
    assert_abs_diff_eq!(ch02::entropy_bits(&[0.5, 0.5]), 1.0, epsilon = 1e-15);
    assert_abs_diff_eq!(ch02::entropy_bits(&[0.25; 4]), 2.0, epsilon = 1e-15);
    let p = [0.1, 0.0, 0.6, 0.3];
    assert_abs_diff_eq!(
        ch02::entropy_bits(&p),
        entropy(&p).unwrap() / std::f64::consts::LN_2,
        epsilon = 1e-12
    );
}
