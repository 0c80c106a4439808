// %% [markdown]
// # 12. The U-Net
//
// **Goal.** Build the noise predictor $\epsilon_\theta(x_t, t)$: a U-Net (Ho et al. 2020,
// Appendix B) scaled to 28x28 MNIST, told the noise level through a sinusoidal timestep
// embedding. Count its parameters, look at the embedding, and follow a batch through it.
// Chapter: `chapters/12-unet.md`.
//
// This notebook needs burn: the first cell compiles it inside the kernel (long the first
// time; see `notebooks/README.md`).

// %%
// Builds the ddpm library with burn (the U-Net, training, sampling); the first run
// compiles burn inside the kernel, which takes a while (see notebooks/README.md).
:dep ddpm = { path = "..", default-features = false, features = ["burn"] }

// %% [markdown]
// ## Presets and their size
//
// `UNetConfig` holds the hyper-parameters; the presets are `tiny` (tests, CI), `small` (the
// default CPU run) and `paper` (Ho et al.'s recipe, two residual blocks per level and attention
// at one resolution, at a quarter of their width and one level fewer: base 32, multipliers
// (1, 2, 2), attention at 7x7; 1.6M parameters against their 35.7M).

// %%
use ddpm::burn::prelude::*; // Device, Tensor, TensorData, Module (num_params), ...
use ddpm::network::{UNet, UNetConfig};

let device: Device = Device::flex(); // burn's CPU backend
println!("{:<6} {:>5} {:>12} {:>7} {:>10} {:>11}", "preset", "base", "multipliers", "blocks", "attention", "parameters");
for name in UNetConfig::PRESETS {
    let config = UNetConfig::preset(name).unwrap();
    let parameters = config.init(&device).unwrap().num_params();
    println!("{name:<6} {:>5} {:>12} {:>7} {:>10} {parameters:>11}", config.base_channels,
        format!("{:?}", config.channel_mults), config.num_res_blocks,
        format!("{:?}", config.attention_resolutions));
}
assert_eq!(UNetConfig::paper().init(&device).unwrap().num_params(), 1_623_169);
// A configuration the network cannot be built from is refused with a message:
println!("{}", UNetConfig::paper().with_norm_groups(5).validate().unwrap_err());

// %% [markdown]
// ## The timestep embedding
//
// With $h = d/2$ frequencies $\omega_i = 10000^{-i/(h-1)}$,
// $\mathrm{emb}(t) = (\sin t\omega_0, \dots, \sin t\omega_{h-1}, \cos t\omega_0, \dots, \cos t\omega_{h-1})$.
// Low indices oscillate fast, high ones slowly. Here $d = 32$ (the `paper` preset's width),
// four of the sine components over $t = 1..1000$:

// %%
use ddpm::figures::{LineChart, Series};
use ddpm::network::timestep_embedding;

let d = 32;
let t_all = Tensor::<1>::from_data(TensorData::new((1..=1000).map(|t| t as f32).collect::<Vec<f32>>(), [1000]), &device);
let emb: Vec<f32> = timestep_embedding(t_all, d).into_data().convert::<f32>().try_to_vec::<f32>().unwrap(); // [1000, d], row t - 1
let mut chart = LineChart::new("Sinusoidal timestep embedding, d = 32: sin(t w_i)", "t", "emb(t)_i").size(800, 420);
for i in [3usize, 6, 9, 12] {
    let curve: Vec<(f64, f64)> = (0..1000).map(|row| ((row + 1) as f64, f64::from(emb[row * d + i]))).collect();
    chart = chart.series(Series::line(format!("component i = {i}"), curve));
}
chart

// %% [markdown]
// Each pair $(\sin t\omega_i, \cos t\omega_i)$ is a point on a circle and $t \to t + k$ rotates it
// by $k\omega_i$, so the distance between $\mathrm{emb}(t)$ and $\mathrm{emb}(t+k)$ depends on $k$
// only, not on $t$:

// %%
// (A block: evcxr cannot keep closures between cells.)
{
    let row = |t: usize| &emb[(t - 1) * d..t * d];
    let distance = |a: usize, b: usize| -> f64 {
        row(a).iter().zip(row(b)).map(|(x, y)| f64::from(x - y).powi(2)).sum::<f64>().sqrt()
    };
    for k in [1, 5, 50] {
        let (near_start, near_end) = (distance(10, 10 + k), distance(900, 900 + k));
        println!("k = {k:>2}: |emb(10) - emb(10 + k)| = {near_start:.4}, |emb(900) - emb(900 + k)| = {near_end:.4}");
        assert!((near_start - near_end).abs() < 2e-3); // f32 angles of ~1000 rad round to ~1e-4
    }
};

// %% [markdown]
// ## A forward pass
//
// A batch of two noise images at $t = 1$ and $t = 1000$ through the `paper` network, with the
// shape after every stage (`forward_traced`). The output has the input's shape: it is the
// predicted noise.

// %%
use std::time::Instant;

let trace: Vec<(String, [usize; 4])> = {
    let paper: UNet = UNetConfig::paper().init(&device).unwrap();
    let x = Tensor::<4>::random([2, 1, 28, 28], ddpm::burn::tensor::Distribution::Normal(0.0, 1.0), &device);
    let t = Tensor::<1>::from_floats([1.0, 1000.0], &device);
    let mut trace = Vec::new();
    let out = paper.forward_traced(x, t, Some(&mut trace));
    assert_eq!(out.dims(), [2, 1, 28, 28]);
    trace
};
for (stage, shape) in &trace {
    println!("{stage:<17} {shape:?}");
}
assert_eq!(trace.first().unwrap(), &("conv_in".to_string(), [2, 32, 28, 28]));
assert_eq!(trace.iter().find(|(s, _)| s == "middle").unwrap().1, [2, 64, 7, 7]);

// %% [markdown]
// Every preset maps a batch of images to a batch of images; the time of one forward pass of 16 images:

// %%
for name in UNetConfig::PRESETS {
    let model: UNet = UNetConfig::preset(name).unwrap().init(&device).unwrap();
    let x = Tensor::<4>::zeros([16, 1, 28, 28], &device);
    let t = Tensor::<1>::full([16], 500.0, &device);
    let start = Instant::now();
    let out = model.forward(x, t);
    let dims = out.dims();
    let finite = out.into_data().convert::<f32>().try_to_vec::<f32>().unwrap().iter().all(|v| v.is_finite());
    println!("{name:<6} output {dims:?}, all finite: {finite}, {:.0} ms", start.elapsed().as_secs_f64() * 1e3);
    assert!(dims == [16, 1, 28, 28] && finite);
};

// %% [markdown]
// **What you should see.** `paper` has exactly 1,623,169 parameters (chapter 12 counts them
// layer by layer). The embedding's low components oscillate quickly and its high ones barely
// move over $1..1000$; the distances agree for both $t$. The shapes go 28 → 14 → 7 and back, with
// 64 channels at 7x7. Exercises: chapter 12.
