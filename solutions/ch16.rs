//! Reference solutions of chapter 16's exercises (instructors only: `scripts/student_copy.sh`
//! leaves this folder out). `cargo test --release --features solutions --test exercises_ch16`
//! grades them in place of `src/exercises/ch16.rs`; they obey the students' rule (no `ddpm`).

/// Exercise 16.1: the label entropy of a set of samples. `labels` are the classifier's
/// predicted labels, each in `0..num_classes`. With $\hat p_k = n_k / n$ the share of label
/// $k$, return
///
/// $$ H = -\sum_{k:\ n_k > 0} \hat p_k \ln \hat p_k \quad\text{(nats)}, $$
///
/// and 0 for an empty set. ($\ln 10$ when all ten digits are equally frequent, 0 for a model
/// that draws a single digit.)
pub fn label_entropy(labels: &[usize], num_classes: usize) -> f64 {
    let mut counts = vec![0usize; num_classes];
    for &label in labels {
        counts[label] += 1;
    }
    let n = labels.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.ln()
        })
        .sum::<f64>()
        + 0.0 // -0.0 for a single class becomes 0.0
}

/// Exercise 16.2: the confident share. Each element of `probabilities` is one sample's
/// softmax $p(\cdot \mid x)$; return the fraction of samples whose largest probability is
/// **at least** `threshold` (chapter 16 uses 0.9), and 0 for an empty set.
pub fn confident_share(probabilities: &[Vec<f64>], threshold: f64) -> f64 {
    if probabilities.is_empty() {
        return 0.0;
    }
    let confident = probabilities
        .iter()
        .filter(|row| row.iter().copied().fold(f64::NEG_INFINITY, f64::max) >= threshold)
        .count();
    confident as f64 / probabilities.len() as f64
}

/// Exercise 16.3: the squared Fréchet distance $d^2$ between two Gaussians with **diagonal**
/// covariances, given the means and the per-coordinate **variances** $\sigma^2_{1,i}$,
/// $\sigma^2_{2,i}$. The matrix square roots are then elementwise, and
///
/// $$ d^2 = \sum_i (\mu_{1,i} - \mu_{2,i})^2 + \sum_i (\sigma_{1,i} - \sigma_{2,i})^2 . $$
pub fn frechet_distance_diagonal(mean1: &[f64], var1: &[f64], mean2: &[f64], var2: &[f64]) -> f64 {
    let means: f64 = mean1.iter().zip(mean2).map(|(a, b)| (a - b).powi(2)).sum();
    let spreads: f64 = var1
        .iter()
        .zip(var2)
        .map(|(a, b)| (a.sqrt() - b.sqrt()).powi(2))
        .sum();
    means + spreads
}

/// Exercise 16.4: the squared Fréchet distance $d^2$ between two **2-D** Gaussians without an eigensolver.
/// For a $2\times 2$ matrix $M$ with non-negative eigenvalues $\lambda_1, \lambda_2$,
/// $\operatorname{tr} M^{1/2} = \sqrt{\lambda_1} + \sqrt{\lambda_2} =
/// \sqrt{\operatorname{tr} M + 2\sqrt{\det M}}$. Apply it to $M = \Sigma_1\Sigma_2$:
///
/// $$ d^2 = \lVert\mu_1-\mu_2\rVert^2 + \operatorname{tr}\Sigma_1 + \operatorname{tr}\Sigma_2
///    - 2\sqrt{\operatorname{tr}(\Sigma_1\Sigma_2) + 2\sqrt{\det\Sigma_1\,\det\Sigma_2}} . $$
///
/// `cov1` and `cov2` are symmetric positive semi-definite, row-major.
pub fn frechet_distance_2d(
    mean1: [f64; 2],
    cov1: [[f64; 2]; 2],
    mean2: [f64; 2],
    cov2: [[f64; 2]; 2],
) -> f64 {
    let det = |m: [[f64; 2]; 2]| m[0][0] * m[1][1] - m[0][1] * m[1][0];
    let trace_product = (0..2)
        .flat_map(|i| (0..2).map(move |k| (i, k)))
        .map(|(i, k)| cov1[i][k] * cov2[k][i])
        .sum::<f64>();
    let det_product = (det(cov1) * det(cov2)).max(0.0);
    let trace_sqrt = (trace_product + 2.0 * det_product.sqrt()).max(0.0).sqrt();
    let means = (mean1[0] - mean2[0]).powi(2) + (mean1[1] - mean2[1]).powi(2);
    let d2 = means + cov1[0][0] + cov1[1][1] + cov2[0][0] + cov2[1][1] - 2.0 * trace_sqrt;
    d2.max(0.0)
}
