//! Tests for chapter 11 (errata): each catches one slip found in the source material or in
//! widely read posts, by checking the correct statement against an independent computation.

use ddpm::diffusion::bound::{loss_weight, prior_kl};
use ddpm::diffusion::forward::{q_chain, q_mean_variance};
use ddpm::diffusion::mixture::GaussianMixture;
use ddpm::diffusion::reverse::{ReverseOptions, VarianceKind, p_sample_loop};
use ddpm::diffusion::schedule::NoiseSchedule;
use ddpm::diffusion::sde::score_from_noise;
use ndarray::{Array1, Ix2, arr1, arr2};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Slip 1: alpha_bar_t is the product over s = 1..t, not s = 0..t. With a product from s = 0
/// (reading beta_0 as beta_1, i.e. one extra factor), the closed form would not match the
/// chain. Monte Carlo: 20,000 chains of t = 5 steps of a schedule with large betas, where one
/// extra factor moves the mean by several standard errors.
#[test]
fn slip_alpha_bar_product_starts_at_s_equals_1() {
    let s = NoiseSchedule::new(
        ddpm::diffusion::BetaSchedule::Linear {
            beta_start: 0.1,
            beta_end: 0.3,
        },
        10,
    )
    .unwrap();
    let t = 5;
    let n = 20_000;
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let xt = q_chain(&s, &Array1::from_elem(n, 1.0), t, &mut rng);
    let mean = xt.sum() / n as f64;
    let se = ((1.0 - s.alpha_bar()[t - 1]) / n as f64).sqrt();
    let right = s.alpha_bar()[t - 1].sqrt();
    let wrong = (s.alpha_bar()[t - 1] * s.alpha()[0]).sqrt(); // an extra s = 0 factor
    assert!((mean - right).abs() < 4.0 * se, "{mean} vs {right}");
    // right and wrong differ by about 0.035, some 6.7 standard errors (se = 0.0052)
    assert!(
        (mean - wrong).abs() > 5.0 * se,
        "the wrong form should be far off: {mean} vs {wrong}, se {se}"
    );
    assert_eq!(q_mean_variance(&s, &arr1(&[1.0]), t).mean[0], right);
}

/// Whether 1-D samples `x` look like draws from the mixture `m`: classified by maximum
/// responsibility, every component's share is within 4 standard errors of its weight
/// (sqrt(w (1 - w) / n)) and its class mean within 4 standard errors of the component mean
/// (sqrt(v / n_k)).
fn looks_like(m: &GaussianMixture, x: &ndarray::Array2<f64>) -> bool {
    let labels = m.classify(x);
    let n = x.nrows() as f64;
    (0..m.weights().len()).all(|k| {
        let members: Vec<f64> = (0..x.nrows())
            .filter(|&r| labels[r] == k)
            .map(|r| x[[r, 0]])
            .collect();
        let (w, nk) = (m.weights()[k], members.len() as f64);
        let share_ok = (nk / n - w).abs() < 4.0 * (w * (1.0 - w) / n).sqrt();
        let mean = members.iter().sum::<f64>() / nk.max(1.0);
        let v = m.covariances()[k][[0, 0]];
        let mean_ok = nk > 0.0 && (mean - m.means()[k][0]).abs() < 4.0 * (v / nk).sqrt();
        share_ok && mean_ok
    })
}

/// Slip 2: "generation needs a reference x_0". p_sample_loop's inputs are a schedule, a
/// denoiser, a shape and random numbers: no data point is passed anywhere. Two seeds give
/// different sets of 2,000 samples, and each set has the mixture's component weights and means
/// (within 4 standard errors, `looks_like`). The check can fail: the 2,000 standard normal
/// draws that sampling starts from do not pass it (their class means are far off).
#[test]
fn slip_sampling_needs_no_reference_image() {
    let m = GaussianMixture::book_1d();
    let s = NoiseSchedule::cosine(100).unwrap();
    let den = m.denoiser(&s);
    let opts = ReverseOptions::unclipped(VarianceKind::Beta);
    let a = p_sample_loop(
        &s,
        &den,
        Ix2(2000, 1),
        opts,
        &mut ChaCha8Rng::seed_from_u64(1),
    );
    let b = p_sample_loop(
        &s,
        &den,
        Ix2(2000, 1),
        opts,
        &mut ChaCha8Rng::seed_from_u64(2),
    );
    assert_ne!(a, b);
    assert!(looks_like(&m, &a) && looks_like(&m, &b));
    let noise =
        ddpm::diffusion::forward::standard_normal(Ix2(2000, 1), &mut ChaCha8Rng::seed_from_u64(1));
    assert!(
        !looks_like(&m, &noise),
        "the check should reject pure noise"
    );
}

/// Slip 3: the score is -eps / sqrt(1 - abar), with a minus sign and the standard deviation
/// (not the variance) in the denominator. Checked against the noised mixture's exact score.
#[test]
fn slip_score_sign_and_scale() {
    let m = GaussianMixture::book_2d();
    let x = arr2(&[[0.5, 0.5]]);
    let abar = 0.3;
    let eps = m.optimal_noise(abar, &x);
    let exact = m.noised(abar).score(&x);
    let right = score_from_noise(&eps, abar);
    let wrong_sign = &eps / (1.0 - abar).sqrt();
    let wrong_scale = &eps * (-1.0 / (1.0 - abar));
    // the two forms chapter 11 quotes: "the noise predictor is the score", s = eps / (1 - abar)
    let as_written_1 = eps.clone();
    let as_written_2 = &eps / (1.0 - abar);
    let err = |a: &ndarray::Array2<f64>| (a - &exact).mapv(f64::abs).sum();
    assert!(err(&right) < 1e-9);
    for wrong in [&wrong_sign, &wrong_scale, &as_written_1, &as_written_2] {
        assert!(
            err(wrong) > 0.1,
            "{wrong} should not match the exact score {exact}"
        );
    }
}

/// Slip 4: sigma_t^2 is a choice (beta_t or beta_tilde_t), not a learned quantity in DDPM, and
/// the two differ most at small t: beta_tilde_1 = 0 while beta_1 > 0; at large t they agree.
#[test]
fn slip_sigma_choices() {
    let s = NoiseSchedule::linear(1000).unwrap();
    assert_eq!(s.posterior_variance()[0], 0.0);
    assert!(s.beta()[0] > 0.0);
    let ratio_small = s.posterior_variance()[1] / s.beta()[1];
    let ratio_large = s.posterior_variance()[999] / s.beta()[999];
    assert!(ratio_small < 0.6 && ratio_large > 0.999);
    // and the weights in L_{t-1} differ accordingly
    assert!(
        loss_weight(&s, 2, VarianceKind::PosteriorBeta)
            > 1.5 * loss_weight(&s, 2, VarianceKind::Beta)
    );
}

/// Slip 5: L_T is a constant of training (no parameter enters it) and it is tiny:
/// ~2.91e-5 bits per dimension at x_0 = +-1 for the linear schedule with T = 1000 (Ho et al.,
/// Sec. 4, quote ~1e-5 bits/dim for CIFAR-10 images, whose mean x_0^2 is about a quarter).
#[test]
fn slip_l_t_is_constant_and_tiny() {
    let s = NoiseSchedule::linear(1000).unwrap();
    let lt = prior_kl(&s, &arr1(&[1.0]))[0] / std::f64::consts::LN_2;
    assert!((lt - 2.91e-5).abs() < 0.01e-5, "{lt}");
}

/// Slip 6: q(x_t | x_0) has variance 1 - abar_t, not sum of the beta_s (a common shortcut):
/// for the linear schedule at t = 1000, sum beta = 10.05 while 1 - abar = 0.99996.
#[test]
fn slip_variance_is_not_sum_of_betas() {
    let s = NoiseSchedule::linear(1000).unwrap();
    let sum: f64 = s.beta().iter().sum();
    let v = q_mean_variance(&s, &arr1(&[0.0]), 1000).variance.get();
    assert!((sum - 10.05).abs() < 1e-9);
    assert!((v - (1.0 - s.alpha_bar()[999])).abs() < 1e-15 && v < 1.0);
}
