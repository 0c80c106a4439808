//! Grader for chapter 10's exercises: compares with the library (`ddpm::diffusion::sde`,
//! `ddpm::diffusion::mixture`). Each test panics on the unimplemented stub.

mod exercise_support;

// The student's file; with `--features solutions`, the instructors' reference solution.
#[cfg(not(feature = "solutions"))]
#[path = "../src/exercises/ch10.rs"]
mod ch10;
#[cfg(feature = "solutions")]
#[path = "../solutions/ch10.rs"]
mod ch10;

#[cfg(not(feature = "solutions"))]
const EXERCISE_FILE: &str = include_str!("../src/exercises/ch10.rs");
#[cfg(feature = "solutions")]
const EXERCISE_FILE: &str = include_str!("../solutions/ch10.rs");

/// The exercise file may not call the library (which computes most answers): see
/// `exercise_support`. When this fails the grader scores the whole chapter 0.
#[test]
fn exercise_file_is_self_contained() {
    exercise_support::assert_self_contained("ch10", EXERCISE_FILE);
}

use ddpm::diffusion::mixture::GaussianMixture;
use ddpm::diffusion::schedule::NoiseSchedule;
use ddpm::diffusion::sde::{VpSde, probability_flow_heun, score_from_noise};
use ndarray::arr2;

#[test]
fn exercise_10_1_score_from_eps() {
    for (eps, abar) in [(0.5, 0.3), (-1.2, 0.99), (2.0, 0.01)] {
        let want = score_from_noise(&arr2(&[[eps]]), abar)[[0, 0]];
        assert!((ch10::score_from_eps(eps, abar) - want).abs() < 1e-12);
    }
}

#[test]
fn exercise_10_2_gaussian_score() {
    let (mu, sd) = (-0.4, 0.6);
    let m = GaussianMixture::one_d(&[1.0], &[mu], &[sd]).unwrap();
    for (x, abar) in [(0.3, 0.9), (-1.0, 0.2), (2.0, 0.999)] {
        let want = m.noised(abar).score(&arr2(&[[x]]))[[0, 0]];
        let got = ch10::gaussian_score(x, abar, mu, sd * sd);
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    }
}

#[test]
fn exercise_10_3_reverse_euler_maruyama_step() {
    // With z = 0 the step is the drift part; compare with the reverse drift -(f - g^2 s) dt.
    let (x, s, beta, dt) = (0.8, -1.5, 12.0, 0.01);
    let want_drift = x - (-0.5 * beta * x - beta * s) * dt;
    assert!((ch10::reverse_euler_maruyama_step(x, s, beta, dt, 0.0) - want_drift).abs() < 1e-14);
    let with_noise = ch10::reverse_euler_maruyama_step(x, s, beta, dt, 1.0);
    assert!((with_noise - want_drift - (beta * dt).sqrt()).abs() < 1e-14);
}

#[test]
fn exercise_10_4_probability_flow_euler_step() {
    // Many small Euler steps converge to the library's Heun solution of the same ODE.
    let m = GaussianMixture::one_d(&[1.0], &[0.5], &[0.3]).unwrap();
    let sde = VpSde::from_schedule(&NoiseSchedule::linear(1000).unwrap());
    let x1 = 0.7;
    let want = probability_flow_heun(
        &sde,
        |x, tau| m.noised(sde.alpha_bar(tau)).score(x),
        arr2(&[[x1]]),
        400,
    )
    .unwrap()[[0, 0]];
    let n = 20_000;
    let dt = 1.0 / n as f64;
    let mut x = x1;
    for k in (1..=n).rev() {
        let tau = k as f64 * dt;
        let s = m.noised(sde.alpha_bar(tau)).score(&arr2(&[[x]]))[[0, 0]];
        x = ch10::probability_flow_euler_step(x, s, sde.beta(tau), dt);
    }
    assert!((x - want).abs() < 1e-2, "{x} vs {want}");
}
