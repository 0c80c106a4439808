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

/// Slip 2: "generation needs a reference x_0". p_sample_loop's inputs are a schedule, a
/// denoiser, a shape and random numbers; two different seeds give different samples from the
/// same distribution, and no data point is passed anywhere.
#[test]
fn slip_sampling_needs_no_reference_image() {
    let m = GaussianMixture::book_1d();
    let s = NoiseSchedule::cosine(50).unwrap();
    let den = m.denoiser(&s);
    let opts = ReverseOptions::unclipped(VarianceKind::Beta);
    let a = p_sample_loop(&s, &den, Ix2(3, 1), opts, &mut ChaCha8Rng::seed_from_u64(1));
    let b = p_sample_loop(&s, &den, Ix2(3, 1), opts, &mut ChaCha8Rng::seed_from_u64(2));
    assert_ne!(a, b);
    // every sample lands near one of the data modes, though no data point was given
    for v in a.iter().chain(b.iter()) {
        let near = m.means().iter().any(|mu| (v - mu[0]).abs() < 1.5);
        assert!(near, "{v}");
    }
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
