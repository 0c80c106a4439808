//! Grader for chapter 7's exercises: compares with the library (`ddpm::diffusion::posterior`)
//! and a numerical product of densities. Each test panics on the unimplemented stub.

mod exercise_support;

// The student's file; with `--features solutions`, the instructors' reference solution.
#[cfg(not(feature = "solutions"))]
#[path = "../src/exercises/ch07.rs"]
mod ch07;
#[cfg(feature = "solutions")]
#[path = "../solutions/ch07.rs"]
mod ch07;

#[cfg(not(feature = "solutions"))]
const EXERCISE_FILE: &str = include_str!("../src/exercises/ch07.rs");
#[cfg(feature = "solutions")]
const EXERCISE_FILE: &str = include_str!("../solutions/ch07.rs");

/// The exercise file may not call the library (which computes most answers): see
/// `exercise_support`. When this fails the grader scores the whole chapter 0.
#[test]
fn exercise_file_is_self_contained() {
    exercise_support::assert_self_contained("ch07", EXERCISE_FILE);
}

use ddpm::diffusion::posterior::q_posterior_mean_variance;
use ddpm::diffusion::schedule::NoiseSchedule;
use ndarray::arr1;

#[test]
fn exercise_7_1_gaussian_product() {
    // Reference: normalise N(x; m1, v1) N(x; m2, v2) on a grid and take its moments.
    let (m1, v1, m2, v2) = (0.4, 0.3, -0.5, 0.1);
    let pdf = |x: f64, m: f64, v: f64| (-(x - m) * (x - m) / (2.0 * v)).exp();
    let (mut z, mut s1, mut s2) = (0.0, 0.0, 0.0);
    for k in 0..200_001 {
        let x = -5.0 + k as f64 * 1e-4 / 2.0;
        let w = pdf(x, m1, v1) * pdf(x, m2, v2);
        z += w;
        s1 += w * x;
        s2 += w * x * x;
    }
    let (mean, var) = (s1 / z, s2 / z - (s1 / z).powi(2));
    let (m, v) = ch07::gaussian_product(m1, v1, m2, v2);
    assert!(
        (m - mean).abs() < 1e-8 && (v - var).abs() < 1e-8,
        "{m} {v} vs {mean} {var}"
    );
}

#[test]
fn exercise_7_2_posterior_variance() {
    let s = NoiseSchedule::linear(1000).unwrap();
    for t in [2usize, 10, 999] {
        let i = t - 1;
        let got = ch07::posterior_variance(s.beta()[i], s.alpha_bar()[i], s.alpha_bar_prev()[i]);
        assert!((got / s.posterior_variance()[i] - 1.0).abs() < 1e-12);
    }
}

#[test]
fn exercise_7_3_posterior_mean() {
    let s = NoiseSchedule::cosine(1000).unwrap();
    for (t, x0, xt) in [(2usize, 0.3, 0.1), (50, -1.0, 0.4), (1000, 0.7, -2.0)] {
        let i = t - 1;
        let want = q_posterior_mean_variance(&s, &arr1(&[x0]), &arr1(&[xt]), t).mean[0];
        let got =
            ch07::posterior_mean(s.beta()[i], s.alpha_bar()[i], s.alpha_bar_prev()[i], x0, xt);
        assert!((got - want).abs() < 1e-12);
    }
}
