// %% [markdown]
// # 7. The forward-process posterior
//
// **Goal.** Given both $x_0$ and $x_t$, the previous step is Gaussian in closed form
// (Ho et al. 2020, Eqs. (6)-(7)):
//
// $$q(x_{t-1}\mid x_t, x_0) = \mathcal N\big(\tilde\mu_t(x_t, x_0), \tilde\beta_t I\big),\quad
// \tilde\mu_t = \frac{\sqrt{\bar\alpha_{t-1}}\,\beta_t}{1-\bar\alpha_t}x_0 + \frac{\sqrt{\alpha_t}(1-\bar\alpha_{t-1})}{1-\bar\alpha_t}x_t,\quad
// \tilde\beta_t = \frac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}\beta_t.$$
//
// It is chapter 3's conjugate update: prior $q(x_{t-1}\mid x_0)$, likelihood $q(x_t\mid x_{t-1})$.
// Chapter: `chapters/07-posterior.md`.

// %%
// Builds the ddpm library from the repository root (math layers only: no burn).
:dep ddpm = { path = "..", default-features = false }

// %% [markdown]
// Check the closed form against brute-force Bayes on a grid (chapter 3's `grid_posterior`),
// for $x_0 = 0.8$ and an $x_t$ drawn from $q(x_t\mid x_0)$:

// %%
use ddpm::diffusion::{NoiseSchedule, forward::{q_sample, standard_normal}, posterior::q_posterior_mean_variance};
use ddpm::ndarray::{arr1, Ix1};
use ddpm::probability::{grid_posterior, Gaussian, Grid, Variance};
use ddpm::rand::SeedableRng;
use ddpm::rand_chacha::ChaCha8Rng;

let schedule = NoiseSchedule::linear(1000).unwrap();
let x0 = arr1(&[0.8]);
let mut rng = ChaCha8Rng::seed_from_u64(7);
let grid = Grid::new(-6.0, 6.0, 4001).unwrap();
println!("{:>5} {:>9} {:>12} {:>12} {:>12} {:>12}", "t", "x_t", "mean", "grid mean", "variance", "grid var");
for t in [2, 10, 100, 500, 1000] {
    let x_t = q_sample(&schedule, &x0, t, &standard_normal(Ix1(1), &mut rng));
    let post = q_posterior_mean_variance(&schedule, &x0, &x_t, t);
    let (i, ab_prev) = (t - 1, schedule.alpha_bar_prev()[t - 1]);
    // prior q(x_{t-1} | x_0) and likelihood q(x_t | x_{t-1}), from the schedule's values
    let prior = Gaussian::new(ab_prev.sqrt() * x0[0], Variance::new(1.0 - ab_prev).unwrap()).unwrap();
    let beta = Variance::new(schedule.beta()[i]).unwrap();
    let brute = grid_posterior(&grid, |y| prior.log_density(y),
        |y| Gaussian::new(schedule.alpha()[i].sqrt() * y, beta).unwrap().log_density(x_t[0])).unwrap();
    println!("{t:>5} {:>9.4} {:>12.6} {:>12.6} {:>12.8} {:>12.8}",
        x_t[0], post.mean[0], brute.mean(), post.variance, brute.variance());
};

// %% [markdown]
// The coefficients of the posterior mean and the ratio $\tilde\beta_t/\beta_t$, as in the
// chapter's table:

// %%
println!("{:>5} {:>8} {:>8} {:>17}", "t", "coef1", "coef2", "beta_tilde/beta");
for t in [2, 10, 100, 1000] {
    let i = t - 1;
    println!("{t:>5} {:>8.4} {:>8.4} {:>17.4}", schedule.posterior_mean_coef1()[i],
        schedule.posterior_mean_coef2()[i], schedule.posterior_variance()[i] / schedule.beta()[i]);
};

// %% [markdown]
// $\tilde\beta_t \le \beta_t$, with equality in the limit of large $t$; they differ most at small
// $t$ ($\tilde\beta_1 = 0$). These are the two variance choices of the reverse process (chapter 8).

// %%
use ddpm::figures::{LineChart, Series};

// (A block: evcxr cannot keep closures between cells.)
{
    let t_axis = |v: &[f64]| -> Vec<(f64, f64)> {
        v.iter().enumerate().skip(1).map(|(i, &y)| ((i + 1) as f64, y)).collect()
    };
    LineChart::new("Reverse-step variances (t >= 2)", "t", "variance")
        .log_log(true)
        .series(Series::line("beta_t", t_axis(schedule.beta())))
        .series(Series::dashed("posterior variance beta_tilde_t", t_axis(schedule.posterior_variance())))
}

// %% [markdown]
// The posterior mean mixes $x_0$ and $x_t$ with `posterior_mean_coef1` and
// `posterior_mean_coef2`:

// %%
{
    let t_axis = |v: &[f64]| -> Vec<(f64, f64)> {
        v.iter().enumerate().skip(1).map(|(i, &y)| ((i + 1) as f64, y)).collect()
    };
    LineChart::new("Posterior mean = coef1 * x_0 + coef2 * x_t", "t", "coefficient")
        .series(Series::line("posterior_mean_coef1 (x_0)", t_axis(schedule.posterior_mean_coef1())))
        .series(Series::dashed("posterior_mean_coef2 (x_t)", t_axis(schedule.posterior_mean_coef2())))
}

// %% [markdown]
// **What you should see.** The closed form and the grid agree to about six digits at every
// $t$. Near $t = 1$ the posterior mean is almost $x_t$ itself; late in the chain $x_0$ pulls
// harder. Exercises: `src/exercises/ch07.rs`.
