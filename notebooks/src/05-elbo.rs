// %% [markdown]
// # 5. The evidence lower bound
//
// **Goal.** For any $q(z)$,
//
// $$\log p(x) = \underbrace{\mathbb E_{q}\big[\log p(x,z) - \log q(z)\big]}_{\mathrm{ELBO}(q)} + D_{\mathrm{KL}}\big(q(z)\,\|\,p(z\mid x)\big),$$
//
// so the ELBO is a lower bound whose gap is a KL. We check it on
// $z \sim \mathcal N(0,1)$, $x\mid z \sim \mathcal N(wz + b, s^2)$, where everything is exact.
// Chapter: `chapters/05-elbo.md`.

// %%
// Builds the ddpm library from the repository root (math layers only: no burn).
:dep ddpm = { path = "..", default-features = false }

// %%
use ddpm::probability::{Gaussian, Variance};
use ddpm::rand::SeedableRng;
use ddpm::rand_chacha::ChaCha8Rng;

// w = 1.5, b = -0.5, s^2 = 0.5, observed x = 1 (the chapter's model).
let (model, x) = ddpm::book_figures::part1::chapter5_model().unwrap();
let posterior = model.posterior(x).unwrap();
println!("log p(x) = {:.6}; posterior N({:.6}, {:.6})",
    model.log_evidence(x), posterior.mean(), posterior.variance().get());

// %% [markdown]
// Three choices of $q$: the prior, a too-wide $q$, and the posterior. The gap
// $\log p(x) - \mathrm{ELBO}(q)$ equals $D_{\mathrm{KL}}(q\,\|\,p(z\mid x))$ in every row; the Monte
// Carlo ELBO ($K = 10^4$) agrees with the closed form within its error bar.

// %%
let qs = [
    ("prior N(0, 1)", Gaussian::standard()),
    ("N(post mean, 4 post var)", Gaussian::new(posterior.mean(),
        Variance::new(4.0 * posterior.variance().get()).unwrap()).unwrap()),
    ("posterior", posterior),
];
let mut rng = ChaCha8Rng::seed_from_u64(5);
println!("{:<25} {:>10} {:>8} {:>10} {:>9} {:>9} {:>20}",
    "q", "recon", "KL prior", "ELBO", "gap", "KL post", "Monte Carlo ELBO");
for (name, q) in &qs {
    let terms = model.elbo(x, q);
    let mc = model.monte_carlo_elbo(x, q, 10_000, &mut rng).unwrap();
    println!("{name:<25} {:>10.6} {:>8.6} {:>10.6} {:>9.6} {:>9.6} {:>11.4} +- {:.4}",
        terms.reconstruction, terms.kl_to_prior, terms.elbo(), model.gap(x, q),
        q.kl(&posterior), mc.estimate, mc.std_error);
};

// %%
ddpm::book_figures::part1::elbo_vs_log_evidence().unwrap()

// %% [markdown]
// ## EM never decreases the likelihood
//
// Fit the model by expectation-maximisation to 500 samples of chapter 2's bimodal mixture,
// starting from $(w, b, s^2) = (0.3, 0, 1)$.

// %%
use ddpm::probability::{GaussianMixture, LinearGaussianModel};

let mut rng = ChaCha8Rng::seed_from_u64(5);
let samples = GaussianMixture::chapter2_example().sample_n(&mut rng, 500);
let mut fit = LinearGaussianModel::new(0.3, 0.0, Variance::new(1.0).unwrap()).unwrap();
for step in 0..=8 {
    println!("step {step}: log-likelihood {:>10.2}  (w, b, s^2) = ({:.4}, {:.4}, {:.4})",
        fit.log_likelihood(&samples), fit.w(), fit.b(), fit.noise().get());
    fit = fit.em_step(&samples).unwrap();
};

// %% [markdown]
// **What you should see.** $\log p(x) = -1.833830$; the gap column equals the KL column; the
// ELBO touches $\log p(x)$ only at the posterior. EM's log-likelihood rises and then stays put:
// a linear-Gaussian model can only match the data's mean and variance.
// Exercises: `src/exercises/ch05.rs`.
