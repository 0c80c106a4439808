// %% [markdown]
// # 9. The variational bound
//
// **Goal.** Write the negative ELBO of chapter 5 for diffusion as a sum of per-step terms
// (Ho et al. 2020, Eq. (5)):
//
// $$L = \underbrace{D_{\mathrm{KL}}(q(x_T\mid x_0)\,\|\,p(x_T))}_{L_T} + \sum_{t=2}^{T}\underbrace{D_{\mathrm{KL}}(q(x_{t-1}\mid x_t,x_0)\,\|\,p_\theta(x_{t-1}\mid x_t))}_{L_{t-1}} \underbrace{- \log p_\theta(x_0\mid x_1)}_{L_0},$$
//
// each a KL between Gaussians (chapter 2) except the discretised decoder $L_0$, and report it
// in bits per dimension. Chapter: `chapters/09-variational-bound.md`.

// %%
// Builds the ddpm library from the repository root (math layers only: no burn).
:dep ddpm = { path = "..", default-features = false }

// %% [markdown]
// $L_{t-1}$ is a weighted squared error in the noise (Eq. (12)); $L_{\text{simple}}$ (Eq. (14))
// drops the weight. The weight is largest at small $t$:

// %%
use ddpm::diffusion::{NoiseSchedule, bound::loss_weight, reverse::VarianceKind};
use ddpm::figures::{LineChart, Series};

let schedule = NoiseSchedule::linear(1000).unwrap();
println!("{:>5} {:>16} {:>22}", "t", "sigma^2 = beta", "sigma^2 = beta_tilde");
for t in [2, 10, 100, 500, 1000] {
    println!("{t:>5} {:>16.4e} {:>22.4e}", loss_weight(&schedule, t, VarianceKind::Beta),
        loss_weight(&schedule, t, VarianceKind::PosteriorBeta));
}
// (A block: evcxr cannot keep closures between cells.)
{
    let weights = |v: VarianceKind| -> Vec<(f64, f64)> {
        (2..=1000).map(|t| (t as f64, loss_weight(&schedule, t, v))).collect()
    };
    LineChart::new("Weight of ||eps - eps_theta||^2 in L_(t-1)", "t", "weight")
        .log_log(true)
        .series(Series::line("sigma_t^2 = beta_t", weights(VarianceKind::Beta)))
        .series(Series::dashed("sigma_t^2 = posterior variance", weights(VarianceKind::PosteriorBeta)))
        .series(Series::dashed("L_simple: 1", vec![(2.0, 1.0), (1000.0, 1.0)]))
}

// %% [markdown]
// ## The bound for one digit, for two "models"
//
// The terms for one MNIST digit $x_0$ (on the pixel grid in $[-1, 1]$), for two noise
// predictors that need no training:
//
// - an **oracle** that returns the true $\epsilon$ (it cheats: it knows $x_0$). Its means are
//   exact, so each $L_{t-1}$ is only the variance mismatch $C_t$ between $\tilde\beta_t$ and
//   $\sigma_t^2 = \beta_t$; this is the floor of the bound for fixed variances;
// - a **zero** predictor, $\epsilon_\theta = 0$, a model that learned nothing.
//
// Each $L_{t-1}$ uses one sample $x_t \sim q(x_t\mid x_0)$: a one-sample Monte Carlo estimate
// (chapter 4) of the sum over $t$.

// %%
use ddpm::diffusion::bound::{bits_per_dim, decoder_nll, posterior_kl, prior_kl, variance_mismatch_kl};
use ddpm::diffusion::forward::{q_sample, standard_normal};
use ddpm::ndarray::{Array1, Ix1};
use ddpm::rand::SeedableRng;
use ddpm::rand_chacha::ChaCha8Rng;

let train = ddpm::data::load_embedded(ddpm::data::Split::Train).unwrap();
let x0: Array1<f64> = train.to_symmetric_interval(1).iter().map(|&v| f64::from(v)).collect();
let d = x0.len();
let one_pixel = prior_kl(&schedule, &ddpm::ndarray::arr1(&[1.0, 0.0]));
println!("L_T per pixel: x_0 = 1: {:.4e} bits, x_0 = 0: {:.4e} bits",
    ddpm::diffusion::bound::nats_to_bits(one_pixel[0]), ddpm::diffusion::bound::nats_to_bits(one_pixel[1]));
let l_t = prior_kl(&schedule, &x0).sum();
println!("L_T = {l_t:.6} nats for the whole image: q(x_T | x_0) is almost N(0, I)");
for model in ["oracle", "zero"] {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let mut middle = 0.0;
    for t in 2..=1000 {
        let eps = standard_normal(Ix1(d), &mut rng);
        let x_t = q_sample(&schedule, &x0, t, &eps);
        let pred = if model == "oracle" { eps } else { Array1::zeros(d) };
        middle += posterior_kl(&schedule, &x0, &x_t, t, &pred, VarianceKind::Beta).sum();
    }
    let eps = standard_normal(Ix1(d), &mut rng);
    let x_1 = q_sample(&schedule, &x0, 1, &eps);
    let pred = if model == "oracle" { eps } else { Array1::zeros(d) };
    let l_0 = decoder_nll(&schedule, &x0, &x_1, &pred, VarianceKind::Beta).sum();
    let total = l_t + middle + l_0;
    println!("{model:>6}: sum L_(t-1) = {middle:>10.1} nats, L_0 = {l_0:>8.1} nats, bound = {:.3} bits/dim",
        bits_per_dim(total, d));
}
let floor: f64 = (2..=1000).map(|t| variance_mismatch_kl(&schedule, t, VarianceKind::Beta)).sum();
println!("sum of C_t times {d} pixels = {:.1} nats (the oracle's middle terms)", floor * d as f64);

// %% [markdown]
// **What you should see.** The oracle's middle terms equal $784\sum_t C_t$ exactly (the
// variance mismatch), and its bound is far below the zero predictor's. A trained network
// (Part III) lands in between; chapter 15 measures it. Exercises: `src/exercises/ch09.rs`.
