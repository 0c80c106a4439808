//! Shared test helpers: checking samples against a well-separated 2-D Gaussian mixture.

use ddpm::diffusion::mixture::GaussianMixture;
use ndarray::{Array2, Axis};

/// Sample moments of `x` per component (assigned by maximum responsibility; the book mixture's
/// components are so far apart that misassignment has probability below 1e-6), compared with
/// the truth within 4 standard errors:
/// weight se = sqrt(w (1 - w) / N); mean se = sqrt(Sigma_ii / n_k);
/// covariance se = sqrt((Sigma_ii Sigma_jj + Sigma_ij^2) / n_k) (Gaussian fourth moments).
pub fn assert_matches_mixture(m: &GaussianMixture, x: &Array2<f64>, what: &str) {
    let n = x.nrows() as f64;
    let d = m.dim();
    let labels = m.classify(x);
    for k in 0..m.weights().len() {
        let rows: Vec<usize> = (0..x.nrows()).filter(|&r| labels[r] == k).collect();
        let nk = rows.len() as f64;
        let w = m.weights()[k];
        let se_w = (w * (1.0 - w) / n).sqrt();
        assert!(
            (nk / n - w).abs() < 4.0 * se_w,
            "{what}: weight {k}: {} vs {w}",
            nk / n
        );
        let sub = x.select(Axis(0), &rows);
        let mean = sub.mean_axis(Axis(0)).unwrap();
        let sigma = &m.covariances()[k];
        for i in 0..d {
            let se = (sigma[[i, i]] / nk).sqrt();
            assert!(
                (mean[i] - m.means()[k][i]).abs() < 4.0 * se,
                "{what}: mean {k}[{i}]: {} vs {} (se {se})",
                mean[i],
                m.means()[k][i]
            );
        }
        let centred = &sub - &mean;
        let cov = centred.t().dot(&centred) / (nk - 1.0);
        for i in 0..d {
            for j in 0..d {
                let se = ((sigma[[i, i]] * sigma[[j, j]] + sigma[[i, j]].powi(2)) / nk).sqrt();
                assert!(
                    (cov[[i, j]] - sigma[[i, j]]).abs() < 4.0 * se,
                    "{what}: cov {k}[{i},{j}]: {} vs {} (se {se})",
                    cov[[i, j]],
                    sigma[[i, j]]
                );
            }
        }
    }
}
