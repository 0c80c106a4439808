//! Chapter 14: sampling. DDIM timesteps, the ancestral and DDIM steps against closed forms
//! (with a network forced to predict zero noise), seeds, and the trajectory files.

use approx::assert_relative_eq;
use burn::module::{Module, ModuleMapper, Param};
use burn::prelude::*;
use ddpm::diffusion::schedule::NoiseSchedule;
use ddpm::network::{UNet, UNetConfig};
use ddpm::workflows::images;
use ddpm::workflows::sample::{
    DEFAULT_SAMPLER, DEFAULT_SAMPLER_SPEC, SampleError, SampleOptions, Sampler, VarianceKind,
    ddim_step, ddim_timesteps, p_sample, parse_sampler_list, sample,
};
use ddpm::workflows::{ScheduleConfig, TrainingConfig};

fn device() -> Device {
    Device::flex()
}

/// Sets every weight to zero: GroupNorm's scale becomes 0 and the output conv's weight and
/// bias 0, so the network predicts eps = 0 exactly, whatever the input.
struct Zero;
impl ModuleMapper for Zero {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        param.map(|t| t.zeros_like())
    }
}

fn zero_model() -> UNet {
    UNetConfig::tiny().init(&device()).unwrap().map(&mut Zero)
}

fn to_vec(x: Tensor<4>) -> Vec<f32> {
    x.into_data().convert::<f32>().try_to_vec().unwrap()
}

/// Linear-schedule betas, written out independently of the library.
fn beta(s: usize) -> f64 {
    1e-4 + (0.02 - 1e-4) * (s - 1) as f64 / 999.0
}
fn alpha_bar(t: usize) -> f64 {
    (1..=t).map(|s| 1.0 - beta(s)).product()
}

#[test]
fn ddim_timesteps_span_1_to_t() {
    assert_eq!(ddim_timesteps(1000, 1000), (1..=1000).collect::<Vec<_>>());
    for steps in [2, 10, 50, 999] {
        let ts = ddim_timesteps(steps, 1000);
        assert_eq!(ts.len(), steps);
        assert_eq!((ts[0], ts[steps - 1]), (1, 1000));
        assert!(ts.windows(2).all(|w| w[0] < w[1]));
    }
    assert_eq!(ddim_timesteps(1, 1000), vec![1000]);
}

#[test]
fn ancestral_step_with_zero_noise_is_the_posterior_mean() {
    // eps_theta = 0 gives x0_hat = x_t / sqrt(abar_t), and with z = 0,
    // x_{t-1} = coef1 x0_hat + coef2 x_t, coef1 = beta_t sqrt(abar_{t-1}) / (1 - abar_t),
    // coef2 = sqrt(alpha_t) (1 - abar_{t-1}) / (1 - abar_t) (Ho et al. 2020, Eq. (7)).
    let schedule = NoiseSchedule::linear(1000).unwrap();
    let model = zero_model();
    let x_t = Tensor::<4>::ones([1, 1, 28, 28], &device()).mul_scalar(0.3);
    for t in [2usize, 40, 700] {
        let out = p_sample(
            &model,
            &schedule,
            x_t.clone(),
            t,
            VarianceKind::Beta,
            false,
            Tensor::zeros([1, 1, 28, 28], &device()),
        );
        let (abar, abar_prev) = (alpha_bar(t), alpha_bar(t - 1));
        let coef1 = beta(t) * abar_prev.sqrt() / (1.0 - abar);
        let coef2 = (1.0 - beta(t)).sqrt() * (1.0 - abar_prev) / (1.0 - abar);
        let expected = 0.3 * (coef1 / abar.sqrt() + coef2);
        for v in to_vec(out) {
            assert_relative_eq!(f64::from(v), expected, max_relative = 1e-4);
        }
    }
}

#[test]
fn ancestral_noise_has_the_chosen_variance() {
    // With x_t = 0 and eps_theta = 0 the mean is 0, so x_{t-1} = sigma_t z exactly.
    let schedule = NoiseSchedule::linear(1000).unwrap();
    let model = zero_model();
    let t = 500;
    for (kind, variance) in [
        (VarianceKind::Beta, beta(t)),
        (
            VarianceKind::PosteriorBeta,
            (1.0 - alpha_bar(t - 1)) / (1.0 - alpha_bar(t)) * beta(t),
        ),
    ] {
        let out = p_sample(
            &model,
            &schedule,
            Tensor::zeros([1, 1, 28, 28], &device()),
            t,
            kind,
            false,
            Tensor::ones([1, 1, 28, 28], &device()),
        );
        for v in to_vec(out) {
            assert_relative_eq!(f64::from(v), variance.sqrt(), max_relative = 1e-4);
        }
    }
}

#[test]
fn ddim_with_zero_noise_prediction_rescales_x_t() {
    // eta = 0, eps_theta = 0: x_s = sqrt(abar_s / abar_t) x_t at every step, so the whole
    // chain telescopes to x_0 = x_T / sqrt(abar_T) whatever the steps in between.
    let schedule = NoiseSchedule::linear(1000).unwrap();
    let model = zero_model();
    let x_t = Tensor::<4>::ones([1, 1, 28, 28], &device()).mul_scalar(0.01);
    let noise = Tensor::<4>::zeros([1, 1, 28, 28], &device());
    let x_s = ddim_step(&model, &schedule, x_t.clone(), 1000, 600, 0.0, false, noise);
    let expected = 0.01 * (alpha_bar(600) / alpha_bar(1000)).sqrt();
    for v in to_vec(x_s) {
        assert_relative_eq!(f64::from(v), expected, max_relative = 1e-4);
    }
    let options = SampleOptions {
        sampler: Sampler::Ddim { steps: 7, eta: 0.0 },
        clip_x0: false,
        seed: 3,
        count: 2,
        frames: 4,
    };
    let out = sample(&model, &schedule, 1, 28, &options, &device(), |_, _| {}).unwrap();
    let x_big_t = &out.frames[0];
    assert_eq!(out.frames.len(), 5, "x_T plus 4 snapshots");
    let scale = 1.0 / alpha_bar(1000).sqrt();
    for (x0, xt) in out.images.iter().zip(x_big_t) {
        assert_relative_eq!(f64::from(*x0), f64::from(*xt) * scale, max_relative = 1e-3);
    }
    assert_eq!(out.frames.last().unwrap(), &out.images);
}

#[test]
fn same_seed_same_samples_different_seed_different_samples() {
    let schedule = NoiseSchedule::linear(1000).unwrap();
    let model = UNetConfig::tiny().init(&device()).unwrap();
    let run = |seed, sampler| {
        let options = SampleOptions {
            sampler,
            clip_x0: true,
            seed,
            count: 3,
            frames: 0,
        };
        sample(&model, &schedule, 1, 28, &options, &device(), |_, _| {})
            .unwrap()
            .images
    };
    let ddim = Sampler::Ddim { steps: 5, eta: 1.0 };
    assert_eq!(run(1, ddim), run(1, ddim));
    assert_ne!(run(1, ddim), run(2, ddim));
    // Clipping keeps every pixel in [-1, 1] at the end of DDIM with eta = 0.
    let clipped = run(4, Sampler::Ddim { steps: 3, eta: 0.0 });
    assert!(clipped.iter().all(|v| v.abs() <= 1.0 + 1e-5));
}

#[test]
fn invalid_sampling_options_are_refused() {
    let schedule = NoiseSchedule::linear(10).unwrap();
    let model = UNetConfig::tiny().init(&device()).unwrap();
    let mut options = SampleOptions {
        sampler: Sampler::Ddim {
            steps: 11,
            eta: 0.0,
        },
        clip_x0: true,
        seed: 0,
        count: 1,
        frames: 0,
    };
    let run =
        |o: &SampleOptions| sample(&model, &schedule, 1, 28, o, &device(), |_, _| {}).map(|_| ());
    assert_eq!(
        run(&options),
        Err(SampleError::Steps { steps: 11, max: 10 })
    );
    options.sampler = Sampler::Ddim {
        steps: 5,
        eta: -1.0,
    };
    assert_eq!(run(&options), Err(SampleError::Eta(-1.0)));
    options.count = 0;
    assert_eq!(run(&options), Err(SampleError::Count));
}

#[test]
fn sampler_specs_name_each_sampler_and_read_back_what_they_print() {
    // The table of `Sampler::from_str`'s documentation, spelled out.
    let expected = [
        (
            "ancestral",
            Sampler::Ancestral {
                variance: VarianceKind::Beta,
            },
        ),
        (
            "ancestral:beta",
            Sampler::Ancestral {
                variance: VarianceKind::Beta,
            },
        ),
        (
            "ancestral:posterior",
            Sampler::Ancestral {
                variance: VarianceKind::PosteriorBeta,
            },
        ),
        (
            "ddim:50:1",
            Sampler::Ddim {
                steps: 50,
                eta: 1.0,
            },
        ),
        (
            " ddim:100:0 ",
            Sampler::Ddim {
                steps: 100,
                eta: 0.0,
            },
        ),
        (
            "ddim:10:0.25",
            Sampler::Ddim {
                steps: 10,
                eta: 0.25,
            },
        ),
    ];
    for (spec, sampler) in expected {
        assert_eq!(spec.parse::<Sampler>(), Ok(sampler), "{spec}");
        // What a sampler prints is the spec that gives it back.
        assert_eq!(
            sampler.to_string().parse::<Sampler>(),
            Ok(sampler),
            "{spec}"
        );
    }
    assert_eq!(
        Sampler::Ddim {
            steps: 50,
            eta: 1.0
        }
        .to_string(),
        "ddim:50:1"
    );
    assert_eq!(
        parse_sampler_list("ddim:20:1,ancestral"),
        Ok(vec![
            Sampler::Ddim {
                steps: 20,
                eta: 1.0
            },
            Sampler::Ancestral {
                variance: VarianceKind::Beta
            }
        ])
    );
}

#[test]
fn bad_sampler_specs_say_what_is_wrong_and_what_to_write() {
    // (spec, a phrase of the problem, a phrase of the fix)
    for (spec, problem, fix) in [
        ("ddim:50", "needs eta", "ddim:50:1"),
        ("ddim", "step count and eta", "ddim:STEPS:ETA"),
        ("ddim:0:1", "at least 1", "ddim:STEPS:ETA"),
        ("ddim:fifty:1", "`fifty`", "ddim:STEPS:ETA"),
        ("ddim:50:-1", "`-1`", "ddim:STEPS:ETA"),
        ("ddim:50:nan", "`nan`", "ddim:STEPS:ETA"),
        ("ddpm", "now written `ancestral`", "ancestral"),
        ("ddpm:posterior", "`ancestral:posterior`", "ancestral"),
        ("ancestral:1000", "no step count", "ancestral:posterior"),
        ("ancestral:sigma", "unknown variance `sigma`", "posterior"),
        ("euler:10", "not a sampler", "ddim:STEPS:ETA"),
        ("", "not a sampler", "ancestral"),
    ] {
        let message = spec.parse::<Sampler>().unwrap_err().to_string();
        assert!(
            message.contains(&format!("`{spec}`"))
                && message.contains(problem)
                && message.contains(fix),
            "{spec:?}: {message}"
        );
    }
    assert!(
        parse_sampler_list(",")
            .unwrap_err()
            .to_string()
            .contains("no sampler")
    );
    assert!(parse_sampler_list("ddim:50:1,ddim:50").is_err());
}

#[test]
fn one_default_sampler_everywhere() {
    // The default of `ddpm sample` and `ddpm eval` (the spec) is the library's default, and the
    // grids a default run writes use it too.
    assert_eq!(DEFAULT_SAMPLER_SPEC.parse::<Sampler>(), Ok(DEFAULT_SAMPLER));
    assert_eq!(
        DEFAULT_SAMPLER,
        Sampler::Ddim {
            steps: 50,
            eta: 1.0
        }
    );
    assert_eq!(
        TrainingConfig::default_run().grid_sampler(),
        DEFAULT_SAMPLER
    );
    let plain = TrainingConfig::new(UNetConfig::tiny(), ScheduleConfig::linear_1000(), 10);
    assert_eq!(plain.grid_sampler(), DEFAULT_SAMPLER);
    // The grids are drawn with DDIM; ancestral sampling is refused with the form to use.
    let mut config = plain.clone();
    config
        .set_grid_sampler(Sampler::Ddim {
            steps: 20,
            eta: 0.0,
        })
        .unwrap();
    assert_eq!(
        config.grid_sampler(),
        Sampler::Ddim {
            steps: 20,
            eta: 0.0
        }
    );
    let err = config
        .set_grid_sampler(Sampler::Ancestral {
            variance: VarianceKind::Beta,
        })
        .unwrap_err()
        .to_string();
    assert!(err.contains("ddim:STEPS:ETA"), "{err}");
    assert_eq!(
        config.grid_sampler(),
        Sampler::Ddim {
            steps: 20,
            eta: 0.0
        }
    );
}

#[test]
fn grid_and_trajectory_files_are_written() {
    let dir = std::env::temp_dir().join(format!("ddpm-sampling-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Two 28x28 images: all black (-1) and all white (+1).
    let pixels: Vec<f32> = [vec![-1.0; 784], vec![1.0; 784]].concat();
    let grid = images::grid_image(&pixels, 2, 28, 2, 1);
    assert_eq!((grid.width(), grid.height()), (2 * 30 + 2, 30 + 2));
    assert_eq!(grid.get_pixel(2, 2)[0], 0);
    assert_eq!(grid.get_pixel(32, 2)[0], 255);
    let path = dir.join("t.gif");
    images::save_trajectory_gif(&path, &[pixels.clone(), pixels.clone()], 2, 28).unwrap();
    let decoder = image::codecs::gif::GifDecoder::new(std::io::BufReader::new(
        std::fs::File::open(&path).unwrap(),
    ))
    .unwrap();
    use image::AnimationDecoder;
    assert_eq!(decoder.into_frames().count(), 2);
    let strip = images::trajectory_strip(&[pixels.clone(), pixels.clone(), pixels], 2, 28);
    assert_eq!((strip.width(), strip.height()), (3 * 58 + 2, 2 * 58 + 2));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Chapter 14 derives (and chapter 17's Exercise 17.3 asks to show) that DDIM with $\eta = 1$
/// and $s = t - 1$ is the ancestral step with $\sigma_t^2 = \tilde\beta_t$: the same $\sigma$,
/// and the same mean $\tilde\mu_t(x_t, \hat x_0)$, clipped or not. Here the two library
/// functions, `ddim_step` and `p_sample` with `VarianceKind::PosteriorBeta`, are run on a
/// trained-looking input: the tiny U-Net with random (seeded) weights, so that
/// $\epsilon_\theta \ne 0$, on both schedules, with the same noise $z$. Comparing them with
/// z = 0 checks the means, and with two noises the difference of outputs checks
/// $\sigma z$ elementwise. The tolerance is f32 arithmetic: 1e-5 relative to the values.
#[test]
fn ddim_with_eta_one_is_the_ancestral_step() {
    let device = device();
    device.seed(14);
    let model: UNet = UNetConfig::tiny().init(&device).unwrap();
    let shape = [2usize, 1, 28, 28];
    let x_t = Tensor::<4>::random(shape, burn::tensor::Distribution::Normal(0.0, 1.0), &device);
    let z1 = Tensor::<4>::random(shape, burn::tensor::Distribution::Normal(0.0, 1.0), &device);
    let z0 = Tensor::<4>::zeros(shape, &device);
    let close = |a: Vec<f32>, b: Vec<f32>, what: &str| {
        for (k, (x, y)) in a.iter().zip(&b).enumerate() {
            assert!(
                (x - y).abs() <= 1e-5 * x.abs().max(1.0),
                "{what}, element {k}: DDIM {x} vs ancestral {y}"
            );
        }
    };
    for schedule in [
        NoiseSchedule::linear(1000).unwrap(),
        NoiseSchedule::cosine(1000).unwrap(),
    ] {
        for t in [1usize, 2, 10, 500, 1000] {
            for clip in [false, true] {
                let step = |z: &Tensor<4>| {
                    let ddim = ddim_step(
                        &model,
                        &schedule,
                        x_t.clone(),
                        t,
                        t - 1,
                        1.0,
                        clip,
                        z.clone(),
                    );
                    let ancestral = p_sample(
                        &model,
                        &schedule,
                        x_t.clone(),
                        t,
                        VarianceKind::PosteriorBeta,
                        clip,
                        z.clone(),
                    );
                    (to_vec(ddim), to_vec(ancestral))
                };
                let what = format!("t = {t}, clip = {clip}");
                // Same mean.
                let (ddim_mean, ancestral_mean) = step(&z0);
                close(ddim_mean.clone(), ancestral_mean, &format!("{what}, mean"));
                // Same noise term: (step with z) - (step with 0) is sigma z, sigma^2 = tilde
                // beta_t (0 at t = 1, where neither adds noise).
                let (ddim_z, ancestral_z) = step(&z1);
                close(ddim_z.clone(), ancestral_z, &format!("{what}, with noise"));
                let sigma = schedule.posterior_variance()[t - 1].sqrt() as f32;
                let sigma = if t == 1 { 0.0 } else { sigma };
                let expected: Vec<f32> = to_vec(z1.clone()).iter().map(|z| sigma * z).collect();
                let added: Vec<f32> = ddim_z.iter().zip(&ddim_mean).map(|(a, m)| a - m).collect();
                for (k, (a, e)) in added.iter().zip(&expected).enumerate() {
                    assert!(
                        (a - e).abs() <= 1e-5 * e.abs().max(1.0),
                        "{what}, element {k}: DDIM adds {a}, sigma z = {e}"
                    );
                }
            }
        }
    }
}
