//! Grader for chapter 15's exercises: compares with chapter 9's bound
//! (`ddpm::diffusion::bound`), and checks the sampled estimator's unbiasedness by exact
//! enumeration and by a seeded Monte Carlo run. Each test panics on the unimplemented stub.

mod exercise_support;

// The student's file; with `--features solutions`, the instructors' reference solution.
#[cfg(not(feature = "solutions"))]
#[path = "../src/exercises/ch15.rs"]
mod ch15;
#[cfg(feature = "solutions")]
#[path = "../solutions/ch15.rs"]
mod ch15;

#[cfg(not(feature = "solutions"))]
const EXERCISE_FILE: &str = include_str!("../src/exercises/ch15.rs");
#[cfg(feature = "solutions")]
const EXERCISE_FILE: &str = include_str!("../solutions/ch15.rs");

/// The exercise file may not call the library (which computes most answers): see
/// `exercise_support`. When this fails the grader scores the whole chapter 0.
#[test]
fn exercise_file_is_self_contained() {
    exercise_support::assert_self_contained("ch15", EXERCISE_FILE);
}

use ddpm::diffusion::bound::{BoundTerms, LN_2, loss_weight, variance_mismatch_kl};
use ddpm::diffusion::reverse::VarianceKind;
use ddpm::diffusion::schedule::NoiseSchedule;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[test]
fn exercise_15_1_bits_per_dim() {
    // The library's BoundTerms hold nats per dimension; the exercise takes sums over D pixels.
    let d = 784usize;
    let kl: Vec<f64> = (2..=1000).map(|t| 1e-3 / t as f64 + 2e-5).collect();
    for (prior, decoder) in [(3e-6, 0.8), (0.0, 0.0), (1e-2, 2.5)] {
        let terms = BoundTerms {
            prior,
            kl: kl.clone(),
            decoder,
        };
        let sums: Vec<f64> = kl.iter().map(|k| k * d as f64).collect();
        let got = ch15::bits_per_dim(prior * d as f64, &sums, decoder * d as f64, d);
        let want = terms.bits_per_dim();
        assert!(
            (got / want - 1.0).abs() < 1e-12,
            "{got} vs the library's {want} bits/dim"
        );
    }
    // Uniform over 256 grey levels: D ln 256 nats is 8 bits per dimension, for any D.
    for d in [1usize, 784, 3072] {
        let got = ch15::bits_per_dim(0.0, &[], d as f64 * 256f64.ln(), d);
        assert!((got - 8.0).abs() < 1e-12, "D = {d}: {got}");
    }
}

/// A realistic profile of $L_{t-1}$, $t = 2..=T$: the bound's terms for a predictor whose
/// squared noise error is 1 per pixel, with sigma_t^2 = beta_t (chapter 9).
fn kl_profile(s: &NoiseSchedule) -> Vec<f64> {
    (2..=s.num_timesteps())
        .map(|t| {
            loss_weight(s, t, VarianceKind::Beta) + variance_mismatch_kl(s, t, VarianceKind::Beta)
        })
        .collect()
}

#[test]
fn exercise_15_2_sampled_sum_estimate() {
    let s = NoiseSchedule::linear(50).unwrap();
    let kl = kl_profile(&s);
    let big_t = s.num_timesteps();
    let exact: f64 = kl.iter().sum();
    // Unbiased, checked exactly: with K = 1, the average over every possible t is the sum.
    let mean: f64 = (2..=big_t)
        .map(|t| ch15::sampled_sum_estimate(&kl, &[t]))
        .sum::<f64>()
        / (big_t - 1) as f64;
    assert!((mean / exact - 1.0).abs() < 1e-12, "{mean} vs {exact}");
    // Every timestep drawn once: the estimate is the sum itself.
    let all: Vec<usize> = (2..=big_t).collect();
    let got = ch15::sampled_sum_estimate(&kl, &all);
    assert!((got / exact - 1.0).abs() < 1e-12, "{got} vs {exact}");
    // One timestep drawn K times: (T - 1) L_{t-1}.
    let got = ch15::sampled_sum_estimate(&kl, &[7, 7, 7]);
    assert!((got / ((big_t - 1) as f64 * kl[5]) - 1.0).abs() < 1e-12);
    // Monte Carlo (seed 15): 20,000 estimates with K = 4 draws each; their mean must lie within
    // 4 standard errors of the sum.
    let mut rng = ChaCha8Rng::seed_from_u64(15);
    let n = 20_000;
    let estimates: Vec<f64> = (0..n)
        .map(|_| {
            let draws: Vec<usize> = (0..4).map(|_| rng.random_range(2..=big_t)).collect();
            ch15::sampled_sum_estimate(&kl, &draws)
        })
        .collect();
    let m = estimates.iter().sum::<f64>() / n as f64;
    let var = estimates.iter().map(|e| (e - m).powi(2)).sum::<f64>() / (n as f64 - 1.0);
    let se = (var / n as f64).sqrt();
    assert!(se > 0.0);
    assert!(
        (m - exact).abs() < 4.0 * se,
        "Monte Carlo mean {m} vs the sum {exact} (standard error {se})"
    );
}

#[test]
fn exercise_15_3_variance_mismatch_bits() {
    for s in [
        NoiseSchedule::linear(1000).unwrap(),
        NoiseSchedule::cosine(1000).unwrap(),
        NoiseSchedule::linear(50).unwrap(),
    ] {
        let want: f64 = (2..=s.num_timesteps())
            .map(|t| variance_mismatch_kl(&s, t, VarianceKind::Beta))
            .sum::<f64>()
            / LN_2;
        let got = ch15::variance_mismatch_bits(s.beta());
        assert!(
            (got / want - 1.0).abs() < 1e-9,
            "T = {}: {got} vs the library's {want} bits/dim",
            s.num_timesteps()
        );
    }
}
