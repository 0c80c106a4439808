#!/usr/bin/env python3
"""Writes the notebooks in this folder from the cell texts below (the source of truth).

    python3 notebooks/generate.py           # rewrite every notebooks/NN-slug.ipynb
    python3 notebooks/generate.py --check   # exit 1 if a committed notebook differs

Each notebook is a list of cells; a cell is ("md", text) or ("code", text). Notebooks are
written with no outputs and execution_count null (scripts/notebooks.sh enforces both).
Notebooks are thin: every quantity is computed by the ddpm library; cells only call it,
print numbers and show figures (LineChart / ImageGrid display inline through evcxr_display).
"""
import json
import pathlib
import sys
import textwrap

HERE = pathlib.Path(__file__).resolve().parent

MATH_DEP = ':dep ddpm = { path = "..", default-features = false }'
# Part III (chapters 12-14): the network and workflows need burn (still without `download`).
BURN_DEP = ':dep ddpm = { path = "..", default-features = false, features = ["burn"] }'
# Spliced into indented cell texts right after a line's indentation: the second line carries
# the same 4-space indentation so that textwrap.dedent removes it evenly.
RNG = "use ddpm::rand::SeedableRng;\n    use ddpm::rand_chacha::ChaCha8Rng;"


def md(text):
    return ("md", textwrap.dedent(text).strip("\n"))


def code(text):
    text = textwrap.dedent(text).strip("\n")
    lines = text.splitlines()
    # A cell that ends with a `for` loop would show its value `()`; a `;` makes it a statement.
    if lines[-1] == "}" and "{" not in lines:
        text += ";"
    return ("code", text)


def dep_cell(extra=""):
    text = "// Builds the ddpm library from the repository root (math layers only: no burn).\n" + MATH_DEP
    return code(text + extra)


def burn_dep_cell():
    """First cell of the Part III notebooks: the library with burn (network, workflows)."""
    text = ("// Builds the ddpm library with burn (the U-Net, training, sampling); the first run\n"
            "// compiles burn inside the kernel, which takes a while (see notebooks/README.md).\n"
            + BURN_DEP)
    return code(text)


NOTEBOOKS = {}

# ---------------------------------------------------------------------------------------------
NOTEBOOKS["01-generative-models"] = [
    md(r"""
    # 1. Generative models

    **Goal.** A generative model $p_\theta(x)$ is fitted to data by maximum likelihood, and the
    expected negative log-likelihood splits into the data's entropy (a constant) plus a KL
    divergence:

    $$\mathbb E_{p_{\text{data}}}\big[-\log p_\theta(x)\big] = H(p_{\text{data}}) + D_{\mathrm{KL}}\big(p_{\text{data}}\,\|\,p_\theta\big).$$

    So maximum likelihood minimises the *forward* KL from the data to the model. Chapter:
    `chapters/01-generative-models.md`.
    """),
    dep_cell(),
    md(r"""
    A "data" distribution over four outcomes and two candidate models. The cross-entropy
    $H(p_{\text{data}}, p_\theta)$ is the expected negative log-likelihood; it equals entropy plus KL,
    and the better model has the lower value.
    """),
    code(r"""
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
    }
    """),
    md(r"""
    **What you should see.** The last two columns agree to $10^{-12}$, and the good model's
    negative log-likelihood is lower. The remaining chapters of Part I build the tools DDPM needs:
    KL (chapter 2), Bayes' rule (3), Monte Carlo (4) and the ELBO (5).
    """),
]

# ---------------------------------------------------------------------------------------------
NOTEBOOKS["02-kl-divergence"] = [
    md(r"""
    # 2. KL divergence

    **Goal.** Compute entropy, cross-entropy and KL; see that KL is not symmetric; and watch
    the asymmetry at work when one Gaussian is fitted to a bimodal mixture.

    $$D_{\mathrm{KL}}(q\,\|\,p) = \sum_i q_i \log\frac{q_i}{p_i} = -H(q) + H(q, p) \ge 0.$$

    Chapter: `chapters/02-kl-divergence.md`.
    """),
    dep_cell(),
    md("The worked pair of the chapter, $p = (0.9, 0.1)$ and $q = (0.5, 0.5)$:"),
    code(r"""
    use ddpm::probability::{cross_entropy, discrete_kl, entropy};

    let (p, q) = ([0.9, 0.1], [0.5, 0.5]);
    println!("H(p) = {:.6}, H(p, q) = {:.6}", entropy(&p).unwrap(), cross_entropy(&p, &q).unwrap());
    println!("KL(p || q) = {:.6}", discrete_kl(&p, &q).unwrap());
    println!("KL(q || p) = {:.6}", discrete_kl(&q, &p).unwrap());
    println!("KL(p || p) = {:.6}", discrete_kl(&p, &p).unwrap());
    // Bad input is an error that says what is wrong, not a silent number:
    println!("{}", discrete_kl(&[0.5, 0.6], &q).unwrap_err());
    """),
    md(r"""
    ## Two Gaussians in closed form

    $$D_{\mathrm{KL}}(\mathcal N(\mu_1,\sigma_1^2)\,\|\,\mathcal N(\mu_2,\sigma_2^2)) = \frac12\left(\log\frac{\sigma_2^2}{\sigma_1^2} - 1 + \frac{\sigma_1^2 + (\mu_1-\mu_2)^2}{\sigma_2^2}\right)$$

    `normal_kl` takes means and *log*-variances, as in Ho et al.'s code; `Gaussian::kl` wraps it.
    """),
    code(r"""
    use ddpm::probability::{normal_kl, Gaussian};

    let a = Gaussian::from_mean_std(0.0, 1.0).unwrap();
    let b = Gaussian::from_mean_std(1.0, 1.5).unwrap();
    println!("KL(a || b) = {:.6}", a.kl(&b));
    println!("normal_kl  = {:.6}", normal_kl(a.mean(), a.log_variance(), b.mean(), b.log_variance()));
    println!("KL(b || a) = {:.6}", b.kl(&a));
    """),
    md(r"""
    ## Forward vs reverse KL

    Fit $q = \mathcal N(\mu, \sigma^2)$ to $p = 0.7\,\mathcal N(-2, 0.6^2) + 0.3\,\mathcal N(2, 0.6^2)$.
    Forward KL $\min_q D_{\mathrm{KL}}(p\,\|\,q)$ is moment matching (mass-covering); reverse KL
    $\min_q D_{\mathrm{KL}}(q\,\|\,p)$ settles on one mode (mode-seeking), which one depending on
    the start.
    """),
    code(r"""
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
    """),
    code("ddpm::book_figures::part1::forward_vs_reverse_kl().unwrap()"),
    md(r"""
    The reverse KL is $-H(q) + H(q, p)$: the first term wants $q$ wide, the second wants $q$ on
    $p$'s mass. For $q = \mathcal N(-2, \sigma^2)$ their sum is smallest near the mode's own
    width, $0.6$:
    """),
    code("ddpm::book_figures::part1::reverse_kl_terms().unwrap()"),
    md(r"""
    **What you should see.** $D_{\mathrm{KL}}(p\|q) = 0.368064$ and $D_{\mathrm{KL}}(q\|p) = 0.510826$;
    the forward fit sits in the valley at $\mu = -0.8$, the reverse fits on one mode each, with
    KL close to $-\log \pi_k$. Exercises: `src/exercises/ch02.rs`.
    """),
]

# ---------------------------------------------------------------------------------------------
NOTEBOOKS["03-bayes-rule"] = [
    md(r"""
    # 3. Bayes' rule

    **Goal.** Update a Gaussian prior on a mean with Gaussian observations, once by algebra
    (conjugacy: precisions add) and once by brute force on a grid, and check they agree.

    $$\frac{1}{\tau_n^2} = \frac{1}{\tau_0^2} + \frac{n}{\sigma^2},\qquad \mu_n = \tau_n^2\left(\frac{\mu_0}{\tau_0^2} + \frac{\sum_i x_i}{\sigma^2}\right).$$

    Chapter: `chapters/03-bayes-rule.md`. The same computation gives the forward-process
    posterior of chapter 7.
    """),
    dep_cell(),
    code(r"""
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
    }
    """),
    md(r"""
    Because the posterior is again Gaussian, it can be the prior for the next observation:
    one point at a time gives the same answer as all at once.
    """),
    code(r"""
    let mut belief = prior;
    for &x in &data {
        belief = gaussian_posterior(&belief, noise, &[x]).unwrap();
        println!("after x = {x}: mean {:.6}, variance {:.6}", belief.mean(), belief.variance().get());
    }
    assert!((belief.mean() - exact.mean()).abs() < 1e-12);
    """),
    code("ddpm::book_figures::part1::grid_vs_conjugate().unwrap()"),
    md(r"""
    **What you should see.** Mean 1.2093023256, variance 0.2790697674 and
    $\log p(x) = -7.9828276444$ from all three methods: even 81 grid points agree to ten digits.
    Exercises: `src/exercises/ch03.rs`.
    """),
]

# ---------------------------------------------------------------------------------------------
NOTEBOOKS["04-monte-carlo"] = [
    md(r"""
    # 4. Monte Carlo estimation

    **Goal.** Estimate an expectation by an average over samples and know its error:

    $$\hat\mu_K = \frac1K\sum_{k=1}^K f(x_k),\qquad \mathrm{SE} = \frac{\hat s}{\sqrt K}.$$

    The error falls as $K^{-1/2}$ whatever the dimension. Chapter: `chapters/04-monte-carlo.md`.
    """),
    dep_cell(),
    md(r"""
    $D_{\mathrm{KL}}(\mathcal N(0,1)\,\|\,\mathcal N(1, 1.5^2))$ by Monte Carlo, against the closed
    form of chapter 2 (each $K$ with a fresh generator seeded with 2):
    """),
    code(r"""
    use ddpm::probability::{monte_carlo::monte_carlo_kl, Gaussian};
    """ + RNG + r"""

    let p = Gaussian::from_mean_std(0.0, 1.0).unwrap();
    let q = Gaussian::from_mean_std(1.0, 1.5).unwrap();
    println!("closed form: {:.5}", p.kl(&q));
    println!("{:>9} {:>10} {:>10} {:>14}", "K", "estimate", "std error", "|error| / SE");
    for k in [100, 10_000, 1_000_000] {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let e = monte_carlo_kl(&p, &q, k, &mut rng).unwrap();
        println!("{k:>9} {:>10.5} {:>10.5} {:>14.2}", e.estimate, e.std_error,
            (e.estimate - p.kl(&q)).abs() / e.std_error);
    }
    """),
    md(r"""
    Any expectation works the same way with `monte_carlo`: here $\mathbb E[x^2] = 1$ for
    $x \sim \mathcal N(0, 1)$.
    """),
    code(r"""
    use ddpm::probability::monte_carlo::monte_carlo;

    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let standard = Gaussian::standard();
    let second_moment = monte_carlo(10_000, &mut rng, |r| standard.sample(r).powi(2)).unwrap();
    println!("E[x^2] ~ {:.4} +- {:.4} (truth 1; within 4 SE: {})",
        second_moment.estimate, second_moment.std_error, second_moment.within(1.0, 4.0));
    """),
    md(r"""
    ## The $1/\sqrt K$ law

    Root-mean-square error over 200 runs at each $K$; on log-log axes the slope is $-1/2$.
    """),
    code(r"""
    use ddpm::probability::monte_carlo::fit_line;

    let points = ddpm::book_figures::part1::monte_carlo_error_points().unwrap();
    let (log_k, log_e): (Vec<f64>, Vec<f64>) = points.iter().map(|(k, e)| (k.ln(), e.ln())).unzip();
    let (slope, _) = fit_line(&log_k, &log_e).unwrap();
    println!("least-squares slope of log RMSE against log K: {slope:.4}");
    """),
    code("ddpm::book_figures::part1::monte_carlo_error().unwrap()"),
    md(r"""
    **What you should see.** The estimates approach 0.34991 with standard errors 100 times
    smaller at $K = 10^6$ than at $K = 10^2$; the slope is close to $-0.5$.
    Exercises: `src/exercises/ch04.rs`.
    """),
]

# ---------------------------------------------------------------------------------------------
NOTEBOOKS["05-elbo"] = [
    md(r"""
    # 5. The evidence lower bound

    **Goal.** For any $q(z)$,

    $$\log p(x) = \underbrace{\mathbb E_{q}\big[\log p(x,z) - \log q(z)\big]}_{\mathrm{ELBO}(q)} + D_{\mathrm{KL}}\big(q(z)\,\|\,p(z\mid x)\big),$$

    so the ELBO is a lower bound whose gap is a KL. We check it on
    $z \sim \mathcal N(0,1)$, $x\mid z \sim \mathcal N(wz + b, s^2)$, where everything is exact.
    Chapter: `chapters/05-elbo.md`.
    """),
    dep_cell(),
    code(r"""
    use ddpm::probability::{Gaussian, Variance};
    """ + RNG + r"""

    // w = 1.5, b = -0.5, s^2 = 0.5, observed x = 1 (the chapter's model).
    let (model, x) = ddpm::book_figures::part1::chapter5_model().unwrap();
    let posterior = model.posterior(x).unwrap();
    println!("log p(x) = {:.6}; posterior N({:.6}, {:.6})",
        model.log_evidence(x), posterior.mean(), posterior.variance().get());
    """),
    md(r"""
    Three choices of $q$: the prior, a too-wide $q$, and the posterior. The gap
    $\log p(x) - \mathrm{ELBO}(q)$ equals $D_{\mathrm{KL}}(q\,\|\,p(z\mid x))$ in every row; the Monte
    Carlo ELBO ($K = 10^4$) agrees with the closed form within its error bar.
    """),
    code(r"""
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
    }
    """),
    code("ddpm::book_figures::part1::elbo_vs_log_evidence().unwrap()"),
    md(r"""
    ## EM never decreases the likelihood

    Fit the model by expectation-maximisation to 500 samples of chapter 2's bimodal mixture,
    starting from $(w, b, s^2) = (0.3, 0, 1)$.
    """),
    code(r"""
    use ddpm::probability::{GaussianMixture, LinearGaussianModel};

    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let samples = GaussianMixture::chapter2_example().sample_n(&mut rng, 500);
    let mut fit = LinearGaussianModel::new(0.3, 0.0, Variance::new(1.0).unwrap()).unwrap();
    for step in 0..=8 {
        println!("step {step}: log-likelihood {:>10.2}  (w, b, s^2) = ({:.4}, {:.4}, {:.4})",
            fit.log_likelihood(&samples), fit.w(), fit.b(), fit.noise().get());
        fit = fit.em_step(&samples).unwrap();
    }
    """),
    md(r"""
    **What you should see.** $\log p(x) = -1.833830$; the gap column equals the KL column; the
    ELBO touches $\log p(x)$ only at the posterior. EM's log-likelihood rises and then stays put:
    a linear-Gaussian model can only match the data's mean and variance.
    Exercises: `src/exercises/ch05.rs`.
    """),
]

# ---------------------------------------------------------------------------------------------
NOTEBOOKS["06-forward-process"] = [
    md(r"""
    # 6. The forward process

    **Goal.** The forward process adds Gaussian noise in $T$ small steps,
    $q(x_t\mid x_{t-1}) = \mathcal N(\sqrt{1-\beta_t}\,x_{t-1}, \beta_t I)$, and any step can be
    reached in one jump (Ho et al. 2020, Eq. (4)):

    $$q(x_t\mid x_0) = \mathcal N\big(\sqrt{\bar\alpha_t}\,x_0,\,(1-\bar\alpha_t)I\big),\qquad \bar\alpha_t = \prod_{s=1}^{t}(1-\beta_s).$$

    (The product starts at $s = 1$.) Chapter: `chapters/06-forward-process.md`.
    """),
    dep_cell(),
    code(r"""
    use ddpm::diffusion::NoiseSchedule;

    let linear = NoiseSchedule::linear(1000).unwrap(); // beta from 1e-4 to 0.02 (Ho et al.)
    let cosine = NoiseSchedule::cosine(1000).unwrap(); // Nichol & Dhariwal 2021, s = 0.008
    let (snr_linear, snr_cosine) = (linear.snr(), cosine.snr());
    println!("{:>5} {:>9} {:>14} {:>14} {:>11} {:>11}", "t", "beta_t", "alpha_bar lin", "alpha_bar cos", "SNR lin", "SNR cos");
    for t in [1, 100, 250, 500, 750, 1000] {
        let i = t - 1; // slices are 0-based; the paper's t is 1-based
        println!("{t:>5} {:>9.6} {:>14.4e} {:>14.4e} {:>11.3e} {:>11.3e}", linear.beta()[i],
            linear.alpha_bar()[i], cosine.alpha_bar()[i], snr_linear[i], snr_cosine[i]);
    }
    println!("sum of beta_t (linear) = {:.4}", linear.beta().iter().sum::<f64>());
    """),
    code(r"""
    use ddpm::figures::{LineChart, Series};

    // (A block: evcxr cannot keep closures between cells.)
    {
        let curve = |s: &NoiseSchedule| -> Vec<(f64, f64)> {
            s.alpha_bar().iter().enumerate().map(|(i, &a)| ((i + 1) as f64, a)).collect()
        };
        LineChart::new("How much signal is left: alpha_bar_t", "t", "alpha_bar_t")
            .series(Series::line("linear schedule", curve(&linear)))
            .series(Series::dashed("cosine schedule", curve(&cosine)))
    }
    """),
    md(r"""
    ## Noising a digit

    One MNIST digit from the embedded subset, scaled to $[-1, 1]$, noised with `q_sample` at
    $t = 0, 50, 100, 200, 300, 500, 700, 1000$ with the same $\epsilon$ (top row: linear schedule;
    bottom row: cosine).
    """),
    code(r"""
    use ddpm::diffusion::forward::{q_sample, standard_normal};
    use ddpm::figures::ImageGrid;
    use ddpm::ndarray::Array1;
    """ + RNG + r"""

    let train = ddpm::data::load_embedded(ddpm::data::Split::Train).unwrap();
    let x0: Array1<f64> = train.to_symmetric_interval(0).iter().map(|&v| f64::from(v)).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let eps = standard_normal(ddpm::ndarray::Ix1(784), &mut rng);
    let mut pixels: Vec<f64> = Vec::new();
    for schedule in [&linear, &cosine] {
        for t in [0, 50, 100, 200, 300, 500, 700, 1000] {
            let x_t = if t == 0 { x0.clone() } else { q_sample(schedule, &x0, t, &eps) };
            pixels.extend(x_t.iter().map(|v| (v + 1.0) / 2.0)); // back to [0, 1] for display
        }
    }
    println!("digit label: {}", train.label(0));
    ImageGrid::from_unit(&pixels, 16, 28, 28).unwrap().with_cols(8).unwrap().with_scale(3).unwrap()
    """),
    md(r"""
    ## One jump equals $t$ small steps

    Run 4000 independent chains of $t = 300$ small steps from $x_0 = 0.8$ with `q_chain` and
    compare their mean and variance with the one-jump marginal `q_mean_variance`.
    """),
    code(r"""
    use ddpm::diffusion::forward::{q_chain, q_mean_variance};
    use ddpm::probability::monte_carlo::from_values;

    let start = Array1::from_elem(4000, 0.8);
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let chains = q_chain(&linear, &start, 300, &mut rng);
    let jump = q_mean_variance(&linear, &start, 300);
    let mean = from_values(chains.as_slice().unwrap()).unwrap();
    println!("mean:     chains {:.4} +- {:.4}, closed form {:.4}", mean.estimate, mean.std_error, jump.mean[0]);
    println!("variance: chains {:.4}, closed form {:.4}", chains.var(1.0), jump.variance.get());
    """),
    md(r"""
    **What you should see.** $\bar\alpha_{1000} \approx 4\times 10^{-5}$ for the linear schedule:
    $x_{1000}$ is essentially $\mathcal N(0, I)$. The digit fades into noise, more slowly under
    the cosine schedule; the chains' mean and variance match the closed form within Monte Carlo
    error. Exercises: `src/exercises/ch06.rs`.
    """),
]

# ---------------------------------------------------------------------------------------------
NOTEBOOKS["07-posterior"] = [
    md(r"""
    # 7. The forward-process posterior

    **Goal.** Given both $x_0$ and $x_t$, the previous step is Gaussian in closed form
    (Ho et al. 2020, Eqs. (6)-(7)):

    $$q(x_{t-1}\mid x_t, x_0) = \mathcal N\big(\tilde\mu_t(x_t, x_0), \tilde\beta_t I\big),\quad
    \tilde\mu_t = \frac{\sqrt{\bar\alpha_{t-1}}\,\beta_t}{1-\bar\alpha_t}x_0 + \frac{\sqrt{\alpha_t}(1-\bar\alpha_{t-1})}{1-\bar\alpha_t}x_t,\quad
    \tilde\beta_t = \frac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}\beta_t.$$

    It is chapter 3's conjugate update: prior $q(x_{t-1}\mid x_0)$, likelihood $q(x_t\mid x_{t-1})$.
    Chapter: `chapters/07-posterior.md`.
    """),
    dep_cell(),
    md(r"""
    Check the closed form against brute-force Bayes on a grid (chapter 3's `grid_posterior`),
    for $x_0 = 0.8$ and an $x_t$ drawn from $q(x_t\mid x_0)$:
    """),
    code(r"""
    use ddpm::diffusion::{NoiseSchedule, forward::{q_sample, standard_normal}, posterior::q_posterior_mean_variance};
    use ddpm::ndarray::{arr1, Ix1};
    use ddpm::probability::{grid_posterior, Gaussian, Grid, Variance};
    """ + RNG + r"""

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
    }
    """),
    md(r"""
    The coefficients of the posterior mean and the ratio $\tilde\beta_t/\beta_t$, as in the
    chapter's table:
    """),
    code(r"""
    println!("{:>5} {:>8} {:>8} {:>17}", "t", "coef1", "coef2", "beta_tilde/beta");
    for t in [2, 10, 100, 1000] {
        let i = t - 1;
        println!("{t:>5} {:>8.4} {:>8.4} {:>17.4}", schedule.posterior_mean_coef1()[i],
            schedule.posterior_mean_coef2()[i], schedule.posterior_variance()[i] / schedule.beta()[i]);
    }
    """),
    md(r"""
    $\tilde\beta_t \le \beta_t$, with equality in the limit of large $t$; they differ most at small
    $t$ ($\tilde\beta_1 = 0$). These are the two variance choices of the reverse process (chapter 8).
    """),
    code(r"""
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
    """),
    md(r"""
    The posterior mean mixes $x_0$ and $x_t$ with `posterior_mean_coef1` and
    `posterior_mean_coef2`:
    """),
    code(r"""
    {
        let t_axis = |v: &[f64]| -> Vec<(f64, f64)> {
            v.iter().enumerate().skip(1).map(|(i, &y)| ((i + 1) as f64, y)).collect()
        };
        LineChart::new("Posterior mean = coef1 * x_0 + coef2 * x_t", "t", "coefficient")
            .series(Series::line("posterior_mean_coef1 (x_0)", t_axis(schedule.posterior_mean_coef1())))
            .series(Series::dashed("posterior_mean_coef2 (x_t)", t_axis(schedule.posterior_mean_coef2())))
    }
    """),
    md(r"""
    **What you should see.** The closed form and the grid agree to about six digits at every
    $t$. Near $t = 1$ the posterior mean is almost $x_t$ itself; late in the chain $x_0$ pulls
    harder. Exercises: `src/exercises/ch07.rs`.
    """),
]

# ---------------------------------------------------------------------------------------------
NOTEBOOKS["08-reverse-process"] = [
    md(r"""
    # 8. The reverse process

    **Goal.** Generate by running the chain backwards from $x_T \sim \mathcal N(0, I)$ with
    $p_\theta(x_{t-1}\mid x_t) = \mathcal N(\mu_\theta(x_t, t), \sigma_t^2 I)$, where the mean comes
    from a noise prediction (Ho et al. 2020, Eq. (11)):

    $$\mu_\theta(x_t, t) = \frac{1}{\sqrt{\alpha_t}}\left(x_t - \frac{\beta_t}{\sqrt{1-\bar\alpha_t}}\,\epsilon_\theta(x_t, t)\right).$$

    No reference $x_0$ is needed to generate. For a Gaussian mixture the best possible
    $\epsilon_\theta$ is known exactly, so we can sample without training anything.
    Chapter: `chapters/08-reverse-process.md`.
    """),
    dep_cell(),
    md(r"""
    With the *true* noise, Eq. (11) recovers the posterior mean $\tilde\mu_t$ of chapter 7 exactly:
    """),
    code(r"""
    use ddpm::diffusion::{NoiseSchedule, forward::{q_sample, standard_normal}, posterior::q_posterior_mean_variance};
    use ddpm::diffusion::reverse::{p_mean_variance, ReverseOptions, VarianceKind};
    use ddpm::ndarray::{arr1, Ix1};
    """ + RNG + r"""

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
    }
    """),
    md(r"""
    ## Sampling a 2-D mixture with the exact denoiser

    `GaussianMixture::book_2d()` has three components; `denoiser` gives
    $\epsilon^*(x_t, t) = \mathbb E[\epsilon\mid x_t]$, the minimiser of the training loss.
    `p_sample_loop_trajectory` runs all 1000 steps for 500 points and keeps a few snapshots.
    """),
    code(r"""
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
    }
    """),
    code(r"""
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
    """),
    md(r"""
    The fraction of generated points attributed to each component should match the weights
    $(0.25, 0.45, 0.30)$, for either variance choice $\sigma_t^2 = \beta_t$ or $\tilde\beta_t$:
    """),
    code(r"""
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
    }
    """),
    md(r"""
    **What you should see.** At $t = 1000$ the points are a round standard normal cloud; by
    $t = 0$ they sit on the three components in the right proportions (within about
    $\pm 0.03$, the binomial error for 1000 points). Exercises: `src/exercises/ch08.rs`.
    """),
]

# ---------------------------------------------------------------------------------------------
NOTEBOOKS["09-variational-bound"] = [
    md(r"""
    # 9. The variational bound

    **Goal.** Write the negative ELBO of chapter 5 for diffusion as a sum of per-step terms
    (Ho et al. 2020, Eq. (5)):

    $$L = \underbrace{D_{\mathrm{KL}}(q(x_T\mid x_0)\,\|\,p(x_T))}_{L_T} + \sum_{t=2}^{T}\underbrace{D_{\mathrm{KL}}(q(x_{t-1}\mid x_t,x_0)\,\|\,p_\theta(x_{t-1}\mid x_t))}_{L_{t-1}} \underbrace{- \log p_\theta(x_0\mid x_1)}_{L_0},$$

    each a KL between Gaussians (chapter 2) except the discretised decoder $L_0$, and report it
    in bits per dimension. Chapter: `chapters/09-variational-bound.md`.
    """),
    dep_cell(),
    md(r"""
    $L_{t-1}$ is a weighted squared error in the noise (Eq. (12)); $L_{\text{simple}}$ (Eq. (14))
    drops the weight. The weight is largest at small $t$:
    """),
    code(r"""
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
    """),
    md(r"""
    ## The bound for one digit, for two "models"

    The terms for one MNIST digit $x_0$ (on the pixel grid in $[-1, 1]$), for two noise
    predictors that need no training:

    - an **oracle** that returns the true $\epsilon$ (it cheats: it knows $x_0$). Its means are
      exact, so each $L_{t-1}$ is only the variance mismatch $C_t$ between $\tilde\beta_t$ and
      $\sigma_t^2 = \beta_t$; this is the floor of the bound for fixed variances;
    - a **zero** predictor, $\epsilon_\theta = 0$, a model that learned nothing.

    Each $L_{t-1}$ uses one sample $x_t \sim q(x_t\mid x_0)$: a one-sample Monte Carlo estimate
    (chapter 4) of the sum over $t$.
    """),
    code(r"""
    use ddpm::diffusion::bound::{bits_per_dim, decoder_nll, posterior_kl, prior_kl, variance_mismatch_kl};
    use ddpm::diffusion::forward::{q_sample, standard_normal};
    use ddpm::ndarray::{Array1, Ix1};
    """ + RNG + r"""

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
    """),
    md(r"""
    **What you should see.** The oracle's middle terms equal $784\sum_t C_t$ exactly (the
    variance mismatch), and its bound is far below the zero predictor's. A trained network
    (Part III) lands in between; chapter 15 measures it. Exercises: `src/exercises/ch09.rs`.
    """),
]

# ---------------------------------------------------------------------------------------------
NOTEBOOKS["10-sde-view"] = [
    md(r"""
    # 10. The SDE view

    **Goal.** As $T\to\infty$ the forward chain becomes the variance-preserving SDE
    $dx = -\tfrac12\beta(\tau)x\,d\tau + \sqrt{\beta(\tau)}\,dw$ (Song et al. 2021). A noise
    predictor is a score, $\nabla_x\log q_t(x) = -\epsilon^*(x_t, t)/\sqrt{1-\bar\alpha_t}$, and
    samples can be drawn with the reverse SDE or, deterministically, with the probability-flow ODE

    $$\frac{dx}{d\tau} = -\tfrac12\beta(\tau)\big(x + \nabla_x\log q_\tau(x)\big).$$

    Chapter: `chapters/10-sde-view.md`.
    """),
    dep_cell(),
    code(r"""
    use ddpm::diffusion::{NoiseSchedule, sde::VpSde};

    let schedule = NoiseSchedule::linear(1000).unwrap();
    let sde = VpSde::from_schedule(&schedule);
    for t in [1, 250, 500, 1000] {
        let tau = t as f64 / 1000.0;
        println!("t = {t:>4}: alpha_bar(t/T) = {:.8}, schedule alpha_bar_t = {:.8}; beta(tau) = {:.4} ~ T beta_t = {:.4}",
            sde.alpha_bar(tau), schedule.alpha_bar()[t - 1], sde.beta(tau), 1000.0 * schedule.beta()[t - 1]);
    }
    """),
    md(r"""
    Tweedie's formula: the exact noise predictor of the 2-D mixture, turned into a score with
    `score_from_noise`, equals the score of the noised mixture computed directly.
    """),
    code(r"""
    use ddpm::diffusion::{forward::standard_normal, mixture::GaussianMixture, sde::score_from_noise};
    use ddpm::ndarray::{Array2, Ix2};
    """ + RNG + r"""

    let data = GaussianMixture::book_2d();
    let mut rng = ChaCha8Rng::seed_from_u64(10);
    let x = standard_normal(Ix2(5, 2), &mut rng);
    for alpha_bar in [0.9, 0.5, 0.1] {
        let via_noise = score_from_noise(&data.optimal_noise(alpha_bar, &x), alpha_bar);
        let direct = data.noised(alpha_bar).score(&x);
        let diff = (&via_noise - &direct).iter().fold(0.0f64, |m, d| m.max(d.abs()));
        println!("alpha_bar = {alpha_bar}: max difference {diff:.2e}");
    }
    """),
    md(r"""
    Sample the mixture three ways from the same 1000 starting points: the reverse SDE
    (Euler-Maruyama, 1000 steps), the probability-flow ODE (Heun, 100 steps) and, for
    comparison, DDPM's ancestral sampler (1000 steps).
    """),
    code(r"""
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
    }
    """),
    code(r"""
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
    """),
    md(r"""
    **What you should see.** The SDE's $\bar\alpha(t/T)$ equals the schedule's at every grid
    point, and $\beta(\tau) \approx T\beta_t$ runs from 0.1 to 20. The two score routes agree to
    rounding error. All three samplers put about $(0.25, 0.45, 0.30)$ of their points on the
    three components. Exercises: `src/exercises/ch10.rs`.
    """),
]


# ---------------------------------------------------------------------------------------------
NOTEBOOKS["11-errata"] = [
    md(r"""
    # 11. Errata and notes

    **Goal.** The source post (a Korean review of the DDPM paper) and other widely read
    explanations state a few formulas wrongly or loosely. For each slip, compute the written
    form and the correct one with the library and see which one the numbers support.
    `tests/errata.rs` asserts the same facts. Chapter: `chapters/11-errata.md`.
    """),
    dep_cell(),
    md(r"""
    ## 1. $\bar\alpha_t$ is a product from $s = 1$, not $s = 0$

    Written: $\bar\alpha_t = \prod_{s=0}^{t}\alpha_s$. Correct: $\bar\alpha_t = \prod_{s=1}^{t}\alpha_s$
    (Ho et al. 2020, above Eq. (4)); the chain's first step is $q(x_1\mid x_0)$ with $\beta_1$, and
    there is no $\beta_0$. On a short schedule with large betas ($\beta$ from 0.1 to 0.3, $T = 10$)
    one extra factor is visible: run 20,000 chains of 5 steps from $x_0 = 1$ with `q_chain` and
    compare their mean with $\sqrt{\bar\alpha_5}$ both ways.
    """),
    code(r"""
    use ddpm::diffusion::{BetaSchedule, NoiseSchedule, forward::{q_chain, q_mean_variance}};
    use ddpm::ndarray::{arr1, Array1};
    use ddpm::probability::monte_carlo::from_values;
    """ + RNG + r"""

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
    """),
    md(r"""
    ## 2. Generating does not need a reference image $x_0$

    Written: the reverse process needs the original $x_0$ to denoise. Correct: ancestral
    sampling (Algorithm 2) starts from $x_T \sim \mathcal N(0, I)$ and only evaluates
    $\epsilon_\theta(x_t, t)$; $x_0$ appears in *training*. `p_sample_loop` takes a schedule, a
    denoiser, a shape, options and random numbers, and nothing else. With the exact denoiser of
    chapter 8's 1-D mixture, two seeds give different samples, both spread over the three modes
    in the mixture's proportions.
    """),
    code(r"""
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
    """),
    md(r"""
    ## 3. The sign and scale of the score

    Written (loosely): "the noise predictor is the score", or $s = \epsilon/(1-\bar\alpha_t)$.
    Correct: $\nabla_x\log q_t(x) = -\,\mathbb E[\epsilon\mid x_t = x]/\sqrt{1-\bar\alpha_t}$ (the
    noise points away from the data, the score towards it; the scale is a standard deviation).
    Compare every form with the exact score of the noised 2-D mixture at $\bar\alpha = 0.3$:
    """),
    code(r"""
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
    }
    """),
    md(r"""
    ## 4. $\sigma_t^2$ is a fixed choice, and there are two

    Written (loosely): the reverse variance is "the forward variance", or is learned. Correct:
    DDPM fixes $\sigma_t^2 = \beta_t$ or $\sigma_t^2 = \tilde\beta_t = \frac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}\beta_t$
    (Sec. 3.2). They differ most at small $t$ and agree at large $t$, and the choice changes the
    weight of $L_{t-1}$ (chapter 9):
    """),
    code(r"""
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
    """),
    md(r"""
    ## 5. $L_T$ is a constant, and tiny

    Written (loosely): $L_T$ is a loss term that training reduces. Correct:
    $L_T = D_{\mathrm{KL}}(q(x_T\mid x_0)\,\|\,\mathcal N(0, I))$ depends on the schedule and $x_0$
    only (`prior_kl` takes no model), and for the linear schedule it is tiny:
    """),
    code(r"""
    use ddpm::diffusion::bound::{nats_to_bits, prior_kl};

    let pixels = [1.0, 0.5, 0.0, -1.0];
    let l_t = prior_kl(&schedule, &arr1(&pixels));
    for (x0, kl) in pixels.iter().zip(l_t.iter()) {
        println!("x_0 = {x0:>4}: L_T = {:.3e} bits", nats_to_bits(*kl));
    }
    assert!((nats_to_bits(l_t[0]) - 2.91e-5).abs() < 0.01e-5);
    """),
    md(r"""
    ## 6. The variance of $q(x_t\mid x_0)$ is $1-\bar\alpha_t$, not $\sum_s\beta_s$

    Written (loosely): "after $t$ steps the noise variance is the sum of the $\beta_s$". Correct:
    each step also shrinks the noise already present, so the variance is $1-\bar\alpha_t < 1$. The
    sum is right only to first order, for small $t$. 4000 simulated chains of 1000 steps decide:
    """),
    code(r"""
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
    """),
    md(r"""
    **What you should see.** (1) The chains' mean sits within a standard error or two of
    $\sqrt{\bar\alpha_5}$ and about 7 standard errors from the extra-factor value. (2) Both
    seeds put about $(0.3, 0.5, 0.2)$ of their samples on the three modes, with no data point
    given. (3) Only $-\epsilon/\sqrt{1-\bar\alpha}$ matches the score (to rounding error).
    (4) $\tilde\beta_1 = 0$, $\tilde\beta_2 \approx 0.45\,\beta_2$, equal at $t = 1000$. (5)
    $L_T \approx 2.9\times10^{-5}$ bits at $x_0 = \pm 1$. (6) The two curves agree for small $t$;
    at $T$ the sum is 10.05 while the variance is 0.99996, which the chains confirm.
    """),
]

# ---------------------------------------------------------------------------------------------
NOTEBOOKS["12-unet"] = [
    md(r"""
    # 12. The U-Net

    **Goal.** Build the noise predictor $\epsilon_\theta(x_t, t)$: a U-Net (Ho et al. 2020,
    Appendix B) scaled to 28x28 MNIST, told the noise level through a sinusoidal timestep
    embedding. Count its parameters, look at the embedding, and follow a batch through it.
    Chapter: `chapters/12-unet.md`.

    This notebook needs burn: the first cell compiles it inside the kernel (long the first
    time; see `notebooks/README.md`).
    """),
    burn_dep_cell(),
    md(r"""
    ## Presets and their size

    `UNetConfig` holds the hyper-parameters; the presets are `tiny` (tests, CI), `small` (the
    default CPU run) and `paper` (Ho et al.'s recipe, two residual blocks per level and attention
    at one resolution, at a quarter of their width and one level fewer: base 32, multipliers
    (1, 2, 2), attention at 7x7; 1.6M parameters against their 35.7M).
    """),
    code(r"""
    use ddpm::burn::prelude::*; // Device, Tensor, TensorData, Module (num_params), ...
    use ddpm::network::{UNet, UNetConfig};

    let device: Device = Device::flex(); // burn's CPU backend
    println!("{:<6} {:>5} {:>12} {:>7} {:>10} {:>11}", "preset", "base", "multipliers", "blocks", "attention", "parameters");
    for name in UNetConfig::PRESETS {
        let config = UNetConfig::preset(name).unwrap();
        let parameters = config.init(&device).unwrap().num_params();
        println!("{name:<6} {:>5} {:>12} {:>7} {:>10} {parameters:>11}", config.base_channels,
            format!("{:?}", config.channel_mults), config.num_res_blocks,
            format!("{:?}", config.attention_resolutions));
    }
    assert_eq!(UNetConfig::paper().init(&device).unwrap().num_params(), 1_623_169);
    // A configuration the network cannot be built from is refused with a message:
    println!("{}", UNetConfig::paper().with_norm_groups(5).validate().unwrap_err());
    """),
    md(r"""
    ## The timestep embedding

    With $h = d/2$ frequencies $\omega_i = 10000^{-i/(h-1)}$,
    $\mathrm{emb}(t) = (\sin t\omega_0, \dots, \sin t\omega_{h-1}, \cos t\omega_0, \dots, \cos t\omega_{h-1})$.
    Low indices oscillate fast, high ones slowly. Here $d = 32$ (the `paper` preset's width),
    four of the sine components over $t = 1..1000$:
    """),
    code(r"""
    use ddpm::figures::{LineChart, Series};
    use ddpm::network::timestep_embedding;

    let d = 32;
    let t_all = Tensor::<1>::from_data(TensorData::new((1..=1000).map(|t| t as f32).collect::<Vec<f32>>(), [1000]), &device);
    let emb: Vec<f32> = timestep_embedding(t_all, d).into_data().convert::<f32>().try_to_vec::<f32>().unwrap(); // [1000, d], row t - 1
    let mut chart = LineChart::new("Sinusoidal timestep embedding, d = 32: sin(t w_i)", "t", "emb(t)_i").size(800, 420);
    for i in [3usize, 6, 9, 12] {
        let curve: Vec<(f64, f64)> = (0..1000).map(|row| ((row + 1) as f64, f64::from(emb[row * d + i]))).collect();
        chart = chart.series(Series::line(format!("component i = {i}"), curve));
    }
    chart
    """),
    md(r"""
    Each pair $(\sin t\omega_i, \cos t\omega_i)$ is a point on a circle and $t \to t + k$ rotates it
    by $k\omega_i$, so the distance between $\mathrm{emb}(t)$ and $\mathrm{emb}(t+k)$ depends on $k$
    only, not on $t$:
    """),
    code(r"""
    // (A block: evcxr cannot keep closures between cells.)
    {
        let row = |t: usize| &emb[(t - 1) * d..t * d];
        let distance = |a: usize, b: usize| -> f64 {
            row(a).iter().zip(row(b)).map(|(x, y)| f64::from(x - y).powi(2)).sum::<f64>().sqrt()
        };
        for k in [1, 5, 50] {
            let (near_start, near_end) = (distance(10, 10 + k), distance(900, 900 + k));
            println!("k = {k:>2}: |emb(10) - emb(10 + k)| = {near_start:.4}, |emb(900) - emb(900 + k)| = {near_end:.4}");
            assert!((near_start - near_end).abs() < 2e-3); // f32 angles of ~1000 rad round to ~1e-4
        }
    };
    """),
    md(r"""
    ## A forward pass

    A batch of two noise images at $t = 1$ and $t = 1000$ through the `paper` network, with the
    shape after every stage (`forward_traced`). The output has the input's shape: it is the
    predicted noise.
    """),
    code(r"""
    use std::time::Instant;

    let trace: Vec<(String, [usize; 4])> = {
        let paper: UNet = UNetConfig::paper().init(&device).unwrap();
        let x = Tensor::<4>::random([2, 1, 28, 28], ddpm::burn::tensor::Distribution::Normal(0.0, 1.0), &device);
        let t = Tensor::<1>::from_floats([1.0, 1000.0], &device);
        let mut trace = Vec::new();
        let out = paper.forward_traced(x, t, Some(&mut trace));
        assert_eq!(out.dims(), [2, 1, 28, 28]);
        trace
    };
    for (stage, shape) in &trace {
        println!("{stage:<17} {shape:?}");
    }
    assert_eq!(trace.first().unwrap(), &("conv_in".to_string(), [2, 32, 28, 28]));
    assert_eq!(trace.iter().find(|(s, _)| s == "middle").unwrap().1, [2, 64, 7, 7]);
    """),
    md("Every preset maps a batch of images to a batch of images; the time of one forward pass of 16 images:"),
    code(r"""
    for name in UNetConfig::PRESETS {
        let model: UNet = UNetConfig::preset(name).unwrap().init(&device).unwrap();
        let x = Tensor::<4>::zeros([16, 1, 28, 28], &device);
        let t = Tensor::<1>::full([16], 500.0, &device);
        let start = Instant::now();
        let out = model.forward(x, t);
        let dims = out.dims();
        let finite = out.into_data().convert::<f32>().try_to_vec::<f32>().unwrap().iter().all(|v| v.is_finite());
        println!("{name:<6} output {dims:?}, all finite: {finite}, {:.0} ms", start.elapsed().as_secs_f64() * 1e3);
        assert!(dims == [16, 1, 28, 28] && finite);
    }
    """),
    md(r"""
    **What you should see.** `paper` has exactly 1,623,169 parameters (chapter 12 counts them
    layer by layer). The embedding's low components oscillate quickly and its high ones barely
    move over $1..1000$; the distances agree for both $t$. The shapes go 28 → 14 → 7 and back, with
    64 channels at 7x7. Exercises: chapter 12.
    """),
]

# ---------------------------------------------------------------------------------------------
NOTEBOOKS["13-training"] = [
    md(r"""
    # 13. Training on MNIST

    **Goal.** Train $\epsilon_\theta$ with $L_\text{simple}$ (Ho et al. 2020, Algorithm 1 and
    Eq. (14)): draw $x_0$, $t \sim \mathcal U\{1..T\}$ and $\epsilon \sim \mathcal N(0, I)$, and
    regress $\epsilon$ from $x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\epsilon$:

    $$L_\text{simple} = \mathbb E\big[\lVert\epsilon - \epsilon_\theta(x_t, t)\rVert^2\big].$$

    We train the `tiny` preset for 200 steps (a couple of minutes on a CPU), look at the loss
    and at its samples, then sample the weights shipped in `weights/default/` (a longer run;
    its `config.json` says which preset and how long). Chapter: `chapters/13-training.md`.
    """),
    burn_dep_cell(),
    md(r"""
    ## A short run

    `train` writes a run folder (config, `loss.csv`, sample grid, checkpoint, weights) and
    returns a report with the per-step losses. The folder goes to the system's temp directory.
    """),
    code(r"""
    use ddpm::burn::prelude::*;
    use ddpm::network::UNetConfig;
    use ddpm::workflows::train::{train, TrainOptions, TrainReport};
    use ddpm::workflows::{RunLayout, ScheduleConfig, TrainingConfig};

    let config: TrainingConfig = TrainingConfig::new(UNetConfig::tiny(), ScheduleConfig::linear_1000(), 200)
        .with_batch(8)
        .with_lr(2e-3)
        .with_warmup_steps(50)
        .with_ema_decay(0.995)
        .with_sample_every(0) // one sample grid, at the end
        .with_sample_steps(20)
        .with_checkpoint_every(0); // one checkpoint, at the end
    let run_dir = std::env::temp_dir().join(format!("ddpm-notebook-13-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&run_dir); // `train` refuses to overwrite an existing run
    let report: TrainReport = train(&config, &TrainOptions {
        run_dir: run_dir.clone(), resume: false, progress: false, device: Device::flex(),
    }).unwrap();
    println!("{} steps of batch {} in {:.1} s ({:.2} s a step)", report.steps, config.batch,
        report.seconds, report.seconds / report.steps as f64);
    let layout = RunLayout::new(&run_dir);
    for path in [layout.config(), layout.loss_csv(), layout.sample_grid(200), layout.model_ema()] {
        println!("wrote {}", path.display());
    }
    """),
    md(r"""
    ## The loss

    At initialisation the prediction is unrelated to $\epsilon$ and the loss is about
    $\mathbb E[\epsilon_i^2] = 1$ (as for a network that always predicts 0); everything below 1 is
    learned.
    """),
    code(r"""
    use ddpm::figures::{LineChart, Series};

    let losses: Vec<(f64, f64)> = report.losses.iter().enumerate().map(|(i, &l)| ((i + 1) as f64, f64::from(l))).collect();
    let (first, last): (f64, f64) = {
        let mean = |points: &[(f64, f64)]| points.iter().map(|p| p.1).sum::<f64>() / points.len() as f64;
        (mean(&losses[..50]), mean(&losses[losses.len() - 50..]))
    };
    println!("mean loss, steps 1-50: {first:.4}; steps 151-200: {last:.4}");
    assert!(last < 0.5 * first, "the loss did not fall by half: {first} -> {last}");
    LineChart::new("L_simple per step (tiny preset, batch 8)", "step", "loss")
        .series(Series::line("loss of the batch", losses.clone()))
    """),
    md(r"""
    ## Samples of the short run

    A run folder is also a weights folder: `load_weights` rebuilds the network from its
    `config.json` and loads the EMA weights. 16 images with DDIM, 20 steps, $\eta = 0$ (chapter 14):
    after 200 steps expect blobs and strokes, not digits.
    """),
    code(r"""
    use ddpm::workflows::images::sample_grid;
    use ddpm::workflows::load_weights;
    use ddpm::workflows::sample::{sample, SampleOptions, Sampler, Samples};

    let device: Device = Device::flex();
    let options = SampleOptions { sampler: Sampler::Ddim { steps: 20, eta: 0.0 }, clip_x0: true, seed: 1, count: 16, frames: 0 };
    let run_samples: Samples = {
        let (model, trained) = load_weights(&run_dir, true, &device).unwrap();
        let schedule = trained.schedule.build().unwrap();
        sample(&model, &schedule, trained.model.image_channels, trained.model.image_size, &options, &device, |_, _| {}).unwrap()
    };
    sample_grid(&run_samples.images, run_samples.count, 28, 8).unwrap()
    """),
    md(r"""
    ## Samples of the shipped weights

    The same sampler and seed on `weights/default/`, the weights `ddpm sample` uses by default
    (trained by `ddpm train`; the first line says with which network and for how long):
    """),
    code(r"""
    let shipped_samples: Samples = {
        let (model, trained) = load_weights(std::path::Path::new("../weights/default"), true, &device).unwrap();
        println!("weights/default: base {} channels, multipliers {:?}, {} steps of batch {}",
            trained.model.base_channels, trained.model.channel_mults, trained.steps, trained.batch);
        let schedule = trained.schedule.build().unwrap();
        sample(&model, &schedule, trained.model.image_channels, trained.model.image_size, &options, &device, |_, _| {}).unwrap()
    };
    sample_grid(&shipped_samples.images, shipped_samples.count, 28, 8).unwrap()
    """),
    md(r"""
    **What you should see.** The loss falls from about 1 to well under 0.1 within the 200
    steps (mean 0.49 over steps 1-50, 0.071 over steps 151-200; the run is seeded, so these
    numbers repeat). The short run's samples are noisy blobs and strokes; the shipped weights
    give white strokes on black with the shape of handwriting, some of them readable digits.
    Longer runs and larger presets do better (chapter 13).

    The run folder was only for this notebook; the last cell removes it (skip that cell to keep
    it and look at `loss.csv`, `config.json` and the sample grid).
    """),
    code(r"""
    std::fs::remove_dir_all(&run_dir).unwrap();
    println!("removed {}", run_dir.display());
    """),
]

# ---------------------------------------------------------------------------------------------
NOTEBOOKS["14-sampling"] = [
    md(r"""
    # 14. Sampling

    **Goal.** Turn noise into digits with the shipped weights: ancestral DDPM sampling
    (Ho et al. 2020, Algorithm 2, all $T = 1000$ steps) and DDIM (Song et al. 2021), whose
    deterministic update ($\eta = 0$)

    $$x_s = \sqrt{\bar\alpha_s}\,\hat x_0 + \sqrt{1-\bar\alpha_s}\;\epsilon_\theta(x_t, t),\qquad
    \hat x_0 = \frac{x_t - \sqrt{1-\bar\alpha_t}\,\epsilon_\theta(x_t, t)}{\sqrt{\bar\alpha_t}},$$

    can jump from $t$ to any earlier $s$, so a few dozen network calls replace 1000. No reference
    image is needed anywhere. Chapter: `chapters/14-sampling.md`.
    """),
    burn_dep_cell(),
    code(r"""
    use ddpm::burn::prelude::*;
    use ddpm::diffusion::NoiseSchedule;
    use ddpm::network::UNet;
    use ddpm::workflows::images::{sample_grid, trajectory_grid};
    use ddpm::workflows::load_weights;
    use ddpm::workflows::sample::{sample, SampleOptions, Sampler, Samples, VarianceKind};
    use ddpm::workflows::TrainingConfig;
    use std::time::Instant;

    let device: Device = Device::flex();
    let (model, config): (UNet, TrainingConfig) = load_weights(std::path::Path::new("../weights/default"), true, &device).unwrap();
    let schedule: NoiseSchedule = config.schedule.build().unwrap();
    println!("weights/default: base {} channels, multipliers {:?}, T = {}",
        config.model.base_channels, config.model.channel_mults, schedule.num_timesteps());
    """),
    md(r"""
    ## DDPM against DDIM

    The same seed (so the same $x_T$) through ancestral sampling with $\sigma_t^2 = \beta_t$ (1000
    network calls) and DDIM with 10, 20 and 50 steps; $\hat x_0$ clipped to $[-1, 1]$. One row per
    sampler, top to bottom.
    """),
    code(r"""
    let samplers = [
        ("DDPM, 1000 steps", Sampler::Ancestral { variance: VarianceKind::Beta }),
        ("DDIM, 10 steps", Sampler::Ddim { steps: 10, eta: 0.0 }),
        ("DDIM, 20 steps", Sampler::Ddim { steps: 20, eta: 0.0 }),
        ("DDIM, 50 steps", Sampler::Ddim { steps: 50, eta: 0.0 }),
    ];
    let mut rows: Vec<f32> = Vec::new();
    for &(name, sampler) in &samplers {
        let options = SampleOptions { sampler, clip_x0: true, seed: 0, count: 4, frames: 0 };
        let start = Instant::now();
        let out = sample(&model, &schedule, 1, 28, &options, &device, |_, _| {}).unwrap();
        println!("{name:<17} {:>6.1} s for {} images", start.elapsed().as_secs_f64(), out.count);
        rows.extend(&out.images);
    }
    sample_grid(&rows, 16, 28, 4).unwrap()
    """),
    md(r"""
    ## A trajectory

    DDIM with 50 steps and 10 evenly spaced snapshots of $x_t$: each row is one image, from $x_T$
    on the left to $x_0$ on the right.
    """),
    code(r"""
    let options = SampleOptions { sampler: Sampler::Ddim { steps: 50, eta: 0.0 }, clip_x0: true, seed: 1, count: 6, frames: 10 };
    let traced: Samples = sample(&model, &schedule, 1, 28, &options, &device, |_, _| {}).unwrap();
    println!("{} snapshots (x_T and 10 along the way)", traced.frames.len());
    assert_eq!(traced.frames.last().unwrap(), &traced.images);
    trajectory_grid(&traced.frames, traced.count, 28).unwrap()
    """),
    md(r"""
    ## Same seed, same images

    All randomness (the starting noise and every noise draw) comes from one `ChaCha8Rng` seeded
    with `seed`, so a seed reproduces its images exactly; another seed gives others.
    """),
    code(r"""
    // (A block: evcxr cannot keep closures between cells.)
    let (a, b, c): (Vec<f32>, Vec<f32>, Vec<f32>) = {
        let draw = |seed: u64| -> Vec<f32> {
            let options = SampleOptions { sampler: Sampler::Ddim { steps: 10, eta: 1.0 }, clip_x0: true, seed, count: 4, frames: 0 };
            sample(&model, &schedule, 1, 28, &options, &device, |_, _| {}).unwrap().images
        };
        (draw(3), draw(3), draw(4))
    };
    for (name, other) in [("seed 3 twice", &b), ("seed 3 vs 4 ", &c)] {
        let difference = a.iter().zip(other.iter()).fold(0.0f32, |m, (p, q)| m.max((p - q).abs()));
        println!("{name}: max pixel difference {difference}");
    }
    assert_eq!(a, b);
    assert_ne!(a, c);
    """),
    md(r"""
    **What you should see.** DDPM costs 1000 network calls, DDIM 10 to 50, and the times are in
    proportion (DDPM takes about a minute for these 4 images of the `small` weights on a 2-core
CPU, DDIM a few seconds). With
    $\eta = 0$ DDIM is a deterministic map from $x_T$, and the 10-, 20- and 50-step rows are
    almost the same images; the DDPM row, which adds fresh noise at every step, ends at other
    digits from the same $x_T$. With these briefly trained weights deterministic DDIM can leave
    a noisy background or a grey blob where DDPM's strokes are cleaner (chapter 17 compares
    samplers with numbers). In the trajectory the image stays noise for most of the chain and the stroke
    appears in the last third. The same seed reproduces the images bit for bit (with
    $\eta = 1$, so the noise draws are exercised too). Exercises: chapter 14.
    """),
]


# ---------------------------------------------------------------------------------------------
NOTEBOOKS["15-likelihood"] = [
    md(r"""
    # 15. Likelihood in bits per dimension

    **Goal.** Score the shipped model by the variational bound on test digits,

    $$L = L_T + \sum_{t=2}^{T} L_{t-1} + L_0 \;\ge\; -\log p_\theta(x_0),$$

    in bits per dimension ($L / (784 \ln 2)$), exactly (all $T$ terms) and as an unbiased
    estimate over sampled $t$. The same Part II functions that the math chapters test, run on
    the network's noise predictions. Chapter: `chapters/15-likelihood.md`.
    """),
    burn_dep_cell(),
    code(r"""
    use ddpm::burn::prelude::*;
    use ddpm::data::{load_embedded, Split};
    use ddpm::workflows::eval::{variational_bound, BoundMode, BoundOptions, BoundReport};
    use ddpm::workflows::evaluate::bound_terms_chart;
    use ddpm::workflows::load_weights;

    let device: Device = Device::flex();
    let (model, config) = load_weights(std::path::Path::new("../weights/default"), true, &device).unwrap();
    let schedule = config.schedule.build().unwrap();
    let test = load_embedded(Split::Test).unwrap();
    println!("{} test digits, T = {}", test.len(), schedule.num_timesteps());
    """),
    md(r"""
    ## All $T$ terms for two test digits

    1000 network calls per image. Both choices of $\sigma_t^2$ are scored on the same noise
    predictions; the parts add up to the total.
    """),
    code(r"""
    let exact: BoundReport = variational_bound(|x, t| model.forward(x, t), &schedule, &test,
        &BoundOptions { images: 2, mode: BoundMode::Exact, batch: 2, seed: 0 }, &device).unwrap();
    for p in &exact.parts {
        println!("{:?}: {:.3} bits/dim = L_T {:.1e} + sum L_t-1 {:.3} + L_0 {:.3}",
            p.variance, p.bits_per_dim, p.prior_bpd, p.diffusion_bpd, p.decoder_bpd);
        assert!((p.bits_per_dim - (p.prior_bpd + p.diffusion_bpd + p.decoder_bpd)).abs() < 1e-9);
        assert!(p.bits_per_dim < 8.0, "worse than a uniform guess over 256 levels");
    }
    """),
    md(r"""
    The per-timestep terms (entry $t-1$ is the term at timestep $t$; $t = 1$ is $L_0$): most of
    the bound is spent on the last few steps.
    """),
    code(r"""
    bound_terms_chart(&exact).unwrap()
    """),
    md(r"""
    ## The sampled estimate

    $L_T$ and $L_0$ exactly, $\sum_{t\ge2} L_{t-1}$ estimated as $(T-1)$ times the mean of $K$
    terms at uniformly drawn $t$: unbiased, $1 + K$ network calls per image instead of $T$, with a
    standard error over images and timesteps.
    """),
    code(r"""
    let sampled: BoundReport = variational_bound(|x, t| model.forward(x, t), &schedule, &test,
        &BoundOptions { images: 40, mode: BoundMode::Sampled { timesteps_per_image: 5 }, batch: 40, seed: 1 }, &device).unwrap();
    for p in &sampled.parts {
        println!("{:?}: {:.3} +- {:.3} bits/dim ({} images, {} network calls each)",
            p.variance, p.bits_per_dim, p.standard_error, sampled.images, sampled.evaluations_per_image);
    }
    """),
]

# ---------------------------------------------------------------------------------------------
NOTEBOOKS["16-sample-quality"] = [
    md(r"""
    # 16. Sample quality

    **Goal.** Measure "the samples look like digits" with the shipped MNIST classifier: the
    Fréchet distance in its feature space (FLD) to the test digits, beside a floor (real
    training digits) and a ceiling (noise) of the same size; the share of samples classified
    with confidence $\ge 0.9$; the entropy of the predicted labels ($\ln 10 \approx 2.303$ is
    uniform). Chapter: `chapters/16-sample-quality.md`.
    """),
    burn_dep_cell(),
    code(r"""
    use ddpm::burn::prelude::*;
    use ddpm::data::{load_embedded, Split};
    use ddpm::workflows::classifier_train::{accuracy, load_classifier};
    use ddpm::workflows::evaluate::{evaluate, parse_sampler, EvalSettings};
    use ddpm::workflows::images::sample_grid;
    use ddpm::workflows::load_weights;

    let device: Device = Device::flex();
    let (model, config) = load_weights(std::path::Path::new("../weights/default"), true, &device).unwrap();
    let (classifier, _) = load_classifier(std::path::Path::new("../weights/classifier"), &device).unwrap();
    let train = load_embedded(Split::Train).unwrap();
    let test = load_embedded(Split::Test).unwrap();
    let acc = accuracy(&classifier, &test, &device);
    println!("classifier accuracy on the {} test digits: {:.2}%", test.len(), 100.0 * acc);
    assert!(acc >= 0.98);
    """),
    md(r"""
    ## 200 samples against the floor and the ceiling

    DDIM with 10 steps and $\eta = 1$ (a cheap stochastic sampler; chapter 17 compares others).
    200 images per row keep the notebook quick; the FLD is biased upwards at small sizes, which
    is why the floor and ceiling use the same number of images.
    """),
    code(r"""
    let settings = EvalSettings {
        bound: None,
        samples: 200,
        samplers: vec![parse_sampler("ddim:10:1").unwrap()],
        clip_x0: true,
        seed: 0,
        sample_batch: 200,
        keep_images: 32, // kept to look at below
    };
    let (_, quality) = evaluate(&model, &config, &classifier, &train, &test, &settings, &device, |s| println!("{s}")).unwrap();
    let q = quality.unwrap();
    // (A block: evcxr cannot keep references between cells.)
    {
        let row = &q.samplers[0];
        for (name, r) in [("floor (train digits)", &q.floor), (row.sampler.as_str(), &row.quality), ("ceiling (noise)", &q.ceiling)] {
            println!("{name:<22} FLD {:>7.1}  confident {:>5.1}%  label entropy {:.3}  labels {:?}",
                r.fld, 100.0 * r.confident_share, r.label_entropy, r.label_histogram);
        }
        assert!(q.floor.fld < row.quality.fld && row.quality.fld < q.ceiling.fld);
    };
    """),
    md(r"""
    The first 32 of the 200 samples that were scored:
    """),
    code(r"""
    sample_grid(&q.samplers[0].images, 32, 28, 8).unwrap()
    """),
]

# ---------------------------------------------------------------------------------------------
NOTEBOOKS["17-samplers"] = [
    md(r"""
    # 17. Samplers compared

    **Goal.** Trade network calls for quality: DDIM with few steps, deterministic ($\eta = 0$)
    and stochastic ($\eta = 1$), scored with chapter 16's statistics and timed. (Ancestral
    sampling with all 1000 steps takes minutes per hundred images on a CPU: the chapter's table
    has it; this notebook keeps to cheap samplers.) Chapter: `chapters/17-samplers.md`.
    """),
    burn_dep_cell(),
    code(r"""
    use ddpm::burn::prelude::*;
    use ddpm::data::{load_embedded, Split};
    use ddpm::workflows::classifier_train::load_classifier;
    use ddpm::workflows::evaluate::{evaluate, parse_sampler, EvalReport, EvalSettings};
    use ddpm::workflows::load_weights;

    let device: Device = Device::flex();
    let (model, config) = load_weights(std::path::Path::new("../weights/default"), true, &device).unwrap();
    let (classifier, _) = load_classifier(std::path::Path::new("../weights/classifier"), &device).unwrap();
    let train = load_embedded(Split::Train).unwrap();
    let test = load_embedded(Split::Test).unwrap();
    """),
    code(r"""
    let specs = ["ddim:5:0", "ddim:5:1", "ddim:10:0", "ddim:10:1"];
    let settings = EvalSettings {
        bound: None,
        samples: 128,
        samplers: specs.iter().map(|s| parse_sampler(s).unwrap()).collect(),
        clip_x0: true,
        seed: 0,
        sample_batch: 128,
        keep_images: 0,
    };
    let (_, quality) = evaluate(&model, &config, &classifier, &train, &test, &settings, &device, |s| println!("{s}")).unwrap();
    let report = EvalReport { weights: "../weights/default".into(), ema: true, params: model.num_params(), config: config.clone(), bound: None, quality };
    println!("{}", report.table());
    """),
    md(r"""
    FLD against network calls (log scale), one line per $\eta$ (lower is better; the dashed
    floor is what real digits score): `sampler_chart`, the function that draws chapter 17's
    figure from `ddpm eval` reports.
    """),
    code(r"""
    use ddpm::workflows::evaluate::sampler_chart;

    // (A block: evcxr cannot keep references between cells.)
    let chart = {
        let q = report.quality.as_ref().unwrap();
        sampler_chart(&q.samplers, q.floor.fld)
    };
    chart
    """),
]


def notebook_json(cells):
    out = []
    for kind, text in cells:
        source = text.splitlines(keepends=True)
        if kind == "md":
            out.append({"cell_type": "markdown", "metadata": {}, "source": source})
        else:
            out.append({"cell_type": "code", "execution_count": None, "metadata": {},
                        "outputs": [], "source": source})
    nb = {
        "cells": out,
        "metadata": {
            "kernelspec": {"name": "rust", "display_name": "Rust", "language": "rust"},
            "language_info": {"name": "rust", "file_extension": ".rs",
                              "mimetype": "text/rust", "pygment_lexer": "rust"},
        },
        "nbformat": 4,
        "nbformat_minor": 4,
    }
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def main():
    check = "--check" in sys.argv[1:]
    stale = []
    for name, cells in NOTEBOOKS.items():
        path = HERE / f"{name}.ipynb"
        text = notebook_json(cells)
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(path.name)
        else:
            path.write_text(text)
    if stale:
        sys.exit("notebooks differ from notebooks/generate.py (run `python3 notebooks/generate.py`): "
                 + ", ".join(stale))


if __name__ == "__main__":
    main()
