//! Grader for chapter 14's exercises: compares with the sampling workflow
//! (`ddpm::workflows::sample`), with chapter 8's ancestral step (`ddpm::diffusion::reverse`) and
//! with the forward process's Gaussian conditionals. Each test panics on the unimplemented stub.

mod exercise_support;

// The student's file; with `--features solutions`, the instructors' reference solution.
#[cfg(all(feature = "burn", not(feature = "solutions")))]
#[path = "../src/exercises/ch14.rs"]
mod ch14;
#[cfg(all(feature = "burn", feature = "solutions"))]
#[path = "../solutions/ch14.rs"]
mod ch14;

#[cfg(not(feature = "solutions"))]
const EXERCISE_FILE: &str = include_str!("../src/exercises/ch14.rs");
#[cfg(feature = "solutions")]
const EXERCISE_FILE: &str = include_str!("../solutions/ch14.rs");

/// The exercise file may not call the library (which computes most answers): see
/// `exercise_support`. When this fails the grader scores the whole chapter 0.
#[test]
fn exercise_file_is_self_contained() {
    exercise_support::assert_self_contained("ch14", EXERCISE_FILE);
}

/// Without burn these graders cannot run; fail rather than pass with no test at all.
#[cfg(not(feature = "burn"))]
#[test]
fn needs_the_burn_feature() {
    panic!("chapter 14's graders need the burn feature: grade without --no-default-features");
}

#[cfg(feature = "burn")]
mod graders {
    use super::ch14;

    use burn::module::{Module, ModuleMapper, Param};
    use burn::prelude::*;
    use ddpm::diffusion::forward::q_sample;
    use ddpm::diffusion::reverse::{ReverseOptions, VarianceKind, p_mean_variance};
    use ddpm::diffusion::schedule::NoiseSchedule;
    use ddpm::network::{UNet, UNetConfig};
    use ddpm::workflows::sample::ddim_step;
    use ndarray::arr1;

    /// $\bar\alpha_s$ with $\bar\alpha_0 = 1$.
    fn alpha_bar(s: &NoiseSchedule, t: usize) -> f64 {
        if t == 0 { 1.0 } else { s.alpha_bar()[t - 1] }
    }

    /// Var(x_s | x_t, x_0) under the forward process, by Gaussian conditioning: given x_0,
    /// Var(x_s) = 1 - abar_s, Var(x_t) = 1 - abar_t, Cov(x_s, x_t) = sqrt(abar_t / abar_s)(1 - abar_s),
    /// so Var(x_s | x_t) = Var(x_s) - Cov^2 / Var(x_t).
    fn conditional_variance(abar_t: f64, abar_s: f64) -> f64 {
        (1.0 - abar_s) - (abar_t / abar_s) * (1.0 - abar_s).powi(2) / (1.0 - abar_t)
    }

    fn schedules() -> [NoiseSchedule; 2] {
        [
            NoiseSchedule::linear(1000).unwrap(),
            NoiseSchedule::cosine(1000).unwrap(),
        ]
    }

    /// The DDIM timesteps in exact integer arithmetic (no floating point, no library call):
    /// 1 + round(i (T - 1) / (S - 1)) with halves rounded up is
    /// 1 + floor((2 i (T - 1) + (S - 1)) / (2 (S - 1))); for S = 1 the single timestep T.
    fn exact_ddim_timesteps(steps: usize, big_t: usize) -> Vec<usize> {
        if steps == 1 {
            return vec![big_t];
        }
        let d = steps - 1;
        (0..steps)
            .map(|i| 1 + (2 * i * (big_t - 1) + d) / (2 * d))
            .collect()
    }

    #[test]
    fn exercise_14_1_ddim_timesteps() {
        for big_t in [7usize, 20, 1000] {
            let mut steps: Vec<usize> = (1..=big_t.min(40)).collect();
            steps.extend(
                [50, 99, 100, 101, 333, 500, 999, 1000]
                    .iter()
                    .filter(|&&s| s <= big_t),
            );
            for s in steps {
                assert_eq!(
                    ch14::ddim_timesteps(s, big_t),
                    exact_ddim_timesteps(s, big_t),
                    "{s} steps of T = {big_t}"
                );
            }
        }
    }

    #[test]
    fn exercise_14_2_ddim_sigma() {
        for sched in schedules() {
            // eta = 1 and s = t - 1: the posterior variance tilde beta_t (the library's table).
            for t in [2usize, 3, 10, 500, 999, 1000] {
                let sigma = ch14::ddim_sigma(alpha_bar(&sched, t), alpha_bar(&sched, t - 1), 1.0);
                let want = sched.posterior_variance()[t - 1];
                assert!(
                    (sigma * sigma / want - 1.0).abs() < 1e-9,
                    "t = {t}: sigma^2 = {} vs tilde beta = {want}",
                    sigma * sigma
                );
            }
            // Any s < t: eta * sqrt(Var(x_s | x_t, x_0)); s = 0 gives 0.
            for (t, s) in [
                (1000, 980),
                (1000, 500),
                (600, 100),
                (50, 1),
                (1, 0),
                (300, 0),
            ] {
                for eta in [0.0, 0.5, 1.0, 2.0] {
                    let (ab_t, ab_s) = (alpha_bar(&sched, t), alpha_bar(&sched, s));
                    let want = eta * conditional_variance(ab_t, ab_s).max(0.0).sqrt();
                    let got = ch14::ddim_sigma(ab_t, ab_s, eta);
                    assert!(
                        (got - want).abs() < 1e-9 * want.max(1e-3),
                        "t = {t}, s = {s}, eta = {eta}: {got} vs {want}"
                    );
                }
            }
        }
    }

    /// Sets every weight to zero, so the network predicts eps = 0 exactly (as in tests/sampling.rs).
    struct Zero;
    impl ModuleMapper for Zero {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            param.map(|t| t.zeros_like())
        }
    }

    #[test]
    fn exercise_14_3_ddim_step() {
        for sched in schedules() {
            // eta = 1 and s = t - 1 is the ancestral step with sigma_t^2 = tilde beta_t (chapter 8's
            // p_mean_variance, unclipped, plus tilde beta_t^(1/2) z).
            for t in [1usize, 2, 50, 500, 1000] {
                for (x_t, eps, z) in [(0.3, -0.8, 1.1), (-1.7, 0.4, -0.2), (0.0, 1.5, 0.0)] {
                    let p = p_mean_variance(
                        &sched,
                        &arr1(&[x_t]),
                        t,
                        &arr1(&[eps]),
                        ReverseOptions::unclipped(VarianceKind::PosteriorBeta),
                    );
                    let want = p.mean[0] + sched.posterior_variance()[t - 1].sqrt() * z;
                    let got = ch14::ddim_step(
                        x_t,
                        eps,
                        alpha_bar(&sched, t),
                        alpha_bar(&sched, t - 1),
                        1.0,
                        z,
                    );
                    assert!(
                        (got - want).abs() < 1e-9,
                        "t = {t}: {got} vs the ancestral step's {want}"
                    );
                }
            }
            // eta = 0 with the true noise: x_t = q_sample(x0, t, eps) goes to q_sample(x0, s, eps).
            for (t, s) in [(1000, 10), (700, 699), (300, 1), (200, 0)] {
                let (x0, eps) = (0.6, -1.2);
                let x_t = q_sample(&sched, &arr1(&[x0]), t, &arr1(&[eps]))[0];
                let want = if s == 0 {
                    x0
                } else {
                    q_sample(&sched, &arr1(&[x0]), s, &arr1(&[eps]))[0]
                };
                let got = ch14::ddim_step(
                    x_t,
                    eps,
                    alpha_bar(&sched, t),
                    alpha_bar(&sched, s),
                    0.0,
                    9.9,
                );
                assert!(
                    (got - want).abs() < 1e-9,
                    "t = {t}, s = {s}: {got} vs {want}"
                );
            }
            // Any eta: with x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) e and eps = e, x_s is
            // sqrt(abar_s) x0 + a e + b z with a^2 + b^2 = 1 - abar_s (the marginal q(x_s | x0) is
            // kept) and b^2 = eta^2 Var(x_s | x_t, x0).
            for (t, s) in [(1000, 500), (400, 380), (100, 0)] {
                let (ab_t, ab_s) = (alpha_bar(&sched, t), alpha_bar(&sched, s));
                for eta in [0.0, 0.3, 0.7, 1.0] {
                    let x0 = -0.4;
                    let f = |e: f64, z: f64| {
                        ch14::ddim_step(
                            ab_t.sqrt() * x0 + (1.0 - ab_t).sqrt() * e,
                            e,
                            ab_t,
                            ab_s,
                            eta,
                            z,
                        )
                    };
                    let base = f(0.0, 0.0);
                    let (a, b) = (f(1.0, 0.0) - base, f(0.0, 1.0) - base);
                    assert!((base - ab_s.sqrt() * x0).abs() < 1e-9);
                    assert!((a * a + b * b - (1.0 - ab_s)).abs() < 1e-9);
                    let want_b2 = eta * eta * conditional_variance(ab_t, ab_s).max(0.0);
                    assert!(
                        (b * b - want_b2).abs() < 1e-9,
                        "t = {t}, s = {s}, eta = {eta}: noise variance {} vs {want_b2}",
                        b * b
                    );
                }
            }
        }
        // The workflow's own DDIM step with a network that predicts eps = 0 (f32, hence 1e-4).
        let device = Device::flex();
        let model: UNet = UNetConfig::tiny().init(&device).unwrap().map(&mut Zero);
        let sched = NoiseSchedule::linear(1000).unwrap();
        for (t, s, eta) in [
            (1000, 500, 0.0),
            (500, 499, 1.0),
            (300, 100, 0.5),
            (10, 0, 1.0),
        ] {
            let x_t = Tensor::<4>::full([1, 1, 28, 28], 0.3, &device);
            let noise = Tensor::<4>::full([1, 1, 28, 28], 0.7, &device);
            let out = ddim_step(&model, &sched, x_t, t, s, eta, false, noise);
            let want: Vec<f32> = out.into_data().convert::<f32>().try_to_vec().unwrap();
            let got = ch14::ddim_step(
                0.3,
                0.0,
                alpha_bar(&sched, t),
                alpha_bar(&sched, s),
                eta,
                0.7,
            );
            for w in want {
                let w = f64::from(w);
                assert!(
                    (got - w).abs() < 1e-4 * w.abs().max(1.0),
                    "t = {t}, s = {s}, eta = {eta}: {got} vs the workflow's {w}"
                );
            }
        }
    }

    fn to_f64(x: Tensor<4>) -> Vec<f64> {
        x.into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .unwrap()
            .into_iter()
            .map(f64::from)
            .collect()
    }

    #[test]
    fn exercise_14_4_p_sample() {
        // The tiny U-Net (random weights), a batch of two 28x28 images, on both schedules and
        // at t = 1 (no noise), 2, 500 and T. Reference, computed here in f64 another way than
        // Eq. (11): x0_hat = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t) (Eq. 4 solved for x0),
        // then the posterior mean coef1 x0_hat + coef2 x_t of Eq. (7), with the coefficients
        // written out from the schedule's alpha_bar table, plus sqrt(beta_t) z for t > 1.
        let device = Device::flex();
        let model: UNet = UNetConfig::tiny().init(&device).unwrap();
        let shape = [2usize, 1, 28, 28];
        let n: usize = shape.iter().product();
        let values = |seed: u64| -> Vec<f64> {
            let mut state = seed;
            // A fixed, varied pattern in [-2, 2] (a small LCG; no library code involved).
            (0..n)
                .map(|_| {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    4.0 * ((state >> 11) as f64 / (1u64 << 53) as f64) - 2.0
                })
                .collect()
        };
        let tensor = |v: &[f64]| -> Tensor<4> {
            let v: Vec<f32> = v.iter().map(|&x| x as f32).collect();
            Tensor::from_data(TensorData::new(v, shape), &device)
        };
        let (x_t, z) = (values(14), values(41));
        for sched in schedules() {
            for t in [1usize, 2, 500, 1000] {
                let abar = alpha_bar(&sched, t);
                let abar_prev = alpha_bar(&sched, t - 1);
                let beta = sched.beta()[t - 1];
                let t_in = Tensor::<1>::full([shape[0]], t as f32, &device);
                let eps = to_f64(model.forward(tensor(&x_t), t_in));
                let coef1 = abar_prev.sqrt() * beta / (1.0 - abar);
                let coef2 = (1.0 - beta).sqrt() * (1.0 - abar_prev) / (1.0 - abar);
                let want: Vec<f64> = (0..n)
                    .map(|k| {
                        let x0 = (x_t[k] - (1.0 - abar).sqrt() * eps[k]) / abar.sqrt();
                        let noise = if t > 1 { beta.sqrt() * z[k] } else { 0.0 };
                        coef1 * x0 + coef2 * x_t[k] + noise
                    })
                    .collect();
                let seen_t = std::cell::RefCell::new(Vec::new());
                let got = ch14::p_sample(tensor(&x_t), t, sched.beta(), tensor(&z), |x, tt| {
                    seen_t.borrow_mut().push(tt.clone());
                    model.forward(x, tt)
                });
                let seen_t = seen_t.into_inner();
                assert_eq!(seen_t.len(), 1, "one network evaluation per step");
                let seen: Vec<f32> = seen_t[0]
                    .clone()
                    .into_data()
                    .convert::<f32>()
                    .try_to_vec()
                    .unwrap();
                assert_eq!(seen, vec![t as f32; shape[0]], "the network's t");
                assert_eq!(got.dims(), shape);
                let got = to_f64(got);
                // f32 arithmetic: 1e-4 relative to the size of the values.
                for (k, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        (g - w).abs() < 1e-4 * w.abs().max(1.0),
                        "t = {t}, element {k}: {g} vs {w} computed in f64"
                    );
                }
            }
        }
    }
}
