//! Chapters 15-17: the `ddpm eval` workflow on a tiny seeded U-Net. The bound it reports is the
//! sum of its parts (and of its per-timestep terms), the quality table has one row per
//! sampler with the floor and ceiling beside it, and the report survives a JSON round trip.

use approx::assert_abs_diff_eq;
use burn::prelude::*;
use ddpm::data::{Split, load_embedded};
use ddpm::diffusion::schedule::BetaSchedule;
use ddpm::network::UNetConfig;
use ddpm::workflows::classifier_train::{DEFAULT_CLASSIFIER_DIR, load_classifier};
use ddpm::workflows::eval_report::{
    EvalReport, EvalSettings, bound_terms_chart, draw_samples, evaluate, network_evaluations,
    sampler_label,
};
use ddpm::workflows::measure::{BoundMode, BoundOptions, EvalError};
use ddpm::workflows::sample::{Sampler, VarianceKind};
use ddpm::workflows::train::init_model;
use ddpm::workflows::{ScheduleConfig, TrainingConfig};

fn classifier_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_CLASSIFIER_DIR)
}

/// A tiny U-Net with seeded random weights and a short (T = 40) schedule: its bound is loose
/// but valid, and every code path of the evaluation runs in seconds.
fn tiny_setup(device: &Device) -> (ddpm::network::UNet, TrainingConfig) {
    let schedule = ScheduleConfig::new(
        BetaSchedule::Linear {
            beta_start: 1e-3,
            beta_end: 0.2,
        },
        40,
    );
    let config = TrainingConfig::new(UNetConfig::tiny(), schedule, 1).with_seed(11);
    (init_model(&config, device), config)
}

#[test]
fn eval_bound_is_the_sum_of_its_parts_and_of_its_terms() {
    let device = Device::flex();
    let (model, config) = tiny_setup(&device);
    let (classifier, _) = load_classifier(&classifier_dir(), &device).unwrap();
    let train = load_embedded(Split::Train).unwrap();
    let test = load_embedded(Split::Test).unwrap();
    let settings = EvalSettings {
        bound: Some(BoundOptions {
            images: 3,
            mode: BoundMode::Exact,
            batch: 3,
            seed: 5,
        }),
        samples: 12,
        samplers: vec![
            "ddim:4:0".parse::<Sampler>().unwrap(),
            "ancestral:posterior".parse::<Sampler>().unwrap(),
        ],
        clip_x0: true,
        seed: 1,
        sample_batch: 5,
        keep_images: 3,
    };
    let mut stages = Vec::new();
    let (bound, quality) = evaluate(
        &model,
        &config,
        &classifier,
        &train,
        &test,
        &settings,
        &device,
        |s| stages.push(s.to_string()),
    )
    .unwrap();
    assert_eq!(stages.len(), 4, "{stages:?}"); // bound, references, two samplers
    let bound = bound.unwrap();
    assert_eq!(bound.images, 3);
    assert_eq!(bound.evaluations_per_image, 40);
    for part in &bound.parts {
        assert_abs_diff_eq!(
            part.bits_per_dim,
            part.prior_bpd + part.diffusion_bpd + part.decoder_bpd,
            epsilon = 1e-9
        );
        assert_eq!(part.terms_bpd.len(), 40);
        // Entry 0 is L_0; the rest are the L_{t-1}.
        assert_abs_diff_eq!(part.terms_bpd[0], part.decoder_bpd, epsilon = 1e-9);
        let diffusion: f64 = part.terms_bpd[1..].iter().sum();
        assert_abs_diff_eq!(diffusion, part.diffusion_bpd, epsilon = 1e-9);
        assert!(part.terms_bpd.iter().all(|&v| v >= 0.0 && v.is_finite()));
    }
    let chart = bound_terms_chart(&bound).expect("an exact bound has per-t terms");
    assert!(chart.svg_string().unwrap().contains("beta"));

    let quality = quality.unwrap();
    assert_eq!(quality.test_images, test.len());
    assert_eq!(quality.samplers.len(), 2);
    assert_eq!(quality.samplers[0].sampler, "DDIM-4 eta=0");
    assert_eq!(quality.samplers[0].network_evaluations, 4);
    assert_eq!(quality.samplers[1].network_evaluations, 40);
    for row in &quality.samplers {
        assert_eq!(row.quality.count, 12);
        assert_eq!(row.quality.label_histogram.iter().sum::<usize>(), 12);
        assert!(row.seconds > 0.0);
        // An untrained network draws noise-like images: far above the real-digit floor.
        assert!(row.quality.fld > quality.floor.fld, "{row:?}");
    }
    assert!(quality.ceiling.fld > quality.floor.fld);
    // Each row keeps the first images of the very set it scored, and knows its sampler.
    for (row, &sampler) in quality.samplers.iter().zip(&settings.samplers) {
        assert_eq!(row.kind(), Some(sampler));
        let scored = draw_samples(&model, &config, sampler, 12, 5, true, 1, &device).unwrap();
        assert_eq!(row.images, scored[..3 * 28 * 28]);
    }

    let chart = ddpm::workflows::eval_report::sampler_chart(&quality.samplers, quality.floor.fld);
    let svg = chart.svg_string().unwrap();
    assert!(
        svg.contains("DDIM, eta = 0") && svg.contains("DDPM-40 beta~"),
        "{svg}"
    );
    let report = EvalReport {
        weights: "in-memory".into(),
        ema: true,
        params: model.num_params(),
        config,
        bound: Some(bound),
        quality: Some(quality),
        guide: None,
    };
    let table = report.table();
    for needle in ["beta~", "DDIM-4 eta=0", "DDPM-40 beta~", "floor", "ceiling"] {
        assert!(table.contains(needle), "{needle} missing from\n{table}");
    }
    let json = serde_json::to_string(&report).unwrap();
    let back: EvalReport = serde_json::from_str(&json).unwrap();
    // serde_json's float parsing may differ in the last bit: compare with a tolerance.
    let (b0, b1) = (report.bound.as_ref().unwrap(), back.bound.as_ref().unwrap());
    for (p0, p1) in b0.parts.iter().zip(&b1.parts) {
        assert_eq!(p0.variance, p1.variance);
        assert_abs_diff_eq!(p0.bits_per_dim, p1.bits_per_dim, epsilon = 1e-12);
        assert_eq!(p0.terms_bpd.len(), p1.terms_bpd.len());
    }
    let (q0, q1) = (
        report.quality.as_ref().unwrap(),
        back.quality.as_ref().unwrap(),
    );
    assert_eq!(q0.samplers.len(), q1.samplers.len());
    for (r0, r1) in q0.samplers.iter().zip(&q1.samplers) {
        assert_eq!(r0.sampler, r1.sampler);
        assert!(r1.images.is_empty(), "images are not written to JSON");
        assert_eq!(r0.quality.label_histogram, r1.quality.label_histogram);
        assert_abs_diff_eq!(r0.quality.fld, r1.quality.fld, epsilon = 1e-9);
    }
}

#[test]
fn sampled_bound_has_no_per_t_terms_and_no_chart() {
    let device = Device::flex();
    let (model, config) = tiny_setup(&device);
    let (classifier, _) = load_classifier(&classifier_dir(), &device).unwrap();
    let test = load_embedded(Split::Test).unwrap();
    let settings = EvalSettings {
        bound: Some(BoundOptions {
            images: 2,
            mode: BoundMode::Sampled {
                timesteps_per_image: 3,
            },
            batch: 2,
            seed: 5,
        }),
        samples: 0,
        samplers: vec![],
        clip_x0: true,
        seed: 1,
        sample_batch: 5,
        keep_images: 0,
    };
    let (bound, quality) = evaluate(
        &model,
        &config,
        &classifier,
        &test,
        &test,
        &settings,
        &device,
        |_| {},
    )
    .unwrap();
    assert!(quality.is_none());
    let bound = bound.unwrap();
    assert_eq!(bound.evaluations_per_image, 4);
    assert!(bound.parts.iter().all(|p| p.terms_bpd.is_empty()));
    assert!(bound_terms_chart(&bound).is_none());
}

#[test]
fn bad_eval_settings_are_refused_with_messages() {
    let device = Device::flex();
    let (model, config) = tiny_setup(&device);
    let (classifier, _) = load_classifier(&classifier_dir(), &device).unwrap();
    let test = load_embedded(Split::Test).unwrap();
    let base = EvalSettings {
        bound: None,
        samples: 4,
        samplers: vec![Sampler::Ddim { steps: 2, eta: 0.0 }],
        clip_x0: true,
        seed: 0,
        sample_batch: 4,
        keep_images: 0,
    };
    let run = |settings: &EvalSettings| {
        evaluate(
            &model,
            &config,
            &classifier,
            &test,
            &test,
            settings,
            &device,
            |_| {},
        )
        .unwrap_err()
    };
    // More DDIM steps than the schedule has.
    let err = run(&EvalSettings {
        samplers: vec![Sampler::Ddim {
            steps: 41,
            eta: 0.0,
        }],
        ..base.clone()
    });
    assert!(matches!(err, EvalError::Sampling(_)), "{err}");
    assert!(err.to_string().contains("1..=40"), "{err}");
    // One sample cannot have a covariance.
    let err = run(&EvalSettings {
        samples: 1,
        ..base.clone()
    });
    assert!(err.to_string().contains("samples"), "{err}");
    // Zero images per sampling batch.
    let err = run(&EvalSettings {
        sample_batch: 0,
        keep_images: 0,
        ..base.clone()
    });
    assert!(err.to_string().contains("sample_batch"), "{err}");
}

#[test]
fn sampler_labels_and_costs() {
    let ddpm = Sampler::Ancestral {
        variance: VarianceKind::Beta,
    };
    assert_eq!(sampler_label(&ddpm, 1000), "DDPM-1000 beta");
    assert_eq!(network_evaluations(&ddpm, 1000), 1000);
    let ddim: Sampler = "ddim:20:1".parse().unwrap();
    assert_eq!(sampler_label(&ddim, 1000), "DDIM-20 eta=1");
    assert_eq!(network_evaluations(&ddim, 1000), 20);
}
