//! Grader for chapter 13's exercises: compares with the training workflow
//! (`ddpm::workflows::{train, ema}`, run on small burn modules) and with chapter 9's bound
//! (`ddpm::diffusion::bound`). Each test panics on the unimplemented stub.

mod exercise_support;

// The student's file; with `--features solutions`, the instructors' reference solution.
#[cfg(all(feature = "burn", not(feature = "solutions")))]
#[path = "../src/exercises/ch13.rs"]
mod ch13;
#[cfg(all(feature = "burn", feature = "solutions"))]
#[path = "../solutions/ch13.rs"]
mod ch13;

#[cfg(not(feature = "solutions"))]
const EXERCISE_FILE: &str = include_str!("../src/exercises/ch13.rs");
#[cfg(feature = "solutions")]
const EXERCISE_FILE: &str = include_str!("../solutions/ch13.rs");

/// The exercise file may not call the library (which computes most answers): see
/// `exercise_support`. When this fails the grader scores the whole chapter 0.
#[test]
fn exercise_file_is_self_contained() {
    exercise_support::assert_self_contained("ch13", EXERCISE_FILE);
}

/// Without burn these graders cannot run; fail rather than pass with no test at all.
#[cfg(not(feature = "burn"))]
#[test]
fn needs_the_burn_feature() {
    panic!("chapter 13's graders need the burn feature: grade without --no-default-features");
}

#[cfg(feature = "burn")]
mod graders {
    use super::ch13;

    use burn::nn::{Initializer, LinearConfig};
    use burn::optim::GradientsParams;
    use burn::prelude::*;
    use ddpm::diffusion::bound::{loss_weight, posterior_kl, variance_mismatch_kl};
    use ddpm::diffusion::forward::q_sample;
    use ddpm::diffusion::reverse::VarianceKind;
    use ddpm::diffusion::schedule::NoiseSchedule;
    use ddpm::network::{UNet, UNetConfig};
    use ddpm::workflows::ema::{ema_decay_at, ema_update};
    use ddpm::workflows::train::{clip_global_norm, learning_rate};
    use ndarray::Array1;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, StandardNormal};

    fn to_f64<const D: usize>(x: Tensor<D>) -> Vec<f64> {
        x.into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .unwrap()
            .into_iter()
            .map(f64::from)
            .collect()
    }

    #[test]
    fn exercise_13_1_l_simple() {
        // Chapter 9: per dimension, L_{t-1} = C_t + w_t (eps - eps_hat)^2 (Ho et al. 2020, Eq. (12)),
        // so the mean of `posterior_kl` over dimensions, minus C_t, divided by w_t, is L_simple.
        let s = NoiseSchedule::linear(1000).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(13);
        let normal = |rng: &mut ChaCha8Rng, n: usize| -> Array1<f64> {
            (0..n).map(|_| StandardNormal.sample(rng)).collect()
        };
        for n in [1usize, 16, 784] {
            for t in [2usize, 100, 900] {
                let x0: Array1<f64> = (0..n).map(|_| rng.random_range(-1.0..=1.0)).collect();
                let eps = normal(&mut rng, n);
                let eps_hat = normal(&mut rng, n).mapv(|v| 0.3 * v) + &eps * 0.8;
                let x_t = q_sample(&s, &x0, t, &eps);
                for kind in [VarianceKind::Beta, VarianceKind::PosteriorBeta] {
                    let kl = posterior_kl(&s, &x0, &x_t, t, &eps_hat, kind);
                    let want = (kl.mean().unwrap() - variance_mismatch_kl(&s, t, kind))
                        / loss_weight(&s, t, kind);
                    let got = ch13::l_simple(eps.as_slice().unwrap(), eps_hat.as_slice().unwrap());
                    assert!(
                        (got / want - 1.0).abs() < 1e-8,
                        "n = {n}, t = {t}: {got} vs {want} from the bound"
                    );
                }
            }
        }
    }

    #[test]
    fn exercise_13_2_learning_rate() {
        for (lr, warmup) in [(2e-4, 5000), (2e-3, 100), (1e-3, 1), (5e-4, 0)] {
            for step in [0usize, 1, 49, 98, 99, 100, 4998, 4999, 5000, 20_000] {
                let want = learning_rate(step, lr, warmup);
                let got = ch13::learning_rate(step, lr, warmup);
                assert!(
                    (got - want).abs() <= 1e-12 * want,
                    "step {step}, lr {lr}, warmup {warmup}: {got} vs the library's {want}"
                );
            }
        }
    }

    #[test]
    fn exercise_13_3_ema_initial_share() {
        // Run the library's EMA update on a small linear layer: the average starts as all ones
        // (the "initial weights") and is blended with a model that is all zeros, so afterwards
        // every weight equals the share the initial weights keep. f32 arithmetic, hence 1e-4.
        let device = Device::flex();
        let zeros = LinearConfig::new(3, 2)
            .with_initializer(Initializer::Zeros)
            .init(&device);
        for (steps, decay) in [
            (1, 0.995),
            (200, 0.995),
            (800, 0.995),
            (200, 0.9),
            (50, 0.5),
        ] {
            for warmup in [false, true] {
                let mut ema = LinearConfig::new(3, 2)
                    .with_initializer(Initializer::Constant { value: 1.0 })
                    .init(&device);
                for k in 0..steps {
                    let d = if warmup {
                        ema_decay_at(k, decay)
                    } else {
                        decay
                    };
                    ema = ema_update(ema, &zeros, d);
                }
                let mut values = to_f64(ema.weight.val());
                values.extend(to_f64(ema.bias.as_ref().unwrap().val()));
                let got = ch13::ema_initial_share(steps, decay, warmup);
                for w in values {
                    assert!(
                        (got - w).abs() <= 1e-4 * w,
                        "{steps} steps, decay {decay}, warm-up {warmup}: {got} vs the EMA's {w}"
                    );
                }
            }
        }
    }

    #[test]
    fn exercise_13_4_ema_decay_at() {
        for decay in [0.9, 0.995, 0.9999] {
            for step in [0usize, 1, 2, 80, 81, 1789, 1790, 1791, 100_000] {
                let want = ema_decay_at(step, decay);
                let got = ch13::ema_decay_at(step, decay);
                assert!(
                    (got - want).abs() < 1e-15,
                    "step {step}, decay {decay}: {got} vs the library's {want}"
                );
            }
        }
    }

    #[test]
    fn exercise_13_5_clip_factor() {
        // The library's clip_global_norm on a real gradient. For loss = scale * sum(x W + b) over a
        // batch of 2 inputs, dL/dW[i][o] = scale * sum_b x_b[i] and dL/db[o] = 2 * scale, so the
        // gradients are known in closed form: W's columns are scale * (2, -0.75, 1.25), b's entries
        // 2 * scale, and the global norm is scale * sqrt(2 (4 + 0.5625 + 1.5625) + 2 * 4) = 4.5 scale.
        let device = Device::flex().autodiff();
        let model = LinearConfig::new(3, 2).init(&device);
        let column = [2.0, -0.75, 1.25];
        for (scale, max_norm) in [(1.0, 1.0), (1.0, 4.5), (1.0, 10.0), (0.1, 1.0), (3.0, 0.5)] {
            let x = Tensor::<2>::from_floats([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]], &device);
            let loss = model.forward(x).sum().mul_scalar(scale);
            let mut grads = GradientsParams::from_grads(loss.backward(), &model);
            let norm = clip_global_norm(&model, &mut grads, max_norm);
            assert!((norm - 4.5 * scale).abs() < 1e-5 * scale, "norm {norm}");
            let weight_grad: Vec<f64> =
                column.iter().flat_map(|c| [c * scale, c * scale]).collect();
            let bias_grad = vec![2.0 * scale, 2.0 * scale];
            let factor = ch13::clip_factor(&[weight_grad.clone(), bias_grad.clone()], max_norm);
            let clipped_w = to_f64(grads.get::<2>(model.weight.id).unwrap());
            let clipped_b = to_f64(grads.get::<1>(model.bias.as_ref().unwrap().id).unwrap());
            for (g, c) in weight_grad
                .iter()
                .chain(&bias_grad)
                .zip(clipped_w.iter().chain(&clipped_b))
            {
                assert!(
                    (factor * g - c).abs() < 1e-5 * g.abs(),
                    "scale {scale}, max_norm {max_norm}: factor {factor} times {g} vs the library's \
                 clipped {c}"
                );
            }
        }
    }

    fn tensor(values: &[f64], shape: [usize; 4], device: &Device) -> Tensor<4> {
        let v: Vec<f32> = values.iter().map(|&x| x as f32).collect();
        Tensor::from_data(TensorData::new(v, shape), device)
    }

    #[test]
    fn exercise_13_6_algorithm1_loss() {
        // The tiny U-Net (random weights: any network will do) on a batch of three 28x28
        // images at t = 1, 417 and 1000. Reference, computed here in f64 without the library's
        // training code: x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps per element, the network
        // on that x_t, then the mean of (eps - eps_theta)^2 over all elements. The student's
        // call of the network is recorded, so a wrong x_t or t is reported as such.
        let device = Device::flex();
        let model: UNet = UNetConfig::tiny().init(&device).unwrap();
        let s = NoiseSchedule::linear(1000).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(136);
        let (batch, side) = (3usize, 28usize);
        let shape = [batch, 1, side, side];
        let n = batch * side * side;
        let x0: Vec<f64> = (0..n).map(|_| rng.random_range(-1.0..=1.0)).collect();
        let noise: Vec<f64> = (0..n).map(|_| StandardNormal.sample(&mut rng)).collect();
        let t = [1usize, 417, 1000];
        let x_t: Vec<f64> = (0..n)
            .map(|k| {
                let ab = s.alpha_bar()[t[k / (side * side)] - 1];
                ab.sqrt() * x0[k] + (1.0 - ab).sqrt() * noise[k]
            })
            .collect();
        let t_f32: Vec<f32> = t.iter().map(|&t| t as f32).collect();
        let t_in = Tensor::<1>::from_data(TensorData::new(t_f32, [batch]), &device);
        let eps_theta = to_f64(model.forward(tensor(&x_t, shape, &device), t_in));
        let want = noise
            .iter()
            .zip(&eps_theta)
            .map(|(e, p)| (e - p).powi(2))
            .sum::<f64>()
            / n as f64;

        let calls = std::cell::RefCell::new(Vec::new());
        let loss = ch13::algorithm1_loss(
            tensor(&x0, shape, &device),
            &t,
            tensor(&noise, shape, &device),
            s.alpha_bar(),
            |x, t| {
                calls
                    .borrow_mut()
                    .push((to_f64(x.clone()), to_f64(t.clone())));
                model.forward(x, t)
            },
        );
        let calls = calls.into_inner();
        assert_eq!(
            calls.len(),
            1,
            "Algorithm 1 evaluates the network once per batch"
        );
        let (seen_x, seen_t) = &calls[0];
        assert_eq!(seen_t, &[1.0, 417.0, 1000.0], "the network's t");
        let worst = seen_x
            .iter()
            .zip(&x_t)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(
            worst < 1e-5,
            "x_t given to the network is off by up to {worst}"
        );
        assert_eq!(loss.dims(), [1], "the loss is a tensor of shape [1]");
        let got = to_f64(loss)[0];
        // f32 arithmetic over 2,352 elements: relative 1e-5.
        assert!(
            (got / want - 1.0).abs() < 1e-5,
            "loss {got} vs {want} computed in f64"
        );
    }
}
