//! Grader for chapter 17's exercises: counts the network evaluations of the sampling workflow
//! itself (`ddpm::workflows::sample::sample` with a small network), uses the benchmark's
//! throughput (`ddpm::workflows::bench::BenchResult`), and checks DDIM's total noise against
//! the schedule's posterior variances and the forward process's Gaussian conditionals. Each
//! test panics on the unimplemented stub.

mod exercise_support;

// The student's file; with `--features solutions`, the instructors' reference solution.
#[cfg(all(feature = "burn", not(feature = "solutions")))]
#[path = "../src/exercises/ch17.rs"]
mod ch17;
#[cfg(all(feature = "burn", feature = "solutions"))]
#[path = "../solutions/ch17.rs"]
mod ch17;

#[cfg(not(feature = "solutions"))]
const EXERCISE_FILE: &str = include_str!("../src/exercises/ch17.rs");
#[cfg(feature = "solutions")]
const EXERCISE_FILE: &str = include_str!("../solutions/ch17.rs");

/// The exercise file may not call the library (which computes most answers): see
/// `exercise_support`. When this fails the grader scores the whole chapter 0.
#[test]
fn exercise_file_is_self_contained() {
    exercise_support::assert_self_contained("ch17", EXERCISE_FILE);
}

/// Without burn these graders cannot run; fail rather than pass with no test at all.
#[cfg(not(feature = "burn"))]
#[test]
fn needs_the_burn_feature() {
    panic!("chapter 17's graders need the burn feature: grade without --no-default-features");
}

#[cfg(feature = "burn")]
mod graders {
    use super::ch17;

    use burn::module::{Module, ModuleMapper, Param};
    use burn::prelude::*;
    use ddpm::diffusion::schedule::NoiseSchedule;
    use ddpm::network::{UNet, UNetConfig};
    use ddpm::workflows::bench::BenchResult;
    use ddpm::workflows::sample::{SampleOptions, Sampler, VarianceKind, ddim_timesteps, sample};

    /// Sets every weight to zero (the network then predicts eps = 0; only the count matters here).
    struct Zero;
    impl ModuleMapper for Zero {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            param.map(|t| t.zeros_like())
        }
    }

    #[test]
    fn exercise_17_1_network_evaluations() {
        let device = Device::flex();
        let model: UNet = UNetConfig::tiny().init(&device).unwrap().map(&mut Zero);
        let big_t = 20;
        let schedule = NoiseSchedule::linear(big_t).unwrap();
        let samplers = [
            (
                Sampler::Ancestral {
                    variance: VarianceKind::Beta,
                },
                None,
            ),
            (Sampler::Ddim { steps: 1, eta: 0.0 }, Some(1)),
            (Sampler::Ddim { steps: 5, eta: 1.0 }, Some(5)),
            (
                Sampler::Ddim {
                    steps: 20,
                    eta: 0.0,
                },
                Some(20),
            ),
        ];
        for (sampler, ddim_steps) in samplers {
            let options = SampleOptions {
                sampler,
                clip_x0: true,
                seed: 0,
                count: 1,
                frames: 0,
            };
            // `sample` calls on_step once after each network evaluation.
            let mut calls = 0;
            sample(&model, &schedule, 1, 28, &options, &device, |_, _| {
                calls += 1
            })
            .unwrap();
            assert_eq!(
                ch17::network_evaluations(big_t, ddim_steps),
                calls,
                "{sampler:?} with T = {big_t}"
            );
        }
        // For T = 1000 the count is the number of timesteps visited.
        assert_eq!(ch17::network_evaluations(1000, None), 1000);
        assert_eq!(ch17::network_evaluations(1000, Some(50)), 50);
    }

    #[test]
    fn exercise_17_2_sampling_seconds() {
        // A benchmark result: images per second of one forward pass at batch 64.
        for (batch, forward_ms) in [(64usize, 230.0), (64, 2800.0), (16, 12.5)] {
            let bench = BenchResult {
                preset: "paper".into(),
                params: 1_623_169,
                batch,
                train_step_ms: 0.0,
                forward_ms,
            };
            let per_s = bench.forward_images_per_s();
            for evaluations in [1000usize, 100, 50, 10] {
                for count in [batch, 10 * batch, 1000, 1, 10 * batch + 1] {
                    // Whole batches: count * evaluations images go through the network at `per_s`
                    // images per second; a partial batch costs as much as a full one.
                    let padded = count.div_ceil(batch) * batch;
                    let want = (padded * evaluations) as f64 / per_s;
                    let got = ch17::sampling_seconds(count, batch, evaluations, forward_ms);
                    assert!(
                        (got / want - 1.0).abs() < 1e-12,
                        "{count} images, batch {batch}, {evaluations} evaluations: {got} s vs {want} s"
                    );
                }
            }
        }
    }

    /// Var(x_s | x_t, x_0) under the forward process (Gaussian conditioning), abar_0 = 1.
    fn conditional_variance(abar_t: f64, abar_s: f64) -> f64 {
        (1.0 - abar_s) - (abar_t / abar_s) * (1.0 - abar_s).powi(2) / (1.0 - abar_t)
    }

    #[test]
    fn exercise_17_3_ddim_noise_variance_total() {
        for s in [
            NoiseSchedule::linear(1000).unwrap(),
            NoiseSchedule::cosine(1000).unwrap(),
            NoiseSchedule::linear(20).unwrap(),
        ] {
            let big_t = s.num_timesteps();
            let ab = |t: usize| if t == 0 { 1.0 } else { s.alpha_bar()[t - 1] };
            // eta = 1, all T steps: the noise of ancestral sampling with tilde beta_t.
            let ancestral: f64 = s.posterior_variance().iter().sum();
            let all: Vec<usize> = (1..=big_t).collect();
            let got = ch17::ddim_noise_variance_total(s.alpha_bar(), &all, 1.0);
            assert!(
                (got / ancestral - 1.0).abs() < 1e-9,
                "T = {big_t}: {got} vs sum of tilde beta {ancestral}"
            );
            // Fewer steps: eta^2 Var(x_s | x_t, x_0) summed over the workflow's own timesteps.
            for steps in [1usize, 10, 17, 50, 100] {
                if steps > big_t {
                    continue;
                }
                let taus = ddim_timesteps(steps, big_t);
                for eta in [0.0, 0.5, 1.0] {
                    let want: f64 = (0..taus.len())
                        .map(|k| {
                            let from = if k == 0 { 0 } else { taus[k - 1] };
                            eta * eta * conditional_variance(ab(taus[k]), ab(from))
                        })
                        .sum();
                    let got = ch17::ddim_noise_variance_total(s.alpha_bar(), &taus, eta);
                    assert!(
                        (got - want).abs() <= 1e-9 * want.max(1e-12),
                        "T = {big_t}, {steps} steps, eta = {eta}: {got} vs {want}"
                    );
                }
            }
        }
    }
}
