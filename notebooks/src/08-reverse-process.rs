// %% [markdown]
// # 8. The reverse process
//
// **Goal.** Generate by running the chain backwards from $x_T \sim \mathcal N(0, I)$ with
// $p_\theta(x_{t-1}\mid x_t) = \mathcal N(\mu_\theta(x_t, t), \sigma_t^2 I)$, where the mean comes
// from a noise prediction (Ho et al. 2020, Eq. (11)):
//
// $$\mu_\theta(x_t, t) = \frac{1}{\sqrt{\alpha_t}}\left(x_t - \frac{\beta_t}{\sqrt{1-\bar\alpha_t}}\,\epsilon_\theta(x_t, t)\right).$$
//
// No reference $x_0$ is needed to generate. For a Gaussian mixture the best possible
// $\epsilon_\theta$ is known exactly, so we can sample without training anything.
// Chapter: `chapters/08-reverse-process.md`.

// %%
// Builds the ddpm library from the repository root (math layers only: no burn).
:dep ddpm = { path = "..", default-features = false }

// %% [markdown]
// With the *true* noise, Eq. (11) recovers the posterior mean $\tilde\mu_t$ of chapter 7 exactly:

// %%
use ddpm::diffusion::{NoiseSchedule, forward::{q_sample, standard_normal}, posterior::q_posterior_mean_variance};
use ddpm::diffusion::reverse::{p_mean_variance, ReverseOptions, VarianceKind};
use ddpm::ndarray::{arr1, Ix1};
use ddpm::rand::SeedableRng;
use ddpm::rand_chacha::ChaCha8Rng;

let schedule = NoiseSchedule::linear(1000).unwrap();
let mut rng = ChaCha8Rng::seed_from_u64(8);
let x0 = arr1(&[0.7, -0.2, 0.1]);
let eps = standard_normal(Ix1(3), &mut rng);
for t in [2, 100, 900] {
    let x_t = q_sample(&schedule, &x0, t, &eps);
    let p = p_mean_variance(&schedule, &x_t, t, &eps, ReverseOptions::unclipped(VarianceKind::Beta));
    let q = q_posterior_mean_variance(&schedule, &x0, &x_t, t);
    let diff = (&p.mean - &q.mean).iter().fold(0.0f64, |m, d| m.max(d.abs()));
    println!("t = {t:>3}: max |mu_theta - mu_tilde| = {diff:.2e}; sigma_t^2 = beta_t = {:.6}", p.variance);
};

// %% [markdown]
// ## Sampling a 2-D mixture with the exact denoiser
//
// `GaussianMixture::book_2d()` has three components; `denoiser` gives
// $\epsilon^*(x_t, t) = \mathbb E[\epsilon\mid x_t]$, the minimiser of the training loss.
// `p_sample_loop_trajectory` runs all 1000 steps for 500 points and keeps a few snapshots.

// %%
use ddpm::diffusion::mixture::GaussianMixture;
use ddpm::diffusion::reverse::p_sample_loop_trajectory;
use ddpm::ndarray::{Array2, Ix2};

let data = GaussianMixture::book_2d();
let mut rng = ChaCha8Rng::seed_from_u64(8);
let trajectory: Vec<(usize, Array2<f64>)> = {
    let denoiser = data.denoiser(&schedule);
    p_sample_loop_trajectory(&schedule, &denoiser, Ix2(500, 2),
        ReverseOptions::unclipped(VarianceKind::Beta), &[1000, 300, 100, 0], &mut rng)
};
let reference = data.sample(500, &mut rng);
for (t, x) in &trajectory {
    println!("t = {t:>4}: mean ({:+.3}, {:+.3})", x.column(0).mean().unwrap(), x.column(1).mean().unwrap());
};

// %%
use ddpm::figures::{LegendPosition, LineChart, Series};

let mut chart = LineChart::new("Reverse process: x_t for t = 1000, 300, 100, 0", "x[0]", "x[1]")
    .size(700, 600)
    .x_range(-3.5, 3.5)
    .y_range(-3.5, 3.5)
    .legend(LegendPosition::UpperLeft);
for (t, x) in &trajectory {
    let cloud: Vec<(f64, f64)> = x.rows().into_iter().map(|r| (r[0], r[1])).collect();
    chart = chart.series(Series::points(format!("t = {t}"), cloud));
}
chart

// %% [markdown]
// The fraction of generated points attributed to each component should match the weights
// $(0.25, 0.45, 0.30)$, for either variance choice $\sigma_t^2 = \beta_t$ or $\tilde\beta_t$:

// %%
use ddpm::diffusion::reverse::p_sample_loop;

for variance in [VarianceKind::Beta, VarianceKind::PosteriorBeta] {
    let mut rng = ChaCha8Rng::seed_from_u64(80);
    let samples: Array2<f64> = {
        let denoiser = data.denoiser(&schedule);
        p_sample_loop(&schedule, &denoiser, Ix2(1000, 2), ReverseOptions::unclipped(variance), &mut rng)
    };
    let mut counts = vec![0usize; data.weights().len()];
    for k in data.classify(&samples) {
        counts[k] += 1;
    }
    let fractions: Vec<f64> = counts.iter().map(|&c| c as f64 / 1000.0).collect();
    println!("{variance:?}: fractions {fractions:.3?} vs weights {:?}", data.weights());
};

// %% [markdown]
// **What you should see.** At $t = 1000$ the points are a round standard normal cloud; by
// $t = 0$ they sit on the three components in the right proportions (within about
// $\pm 0.03$, the binomial error for 1000 points). Exercises: `src/exercises/ch08.rs`.
