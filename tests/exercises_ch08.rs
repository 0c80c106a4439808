//! Grader for chapter 8's exercises: compares with the library (`ddpm::diffusion::reverse`,
//! `ddpm::diffusion::mixture`). Each test panics on the unimplemented stub.

mod exercise_support;

// The student's file; with `--features solutions`, the instructors' reference solution.
#[cfg(not(feature = "solutions"))]
#[path = "../src/exercises/ch08.rs"]
mod ch08;
#[cfg(feature = "solutions")]
#[path = "../solutions/ch08.rs"]
mod ch08;

#[cfg(not(feature = "solutions"))]
const EXERCISE_FILE: &str = include_str!("../src/exercises/ch08.rs");
#[cfg(feature = "solutions")]
const EXERCISE_FILE: &str = include_str!("../solutions/ch08.rs");

/// The exercise file may not call the library (which computes most answers): see
/// `exercise_support`. When this fails the grader scores the whole chapter 0.
#[test]
fn exercise_file_is_self_contained() {
    exercise_support::assert_self_contained("ch08", EXERCISE_FILE);
}

use ddpm::diffusion::mixture::GaussianMixture;
use ddpm::diffusion::reverse::{mean_from_noise, predict_start_from_noise};
use ddpm::diffusion::schedule::NoiseSchedule;
use ndarray::{arr1, arr2};

#[test]
fn exercise_8_1_predict_x0() {
    let s = NoiseSchedule::linear(1000).unwrap();
    for (t, xt, eps) in [(1usize, 0.2, 0.1), (500, -0.4, 1.3), (1000, 1.1, -0.6)] {
        let want = predict_start_from_noise(&s, &arr1(&[xt]), t, &arr1(&[eps]))[0];
        let got = ch08::predict_x0(s.alpha_bar()[t - 1], xt, eps);
        assert!((got - want).abs() < 1e-9 * (1.0 + want.abs()));
    }
}

#[test]
fn exercise_8_2_mean_from_eps() {
    let s = NoiseSchedule::cosine(1000).unwrap();
    for (t, xt, eps) in [(2usize, 0.2, 0.1), (500, -0.4, 1.3), (1000, 1.1, -0.6)] {
        let i = t - 1;
        let want = mean_from_noise(&s, &arr1(&[xt]), t, &arr1(&[eps]))[0];
        let got = ch08::mean_from_eps(s.beta()[i], s.alpha_bar()[i], xt, eps);
        assert!((got - want).abs() < 1e-9 * (1.0 + want.abs()));
    }
}

#[test]
fn exercise_8_3_optimal_noise_gaussian() {
    // A one-component "mixture" is a single Gaussian; the library's exact denoiser is the reference.
    let (mu, sd) = (0.7, 0.4);
    let m = GaussianMixture::one_d(&[1.0], &[mu], &[sd]).unwrap();
    for (abar, xt) in [(0.99, 0.6), (0.5, -0.3), (0.01, 1.5)] {
        let want = m.optimal_noise(abar, &arr2(&[[xt]]))[[0, 0]];
        let got = ch08::optimal_noise_gaussian(abar, mu, sd * sd, xt);
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    }
}
