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

/// The mean of the VP-SDE marginal solves dm/dtau = -beta(tau) m / 2: integrated by 200,000
/// small Euler steps (beta at each step's midpoint) from m(0) = 1 it passes through
/// sqrt(abar(tau)) (chapter 10), to 1e-4 relative, at tau = 0.25, 0.5, 0.75; abar(tau) itself,
/// the variance's decay, would be more than 5% off there.
#[test]
fn mean_ode_gives_sqrt_alpha_bar() {
    let sde = VpSde::from_schedule(&NoiseSchedule::cosine(1000).unwrap());
    let n = 200_000;
    let dt = 1.0 / n as f64;
    let mut m = 1.0;
    for k in 0..(3 * n / 4) {
        m -= 0.5 * sde.beta((k as f64 + 0.5) * dt) * m * dt;
        let tau = (k + 1) as f64 * dt;
        if (k + 1) % (n / 4) == 0 {
            let want = sde.alpha_bar(tau).sqrt();
            assert!(((m - want) / want).abs() < 1e-4, "tau={tau}: {m} vs {want}");
            assert!(((m - sde.alpha_bar(tau)) / want).abs() > 0.05);
        }
    }
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

/// A schedule of `t_steps` equal betas whose SDE has the constant rate `rate`:
/// beta = 1 - exp(-rate / T), so that alpha_bar(tau) = exp(-rate tau) for every T.
fn constant_rate(rate: f64, t_steps: usize) -> NoiseSchedule {
    let beta = 1.0 - (-rate / t_steps as f64).exp();
    NoiseSchedule::new(
        ddpm::diffusion::BetaSchedule::Linear {
            beta_start: beta,
            beta_end: beta,
        },
        t_steps,
    )
    .unwrap()
}

/// Chapter 10: an Euler-Maruyama step of the reverse SDE (score -eps / sqrt(1 - abar)) is DDPM's
/// ancestral step with sigma_t^2 = beta_t to first order in beta_t. With the SDE fixed
/// (constant rate 8) and the step 1/T halved from 1/50 to 1/800, at tau = 1/2 (t = T/2, the
/// same abar for every T) and the exact noise of the 1-D book mixture:
/// - the means differ by O(beta^2): by hand, DDPM's mean is x + beta x / 2 - beta eps' +
///   beta^2 x / 8 + O(beta^3) (eps' = eps / sqrt(1 - abar), rate times step = beta to first
///   order), so each halving divides the difference by 4 (asserted within 3.6..4.4), and the
///   difference is a fraction below beta_t of what the step moves x;
/// - the noise scales sqrt(beta_t) and sqrt(beta(tau) dtau) differ by a relative O(beta).
#[test]
fn euler_maruyama_is_the_ddpm_step_to_first_order() {
    use ddpm::diffusion::reverse::{Denoiser, ReverseOptions, VarianceKind, p_mean_variance};
    use ddpm::diffusion::sde::reverse_sde_step;
    let m = GaussianMixture::book_1d();
    let x = arr2(&[[-1.3], [0.4], [2.0]]);
    let mut previous: Option<Vec<f64>> = None;
    for t_steps in [50usize, 100, 200, 400, 800] {
        let s = constant_rate(8.0, t_steps);
        let sde = VpSde::from_schedule(&s);
        let t = t_steps / 2;
        let (tau, dt) = (0.5, 1.0 / t_steps as f64);
        let abar = s.alpha_bar()[t - 1];
        assert!((abar - (-4.0f64).exp()).abs() < 1e-12);
        let eps = m.denoiser(&s).predict_noise(&x, t);
        let ddpm = p_mean_variance(
            &s,
            &x,
            t,
            &eps,
            ReverseOptions::unclipped(VarianceKind::Beta),
        );
        let zero = Array2::zeros(x.raw_dim());
        let em = reverse_sde_step(&sde, &x, &score_from_noise(&eps, abar), tau, dt, &zero);
        let diffs: Vec<f64> = (0..3)
            .map(|k| (ddpm.mean[[k, 0]] - em[[k, 0]]).abs())
            .collect();
        let beta = s.beta()[t - 1];
        for k in 0..3 {
            // the first-order parts agree: the difference is a fraction beta of the move
            let moved = (em[[k, 0]] - x[[k, 0]]).abs();
            assert!(
                diffs[k] < beta * moved,
                "T={t_steps}: {} vs moved {moved}",
                diffs[k]
            );
        }
        if let Some(prev) = &previous {
            for k in 0..3 {
                let ratio = prev[k] / diffs[k];
                assert!(
                    (3.6..4.4).contains(&ratio),
                    "T={t_steps}, x={}: ratio {ratio}",
                    x[[k, 0]]
                );
            }
        }
        previous = Some(diffs);
        // the noise: EM's g sqrt(dt), read off a step with z = 1, against sqrt(beta_t)
        let one = Array2::from_elem(x.raw_dim(), 1.0);
        let em_noise = reverse_sde_step(&sde, &x, &score_from_noise(&eps, abar), tau, dt, &one)
            [[0, 0]]
            - em[[0, 0]];
        assert!(
            ((em_noise - ddpm.variance.sqrt()) / beta.sqrt()).abs() < beta,
            "T={t_steps}"
        );
    }
}

/// Chapter 10: Heun's method is second order. For Gaussian data N(mu, v) the probability-flow
/// ODE moves every point along x(tau) = sqrt(abar) mu + sqrt(abar v + 1 - abar) u with u fixed
/// (check: dx/dtau = -beta x / 2 + beta (x - m) / (2 s^2) holds for m = sqrt(abar) mu,
/// s^2 = abar v + 1 - abar), so x(0) = mu + sqrt(v) (x(1) - m(1)) / s(1) exactly. With a constant
/// rate (a smooth ODE), the error at tau = 0 falls by 4 (3.5..4.5) per halving of the step, from
/// 10 to 160 steps (an Euler method would halve it).
#[test]
fn heun_is_second_order_on_the_probability_flow() {
    let (mu, v) = (1.5f64, 0.25f64);
    let data = GaussianMixture::one_d(&[1.0], &[mu], &[v.sqrt()]).unwrap();
    let sde = VpSde::from_schedule(&constant_rate(5.0, 1));
    let score = |x: &Array2<f64>, tau: f64| data.noised(sde.alpha_bar(tau)).score(x);
    let start = arr2(&[[-1.5], [0.2], [1.1]]);
    let a1 = sde.alpha_bar(1.0);
    let s1 = (a1 * v + 1.0 - a1).sqrt();
    let exact = start.mapv(|x| mu + v.sqrt() * (x - a1.sqrt() * mu) / s1);
    let errors: Vec<f64> = [10usize, 20, 40, 80, 160]
        .iter()
        .map(|&n| {
            let x0 = probability_flow_heun(&sde, score, start.clone(), n).unwrap();
            (&x0 - &exact)
                .mapv(f64::abs)
                .fold(0.0, |a: f64, &b| a.max(b))
        })
        .collect();
    for w in errors.windows(2) {
        let ratio = w[0] / w[1];
        assert!((3.5..4.5).contains(&ratio), "errors {errors:?}");
    }
    assert!(errors[4] < 1e-3, "{errors:?}");
}
