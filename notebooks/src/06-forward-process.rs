// %% [markdown]
// # 6. The forward process
//
// **Goal.** The forward process adds Gaussian noise in $T$ small steps,
// $q(x_t\mid x_{t-1}) = \mathcal N(\sqrt{1-\beta_t}\,x_{t-1}, \beta_t I)$, and any step can be
// reached in one jump (Ho et al. 2020, Eq. (4)):
//
// $$q(x_t\mid x_0) = \mathcal N\big(\sqrt{\bar\alpha_t}\,x_0,\,(1-\bar\alpha_t)I\big),\qquad \bar\alpha_t = \prod_{s=1}^{t}(1-\beta_s).$$
//
// (The product starts at $s = 1$.) Chapter: `chapters/06-forward-process.md`.

// %%
// Builds the ddpm library from the repository root (math layers only: no burn).
:dep ddpm = { path = "..", default-features = false }

// %%
use ddpm::diffusion::NoiseSchedule;

let linear = NoiseSchedule::linear(1000).unwrap(); // beta from 1e-4 to 0.02 (Ho et al.)
let cosine = NoiseSchedule::cosine(1000).unwrap(); // Nichol & Dhariwal 2021, s = 0.008
let (snr_linear, snr_cosine) = (linear.snr(), cosine.snr());
println!("{:>5} {:>9} {:>14} {:>14} {:>11} {:>11}", "t", "beta_t", "alpha_bar lin", "alpha_bar cos", "SNR lin", "SNR cos");
for t in [1, 100, 250, 500, 750, 1000] {
    let i = t - 1; // slices are 0-based; the paper's t is 1-based
    println!("{t:>5} {:>9.6} {:>14.4e} {:>14.4e} {:>11.3e} {:>11.3e}", linear.beta()[i],
        linear.alpha_bar()[i], cosine.alpha_bar()[i], snr_linear[i], snr_cosine[i]);
}
println!("sum of beta_t (linear) = {:.4}", linear.beta().iter().sum::<f64>());

// %%
use ddpm::figures::{LineChart, Series};

// (A block: evcxr cannot keep closures between cells.)
{
    let curve = |s: &NoiseSchedule| -> Vec<(f64, f64)> {
        s.alpha_bar().iter().enumerate().map(|(i, &a)| ((i + 1) as f64, a)).collect()
    };
    LineChart::new("How much signal is left: alpha_bar_t", "t", "alpha_bar_t")
        .series(Series::line("linear schedule", curve(&linear)))
        .series(Series::dashed("cosine schedule", curve(&cosine)))
}

// %% [markdown]
// ## Noising a digit
//
// One MNIST digit from the embedded subset, scaled to $[-1, 1]$, noised with `q_sample` at
// $t = 0, 50, 100, 200, 300, 500, 700, 1000$ with the same $\epsilon$ (top row: linear schedule;
// bottom row: cosine).

// %%
use ddpm::diffusion::forward::{q_sample, standard_normal};
use ddpm::figures::ImageGrid;
use ddpm::ndarray::Array1;
use ddpm::rand::SeedableRng;
use ddpm::rand_chacha::ChaCha8Rng;

let train = ddpm::data::load_embedded(ddpm::data::Split::Train).unwrap();
let x0: Array1<f64> = train.to_symmetric_interval(0).iter().map(|&v| f64::from(v)).collect();
let mut rng = ChaCha8Rng::seed_from_u64(6);
let eps = standard_normal(ddpm::ndarray::Ix1(784), &mut rng);
let mut pixels: Vec<f64> = Vec::new();
for schedule in [&linear, &cosine] {
    for t in [0, 50, 100, 200, 300, 500, 700, 1000] {
        let x_t = if t == 0 { x0.clone() } else { q_sample(schedule, &x0, t, &eps) };
        pixels.extend(x_t.iter().map(|v| (v + 1.0) / 2.0)); // back to [0, 1] for display
    }
}
println!("digit label: {}", train.label(0));
ImageGrid::from_unit(&pixels, 16, 28, 28).unwrap().with_cols(8).unwrap().with_scale(3).unwrap()

// %% [markdown]
// ## One jump equals $t$ small steps
//
// Run 4000 independent chains of $t = 300$ small steps from $x_0 = 0.8$ with `q_chain` and
// compare their mean and variance with the one-jump marginal `q_mean_variance`.

// %%
use ddpm::diffusion::forward::{q_chain, q_mean_variance};
use ddpm::probability::monte_carlo::from_values;

let start = Array1::from_elem(4000, 0.8);
let mut rng = ChaCha8Rng::seed_from_u64(7);
let chains = q_chain(&linear, &start, 300, &mut rng);
let jump = q_mean_variance(&linear, &start, 300);
let mean = from_values(chains.as_slice().unwrap()).unwrap();
println!("mean:     chains {:.4} +- {:.4}, closed form {:.4}", mean.estimate, mean.std_error, jump.mean[0]);
println!("variance: chains {:.4}, closed form {:.4}", chains.var(1.0), jump.variance.get());

// %% [markdown]
// **What you should see.** $\bar\alpha_{1000} \approx 4\times 10^{-5}$ for the linear schedule:
// $x_{1000}$ is essentially $\mathcal N(0, I)$. The digit fades into noise, more slowly under
// the cosine schedule; the chains' mean and variance match the closed form within Monte Carlo
// error. Exercises: `src/exercises/ch06.rs`.
