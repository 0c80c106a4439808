//! Chapters 15-16: the measurements of `workflows::measure`. The variational bound on test digits (its parts,
//! its two estimators) and the sample-quality report with its floor and ceiling.

use approx::assert_abs_diff_eq;
use burn::prelude::*;
use ddpm::data::{Split, load_embedded};
use ddpm::diffusion::reverse::VarianceKind;
use ddpm::diffusion::schedule::NoiseSchedule;
use ddpm::workflows::classifier_train::{DEFAULT_CLASSIFIER_DIR, load_classifier};
use ddpm::workflows::measure::{
    BoundMode, BoundOptions, EvalError, noise_images, sample_quality, set_images, variational_bound,
};

/// A fixed, untrained "noise predictor": eps(x_t, t) = 0.3 x_t + 0.01 t. Any function of
/// (x_t, t) defines a valid reverse process, hence a valid (loose) bound.
fn toy_model(x: Tensor<4>, t: Tensor<1>) -> Tensor<4> {
    let [b] = t.dims();
    x.mul_scalar(0.3) + t.reshape([b, 1, 1, 1]).mul_scalar(0.01)
}

fn options(images: usize, mode: BoundMode) -> BoundOptions {
    BoundOptions {
        images,
        mode,
        batch: 8,
        seed: 3,
    }
}

#[test]
fn bound_is_the_sum_of_its_parts() {
    let schedule = NoiseSchedule::linear(20).unwrap();
    let test = load_embedded(Split::Test).unwrap();
    let report = variational_bound(
        toy_model,
        &schedule,
        &test,
        &options(6, BoundMode::Exact),
        &Device::flex(),
    )
    .unwrap();
    assert_eq!(report.images, 6);
    assert_eq!(report.evaluations_per_image, 20);
    assert_eq!(report.parts.len(), 2);
    for part in &report.parts {
        assert_abs_diff_eq!(
            part.bits_per_dim,
            part.prior_bpd + part.diffusion_bpd + part.decoder_bpd,
            epsilon = 1e-9
        );
        assert!(part.prior_bpd > 0.0 && part.diffusion_bpd > 0.0 && part.decoder_bpd > 0.0);
        assert!(part.standard_error.is_finite() && part.standard_error > 0.0);
    }
    // L_T does not depend on sigma^2 (nor on the network).
    assert_eq!(report.parts[0].prior_bpd, report.parts[1].prior_bpd);
    assert_eq!(report.parts[0].variance, VarianceKind::Beta);
}

#[test]
fn prior_term_matches_the_closed_form() {
    // L_T per pixel = KL(N(sqrt(ab) x, 1 - ab) || N(0, 1))
    //              = (-ln(1 - ab) + (1 - ab) + ab x^2 - 1) / 2, written out by hand here.
    let schedule = NoiseSchedule::linear(20).unwrap();
    let test = load_embedded(Split::Test).unwrap();
    let ab = *schedule.alpha_bar().last().unwrap();
    let n = 4;
    let mut nats = 0.0;
    for i in 0..n {
        for &b in test.image(i) {
            let x = 2.0 * f64::from(b) / 255.0 - 1.0;
            nats += 0.5 * (-(1.0 - ab).ln() + (1.0 - ab) + ab * x * x - 1.0);
        }
    }
    let want = nats / n as f64 / (784.0 * std::f64::consts::LN_2);
    let report = variational_bound(
        toy_model,
        &schedule,
        &test,
        &options(n, BoundMode::Exact),
        &Device::flex(),
    )
    .unwrap();
    assert_abs_diff_eq!(report.parts[0].prior_bpd, want, epsilon = 1e-12);
}

#[test]
fn sampled_estimate_agrees_with_the_exact_sum() {
    // Two estimators of the same expectation: every t (exact) vs 10 uniform t per image
    // (unbiased). Their difference must be within 4 combined standard errors.
    let schedule = NoiseSchedule::linear(20).unwrap();
    let test = load_embedded(Split::Test).unwrap();
    let device = Device::flex();
    let exact = variational_bound(
        toy_model,
        &schedule,
        &test,
        &options(40, BoundMode::Exact),
        &device,
    )
    .unwrap();
    let mut sampled_options = options(
        40,
        BoundMode::Sampled {
            timesteps_per_image: 10,
        },
    );
    sampled_options.seed = 99;
    let sampled =
        variational_bound(toy_model, &schedule, &test, &sampled_options, &device).unwrap();
    assert_eq!(sampled.evaluations_per_image, 11);
    for (e, s) in exact.parts.iter().zip(&sampled.parts) {
        let tolerance = 4.0 * (e.standard_error.powi(2) + s.standard_error.powi(2)).sqrt();
        assert!(
            (e.bits_per_dim - s.bits_per_dim).abs() < tolerance,
            "exact {} vs sampled {} (tolerance {tolerance})",
            e.bits_per_dim,
            s.bits_per_dim
        );
    }
}

#[test]
fn bad_bound_settings_are_rejected() {
    let schedule = NoiseSchedule::linear(20).unwrap();
    let test = load_embedded(Split::Test).unwrap();
    let device = Device::flex();
    for o in [
        options(0, BoundMode::Exact),
        options(10_000, BoundMode::Exact),
        options(
            4,
            BoundMode::Sampled {
                timesteps_per_image: 0,
            },
        ),
    ] {
        let err = variational_bound(toy_model, &schedule, &test, &o, &device).unwrap_err();
        assert!(matches!(err, EvalError::Setting { .. }), "{err}");
    }
}

#[test]
fn quality_floor_is_far_below_the_ceiling() {
    // Real test digits scored as "samples": their FLD equals the floor's order of magnitude,
    // they are classified confidently and their labels are nearly uniform; noise is not.
    let device = Device::flex();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_CLASSIFIER_DIR);
    let (classifier, _) = load_classifier(&dir, &device).unwrap();
    let train = load_embedded(Split::Train).unwrap();
    let test = load_embedded(Split::Test).unwrap();
    let count = 500;
    let real = set_images(&train, 2 * count)[count * 784..].to_vec(); // train digits 500..1000
    let report = sample_quality(&classifier, &real, count, &train, &test, 0, &device).unwrap();
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
    assert_eq!(report.test_images, 2004);
    assert!(report.ceiling.fld > 10.0 * report.floor.fld, "{report:?}");
    assert!(report.samples.fld < 3.0 * report.floor.fld, "{report:?}");
    assert!(report.samples.confident_share > 0.9, "{report:?}");
    assert!(report.samples.label_entropy > 2.2, "{report:?}");
    assert_eq!(report.samples.label_histogram.iter().sum::<usize>(), count);
    // Noise is in [-1, 1].
    assert!(
        noise_images(3, 784, 1)
            .iter()
            .all(|v| (-1.0..=1.0).contains(v))
    );
}
