//! Figures of Part I (chapters 2-5). Every curve is computed by the `probability` module;
//! this file only chooses what to draw. Seeds are fixed, so rendering is deterministic.

use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::figures::{LegendPosition, LineChart, Series};
use crate::probability::monte_carlo::{monte_carlo_kl, rmse};
use crate::probability::{
    Gaussian, GaussianMixture, Grid, LinearGaussianModel, Variance, gaussian_posterior,
    grid_posterior,
};

/// Renders Part I's figures into `dir`.
///
/// # Errors
/// Fails if a figure cannot be drawn or written.
pub fn render(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    written.extend(forward_vs_reverse_kl()?.write_png_and_svg(dir, "02-forward-vs-reverse-kl")?);
    written.extend(reverse_kl_terms()?.write_png_and_svg(dir, "02-reverse-kl-terms")?);
    written.extend(grid_vs_conjugate()?.write_png_and_svg(dir, "03-grid-vs-conjugate")?);
    written.extend(monte_carlo_error()?.write_png_and_svg(dir, "04-monte-carlo-error")?);
    written.extend(elbo_vs_log_evidence()?.write_png_and_svg(dir, "05-elbo-vs-log-evidence")?);
    Ok(written)
}

fn curve(lo: f64, hi: f64, n: usize, f: impl Fn(f64) -> f64) -> anyhow::Result<Vec<(f64, f64)>> {
    Ok(Grid::new(lo, hi, n)?
        .points()
        .into_iter()
        .map(|x| (x, f(x)))
        .collect())
}

/// Chapter 2: a bimodal mixture, its forward-KL fit (mass-covering) and its two reverse-KL
/// fits (mode-seeking, one per starting point).
pub fn forward_vs_reverse_kl() -> anyhow::Result<LineChart> {
    let p = GaussianMixture::chapter2_example();
    let forward = p.fit_forward_kl()?;
    let reverse_left = p.fit_reverse_kl(&Gaussian::from_mean_std(-0.5, 1.0)?)?;
    let reverse_right = p.fit_reverse_kl(&Gaussian::from_mean_std(1.5, 0.5)?)?;
    Ok(
        LineChart::new("Fitting one Gaussian to a bimodal p", "x", "density")
            .series(Series::line(
                "p (mixture)",
                curve(-6.0, 6.0, 601, |x| p.density(x))?,
            ))
            .series(Series::dashed(
                "argmin KL(p||q): forward, mass-covering",
                curve(-6.0, 6.0, 601, |x| forward.density(x))?,
            ))
            .series(Series::line(
                "argmin KL(q||p) from mu=-0.5: reverse",
                curve(-6.0, 6.0, 601, |x| reverse_left.density(x))?,
            ))
            .series(Series::dashed(
                "argmin KL(q||p) from mu=+1.5: reverse",
                curve(-6.0, 6.0, 601, |x| reverse_right.density(x))?,
            ))
            .y_range(0.0, 0.95)
            .legend(LegendPosition::UpperLeft),
    )
}

/// Chapter 2: the two terms of the reverse KL fighting, as the width of q (centred on the big
/// mode) varies: $-H(q)$ falls as q widens, $H(q,p)$ rises once q spills off the mode.
pub fn reverse_kl_terms() -> anyhow::Result<LineChart> {
    let p = GaussianMixture::chapter2_example();
    let sigmas = Grid::new(0.15, 3.0, 200)?.points();
    let terms: Vec<_> = sigmas
        .iter()
        .map(|&s| Gaussian::from_mean_std(-2.0, s).map(|q| (s, p.reverse_kl_terms(&q))))
        .collect::<Result<_, _>>()?;
    Ok(LineChart::new(
        "Reverse KL = -H(q) + H(q, p), q = N(-2, sigma^2)",
        "sigma of q",
        "nats",
    )
    .series(Series::dashed(
        "-H(q): wants q wide",
        terms.iter().map(|(s, t)| (*s, t.neg_entropy)).collect(),
    ))
    .series(Series::dashed(
        "H(q, p): wants q on p's mass",
        terms.iter().map(|(s, t)| (*s, t.cross_entropy)).collect(),
    ))
    .series(Series::line(
        "KL(q || p)",
        terms.iter().map(|(s, t)| (*s, t.kl())).collect(),
    )))
}

/// The data set chapter 3 uses: prior N(0, 2^2), noise variance 1.5, five observations.
pub fn chapter3_problem() -> anyhow::Result<(Gaussian, Variance, Vec<f64>)> {
    Ok((
        Gaussian::from_mean_std(0.0, 2.0)?,
        Variance::new(1.5)?,
        vec![1.2, 0.7, 2.3, 1.9, 0.4],
    ))
}

/// Chapter 3: prior, conjugate posterior and the grid posterior on top of it.
pub fn grid_vs_conjugate() -> anyhow::Result<LineChart> {
    let (prior, noise, data) = chapter3_problem()?;
    let exact = gaussian_posterior(&prior, noise, &data)?;
    let grid = Grid::new(-5.0, 5.0, 81)?;
    let post = grid_posterior(
        &grid,
        |t| prior.log_density(t),
        |t| {
            data.iter()
                .map(|&x| Gaussian::new(t, noise).map_or(f64::NAN, |g| g.log_density(x)))
                .sum()
        },
    )?;
    Ok(LineChart::new(
        "Bayes' rule: conjugate formula vs brute force",
        "theta",
        "density",
    )
    .series(Series::dashed(
        "prior N(0, 4)",
        curve(-5.0, 5.0, 401, |t| prior.density(t))?,
    ))
    .series(Series::line(
        "conjugate posterior",
        curve(-5.0, 5.0, 401, |t| exact.density(t))?,
    ))
    .series(Series::points(
        "grid posterior (81 points)",
        post.points()
            .iter()
            .copied()
            .zip(post.density().iter().copied())
            .collect(),
    )))
}

/// The K values and repetitions of chapter 4's convergence plot.
pub const MC_KS: [usize; 7] = [10, 30, 100, 300, 1000, 3000, 10000];
/// Repetitions per K.
pub const MC_REPS: usize = 200;

/// Chapter 4: RMSE of the Monte Carlo KL estimate against the closed form, on log-log axes,
/// with the reference slope $-1/2$. Returns the points as `(K, RMSE)`.
pub fn monte_carlo_error_points() -> anyhow::Result<Vec<(f64, f64)>> {
    let p = Gaussian::from_mean_std(0.0, 1.0)?;
    let q = Gaussian::from_mean_std(1.0, 1.5)?;
    let truth = p.kl(&q);
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    MC_KS
        .iter()
        .map(|&k| {
            let e = rmse(truth, MC_REPS, &mut rng, |r| monte_carlo_kl(&p, &q, k, r))?;
            Ok((k as f64, e))
        })
        .collect()
}

/// Chapter 4's figure.
pub fn monte_carlo_error() -> anyhow::Result<LineChart> {
    let points = monte_carlo_error_points()?;
    let (k0, e0) = points[0];
    let reference = MC_KS
        .iter()
        .map(|&k| (k as f64, e0 * (k0 / k as f64).sqrt()))
        .collect();
    Ok(LineChart::new(
        "Monte Carlo KL(N(0,1) || N(1,1.5^2)): error vs samples",
        "K (samples)",
        "RMSE over 200 runs",
    )
    .log_log(true)
    .series(Series::points("measured RMSE", points))
    .series(Series::dashed("slope -1/2", reference)))
}

/// The model chapter 5 uses: w = 1.5, b = -0.5, s^2 = 0.5, observed x = 1.
pub fn chapter5_model() -> anyhow::Result<(LinearGaussianModel, f64)> {
    Ok((
        LinearGaussianModel::new(1.5, -0.5, Variance::new(0.5)?)?,
        1.0,
    ))
}

/// Chapter 5: as the mean of q moves (its variance fixed at the posterior's), the ELBO rises
/// to touch $\log p(x)$ exactly at the posterior mean; the gap is $\mathrm{KL}(q\,\|\,p(z\mid x))$.
pub fn elbo_vs_log_evidence() -> anyhow::Result<LineChart> {
    let (model, x) = chapter5_model()?;
    let post = model.posterior(x)?;
    let q_at = |m: f64| Gaussian::new(m, post.variance());
    let ms = Grid::new(-0.9, 2.5, 171)?.points();
    let mut elbo = Vec::new();
    let mut wide = Vec::new();
    let mut check = Vec::new();
    for (i, &m) in ms.iter().enumerate() {
        let q = q_at(m)?;
        elbo.push((m, model.elbo(x, &q).elbo()));
        let q_wide = Gaussian::new(m, Variance::new(4.0 * post.variance().get())?)?;
        wide.push((m, model.elbo(x, &q_wide).elbo()));
        if i % 10 == 0 {
            check.push((m, model.log_evidence(x) - q.kl(&post)));
        }
    }
    let log_px = model.log_evidence(x);
    Ok(
        LineChart::new("ELBO(q) <= log p(x), q = N(m, v)", "mean m of q", "nats")
            .series(Series::dashed(
                "log p(x) (exact)",
                vec![(ms[0], log_px), (ms[ms.len() - 1], log_px)],
            ))
            .series(Series::line("ELBO, v = posterior variance", elbo))
            .series(Series::line("ELBO, v = 4 x posterior variance", wide))
            .series(Series::points("log p(x) - KL(q || p(z|x))", check))
            .legend(LegendPosition::LowerMiddle),
    )
}
