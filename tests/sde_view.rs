//! Tests for `ddpm::diffusion::sde` (chapter 10): the VP-SDE matched to the discrete schedule,
//! the score/noise relation, and the reverse SDE and probability-flow ODE samplers driven by
//! the exact score of the 2-D book mixture.

use ddpm::diffusion::forward::standard_normal;
use ddpm::diffusion::mixture::GaussianMixture;
use ddpm::diffusion::schedule::NoiseSchedule;
use ddpm::diffusion::sde::{
    SdeError, VpSde, probability_flow_heun, reverse_sde_euler_maruyama, score_from_noise,
};
use ndarray::{Array2, Ix2, arr2};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

mod common;
use common::assert_matches_mixture;

#[test]
fn sde_marginals_match_the_discrete_schedule() {
    for s in [
        NoiseSchedule::linear(1000).unwrap(),
        NoiseSchedule::cosine(1000).unwrap(),
    ] {
        let sde = VpSde::from_schedule(&s);
        for t in [1usize, 10, 500, 999, 1000] {
            let tau = t as f64 / 1000.0;
            let want = s.alpha_bar()[t - 1];
            assert!(((sde.alpha_bar(tau) - want) / want).abs() < 1e-9, "t={t}");
        }
        assert_eq!(sde.alpha_bar(0.0), 1.0);
    }
    // For the linear schedule beta(tau) ~ T beta_t: from 0.1 to 20 (Song et al. 2021).
    let sde = VpSde::from_schedule(&NoiseSchedule::linear(1000).unwrap());
    assert!((sde.beta(1e-6) - 0.1).abs() < 1e-4);
    assert!((sde.beta(1.0) - 20.0).abs() < 0.25); // -1000 ln(1 - 0.02) = 20.2
}

/// The variance of the VP-SDE marginal solves dv/dtau = beta(tau) (1 - v): integrate it by
/// small Euler steps from v(0) = 0 and compare with 1 - abar(tau).
#[test]
fn variance_ode_is_preserved() {
    let sde = VpSde::from_schedule(&NoiseSchedule::linear(1000).unwrap());
    let n = 200_000;
    let dt = 1.0 / n as f64;
    let mut v = 0.0;
    for k in 0..n {
        let tau = (k as f64 + 0.5) * dt;
        v += sde.beta(tau) * (1.0 - v) * dt;
    }
    assert!((v - (1.0 - sde.alpha_bar(1.0))).abs() < 1e-6, "{v}");
}

/// score = -eps / sqrt(1 - abar): with the mixture's optimal noise, this is the mixture's
/// exact noised score (an independent code path).
#[test]
fn score_from_noise_is_the_noised_score() {
    let m = GaussianMixture::book_2d();
    let x = arr2(&[[0.2, 0.1], [-1.1, -0.7], [0.9, -0.5]]);
    for abar in [0.9, 0.3, 0.01] {
        let s1 = score_from_noise(&m.optimal_noise(abar, &x), abar);
        let s2 = m.noised(abar).score(&x);
        for (a, b) in s1.iter().zip(s2.iter()) {
            assert!((a - b).abs() < 1e-9 * (1.0 + b.abs()));
        }
    }
}

fn exact_score<'a>(
    m: &'a GaussianMixture,
    sde: &'a VpSde,
) -> impl Fn(&Array2<f64>, f64) -> Array2<f64> + 'a {
    move |x: &Array2<f64>, tau: f64| m.noised(sde.alpha_bar(tau)).score(x)
}

/// Reverse-time SDE, Euler-Maruyama, 250 steps, exact score, 20,000 samples: the 2-D mixture's
/// weights, means and covariances within 4 standard errors.
#[test]
fn reverse_sde_reproduces_the_mixture() {
    let m = GaussianMixture::book_2d();
    let sde = VpSde::from_schedule(&NoiseSchedule::linear(1000).unwrap());
    let mut rng = ChaCha8Rng::seed_from_u64(20);
    let noise = standard_normal(Ix2(20_000, 2), &mut rng);
    let x = reverse_sde_euler_maruyama(&sde, exact_score(&m, &sde), noise, 250, &mut rng).unwrap();
    assert_matches_mixture(&m, &x, "reverse SDE");
}

/// Probability-flow ODE, Heun, 100 steps, exact score, 20,000 samples: the same check.
#[test]
fn probability_flow_ode_reproduces_the_mixture() {
    let m = GaussianMixture::book_2d();
    let sde = VpSde::from_schedule(&NoiseSchedule::linear(1000).unwrap());
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    let noise = standard_normal(Ix2(20_000, 2), &mut rng);
    let x = probability_flow_heun(&sde, exact_score(&m, &sde), noise, 100).unwrap();
    assert_matches_mixture(&m, &x, "probability flow");
}

/// The ODE is deterministic: the same start gives the same sample.
#[test]
fn probability_flow_is_deterministic() {
    let m = GaussianMixture::book_2d();
    let sde = VpSde::from_schedule(&NoiseSchedule::linear(1000).unwrap());
    let noise = arr2(&[[0.3, -1.2], [1.5, 0.2]]);
    let a = probability_flow_heun(&sde, exact_score(&m, &sde), noise.clone(), 50).unwrap();
    let b = probability_flow_heun(&sde, exact_score(&m, &sde), noise, 50).unwrap();
    assert_eq!(a, b);
}

/// Zero steps is an error with a message, not a panic.
#[test]
fn zero_steps_is_an_error() {
    let m = GaussianMixture::book_2d();
    let sde = VpSde::from_schedule(&NoiseSchedule::linear(10).unwrap());
    let noise = arr2(&[[0.3, -1.2]]);
    let ode = probability_flow_heun(&sde, exact_score(&m, &sde), noise.clone(), 0);
    assert_eq!(ode, Err(SdeError::NoSteps));
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let sde_run = reverse_sde_euler_maruyama(&sde, exact_score(&m, &sde), noise, 0, &mut rng);
    assert!(sde_run.unwrap_err().to_string().contains("at least 1"));
}
