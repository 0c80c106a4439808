//! Grader for chapter 12's exercises: compares with the network itself (`ddpm::network`) and
//! with burn's layers (output shapes, `num_params`). Each test panics on the unimplemented
//! stub.

mod exercise_support;

// The student's file; with `--features solutions`, the instructors' reference solution.
#[cfg(all(feature = "burn", not(feature = "solutions")))]
#[path = "../src/exercises/ch12.rs"]
mod ch12;
#[cfg(all(feature = "burn", feature = "solutions"))]
#[path = "../solutions/ch12.rs"]
mod ch12;

#[cfg(not(feature = "solutions"))]
const EXERCISE_FILE: &str = include_str!("../src/exercises/ch12.rs");
#[cfg(feature = "solutions")]
const EXERCISE_FILE: &str = include_str!("../solutions/ch12.rs");

/// The exercise file may not call the library (which computes most answers): see
/// `exercise_support`. When this fails the grader scores the whole chapter 0.
#[test]
fn exercise_file_is_self_contained() {
    exercise_support::assert_self_contained("ch12", EXERCISE_FILE);
}

/// Without burn these graders cannot run; fail rather than pass with no test at all.
#[cfg(not(feature = "burn"))]
#[test]
fn needs_the_burn_feature() {
    panic!("chapter 12's graders need the burn feature: grade without --no-default-features");
}

#[cfg(feature = "burn")]
mod graders {
    use super::ch12;

    use burn::module::Module;
    use burn::nn::PaddingConfig2d;
    use burn::nn::conv::Conv2dConfig;
    use burn::prelude::*;
    use ddpm::network::{UNetConfig, timestep_embedding};

    fn device() -> Device {
        Device::flex()
    }

    fn params(config: &UNetConfig) -> usize {
        config.init(&device()).unwrap().num_params()
    }

    #[test]
    fn exercise_12_1_timestep_embedding() {
        // The network's f32 embedding; 5e-4 covers the f32 rounding of angles up to 1000 radians
        // (the tolerance of tests/unet.rs::timestep_embedding_matches_closed_form).
        let ts = [1.0, 7.0, 250.0, 1000.0];
        for dim in [4usize, 8, 32] {
            let t = Tensor::<1>::from_floats(ts, &device());
            let want: Vec<f32> = timestep_embedding(t, dim)
                .into_data()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .unwrap();
            for (row, &t) in ts.iter().enumerate() {
                let got = ch12::timestep_embedding(t, dim);
                assert_eq!(got.len(), dim, "dim {dim}");
                for (i, g) in got.iter().enumerate() {
                    let w = f64::from(want[row * dim + i]);
                    assert!(
                        (g - w).abs() < 5e-4,
                        "t = {t}, dim = {dim}, component {i}: {g} vs the network's {w}"
                    );
                }
            }
        }
    }

    #[test]
    fn exercise_12_2_conv_output_size() {
        // burn's Conv2d applied to a zero image: the output side it actually produces.
        for (n, k, s, p) in [
            (28, 3, 2, 1),
            (14, 3, 2, 1),
            (7, 3, 2, 1),
            (28, 3, 1, 1),
            (28, 5, 1, 0),
            (28, 1, 1, 0),
            (9, 4, 3, 2),
            (10, 2, 2, 0),
        ] {
            let conv = Conv2dConfig::new([1, 1], [k, k])
                .with_stride([s, s])
                .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
                .init(&device());
            let out = conv.forward(Tensor::<4>::zeros([1, 1, n, n], &device()));
            let [_, _, h, w] = out.dims();
            assert_eq!(h, w);
            assert_eq!(
                ch12::conv_output_size(n, k, s, p),
                h,
                "n = {n}, kernel {k}, stride {s}, padding {p}"
            );
        }
    }

    #[test]
    fn exercise_12_3_attention_block_params() {
        // Removing the attention resolutions removes the attention blocks of the levels (the
        // middle one stays): `tiny` has 3 at 14x14 on 16 channels (1 down, 2 up), `paper` 5 at 7x7
        // on 64 channels (2 down, 3 up), `small` 3 at 7x7 on 32 channels (1 down, 2 up).
        for (config, blocks, channels) in [
            (UNetConfig::tiny(), 3, 16),
            (UNetConfig::small(), 3, 32),
            (UNetConfig::paper(), 5, 64),
        ] {
            let without = UNetConfig {
                attention_resolutions: vec![],
                ..config.clone()
            };
            let removed = params(&config) - params(&without);
            assert_eq!(
                blocks * ch12::attention_block_params(channels),
                removed,
                "{blocks} attention blocks on {channels} channels"
            );
        }
    }

    #[test]
    fn exercise_12_4_residual_block_params() {
        // One more residual block per level adds known blocks (see the skip stack in chapter 12).
        let rb = ch12::residual_block_params;
        for base in [8usize, 16] {
            let temb = 4 * base;
            // One level (no downsampling): one more down block c -> c and one more up block
            // 2c -> c (its input is concatenated with a skip of c channels).
            let one = |blocks| UNetConfig::new(base, vec![1], blocks, vec![]);
            let added = params(&one(2)) - params(&one(1));
            assert_eq!(
                rb(base, base, temb) + rb(2 * base, base, temb),
                added,
                "one level, base {base}"
            );
            // Two levels (b, 2b channels): down b -> b and 2b -> 2b; up 4b -> 2b and 2b -> b.
            // The up blocks change the channel count, so they have the 1x1 skip convolution.
            let two = |blocks| UNetConfig::new(base, vec![1, 2], blocks, vec![]);
            let added = params(&two(2)) - params(&two(1));
            let b = base;
            assert_eq!(
                rb(b, b, temb)
                    + rb(2 * b, 2 * b, temb)
                    + rb(4 * b, 2 * b, temb)
                    + rb(2 * b, b, temb),
                added,
                "two levels, base {base}"
            );
        }
    }
}
