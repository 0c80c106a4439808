// %% [markdown]
// # 11. Errata and notes
//
// **Goal.** The source post (a Korean review of the DDPM paper) and other widely read
// explanations state a few formulas wrongly or loosely. For each slip, compute the written
// form and the correct one with the library and see which one the numbers support.
// `tests/errata.rs` asserts the same facts. Chapter: `chapters/11-errata.md`.

// %%
// Builds the ddpm library from the repository root (math layers only: no burn).
:dep ddpm = { path = "..", default-features = false }

// %% [markdown]
// ## 1. $\bar\alpha_t$ is a product from $s = 1$, not $s = 0$
//
// Written: $\bar\alpha_t = \prod_{s=0}^{t}\alpha_s$. Correct: $\bar\alpha_t = \prod_{s=1}^{t}\alpha_s$
// (Ho et al. 2020, above Eq. (4)); the chain's first step is $q(x_1\mid x_0)$ with $\beta_1$, and
// there is no $\beta_0$. On a short schedule with large betas ($\beta$ from 0.1 to 0.3, $T = 10$)
// one extra factor is visible: run 20,000 chains of 5 steps from $x_0 = 1$ with `q_chain` and
// compare their mean with $\sqrt{\bar\alpha_5}$ both ways.

// %%
use ddpm::diffusion::{BetaSchedule, NoiseSchedule, forward::{q_chain, q_mean_variance}};
use ddpm::ndarray::{arr1, Array1};
use ddpm::probability::monte_carlo::from_values;
use ddpm::rand::SeedableRng;
use ddpm::rand_chacha::ChaCha8Rng;

let short = NoiseSchedule::new(BetaSchedule::Linear { beta_start: 0.1, beta_end: 0.3 }, 10).unwrap();
println!("alpha_bar_1 = {:.6}, 1 - beta_1 = {:.6}: the product starts at s = 1",
    short.alpha_bar()[0], 1.0 - short.beta()[0]);
let t = 5;
let mut rng = ChaCha8Rng::seed_from_u64(11);
let chains = q_chain(&short, &Array1::from_elem(20_000, 1.0), t, &mut rng);
let mean = from_values(chains.as_slice().unwrap()).unwrap();
let right = short.alpha_bar()[t - 1].sqrt();
let wrong = (short.alpha_bar()[t - 1] * short.alpha()[0]).sqrt(); // one extra factor
println!("mean of x_5 over 20,000 chains: {:.4} +- {:.4}", mean.estimate, mean.std_error);
println!("sqrt(alpha_bar_5), s = 1..5: {right:.4} ({:+.1} standard errors away)",
    (mean.estimate - right) / mean.std_error);
println!("with an extra s = 0 factor:  {wrong:.4} ({:+.1} standard errors away)",
    (mean.estimate - wrong) / mean.std_error);
assert!((mean.estimate - right).abs() < 4.0 * mean.std_error);
assert!((mean.estimate - wrong).abs() > 5.0 * mean.std_error);
assert_eq!(q_mean_variance(&short, &arr1(&[1.0]), t).mean[0], right);

// %% [markdown]
// ## 2. Generating does not need a reference image $x_0$
//
// Written: the reverse process needs the original $x_0$ to denoise. Correct: ancestral
// sampling (Algorithm 2) starts from $x_T \sim \mathcal N(0, I)$ and only evaluates
// $\epsilon_\theta(x_t, t)$; $x_0$ appears in *training*. `p_sample_loop` takes a schedule, a
// denoiser, a shape, options and random numbers, and nothing else. With the exact denoiser of
// chapter 8's 1-D mixture, two seeds give different samples, both spread over the three modes
// in the mixture's proportions.

// %%
use ddpm::diffusion::{mixture::GaussianMixture, reverse::{p_sample_loop, ReverseOptions, VarianceKind}};
use ddpm::ndarray::{Array2, Ix2};

let data_1d = GaussianMixture::book_1d();
let schedule = NoiseSchedule::linear(1000).unwrap();
let mut first_samples: Vec<Vec<f64>> = Vec::new();
for seed in [1, 2] {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let samples: Array2<f64> = {
        let denoiser = data_1d.denoiser(&schedule);
        p_sample_loop(&schedule, &denoiser, Ix2(2000, 1), ReverseOptions::unclipped(VarianceKind::Beta), &mut rng)
    };
    let mut counts = vec![0usize; data_1d.weights().len()];
    for k in data_1d.classify(&samples) {
        counts[k] += 1;
    }
    let fractions: Vec<f64> = counts.iter().map(|&c| c as f64 / 2000.0).collect();
    first_samples.push(samples.iter().take(4).copied().collect());
    println!("seed {seed}: first samples {:.3?}, fractions per mode {fractions:.3?} (weights {:?})",
        first_samples.last().unwrap(), data_1d.weights());
    for (f, w) in fractions.iter().zip(data_1d.weights()) {
        assert!((f - w).abs() < 0.05, "{f} vs {w}"); // about 4.5 binomial standard errors
    }
}
assert_ne!(first_samples[0], first_samples[1]);

// %% [markdown]
// ## 3. The sign and scale of the score
//
// Written (loosely): "the noise predictor is the score", or $s = \epsilon/(1-\bar\alpha_t)$.
// Correct: $\nabla_x\log q_t(x) = -\,\mathbb E[\epsilon\mid x_t = x]/\sqrt{1-\bar\alpha_t}$ (the
// noise points away from the data, the score towards it; the scale is a standard deviation).
// Compare every form with the exact score of the noised 2-D mixture at $\bar\alpha = 0.3$:

// %%
use ddpm::diffusion::sde::score_from_noise;
use ddpm::ndarray::arr2;

let data_2d = GaussianMixture::book_2d();
let x = arr2(&[[0.5, 0.5], [-1.0, 0.2], [0.3, 1.5]]);
let alpha_bar = 0.3;
let eps = data_2d.optimal_noise(alpha_bar, &x); // E[eps | x_t = x], the ideal noise predictor
let exact = data_2d.noised(alpha_bar).score(&x); // grad log q_t(x), computed directly
let forms = [
    ("-eps / sqrt(1 - abar)  (correct)", score_from_noise(&eps, alpha_bar)),
    ("eps  (\"the predictor is the score\")", eps.clone()),
    ("eps / (1 - abar)  (as written)", &eps / (1.0 - alpha_bar)),
    ("+eps / sqrt(1 - abar)  (sign wrong)", &eps / (1.0 - alpha_bar).sqrt()),
    ("-eps / (1 - abar)  (scale wrong)", &eps * (-1.0 / (1.0 - alpha_bar))),
];
for (i, (name, score)) in forms.iter().enumerate() {
    let error = (score - &exact).mapv(f64::abs).sum();
    println!("{name:<38} total |error| = {error:.2e}");
    assert!(if i == 0 { error < 1e-9 } else { error > 0.1 });
};

// %% [markdown]
// ## 4. $\sigma_t^2$ is a fixed choice, and there are two
//
// Written (loosely): the reverse variance is "the forward variance", or is learned. Correct:
// DDPM fixes $\sigma_t^2 = \beta_t$ or $\sigma_t^2 = \tilde\beta_t = \frac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}\beta_t$
// (Sec. 3.2). They differ most at small $t$ and agree at large $t$, and the choice changes the
// weight of $L_{t-1}$ (chapter 9):

// %%
use ddpm::diffusion::bound::loss_weight;

println!("{:>5} {:>10} {:>14} {:>16}", "t", "beta_t", "beta_tilde_t", "beta_tilde/beta");
for t in [1, 2, 10, 100, 1000] {
    let i = t - 1;
    println!("{t:>5} {:>10.3e} {:>14.3e} {:>16.4}", schedule.beta()[i],
        schedule.posterior_variance()[i], schedule.posterior_variance()[i] / schedule.beta()[i]);
}
let (w_beta, w_tilde) = (loss_weight(&schedule, 2, VarianceKind::Beta),
    loss_weight(&schedule, 2, VarianceKind::PosteriorBeta));
println!("weight of L_1 (t = 2): {w_beta:.4e} with beta_t, {w_tilde:.4e} with beta_tilde_t");
assert_eq!(schedule.posterior_variance()[0], 0.0);
assert!(schedule.posterior_variance()[1] / schedule.beta()[1] < 0.6);
assert!(schedule.posterior_variance()[999] / schedule.beta()[999] > 0.999);
assert!(w_tilde > 1.5 * w_beta);

// %% [markdown]
// ## 5. $L_T$ is a constant, and tiny
//
// Written (loosely): $L_T$ is a loss term that training reduces. Correct:
// $L_T = D_{\mathrm{KL}}(q(x_T\mid x_0)\,\|\,\mathcal N(0, I))$ depends on the schedule and $x_0$
// only (`prior_kl` takes no model), and for the linear schedule it is tiny:

// %%
use ddpm::diffusion::bound::{nats_to_bits, prior_kl};

let pixels = [1.0, 0.5, 0.0, -1.0];
let l_t = prior_kl(&schedule, &arr1(&pixels));
for (x0, kl) in pixels.iter().zip(l_t.iter()) {
    println!("x_0 = {x0:>4}: L_T = {:.3e} bits", nats_to_bits(*kl));
}
assert!((nats_to_bits(l_t[0]) - 2.91e-5).abs() < 0.01e-5);

// %% [markdown]
// ## 6. The variance of $q(x_t\mid x_0)$ is $1-\bar\alpha_t$, not $\sum_s\beta_s$
//
// Written (loosely): "after $t$ steps the noise variance is the sum of the $\beta_s$". Correct:
// each step also shrinks the noise already present, so the variance is $1-\bar\alpha_t < 1$. The
// sum is right only to first order, for small $t$. 4000 simulated chains of 1000 steps decide:

// %%
use ddpm::figures::{LineChart, Series};

let mut sum_of_betas = Vec::new();
let mut one_minus_alpha_bar = Vec::new();
let mut sum = 0.0;
for t in 1..=1000 {
    sum += schedule.beta()[t - 1];
    sum_of_betas.push((t as f64, sum));
    one_minus_alpha_bar.push((t as f64, 1.0 - schedule.alpha_bar()[t - 1]));
}
let mut rng = ChaCha8Rng::seed_from_u64(6);
let chains = q_chain(&schedule, &Array1::zeros(4000), 1000, &mut rng);
let closed_form = q_mean_variance(&schedule, &arr1(&[0.0]), 1000).variance.get();
println!("t = 1000: sum of beta_s = {sum:.4}, 1 - alpha_bar_T = {closed_form:.5}, variance of 4000 chains = {:.4}",
    chains.var(1.0));
assert!((sum - 10.05).abs() < 1e-9 && closed_form < 1.0);
// 4000 draws of a unit-variance Gaussian: the sample variance has standard error sqrt(2/4000) ~ 0.022
assert!((chains.var(1.0) - closed_form).abs() < 0.1);
LineChart::new("Variance of q(x_t | x_0): 1 - alpha_bar_t, not the sum of the betas", "t", "variance")
    .log_log(true)
    .series(Series::line("1 - alpha_bar_t (correct)", one_minus_alpha_bar.clone()))
    .series(Series::dashed("sum of beta_s, s <= t (first order only)", sum_of_betas.clone()))

// %% [markdown]
// **What you should see.** (1) The chains' mean sits within a standard error or two of
// $\sqrt{\bar\alpha_5}$ and about 7 standard errors from the extra-factor value. (2) Both
// seeds put about $(0.3, 0.5, 0.2)$ of their samples on the three modes, with no data point
// given. (3) Only $-\epsilon/\sqrt{1-\bar\alpha}$ matches the score (to rounding error).
// (4) $\tilde\beta_1 = 0$, $\tilde\beta_2 \approx 0.45\,\beta_2$, equal at $t = 1000$. (5)
// $L_T \approx 2.9\times10^{-5}$ bits at $x_0 = \pm 1$. (6) The two curves agree for small $t$;
// at $T$ the sum is 10.05 while the variance is 0.99996, which the chains confirm.
