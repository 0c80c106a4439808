//! Tests for `ddpm::diffusion::forward` (chapter 6): the closed form q(x_t | x_0) against the
//! step-by-step Markov chain, by seeded Monte Carlo.

use ddpm::diffusion::forward::{q_chain, q_mean_variance, q_sample, q_step, standard_normal};
use ddpm::diffusion::schedule::NoiseSchedule;
use ndarray::{Array1, arr1};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Sample mean and (unbiased) variance.
fn moments(v: &Array1<f64>) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.sum() / n;
    (m, v.mapv(|x| (x - m).powi(2)).sum() / (n - 1.0))
}

/// Iterating q(x_t | x_{t-1}) t times gives N(sqrt(abar_t) x_0, 1 - abar_t): the chain's
/// sample mean and variance lie within 4 standard errors of the closed form.
/// Standard errors: mean sqrt(var/N); variance var * sqrt(2/(N-1)) (Gaussian samples).
#[test]
fn chain_matches_closed_form_within_4_standard_errors() {
    const N: usize = 20_000;
    for (sched, name) in [
        (NoiseSchedule::linear(1000).unwrap(), "linear"),
        (NoiseSchedule::cosine(1000).unwrap(), "cosine"),
    ] {
        let mut rng = ChaCha8Rng::seed_from_u64(6);
        for (t, x0) in [
            (1usize, 0.8),
            (10, -1.0),
            (100, 1.0),
            (400, 0.5),
            (1000, 1.0),
        ] {
            let start = Array1::from_elem(N, x0);
            let xt = q_chain(&sched, &start, t, &mut rng);
            let (m, v) = moments(&xt);
            let q = q_mean_variance(&sched, &arr1(&[x0]), t);
            let (cm, cv) = (q.mean[0], q.variance.get());
            let se_m = (cv / N as f64).sqrt();
            let se_v = cv * (2.0 / (N as f64 - 1.0)).sqrt();
            assert!(
                (m - cm).abs() < 4.0 * se_m,
                "{name} t={t}: chain mean {m} vs closed form {cm} (se {se_m})"
            );
            assert!(
                (v - cv).abs() < 4.0 * se_v,
                "{name} t={t}: chain variance {v} vs closed form {cv} (se {se_v})"
            );
        }
    }
}

/// q_sample draws from the closed form: with fresh noise, its moments match q_mean_variance.
#[test]
fn q_sample_has_closed_form_moments() {
    const N: usize = 50_000;
    let sched = NoiseSchedule::linear(1000).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for t in [1usize, 250, 1000] {
        let x0 = Array1::from_elem(N, -0.6);
        let noise = standard_normal(x0.raw_dim(), &mut rng);
        let xt = q_sample(&sched, &x0, t, &noise);
        let (m, v) = moments(&xt);
        let cm = sched.sqrt_alpha_bar()[t - 1] * -0.6;
        let cv = 1.0 - sched.alpha_bar()[t - 1];
        assert!((m - cm).abs() < 4.0 * (cv / N as f64).sqrt(), "t={t}");
        assert!((v - cv).abs() < 4.0 * cv * (2.0 / N as f64).sqrt(), "t={t}");
    }
}

/// Two chain steps with fixed noises equal one closed-form step with the merged noise
/// (the proof of the closed form, done on numbers): sqrt(a2)(sqrt(a1) x0 + sqrt(1-a1) e1) +
/// sqrt(1-a2) e2 = sqrt(a1 a2) x0 + sqrt(1 - a1 a2) e with
/// e = (sqrt(a2 (1-a1)) e1 + sqrt(1-a2) e2) / sqrt(1 - a1 a2).
#[test]
fn two_steps_merge_into_one() {
    let sched = NoiseSchedule::linear(1000).unwrap();
    let (x0, e1, e2) = (arr1(&[0.3, -0.9]), arr1(&[1.1, 0.2]), arr1(&[-0.4, 0.7]));
    let x2 = q_step(&sched, &q_step(&sched, &x0, 1, &e1), 2, &e2);
    let (a1, a2) = (1.0 - sched.beta()[0], 1.0 - sched.beta()[1]);
    let merged =
        (&e1 * (a2 * (1.0 - a1)).sqrt() + &e2 * (1.0 - a2).sqrt()) / (1.0 - a1 * a2).sqrt();
    let direct = q_sample(&sched, &x0, 2, &merged);
    for (a, b) in x2.iter().zip(direct.iter()) {
        assert!((a - b).abs() < 1e-14, "{a} vs {b}");
    }
}

#[test]
#[should_panic(expected = "outside 1..=1000")]
fn timestep_zero_is_rejected() {
    let sched = NoiseSchedule::linear(1000).unwrap();
    let _ = q_mean_variance(&sched, &arr1(&[0.0]), 0);
}

/// Chapter 6's pen-and-paper answer: for data of variance v the chain gives
/// Var(x_t) = abar_t v + 1 - abar_t, so only v = 1 is preserved. Monte Carlo: 20,000 chains
/// from x_0 ~ N(0.3, v) for v in {0.25, 1, 4} (x_0 and x_t are Gaussian, so the sample
/// variance has standard error var sqrt(2 / (N - 1))), within 4 standard errors; for v = 4 the
/// formula is also more than 8 standard errors from 1 at t = 100 and from v at t = 400.
#[test]
fn data_variance_moves_towards_one() {
    let s = NoiseSchedule::linear(1000).unwrap();
    let n = 20_000;
    let mut rng = ChaCha8Rng::seed_from_u64(66);
    for v in [0.25f64, 1.0, 4.0] {
        let x0 = standard_normal(ndarray::Ix1(n), &mut rng).mapv(|z| 0.3 + v.sqrt() * z);
        let mut x = x0.clone();
        let mut done = 0;
        for t in [100usize, 400] {
            // continue the same chains from step `done` to step t
            for step in done + 1..=t {
                let noise = standard_normal(ndarray::Ix1(n), &mut rng);
                x = q_step(&s, &x, step, &noise);
            }
            done = t;
            let (_, var) = moments(&x);
            let abar = s.alpha_bar()[t - 1];
            let want = abar * v + 1.0 - abar;
            let se = want * (2.0 / (n as f64 - 1.0)).sqrt();
            assert!(
                (var - want).abs() < 4.0 * se,
                "v={v}, t={t}: {var} vs {want}"
            );
            if v == 4.0 {
                let far = if t == 100 { 1.0 } else { v };
                assert!((want - far).abs() > 8.0 * se, "v={v}, t={t}");
            }
        }
    }
}
