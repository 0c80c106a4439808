//! Tests for chapter 14's CPU fast path (`src/network/cpu_kernels.rs`, `src/network/fast.rs`):
//! the crate's convolution and GroupNorm(+SiLU) kernels against an independent direct
//! convolution in f64, and against burn's own operations, values and gradients, to 1e-5 of
//! the values' scale.
#![cfg(feature = "burn")]

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{GroupNorm, GroupNormConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::silu;
use ddpm::network::cpu_kernels::{
    ConvGeometry, NormGeometry, col2im, conv2d_backward, conv2d_forward, group_norm_backward,
    group_norm_forward, im2col,
};
use ddpm::network::{cpu_kernels, fast};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn random(n: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

/// Largest |a - b| over the largest |b| (at least 1): the error relative to the values' scale.
fn relative_error(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    let scale = b.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    a.iter()
        .zip(b)
        .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()))
        / scale
}

fn to_vec<const D: usize>(x: Tensor<D>) -> Vec<f32> {
    x.into_data().try_to_vec::<f32>().unwrap()
}

/// The convolution written as its definition, in f64: `out[b, o, y, x] = bias[o] +
/// sum_{c, i, j} w[o, c, i, j] x[b, c, y s + i - p, x s + j - p]` (0 outside the image).
fn direct_conv(g: &ConvGeometry, x: &[f32], w: &[f32], bias: &[f32]) -> Vec<f32> {
    let (ho, wo, k) = (g.out_height(), g.out_width(), g.kernel);
    let mut out = Vec::with_capacity(g.batch * g.c_out * ho * wo);
    for b in 0..g.batch {
        for o in 0..g.c_out {
            for y in 0..ho {
                for xo in 0..wo {
                    let mut acc = bias[o] as f64;
                    for c in 0..g.c_in {
                        for i in 0..k {
                            for j in 0..k {
                                let iy = (y * g.stride + i) as isize - g.padding as isize;
                                let ix = (xo * g.stride + j) as isize - g.padding as isize;
                                if iy < 0
                                    || ix < 0
                                    || iy >= g.height as isize
                                    || ix >= g.width as isize
                                {
                                    continue;
                                }
                                let xv = x[((b * g.c_in + c) * g.height + iy as usize) * g.width
                                    + ix as usize];
                                acc += w[((o * g.c_in + c) * k + i) * k + j] as f64 * xv as f64;
                            }
                        }
                    }
                    out.push(acc as f32);
                }
            }
        }
    }
    out
}

/// Geometries covering what the U-Net uses (3x3 same, 3x3 stride 2, 1x1) and odd corners:
/// odd sizes with stride 2, padding 0 with a 3x3 kernel, a kernel as large as the padded image.
fn geometries() -> Vec<ConvGeometry> {
    let g = |batch, c_in, height, width, c_out, kernel, stride, padding| ConvGeometry {
        batch,
        c_in,
        height,
        width,
        c_out,
        kernel,
        stride,
        padding,
    };
    vec![
        g(3, 4, 8, 8, 5, 3, 1, 1),
        g(2, 3, 7, 7, 4, 3, 2, 1),
        g(2, 3, 9, 6, 2, 3, 2, 1),
        g(3, 5, 6, 6, 3, 1, 1, 0),
        g(1, 2, 5, 7, 3, 3, 1, 0),
        g(2, 2, 4, 4, 2, 5, 1, 2),
        g(5, 1, 3, 3, 2, 3, 2, 0),
    ]
}

#[test]
fn conv2d_forward_equals_the_direct_sum() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for g in geometries() {
        let x = random(g.batch * g.input_len(), &mut rng);
        let w = random(g.weight_len(), &mut rng);
        let b = random(g.c_out, &mut rng);
        let ours = conv2d_forward(&g, &x, &w, Some(&b));
        let reference = direct_conv(&g, &x, &w, &b);
        let err = relative_error(&ours, &reference);
        assert!(err < 1e-5, "{g:?}: relative error {err}");
    }
}

/// col2im is the adjoint of im2col: <im2col(x), c> = <x, col2im(c)> for any x and c.
#[test]
fn col2im_is_the_adjoint_of_im2col() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    for g in geometries() {
        let one = ConvGeometry { batch: 1, ..g };
        let n = g.c_in * g.kernel * g.kernel * g.out_height() * g.out_width();
        let x = random(one.input_len(), &mut rng);
        let c = random(n, &mut rng);
        let mut cols = vec![0.0; n];
        im2col(&one, &x, &mut cols);
        let mut back = vec![0.0; one.input_len()];
        col2im(&one, &c, &mut back);
        let lhs: f64 = cols
            .iter()
            .zip(&c)
            .map(|(a, b)| (*a as f64) * (*b as f64))
            .sum();
        let rhs: f64 = x
            .iter()
            .zip(&back)
            .map(|(a, b)| (*a as f64) * (*b as f64))
            .sum();
        assert!(
            (lhs - rhs).abs() < 1e-4 * (1.0 + lhs.abs()),
            "{g:?}: {lhs} vs {rhs}"
        );
    }
}

/// The gradients against central finite differences of L = sum(out * r) in f64 through the
/// direct convolution (h = 1e-3; L is linear in each argument, so the difference is exact up
/// to f32 rounding).
#[test]
fn conv2d_backward_equals_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for g in geometries() {
        let x = random(g.batch * g.input_len(), &mut rng);
        let w = random(g.weight_len(), &mut rng);
        let b = random(g.c_out, &mut rng);
        let r = random(g.batch * g.output_len(), &mut rng);
        let grads = conv2d_backward(&g, &x, &w, &r, true);
        let loss = |x: &[f32], w: &[f32], b: &[f32]| -> f64 {
            direct_conv(&g, x, w, b)
                .iter()
                .zip(&r)
                .map(|(o, r)| *o as f64 * *r as f64)
                .sum()
        };
        let h = 1e-3f32;
        let numeric = |which: usize, i: usize| -> f32 {
            let (mut xp, mut wp, mut bp) = (x.clone(), w.clone(), b.clone());
            let (mut xm, mut wm, mut bm) = (x.clone(), w.clone(), b.clone());
            match which {
                0 => {
                    xp[i] += h;
                    xm[i] -= h;
                }
                1 => {
                    wp[i] += h;
                    wm[i] -= h;
                }
                _ => {
                    bp[i] += h;
                    bm[i] -= h;
                }
            }
            ((loss(&xp, &wp, &bp) - loss(&xm, &wm, &bm)) / (2.0 * h as f64)) as f32
        };
        let input = grads.input.expect("asked for the input gradient");
        for (which, ours) in [(0, &input), (1, &grads.weight), (2, &grads.bias)] {
            // every entry for small tensors, a spread of 40 otherwise
            let step = (ours.len() / 40).max(1);
            for i in (0..ours.len()).step_by(step) {
                let expected = numeric(which, i);
                assert!(
                    (ours[i] - expected).abs() < 2e-3 * (1.0 + expected.abs()),
                    "{g:?}: gradient {which}[{i}] = {} vs finite difference {expected}",
                    ours[i]
                );
            }
        }
    }
}

#[test]
fn the_fast_path_is_taken_on_the_cpu_backend() {
    assert!(fast::takes_fast_path(&Device::flex()));
    assert!(fast::takes_fast_path(&Device::flex().autodiff()));
}

fn conv_module(
    c_in: usize,
    c_out: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    device: &Device,
) -> Conv2d {
    let padding = if padding == 0 {
        PaddingConfig2d::Valid
    } else {
        PaddingConfig2d::Explicit(padding, padding, padding, padding)
    };
    Conv2dConfig::new([c_in, c_out], [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(padding)
        .init(device)
}

fn tensor4(values: Vec<f32>, shape: [usize; 4], device: &Device) -> Tensor<4> {
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// Forward values and the gradients of sum(out * r) for x, the weights and the bias, through
/// burn's `Conv2d::forward` and through `fast::conv2d`, on the autodiff CPU device.
#[test]
fn conv2d_matches_burn_values_and_gradients() {
    let device = Device::flex().autodiff();
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    // the U-Net's kinds of convolution: 3x3 same, 3x3 stride 2, 1x1; batch 3
    for (c_in, c_out, kernel, stride, padding, side) in [
        (6, 8, 3, 1, 1, 12),
        (8, 8, 3, 2, 1, 12),
        (8, 4, 1, 1, 0, 7),
        (1, 8, 3, 1, 1, 28),
    ] {
        let conv = conv_module(c_in, c_out, kernel, stride, padding, &device);
        let shape = [3, c_in, side, side];
        let x_values = random(shape.iter().product(), &mut rng);
        let run = |ours: bool| {
            let x = tensor4(x_values.clone(), shape, &device).require_grad();
            let out = if ours {
                fast::conv2d(&conv, x.clone())
            } else {
                conv.forward(x.clone())
            };
            let r = tensor4(
                random(
                    out.shape().num_elements(),
                    &mut ChaCha8Rng::seed_from_u64(5),
                ),
                out.dims(),
                &device,
            );
            let grads = (out.clone() * r).sum().backward();
            let gx = to_vec(x.grad(&grads).unwrap());
            let gw = to_vec(conv.weight.val().grad(&grads).unwrap());
            let gb = to_vec(conv.bias.as_ref().unwrap().val().grad(&grads).unwrap());
            (to_vec(out), gx, gw, gb)
        };
        let (ours, theirs) = (run(true), run(false));
        for (what, a, b) in [
            ("output", &ours.0, &theirs.0),
            ("input gradient", &ours.1, &theirs.1),
            ("weight gradient", &ours.2, &theirs.2),
            ("bias gradient", &ours.3, &theirs.3),
        ] {
            let err = relative_error(a, b);
            assert!(
                err < 1e-5,
                "{c_in}->{c_out} k{kernel} s{stride}: {what} relative error {err}"
            );
        }
    }
}

/// The same forward pass without autodiff (sampling and evaluation run there).
#[test]
fn conv2d_matches_burn_without_autodiff() {
    let device = Device::flex();
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let conv = conv_module(5, 7, 3, 1, 1, &device);
    let x = tensor4(random(2 * 5 * 9 * 9, &mut rng), [2, 5, 9, 9], &device);
    let ours = to_vec(fast::conv2d(&conv, x.clone()));
    let theirs = to_vec(conv.forward(x));
    let err = relative_error(&ours, &theirs);
    assert!(err < 1e-5, "relative error {err}");
}

fn norm_module(groups: usize, channels: usize, device: &Device, rng: &mut ChaCha8Rng) -> GroupNorm {
    let mut norm = GroupNormConfig::new(groups, channels).init(device);
    // gamma and beta away from their initial 1 and 0, so that their roles are tested
    let gamma = Tensor::<1>::from_data(TensorData::new(random(channels, rng), [channels]), device);
    let beta = Tensor::<1>::from_data(TensorData::new(random(channels, rng), [channels]), device);
    norm.gamma = Some(burn::module::Param::from_tensor(gamma));
    norm.beta = Some(burn::module::Param::from_tensor(beta));
    norm
}

/// GroupNorm (+SiLU) values and the gradients of sum(out * r) for x, gamma and beta, against
/// burn's `GroupNorm::forward` followed by burn's `silu`.
#[test]
fn group_norm_matches_burn_values_and_gradients() {
    let device = Device::flex().autodiff();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for (groups, channels, side, then_silu) in [
        (4, 8, 6, true),
        (4, 8, 6, false),
        (8, 32, 7, true),
        (1, 3, 5, true),
        (3, 3, 4, false),
    ] {
        let norm = norm_module(groups, channels, &device, &mut rng);
        let shape = [3, channels, side, side];
        // an offset and a scale, so that the mean and variance matter
        let x_values: Vec<f32> = random(shape.iter().product(), &mut rng)
            .into_iter()
            .map(|v| 0.7 + 2.5 * v)
            .collect();
        let run = |ours: bool| {
            let x = tensor4(x_values.clone(), shape, &device).require_grad();
            let out = if ours {
                fast::group_norm(&norm, x.clone(), then_silu)
            } else {
                let y = norm.forward(x.clone());
                if then_silu { silu(y) } else { y }
            };
            let r = tensor4(
                random(
                    out.shape().num_elements(),
                    &mut ChaCha8Rng::seed_from_u64(8),
                ),
                out.dims(),
                &device,
            );
            let grads = (out.clone() * r).sum().backward();
            let gx = to_vec(x.grad(&grads).unwrap());
            let gg = to_vec(norm.gamma.as_ref().unwrap().val().grad(&grads).unwrap());
            let gb = to_vec(norm.beta.as_ref().unwrap().val().grad(&grads).unwrap());
            (to_vec(out), gx, gg, gb)
        };
        let (ours, theirs) = (run(true), run(false));
        for (what, a, b) in [
            ("output", &ours.0, &theirs.0),
            ("input gradient", &ours.1, &theirs.1),
            ("gamma gradient", &ours.2, &theirs.2),
            ("beta gradient", &ours.3, &theirs.3),
        ] {
            let err = relative_error(a, b);
            assert!(
                err < 1e-5,
                "groups {groups}, channels {channels}, silu {then_silu}: {what} relative error {err}"
            );
        }
    }
}

/// The kernel's normalisation, checked from its definition: each group of the output (without
/// SiLU, gamma = 1, beta = 0) has mean 0 and variance var / (var + eps).
#[test]
fn group_norm_normalises_each_group() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let g = NormGeometry {
        batch: 2,
        channels: 6,
        groups: 3,
        pixels: 10,
        epsilon: 1e-5,
    };
    let x: Vec<f32> = random(2 * 6 * 10, &mut rng)
        .into_iter()
        .map(|v| 3.0 + 4.0 * v)
        .collect();
    let out = group_norm_forward(&g, &x, &[1.0; 6], &[0.0; 6], false);
    for (group_in, group_out) in x.chunks(20).zip(out.chunks(20)) {
        let m = group_in.len() as f64;
        let mean_in = group_in.iter().map(|&v| v as f64).sum::<f64>() / m;
        let var_in = group_in
            .iter()
            .map(|&v| (v as f64 - mean_in).powi(2))
            .sum::<f64>()
            / m;
        let mean = group_out.iter().map(|&v| v as f64).sum::<f64>() / m;
        let var = group_out
            .iter()
            .map(|&v| (v as f64 - mean).powi(2))
            .sum::<f64>()
            / m;
        assert!(mean.abs() < 1e-6, "group mean {mean}");
        assert!(
            (var - var_in / (var_in + 1e-5)).abs() < 1e-5,
            "group variance {var}"
        );
    }
    // and the backward pass of a loss that ignores the output has zero gradients
    let grads = group_norm_backward(&g, &x, &[1.0; 6], &[0.0; 6], true, &vec![0.0; x.len()]);
    assert!(
        grads
            .input
            .iter()
            .chain(&grads.gamma)
            .chain(&grads.beta)
            .all(|&v| v == 0.0)
    );
}

/// The vectorisable `exp` of the GroupNorm kernels against `f64`'s, on a fine grid of the
/// range it serves ([-87, 88]): within 4 units in the last place of `f32` (Cephes states
/// ~1e-7 relative for its polynomial; the argument reduction adds a little).
#[test]
fn exp_f32_is_within_four_ulp_of_exp() {
    let ulp = f32::EPSILON as f64; // relative spacing of f32 near 1
    let mut worst = 0.0f64;
    let mut x = -87.0f32;
    while x <= 88.0 {
        let ours = cpu_kernels::exp_f32(x) as f64;
        let exact = (x as f64).exp();
        worst = worst.max(((ours - exact) / exact).abs());
        x += 1.0e-3;
    }
    assert!(
        worst < 4.0 * ulp,
        "worst relative error {worst:e} ({:.2} ulp)",
        worst / ulp
    );
    // outside the range it saturates rather than overflowing to inf or NaN
    assert!(cpu_kernels::exp_f32(1.0e4).is_finite());
    assert!(cpu_kernels::exp_f32(-1.0e4) >= 0.0);
}

/// A group as large as the `paper` U-Net's (4 channels of 28 x 28 = 3,136 values) far from
/// zero (mean 50, spread 0.1): the kernel's statistics, summed in `f32` lanes, still give
/// mean 0 and variance var / (var + eps) to 1e-5, as the definition computed in `f64` does.
#[test]
fn group_norm_is_accurate_for_large_groups_far_from_zero() {
    let mut rng = ChaCha8Rng::seed_from_u64(10);
    let g = NormGeometry {
        batch: 2,
        channels: 8,
        groups: 2,
        pixels: 28 * 28,
        epsilon: 1e-5,
    };
    let n = g.batch * g.channels * g.pixels;
    let x: Vec<f32> = random(n, &mut rng)
        .into_iter()
        .map(|v| 50.0 + 0.1 * v)
        .collect();
    let out = group_norm_forward(&g, &x, &[1.0; 8], &[0.0; 8], false);
    let group = 4 * 28 * 28;
    for (group_in, group_out) in x.chunks(group).zip(out.chunks(group)) {
        let m = group as f64;
        let mean_in = group_in.iter().map(|&v| v as f64).sum::<f64>() / m;
        let var_in = group_in
            .iter()
            .map(|&v| (v as f64 - mean_in).powi(2))
            .sum::<f64>()
            / m;
        let expected: Vec<f64> = group_in
            .iter()
            .map(|&v| (v as f64 - mean_in) / (var_in + 1e-5).sqrt())
            .collect();
        let err = group_out
            .iter()
            .zip(&expected)
            .fold(0.0f64, |e, (&a, &b)| e.max((a as f64 - b).abs()));
        // the mean rounded to f32 near 50 (up to 1.9e-6 off) moves xhat by up to 1.9e-6 / 0.058
        // = 3.3e-5; a variance lost to cancellation would be off by orders of magnitude more
        assert!(
            err < 1e-4,
            "largest error against the f64 definition {err:e}"
        );
    }
}

/// The dropout kernel's mask, by Monte Carlo with a fixed seed: the share of dropped elements
/// is `p` within 4 standard errors, kept ones are scaled by exactly `1 / (1 - p)`, the same
/// seed gives the same mask, and two seeds give masks that agree as independent draws do
/// (`p^2 + (1 - p)^2`, within 4 standard errors).
#[test]
fn dropout_kernel_drops_the_configured_share() {
    let n = 200_000;
    let x: Vec<f32> = (0..n).map(|i| 1.0 + (i % 7) as f32).collect();
    for p in [0.1, 0.5] {
        let out = cpu_kernels::dropout(&x, p, 12345);
        let dropped = out.iter().filter(|&&v| v == 0.0).count() as f64 / n as f64;
        let se = (p * (1.0 - p) / n as f64).sqrt();
        assert!(
            (dropped - p).abs() < 4.0 * se,
            "p {p}: dropped {dropped} (se {se:e})"
        );
        let scale = (1.0 / (1.0 - p)) as f32;
        for (o, v) in out.iter().zip(&x) {
            assert!(
                *o == 0.0 || *o == v * scale,
                "kept value {o} is not {v} x {scale}"
            );
        }
        assert_eq!(
            out,
            cpu_kernels::dropout(&x, p, 12345),
            "same seed, same mask"
        );
        let other = cpu_kernels::dropout(&x, p, 777);
        let agree = out
            .iter()
            .zip(&other)
            .filter(|(a, b)| (**a == 0.0) == (**b == 0.0))
            .count() as f64
            / n as f64;
        let q = p * p + (1.0 - p) * (1.0 - p);
        let se = (q * (1.0 - q) / n as f64).sqrt();
        assert!(
            (agree - q).abs() < 4.0 * se,
            "p {p}: masks agree on {agree}, expected {q}"
        );
    }
}

/// `fast::dropout` in a training graph: each output is 0 or x / (1 - p), the gradient of
/// sum(out r) is r times the same mask and scale, and outside training (no autodiff, or the
/// layer's training flag off) it is the identity, as burn's `Dropout` is.
#[test]
fn dropout_gradient_uses_the_forward_mask() {
    let device = Device::flex().autodiff();
    let layer = burn::nn::DropoutConfig::new(0.3).init();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let shape = [4, 8, 6, 6];
    let n: usize = shape.iter().product();
    let x_values: Vec<f32> = random(n, &mut rng).into_iter().map(|v| v + 2.0).collect();
    let r_values = random(n, &mut rng);
    let x = tensor4(x_values.clone(), shape, &device).require_grad();
    let out = fast::dropout(&layer, x.clone());
    let grads = (out.clone() * tensor4(r_values.clone(), shape, &device))
        .sum()
        .backward();
    let out = to_vec(out);
    let dx = to_vec(x.grad(&grads).unwrap());
    let scale = 1.0 / 0.7f32;
    let mut dropped = 0;
    for i in 0..n {
        if out[i] == 0.0 {
            dropped += 1;
            assert_eq!(dx[i], 0.0, "dropped element {i} has gradient {}", dx[i]);
        } else {
            assert!((out[i] - x_values[i] * scale).abs() < 1e-6 * out[i].abs());
            assert!(
                (dx[i] - r_values[i] * scale).abs() < 1e-6,
                "kept element {i}"
            );
        }
    }
    assert!(
        dropped > 0 && dropped < n,
        "the mask drops some and keeps some: {dropped} of {n}"
    );
    // not training: the identity
    let plain = tensor4(x_values.clone(), shape, &Device::flex());
    assert_eq!(to_vec(fast::dropout(&layer, plain)), x_values);
    let frozen = layer.clone().freeze();
    let on_training_device = tensor4(x_values.clone(), shape, &device);
    assert_eq!(to_vec(fast::dropout(&frozen, on_training_device)), x_values);
}
