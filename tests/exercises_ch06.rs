//! Grader for chapter 6's exercises: compares with the library (`ddpm::diffusion::schedule`).
//! Each test panics on the unimplemented stub.

mod exercise_support;

// The student's file; with `--features solutions`, the instructors' reference solution.
#[cfg(not(feature = "solutions"))]
#[path = "../src/exercises/ch06.rs"]
mod ch06;
#[cfg(feature = "solutions")]
#[path = "../solutions/ch06.rs"]
mod ch06;

#[cfg(not(feature = "solutions"))]
const EXERCISE_FILE: &str = include_str!("../src/exercises/ch06.rs");
#[cfg(feature = "solutions")]
const EXERCISE_FILE: &str = include_str!("../solutions/ch06.rs");

/// The exercise file may not call the library (which computes most answers): see
/// `exercise_support`. When this fails the grader scores the whole chapter 0.
#[test]
fn exercise_file_is_self_contained() {
    exercise_support::assert_self_contained("ch06", EXERCISE_FILE);
}

use ddpm::diffusion::schedule::NoiseSchedule;

#[test]
fn exercise_6_1_linear_betas() {
    let want = NoiseSchedule::linear(1000).unwrap();
    let got = ch06::linear_betas(1e-4, 0.02, 1000);
    assert_eq!(got.len(), 1000);
    for (g, w) in got.iter().zip(want.beta()) {
        assert!((g - w).abs() < 1e-15);
    }
}

#[test]
fn exercise_6_2_alpha_bar_from_betas() {
    let s = NoiseSchedule::cosine(300).unwrap();
    let got = ch06::alpha_bar_from_betas(s.beta());
    for (g, w) in got.iter().zip(s.alpha_bar()) {
        assert!((g / w - 1.0).abs() < 1e-12);
    }
    assert!((ch06::alpha_bar_from_betas(&[0.5])[0] - 0.5).abs() < 1e-15);
}

#[test]
fn exercise_6_3_q_sample_scalar() {
    use ddpm::diffusion::forward::q_sample;
    let s = NoiseSchedule::linear(1000).unwrap();
    for (t, x0, eps) in [(1usize, 0.3, -1.2), (400, -1.0, 0.5), (1000, 0.9, 2.0)] {
        let want = q_sample(&s, &ndarray::arr1(&[x0]), t, &ndarray::arr1(&[eps]))[0];
        let got = ch06::q_sample_scalar(s.alpha_bar()[t - 1], x0, eps);
        assert!((got - want).abs() < 1e-12);
    }
}

#[test]
fn exercise_6_4_cosine_alpha_bar() {
    let s = NoiseSchedule::cosine(1000).unwrap();
    for t in [1usize, 100, 500, 900] {
        let got = ch06::cosine_alpha_bar(t, 1000, 0.008);
        assert!((got / s.alpha_bar()[t - 1] - 1.0).abs() < 1e-9, "t={t}");
    }
}
