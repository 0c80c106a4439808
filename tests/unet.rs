//! Chapter 12: the U-Net. Shapes at every level, the exact parameter count of the `paper`
//! preset, the timestep embedding against its closed form, schedule tensors against the f64
//! schedule, configuration errors, and save -> load.

use approx::assert_relative_eq;
use burn::module::Module;
use burn::prelude::*;
use ddpm::diffusion::schedule::NoiseSchedule;
use ddpm::network::{
    ScheduleTensors, UNetConfig, UNetConfigError, depth_to_space, space_to_depth,
    timestep_embedding, upsample_nearest_2x,
};
use ddpm::workflows::checkpoint::{load_module, save_module};

fn device() -> Device {
    Device::flex()
}

fn to_vec<const D: usize>(x: Tensor<D>) -> Vec<f32> {
    x.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

#[test]
fn paper_preset_has_exactly_1_623_169_parameters() {
    // The count of Ho et al.'s layout scaled to 28x28 (base 32, mults 1,2,2, 2 blocks, attention
    // at 7x7), tallied by hand layer by layer: time MLP 20,736; conv_in 320; down path,
    // middle, up path and output head make up the rest (chapter 12 lists the sum).
    let model = UNetConfig::paper().init(&device()).unwrap();
    assert_eq!(model.num_params(), 1_623_169);
    // The same per-layer formulas (chapter 12) for the other presets.
    assert_eq!(
        UNetConfig::small().init(&device()).unwrap().num_params(),
        280_177
    );
    assert_eq!(
        UNetConfig::tiny().init(&device()).unwrap().num_params(),
        44_969
    );
    // `patched`: time MLP 20,736; conv_in 4 -> 32 (1,184); four ResBlock(32, 32), three
    // attention blocks, four ResBlock(64, 32), the stride-2 and upsampling convs, and a head
    // that ends in 32 -> 4 channels.
    assert_eq!(
        UNetConfig::patched().init(&device()).unwrap().num_params(),
        286_244
    );
}

#[test]
fn patches_move_each_pixel_to_its_channel_and_back() {
    // Two images of two channels, 4x6 pixels, every value distinct: value = index.
    let (b, c, h, w, p) = (2, 2, 4, 6, 2);
    let n = b * c * h * w;
    let x = Tensor::<4>::from_data(
        TensorData::new((0..n).map(|i| i as f32).collect::<Vec<_>>(), [b, c, h, w]),
        &device(),
    );
    let patched = space_to_depth(x.clone(), p);
    assert_eq!(patched.dims(), [b, c * p * p, h / p, w / p]);
    let got = to_vec(patched.clone());
    // Pixel (y p + i, x p + j) of channel ch goes to pixel (y, x) of channel ch p^2 + i p + j.
    for n_ in 0..b {
        for ch in 0..c {
            for y in 0..h / p {
                for x_ in 0..w / p {
                    for i in 0..p {
                        for j in 0..p {
                            let source = ((n_ * c + ch) * h + y * p + i) * w + x_ * p + j;
                            let k = ch * p * p + i * p + j;
                            let target = ((n_ * c * p * p + k) * (h / p) + y) * (w / p) + x_;
                            assert_eq!(got[target], source as f32, "({n_},{ch},{y},{x_},{i},{j})");
                        }
                    }
                }
            }
        }
    }
    assert_eq!(to_vec(depth_to_space(patched, p)), to_vec(x));
}

#[test]
fn a_config_written_before_patches_existed_reads_as_unpatched() {
    let mut json = serde_json::to_value(UNetConfig::small()).unwrap();
    assert!(json["patch_size"].is_null(), "{json}");
    json.as_object_mut().unwrap().remove("patch_size");
    let read: UNetConfig = serde_json::from_value(json).unwrap();
    assert_eq!(read, UNetConfig::small());
    assert_eq!(read.patch(), 1);
    let patched = serde_json::to_value(UNetConfig::patched()).unwrap();
    assert_eq!(patched["patch_size"], 2);
}

/// Asserts the `(stage, shape)` trace of a forward pass of 2 images through a fresh `config`
/// network, and that the output has the images' shape.
fn assert_trace(config: UNetConfig, expected: &[(&str, [usize; 4])]) {
    let model = config.init(&device()).unwrap();
    let x = Tensor::<4>::zeros([2, 1, 28, 28], &device());
    let t = Tensor::<1>::from_floats([1.0, 1000.0], &device());
    let mut trace = Vec::new();
    let out = model.forward_traced(x, t, Some(&mut trace));
    assert_eq!(out.dims(), [2, 1, 28, 28]);
    let got: Vec<(&str, [usize; 4])> = trace.iter().map(|(s, d)| (s.as_str(), *d)).collect();
    assert_eq!(got, expected);
}

#[test]
#[should_panic(expected = "a 28x28 image cannot be cut into 3x3 patches")]
fn patches_that_do_not_tile_the_image_are_refused_by_name() {
    space_to_depth(Tensor::<4>::zeros([1, 1, 28, 28], &device()), 3);
}

#[test]
#[should_panic(expected = "6 channels cannot be 2x2 patches")]
fn channels_that_are_not_whole_patches_are_refused_by_name() {
    depth_to_space(Tensor::<4>::zeros([1, 6, 14, 14], &device()), 2);
}

#[test]
fn patched_preset_runs_its_levels_at_14_and_7() {
    let expected: Vec<(&str, [usize; 4])> = vec![
        ("conv_in", [2, 32, 14, 14]),
        ("down0.block0", [2, 32, 14, 14]),
        ("down0.downsample", [2, 32, 7, 7]),
        ("down1.block0", [2, 32, 7, 7]),
        ("middle", [2, 32, 7, 7]),
        ("up1.block0", [2, 32, 7, 7]),
        ("up1.block1", [2, 32, 7, 7]),
        ("up1.upsample", [2, 32, 14, 14]),
        ("up0.block0", [2, 32, 14, 14]),
        ("up0.block1", [2, 32, 14, 14]),
        ("conv_out", [2, 1, 28, 28]),
    ];
    assert_trace(UNetConfig::patched(), &expected);
}

#[test]
fn paper_preset_shapes_at_every_level() {
    let expected: Vec<(&str, [usize; 4])> = vec![
        ("conv_in", [2, 32, 28, 28]),
        ("down0.block0", [2, 32, 28, 28]),
        ("down0.block1", [2, 32, 28, 28]),
        ("down0.downsample", [2, 32, 14, 14]),
        ("down1.block0", [2, 64, 14, 14]),
        ("down1.block1", [2, 64, 14, 14]),
        ("down1.downsample", [2, 64, 7, 7]),
        ("down2.block0", [2, 64, 7, 7]),
        ("down2.block1", [2, 64, 7, 7]),
        ("middle", [2, 64, 7, 7]),
        ("up2.block0", [2, 64, 7, 7]),
        ("up2.block1", [2, 64, 7, 7]),
        ("up2.block2", [2, 64, 7, 7]),
        ("up2.upsample", [2, 64, 14, 14]),
        ("up1.block0", [2, 64, 14, 14]),
        ("up1.block1", [2, 64, 14, 14]),
        ("up1.block2", [2, 64, 14, 14]),
        ("up1.upsample", [2, 64, 28, 28]),
        ("up0.block0", [2, 32, 28, 28]),
        ("up0.block1", [2, 32, 28, 28]),
        ("up0.block2", [2, 32, 28, 28]),
        ("conv_out", [2, 1, 28, 28]),
    ];
    assert_trace(UNetConfig::paper(), &expected);
}

#[test]
fn every_preset_maps_images_to_images() {
    for name in UNetConfig::PRESETS {
        let config = UNetConfig::preset(name).unwrap();
        let model = config.init(&device()).unwrap();
        let out = model.forward(
            Tensor::zeros([3, 1, 28, 28], &device()),
            Tensor::from_floats([1.0, 2.0, 3.0], &device()),
        );
        assert_eq!(out.dims(), [3, 1, 28, 28], "preset {name}");
    }
}

#[test]
fn timestep_embedding_matches_closed_form() {
    // Closed form (Vaswani et al. 2017; Ho et al.'s get_timestep_embedding), in f64:
    // emb[i] = sin(t w_i), emb[h + i] = cos(t w_i), w_i = exp(-ln(10000) i / (h - 1)).
    let dim = 32;
    let half = dim / 2;
    let ts = [1.0f64, 7.0, 250.0, 1000.0];
    let emb = timestep_embedding(
        Tensor::from_floats([1.0f32, 7.0, 250.0, 1000.0], &device()),
        dim,
    );
    assert_eq!(emb.dims(), [4, dim]);
    let got = to_vec(emb);
    for (row, &t) in ts.iter().enumerate() {
        for i in 0..half {
            let w = (-(10000f64.ln()) * i as f64 / (half as f64 - 1.0)).exp();
            // f32 angles up to 1000 rad carry ~1e-4 absolute error.
            assert!((f64::from(got[row * dim + i]) - (t * w).sin()).abs() < 5e-4);
            assert!((f64::from(got[row * dim + half + i]) - (t * w).cos()).abs() < 5e-4);
        }
    }
}

#[test]
fn nearest_upsampling_copies_each_pixel_into_a_2x2_patch() {
    let x = Tensor::<4>::from_data(
        TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0], [1, 1, 2, 2]),
        &device(),
    );
    let y = to_vec(upsample_nearest_2x(x));
    #[rustfmt::skip]
    let expected = [1.0, 1.0, 2.0, 2.0,
                    1.0, 1.0, 2.0, 2.0,
                    3.0, 3.0, 4.0, 4.0,
                    3.0, 3.0, 4.0, 4.0];
    assert_eq!(y, expected);
}

#[test]
fn schedule_tensors_equal_the_f64_schedule() {
    let schedule = NoiseSchedule::linear(1000).unwrap();
    let tensors = ScheduleTensors::new(&schedule, &device());
    let pairs: [(&Tensor<1>, &[f64]); 8] = [
        (&tensors.beta, schedule.beta()),
        (&tensors.alpha_bar, schedule.alpha_bar()),
        (&tensors.sqrt_alpha_bar, schedule.sqrt_alpha_bar()),
        (
            &tensors.sqrt_one_minus_alpha_bar,
            schedule.sqrt_one_minus_alpha_bar(),
        ),
        (&tensors.posterior_variance, schedule.posterior_variance()),
        (
            &tensors.posterior_log_variance_clipped,
            schedule.posterior_log_variance_clipped(),
        ),
        (
            &tensors.posterior_mean_coef1,
            schedule.posterior_mean_coef1(),
        ),
        (
            &tensors.posterior_mean_coef2,
            schedule.posterior_mean_coef2(),
        ),
    ];
    for (tensor, reference) in pairs {
        let got = to_vec(tensor.clone());
        assert_eq!(got.len(), 1000);
        for (g, r) in got.iter().zip(reference) {
            // f32 rounding: relative 2^-24.
            assert_relative_eq!(f64::from(*g), *r, max_relative = 1e-7);
        }
    }
    // extract picks t - 1: t = 1 is beta_1 = 1e-4, t = 1000 is beta_T = 0.02.
    let t = Tensor::<1, Int>::from_data(TensorData::new(vec![1i64, 1000], [2]), &device());
    let picked = to_vec(ScheduleTensors::extract(&tensors.beta, &t));
    assert_relative_eq!(picked[0], 1e-4, max_relative = 1e-6);
    assert_relative_eq!(picked[1], 0.02, max_relative = 1e-6);
}

#[test]
fn q_sample_tensor_matches_closed_form() {
    let schedule = NoiseSchedule::linear(1000).unwrap();
    let tensors = ScheduleTensors::new(&schedule, &device());
    let x0 = Tensor::<4>::ones([2, 1, 2, 2], &device()).mul_scalar(0.5);
    let eps = Tensor::<4>::ones([2, 1, 2, 2], &device()).mul_scalar(-1.0);
    let t = Tensor::<1, Int>::from_data(TensorData::new(vec![10i64, 900], [2]), &device());
    let x_t = to_vec(tensors.q_sample(x0, &t, eps));
    // Independent: alpha_bar_t = prod_{s<=t} (1 - beta_s), beta linear 1e-4..0.02.
    let beta = |s: usize| 1e-4 + (0.02 - 1e-4) * (s - 1) as f64 / 999.0;
    for (k, t) in [10usize, 900].into_iter().enumerate() {
        let abar: f64 = (1..=t).map(|s| 1.0 - beta(s)).product();
        let expected = abar.sqrt() * 0.5 - (1.0 - abar).sqrt();
        for j in 0..4 {
            assert_relative_eq!(f64::from(x_t[k * 4 + j]), expected, max_relative = 1e-5);
        }
    }
}

#[test]
fn bad_configs_give_clear_errors() {
    let err = UNetConfig::paper()
        .with_norm_groups(3)
        .validate()
        .unwrap_err();
    assert!(matches!(
        err,
        UNetConfigError::GroupsDoNotDivide {
            channels: 32,
            groups: 3,
            ..
        }
    ));
    assert!(
        err.to_string().contains("divisible by norm_groups"),
        "{err}"
    );

    let err = UNetConfig::paper()
        .with_image_size(30)
        .validate()
        .unwrap_err();
    assert!(
        matches!(err, UNetConfigError::ImageSizeNotDivisible { .. }),
        "{err}"
    );

    // 28 cannot be cut into 3x3 patches; 2x2 patches of a 28-pixel side give 14, which three
    // levels cannot halve twice.
    let err = UNetConfig::small()
        .with_patch_size(Some(3))
        .validate()
        .unwrap_err();
    assert!(err.to_string().contains("3x3 patches"), "{err}");
    let err = UNetConfig::small()
        .with_patch_size(Some(2))
        .validate()
        .unwrap_err();
    assert!(
        matches!(
            err,
            UNetConfigError::ImageSizeNotDivisible {
                patch_size: 2,
                divisor: 8,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        UNetConfig::small().with_patch_size(Some(0)).validate(),
        Err(UNetConfigError::Empty("patch_size"))
    );

    let err = UNetConfig {
        attention_resolutions: vec![5],
        ..UNetConfig::paper()
    }
    .validate()
    .unwrap_err();
    assert!(err.to_string().contains("attention resolution 5"), "{err}");

    let err = UNetConfig::paper()
        .with_dropout(1.0)
        .validate()
        .unwrap_err();
    assert_eq!(err, UNetConfigError::Dropout(1.0));

    assert!(
        UNetConfig {
            channel_mults: vec![],
            ..UNetConfig::paper()
        }
        .init(&device())
        .is_err()
    );
    assert!(
        UNetConfig {
            num_res_blocks: 0,
            ..UNetConfig::paper()
        }
        .validate()
        .is_err()
    );
    for name in UNetConfig::PRESETS {
        UNetConfig::preset(name).unwrap().validate().unwrap();
    }
}

#[test]
fn save_then_load_gives_identical_outputs() {
    let dir = std::env::temp_dir().join(format!("ddpm-unet-save-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("tiny.bpk");
    let config = UNetConfig::tiny();
    let model = config.init(&device()).unwrap();
    let x = Tensor::<4>::random(
        [2, 1, 28, 28],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &device(),
    );
    let t = Tensor::<1>::from_floats([3.0, 700.0], &device());
    let before = to_vec(model.forward(x.clone(), t.clone()));
    save_module(&model, &path).unwrap();
    // A fresh network has different weights ...
    let fresh = config.init(&device()).unwrap();
    assert_ne!(to_vec(fresh.forward(x.clone(), t.clone())), before);
    // ... until the saved ones are loaded.
    let loaded = load_module(fresh, &path).unwrap();
    assert_eq!(to_vec(loaded.forward(x, t)), before);

    // Weights of another shape are refused with a message, not a panic.
    let other = UNetConfig {
        base_channels: 16,
        ..UNetConfig::tiny()
    }
    .init(&device())
    .unwrap();
    let err = load_module(other, &path).unwrap_err();
    assert!(err.to_string().contains("another network"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
