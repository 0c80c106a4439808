// %% [markdown]
// # 10. The SDE view
//
// **Goal.** As $T\to\infty$ the forward chain becomes the variance-preserving SDE
// $dx = -\tfrac12\beta(\tau)x\,d\tau + \sqrt{\beta(\tau)}\,dw$ (Song et al. 2021). A noise
// predictor is a score, $\nabla_x\log q_t(x) = -\epsilon^*(x_t, t)/\sqrt{1-\bar\alpha_t}$, and
// samples can be drawn with the reverse SDE or, deterministically, with the probability-flow ODE
//
// $$\frac{dx}{d\tau} = -\tfrac12\beta(\tau)\big(x + \nabla_x\log q_\tau(x)\big).$$
//
// Chapter: `chapters/10-sde-view.md`.

// %%
// Builds the ddpm library from the repository root (math layers only: no burn).
:dep ddpm = { path = "..", default-features = false }

// %%
use ddpm::diffusion::{NoiseSchedule, sde::VpSde};

let schedule = NoiseSchedule::linear(1000).unwrap();
let sde = VpSde::from_schedule(&schedule);
for t in [1, 250, 500, 1000] {
    let tau = t as f64 / 1000.0;
    println!("t = {t:>4}: alpha_bar(t/T) = {:.8}, schedule alpha_bar_t = {:.8}; beta(tau) = {:.4} ~ T beta_t = {:.4}",
        sde.alpha_bar(tau), schedule.alpha_bar()[t - 1], sde.beta(tau), 1000.0 * schedule.beta()[t - 1]);
};

// %% [markdown]
// Tweedie's formula: the exact noise predictor of the 2-D mixture, turned into a score with
// `score_from_noise`, equals the score of the noised mixture computed directly.

// %%
use ddpm::diffusion::{forward::standard_normal, mixture::GaussianMixture, sde::score_from_noise};
use ddpm::ndarray::{Array2, Ix2};
use ddpm::rand::SeedableRng;
use ddpm::rand_chacha::ChaCha8Rng;

let data = GaussianMixture::book_2d();
let mut rng = ChaCha8Rng::seed_from_u64(10);
let x = standard_normal(Ix2(5, 2), &mut rng);
for alpha_bar in [0.9, 0.5, 0.1] {
    let via_noise = score_from_noise(&data.optimal_noise(alpha_bar, &x), alpha_bar);
    let direct = data.noised(alpha_bar).score(&x);
    let diff = (&via_noise - &direct).iter().fold(0.0f64, |m, d| m.max(d.abs()));
    println!("alpha_bar = {alpha_bar}: max difference {diff:.2e}");
};

// %% [markdown]
// Sample the mixture three ways from the same 1000 starting points: the reverse SDE
// (Euler-Maruyama, 1000 steps), the probability-flow ODE (Heun, 100 steps) and, for
// comparison, DDPM's ancestral sampler (1000 steps).

// %%
use ddpm::diffusion::reverse::{p_sample_loop, ReverseOptions, VarianceKind};
use ddpm::diffusion::sde::{probability_flow_heun, reverse_sde_euler_maruyama};

let mut rng = ChaCha8Rng::seed_from_u64(11);
let x_init = standard_normal(Ix2(1000, 2), &mut rng);
// (Blocks: evcxr cannot keep closures or borrowing values between cells.)
let (sde_samples, ode_samples): (Array2<f64>, Array2<f64>) = {
    let score = |x: &Array2<f64>, tau: f64| data.noised(sde.alpha_bar(tau)).score(x);
    (reverse_sde_euler_maruyama(&sde, score, x_init.clone(), 1000, &mut rng).unwrap(),
     probability_flow_heun(&sde, score, x_init, 100).unwrap())
};
let ddpm_samples: Array2<f64> = {
    let denoiser = data.denoiser(&schedule);
    p_sample_loop(&schedule, &denoiser, Ix2(1000, 2), ReverseOptions::unclipped(VarianceKind::Beta), &mut rng)
};
for (name, samples) in [("reverse SDE", &sde_samples), ("probability-flow ODE", &ode_samples), ("DDPM ancestral", &ddpm_samples)] {
    let mut counts = vec![0usize; 3];
    for k in data.classify(samples) {
        counts[k] += 1;
    }
    let fractions: Vec<f64> = counts.iter().map(|&c| c as f64 / 1000.0).collect();
    println!("{name:<21} fractions {fractions:.3?} (weights {:?})", data.weights());
};

// %%
use ddpm::figures::{LegendPosition, LineChart, Series};

let mut chart = LineChart::new("Three samplers, one score", "x[0]", "x[1]")
    .size(700, 600)
    .legend(LegendPosition::UpperLeft);
for (name, x) in [("reverse SDE (1000 steps)", &sde_samples),
                  ("probability-flow ODE (100 Heun steps)", &ode_samples),
                  ("DDPM ancestral (1000 steps)", &ddpm_samples)] {
    let cloud: Vec<(f64, f64)> = x.rows().into_iter().map(|r| (r[0], r[1])).collect();
    chart = chart.series(Series::points(name, cloud));
}
chart

// %% [markdown]
// **What you should see.** The SDE's $\bar\alpha(t/T)$ equals the schedule's at every grid
// point, and $\beta(\tau) \approx T\beta_t$ runs from 0.1 to 20. The two score routes agree to
// rounding error. All three samplers put about $(0.25, 0.45, 0.30)$ of their points on the
// three components. Exercises: `src/exercises/ch10.rs`.
