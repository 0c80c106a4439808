// %% [markdown]
// # 4. Monte Carlo estimation
//
// **Goal.** Estimate an expectation by an average over samples and know its error:
//
// $$\hat\mu_K = \frac1K\sum_{k=1}^K f(x_k),\qquad \mathrm{SE} = \frac{\hat s}{\sqrt K}.$$
//
// The error falls as $K^{-1/2}$ whatever the dimension. Chapter: `chapters/04-monte-carlo.md`.

// %%
// Builds the ddpm library from the repository root (math layers only: no burn).
:dep ddpm = { path = "..", default-features = false }

// %% [markdown]
// $D_{\mathrm{KL}}(\mathcal N(0,1)\,\|\,\mathcal N(1, 1.5^2))$ by Monte Carlo, against the closed
// form of chapter 2 (each $K$ with a fresh generator seeded with 2):

// %%
use ddpm::probability::{monte_carlo::monte_carlo_kl, Gaussian};
use ddpm::rand::SeedableRng;
use ddpm::rand_chacha::ChaCha8Rng;

let p = Gaussian::from_mean_std(0.0, 1.0).unwrap();
let q = Gaussian::from_mean_std(1.0, 1.5).unwrap();
println!("closed form: {:.5}", p.kl(&q));
println!("{:>9} {:>10} {:>10} {:>14}", "K", "estimate", "std error", "|error| / SE");
for k in [100, 10_000, 1_000_000] {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let e = monte_carlo_kl(&p, &q, k, &mut rng).unwrap();
    println!("{k:>9} {:>10.5} {:>10.5} {:>14.2}", e.estimate, e.std_error,
        (e.estimate - p.kl(&q)).abs() / e.std_error);
};

// %% [markdown]
// Any expectation works the same way with `monte_carlo`: here $\mathbb E[x^2] = 1$ for
// $x \sim \mathcal N(0, 1)$.

// %%
use ddpm::probability::monte_carlo::monte_carlo;

let mut rng = ChaCha8Rng::seed_from_u64(4);
let standard = Gaussian::standard();
let second_moment = monte_carlo(10_000, &mut rng, |r| standard.sample(r).powi(2)).unwrap();
println!("E[x^2] ~ {:.4} +- {:.4} (truth 1; within 4 SE: {})",
    second_moment.estimate, second_moment.std_error, second_moment.within(1.0, 4.0));

// %% [markdown]
// ## The $1/\sqrt K$ law
//
// Root-mean-square error over 200 runs at each $K$; on log-log axes the slope is $-1/2$.

// %%
use ddpm::probability::monte_carlo::fit_line;

let points = ddpm::book_figures::part1::monte_carlo_error_points().unwrap();
let (log_k, log_e): (Vec<f64>, Vec<f64>) = points.iter().map(|(k, e)| (k.ln(), e.ln())).unzip();
let (slope, _) = fit_line(&log_k, &log_e).unwrap();
println!("least-squares slope of log RMSE against log K: {slope:.4}");

// %%
ddpm::book_figures::part1::monte_carlo_error().unwrap()

// %% [markdown]
// **What you should see.** The estimates approach 0.34991 with standard errors 100 times
// smaller at $K = 10^6$ than at $K = 10^2$; the slope is close to $-0.5$.
// Exercises: `src/exercises/ch04.rs`.
