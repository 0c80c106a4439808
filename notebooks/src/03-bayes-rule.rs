// %% [markdown]
// # 3. Bayes' rule
//
// **Goal.** Update a Gaussian prior on a mean with Gaussian observations, once by algebra
// (conjugacy: precisions add) and once by brute force on a grid, and check they agree.
//
// $$\frac{1}{\tau_n^2} = \frac{1}{\tau_0^2} + \frac{n}{\sigma^2},\qquad \mu_n = \tau_n^2\left(\frac{\mu_0}{\tau_0^2} + \frac{\sum_i x_i}{\sigma^2}\right).$$
//
// Chapter: `chapters/03-bayes-rule.md`. The same computation gives the forward-process
// posterior of chapter 7.

// %%
// Builds the ddpm library from the repository root (math layers only: no burn).
:dep ddpm = { path = "..", default-features = false }

// %%
use ddpm::probability::{bayes::gaussian_log_evidence, gaussian_posterior, grid_posterior, Gaussian, Grid};

// Prior N(0, 2^2), noise variance 1.5, five observations (the chapter's problem).
let (prior, noise, data) = ddpm::book_figures::part1::chapter3_problem().unwrap();
let exact = gaussian_posterior(&prior, noise, &data).unwrap();
println!("{:<22} {:>14} {:>14} {:>15}", "method", "mean", "variance", "log p(x)");
println!("{:<22} {:>14.10} {:>14.10} {:>15.10}", "conjugate formula",
    exact.mean(), exact.variance().get(), gaussian_log_evidence(&prior, noise, &data).unwrap());
for n in [81, 4001] {
    let grid = Grid::new(-10.0, 10.0, n).unwrap();
    let brute = grid_posterior(
        &grid,
        |t| prior.log_density(t),
        |t| data.iter().map(|&x| Gaussian::new(t, noise).unwrap().log_density(x)).sum(),
    )
    .unwrap();
    println!("{:<22} {:>14.10} {:>14.10} {:>15.10}", format!("grid, {n} points"),
        brute.mean(), brute.variance(), brute.log_evidence());
};

// %% [markdown]
// Because the posterior is again Gaussian, it can be the prior for the next observation:
// one point at a time gives the same answer as all at once.

// %%
let mut belief = prior;
for &x in &data {
    belief = gaussian_posterior(&belief, noise, &[x]).unwrap();
    println!("after x = {x}: mean {:.6}, variance {:.6}", belief.mean(), belief.variance().get());
}
assert!((belief.mean() - exact.mean()).abs() < 1e-12);

// %%
ddpm::book_figures::part1::grid_vs_conjugate().unwrap()

// %% [markdown]
// **What you should see.** Mean 1.2093023256, variance 0.2790697674 and
// $\log p(x) = -7.9828276444$ from all three methods: even 81 grid points agree to ten digits.
// Exercises: `src/exercises/ch03.rs`.
