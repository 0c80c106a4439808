// %% [markdown]
// # 2. KL divergence
//
// **Goal.** Compute entropy, cross-entropy and KL; see that KL is not symmetric; and watch
// the asymmetry at work when one Gaussian is fitted to a bimodal mixture.
//
// $$D_{\mathrm{KL}}(q\,\|\,p) = \sum_i q_i \log\frac{q_i}{p_i} = -H(q) + H(q, p) \ge 0.$$
//
// Chapter: `chapters/02-kl-divergence.md`.

// %%
// Builds the ddpm library from the repository root (math layers only: no burn).
:dep ddpm = { path = "..", default-features = false }

// %% [markdown]
// The worked pair of the chapter, $p = (0.9, 0.1)$ and $q = (0.5, 0.5)$:

// %%
use ddpm::probability::{cross_entropy, discrete_kl, entropy};

let (p, q) = ([0.9, 0.1], [0.5, 0.5]);
println!("H(p) = {:.6}, H(p, q) = {:.6}", entropy(&p).unwrap(), cross_entropy(&p, &q).unwrap());
println!("KL(p || q) = {:.6}", discrete_kl(&p, &q).unwrap());
println!("KL(q || p) = {:.6}", discrete_kl(&q, &p).unwrap());
println!("KL(p || p) = {:.6}", discrete_kl(&p, &p).unwrap());
// Bad input is an error that says what is wrong, not a silent number:
println!("{}", discrete_kl(&[0.5, 0.6], &q).unwrap_err());

// %% [markdown]
// ## Two Gaussians in closed form
//
// $$D_{\mathrm{KL}}(\mathcal N(\mu_1,\sigma_1^2)\,\|\,\mathcal N(\mu_2,\sigma_2^2)) = \frac12\left(\log\frac{\sigma_2^2}{\sigma_1^2} - 1 + \frac{\sigma_1^2 + (\mu_1-\mu_2)^2}{\sigma_2^2}\right)$$
//
// `normal_kl` takes means and *log*-variances, as in Ho et al.'s code; `Gaussian::kl` wraps it.

// %%
use ddpm::probability::{normal_kl, Gaussian};

let a = Gaussian::from_mean_std(0.0, 1.0).unwrap();
let b = Gaussian::from_mean_std(1.0, 1.5).unwrap();
println!("KL(a || b) = {:.6}", a.kl(&b));
println!("normal_kl  = {:.6}", normal_kl(a.mean(), a.log_variance(), b.mean(), b.log_variance()));
println!("KL(b || a) = {:.6}", b.kl(&a));

// %% [markdown]
// ## Forward vs reverse KL
//
// Fit $q = \mathcal N(\mu, \sigma^2)$ to $p = 0.7\,\mathcal N(-2, 0.6^2) + 0.3\,\mathcal N(2, 0.6^2)$.
// Forward KL $\min_q D_{\mathrm{KL}}(p\,\|\,q)$ is moment matching (mass-covering); reverse KL
// $\min_q D_{\mathrm{KL}}(q\,\|\,p)$ settles on one mode (mode-seeking), which one depending on
// the start.

// %%
use ddpm::probability::{GaussianMixture, Grid};

let p = GaussianMixture::chapter2_example();
let grid = Grid::new(-12.0, 12.0, 4001).unwrap();
let fits = [
    ("forward (moment matching)", p.fit_forward_kl().unwrap()),
    ("reverse, from mu = -0.5", p.fit_reverse_kl(&Gaussian::from_mean_std(-0.5, 1.0).unwrap()).unwrap()),
    ("reverse, from mu = +1.5", p.fit_reverse_kl(&Gaussian::from_mean_std(1.5, 0.5).unwrap()).unwrap()),
];
println!("{:<27} {:>8} {:>8} {:>10} {:>10}", "fit", "mu", "sigma", "KL(p||q)", "KL(q||p)");
for (name, q) in &fits {
    println!("{name:<27} {:>8.4} {:>8.4} {:>10.4} {:>10.4}",
        q.mean(), q.std_dev().get(), p.forward_kl(q, &grid), p.reverse_kl(q));
}
println!("-log 0.7 = {:.4}, -log 0.3 = {:.4}", -(0.7f64).ln(), -(0.3f64).ln());

// %%
ddpm::book_figures::part1::forward_vs_reverse_kl().unwrap()

// %% [markdown]
// The reverse KL is $-H(q) + H(q, p)$: the first term wants $q$ wide, the second wants $q$ on
// $p$'s mass. For $q = \mathcal N(-2, \sigma^2)$ their sum is smallest near the mode's own
// width, $0.6$:

// %%
ddpm::book_figures::part1::reverse_kl_terms().unwrap()

// %% [markdown]
// **What you should see.** $D_{\mathrm{KL}}(p\|q) = 0.368064$ and $D_{\mathrm{KL}}(q\|p) = 0.510826$;
// the forward fit sits in the valley at $\mu = -0.8$, the reverse fits on one mode each, with
// KL close to $-\log \pi_k$. Exercises: `src/exercises/ch02.rs`.
