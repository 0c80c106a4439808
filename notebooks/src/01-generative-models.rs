// %% [markdown]
// # 1. Generative models
//
// **Goal.** A generative model $p_\theta(x)$ is fitted to data by maximum likelihood, and the
// expected negative log-likelihood splits into the data's entropy (a constant) plus a KL
// divergence:
//
// $$\mathbb E_{p_{\text{data}}}\big[-\log p_\theta(x)\big] = H(p_{\text{data}}) + D_{\mathrm{KL}}\big(p_{\text{data}}\,\|\,p_\theta\big).$$
//
// So maximum likelihood minimises the *forward* KL from the data to the model. Chapter:
// `chapters/01-generative-models.md`.

// %%
// Builds the ddpm library from the repository root (math layers only: no burn).
:dep ddpm = { path = "..", default-features = false }

// %% [markdown]
// A "data" distribution over four outcomes and two candidate models. The cross-entropy
// $H(p_{\text{data}}, p_\theta)$ is the expected negative log-likelihood; it equals entropy plus KL,
// and the better model has the lower value.

// %%
use ddpm::probability::{cross_entropy, discrete_kl, entropy};

let data = [0.1, 0.4, 0.4, 0.1];
let good = [0.15, 0.35, 0.35, 0.15];
let bad = [0.4, 0.1, 0.1, 0.4];
println!("H(data) = {:.6} nats", entropy(&data).unwrap());
println!("{:>6} {:>12} {:>12} {:>16}", "model", "NLL", "KL", "H(data) + KL");
for (name, model) in [("good", good), ("bad", bad)] {
    let nll = cross_entropy(&data, &model).unwrap();
    let kl = discrete_kl(&data, &model).unwrap();
    println!("{name:>6} {nll:>12.6} {kl:>12.6} {:>16.6}", entropy(&data).unwrap() + kl);
    assert!((nll - (entropy(&data).unwrap() + kl)).abs() < 1e-12);
};

// %% [markdown]
// **What you should see.** The last two columns agree to $10^{-12}$, and the good model's
// negative log-likelihood is lower. The remaining chapters of Part I build the tools DDPM needs:
// KL (chapter 2), Bayes' rule (3), Monte Carlo (4) and the ELBO (5).
