//! Prints every number Part I of the book quotes (chapters 2-5), so they are measured, not
//! typed: `cargo run --release --no-default-features --example part1_numbers`.
//!
//! Lines that start with `|` are table rows exactly as the chapters show them;
//! `scripts/check.sh` checks that each one appears in a chapter, so a table cannot drift from
//! this output (saved in `chapters/output/part1-numbers.txt`).

use ddpm::book_figures::part1::{chapter3_problem, chapter5_model, monte_carlo_error_points};
use ddpm::probability::bayes::gaussian_log_evidence;
use ddpm::probability::monte_carlo::{fit_line, monte_carlo_kl};
use ddpm::probability::{
    Gaussian, GaussianMixture, Grid, discrete_kl, gaussian_posterior, grid_posterior,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn main() -> anyhow::Result<()> {
    println!("== Chapter 2");
    let (p, q) = ([0.9, 0.1], [0.5, 0.5]);
    println!(
        "KL(p||q) = {:.6}, KL(q||p) = {:.6}",
        discrete_kl(&p, &q)?,
        discrete_kl(&q, &p)?
    );
    let mix = GaussianMixture::chapter2_example();
    let fwd = mix.fit_forward_kl()?;
    println!(
        "forward fit: mean {:.4}, std {:.4}",
        fwd.mean(),
        fwd.std_dev().get()
    );
    let mut reverse_rows = Vec::new();
    // a reverse fit that locks onto component k pays about -log(pi_k)
    for (init, label, k) in [((-0.5, 1.0), "-0.5", 0), ((1.5, 0.5), "+1.5", 1)] {
        let r = mix.fit_reverse_kl(&Gaussian::from_mean_std(init.0, init.1)?)?;
        println!(
            "reverse fit from {init:?}: mean {:.4}, std {:.4}, KL(q||p) = {:.4}",
            r.mean(),
            r.std_dev().get(),
            mix.reverse_kl(&r)
        );
        let pi = mix.weights()[k];
        reverse_rows.push(format!(
            "| reverse, started at $\\mu={label}$ | {:.4} | {:.4} | | {:.4} ($\\approx -\\log {pi} = {:.4}$) |",
            r.mean(),
            r.std_dev().get(),
            mix.reverse_kl(&r),
            -pi.ln()
        ));
    }
    let grid = Grid::new(-12.0, 12.0, 24_001)?;
    println!(
        "forward fit: KL(p||q) = {:.4}, KL(q||p) = {:.4}",
        mix.forward_kl(&fwd, &grid),
        mix.reverse_kl(&fwd)
    );
    // fit | mu | sigma | KL(p||q) | KL(q||p)
    println!(
        "| forward (moment matching) | {:.4} | {:.4} | {:.4} | {:.4} |",
        fwd.mean(),
        fwd.std_dev().get(),
        mix.forward_kl(&fwd, &grid),
        mix.reverse_kl(&fwd)
    );
    for row in reverse_rows {
        println!("{row}");
    }

    println!("== Chapter 3");
    let (prior, noise, data) = chapter3_problem()?;
    let exact = gaussian_posterior(&prior, noise, &data)?;
    let mut grid_rows = Vec::new();
    for n in [81, 401, 4001] {
        let g = Grid::new(-10.0, 10.0, n)?;
        let post = grid_posterior(
            &g,
            |t| prior.log_density(t),
            |t| {
                data.iter()
                    .map(|&x| Gaussian::new(t, noise).map_or(f64::NAN, |g| g.log_density(x)))
                    .sum()
            },
        )?;
        println!(
            "grid n={n}: mean {:.10}, var {:.10}, log p(x) {:.10}",
            post.mean(),
            post.variance(),
            post.log_evidence()
        );
        let label = match n {
            81 => Some("grid, 81 points on $[-10, 10]$"),
            4001 => Some("grid, 4001 points"),
            _ => None,
        };
        if let Some(label) = label {
            grid_rows.push(format!(
                "| {label} | {:.10} | {:.10} | {:.10} |",
                post.mean(),
                post.variance(),
                post.log_evidence()
            ));
        }
    }
    println!(
        "conjugate: mean {:.10}, var {:.10}, log p(x) {:.10}",
        exact.mean(),
        exact.variance().get(),
        gaussian_log_evidence(&prior, noise, &data)?
    );
    // method | posterior mean | posterior variance | log p(x)
    println!(
        "| conjugate formula | {:.10} | {:.10} | {:.10} |",
        exact.mean(),
        exact.variance().get(),
        gaussian_log_evidence(&prior, noise, &data)?
    );
    for row in grid_rows {
        println!("{row}");
    }

    println!("== Chapter 4");
    let pts = monte_carlo_error_points()?;
    for (k, e) in &pts {
        println!("K = {k:>6}: RMSE {e:.5}");
    }
    let xs: Vec<f64> = pts.iter().map(|(k, _)| k.ln()).collect();
    let ys: Vec<f64> = pts.iter().map(|(_, e)| e.ln()).collect();
    println!("log-log slope {:.4}", fit_line(&xs, &ys)?.0);
    let (p, q) = (
        Gaussian::from_mean_std(0.0, 1.0)?,
        Gaussian::from_mean_std(1.0, 1.5)?,
    );
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    for (k, label) in [(100, "100"), (10_000, "10 000"), (1_000_000, "1 000 000")] {
        let e = monte_carlo_kl(&p, &q, k, &mut rng)?;
        println!(
            "K = {k}: MC KL {:.5} +- {:.5} (closed form {:.5})",
            e.estimate,
            e.std_error,
            p.kl(&q)
        );
        // K | Monte Carlo estimate | standard error
        println!("| {label} | {:.5} | {:.5} |", e.estimate, e.std_error);
    }

    println!("== Chapter 5");
    let (model, x) = chapter5_model()?;
    let post = model.posterior(x)?;
    println!(
        "log p(x) {:.6}; posterior mean {:.6}, var {:.6}",
        model.log_evidence(x),
        post.mean(),
        post.variance().get()
    );
    for ((m, v), label) in [
        ((0.0, 1.0), "the prior $\\mathcal N(0, 1)$".to_string()),
        (
            (post.mean(), 4.0 * post.variance().get()),
            format!(
                "$\\mathcal N({:.4},\\ 4 \\times {:.4})$",
                post.mean(),
                post.variance().get()
            ),
        ),
        (
            (post.mean(), post.variance().get()),
            "the posterior".to_string(),
        ),
    ] {
        let q = Gaussian::new(m, ddpm::probability::Variance::new(v)?)?;
        let t = model.elbo(x, &q);
        let mc = model.monte_carlo_elbo(x, &q, 10_000, &mut ChaCha8Rng::seed_from_u64(5))?;
        println!(
            "q = N({m:.4}, {v:.4}): recon {:.6}, KL to prior {:.6}, ELBO {:.6}, gap {:.6}, KL(q||post) {:.6}, MC ELBO {:.4} +- {:.4}",
            t.reconstruction,
            t.kl_to_prior,
            t.elbo(),
            model.gap(x, &q),
            q.kl(&post),
            mc.estimate,
            mc.std_error
        );
        // q | reconstruction | KL to prior | ELBO | gap | KL(q || p(z|x)) | Monte Carlo ELBO
        println!(
            "| {label} | {:.6} | {:.6} | {:.6} | {:.6} | {:.6} | {:.4} ± {:.4} |",
            t.reconstruction,
            t.kl_to_prior,
            t.elbo(),
            model.gap(x, &q),
            q.kl(&post),
            mc.estimate,
            mc.std_error
        );
    }
    let data = GaussianMixture::chapter2_example().sample_n(&mut ChaCha8Rng::seed_from_u64(1), 500);
    let mut m = ddpm::probability::LinearGaussianModel::new(
        0.3,
        0.0,
        ddpm::probability::Variance::new(1.0)?,
    )?;
    for it in 0..=20 {
        if it % 5 == 0 {
            println!(
                "EM iter {it}: w {:.4} b {:.4} s2 {:.4} log-lik {:.4}",
                m.w(),
                m.b(),
                m.noise().get(),
                m.log_likelihood(&data)
            );
        }
        m = m.em_step(&data)?;
    }
    Ok(())
}
