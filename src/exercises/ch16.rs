//! Exercises for chapter 16 (see the chapter's "Exercises" section): replace each `todo!`.
//! Grade with `scripts/grade.sh --chapters 16` (or `cargo test --release --no-default-features --test exercises_ch16`).
//! This file is compiled into its grader only, not into the library, and may not use the
//! `ddpm` crate: std, `ndarray`, `rand`, `rand_chacha`, `rand_distr` and `burn` only.

/// Exercise 16.1: the label entropy of a set of samples. `labels` are the classifier's
/// predicted labels, each in `0..num_classes`. With $\hat p_k = n_k / n$ the share of label
/// $k$, return
///
/// $$ H = -\sum_{k:\ n_k > 0} \hat p_k \ln \hat p_k \quad\text{(nats)}, $$
///
/// and 0 for an empty set. ($\ln 10$ when all ten digits are equally frequent, 0 for a model
/// that draws a single digit.)
pub fn label_entropy(labels: &[usize], num_classes: usize) -> f64 {
    let _ = (labels, num_classes);
    todo!("Exercise 16.1: implement label_entropy (see chapter 16)")
}

/// Exercise 16.2: the confident share. Each element of `probabilities` is one sample's
/// softmax $p(\cdot \mid x)$; return the fraction of samples whose largest probability is
/// **at least** `threshold` (chapter 16 uses 0.9), and 0 for an empty set.
pub fn confident_share(probabilities: &[Vec<f64>], threshold: f64) -> f64 {
    let _ = (probabilities, threshold);
    todo!("Exercise 16.2: implement confident_share (see chapter 16)")
}

/// Exercise 16.3: the squared Fréchet distance $d^2$ between two Gaussians with **diagonal**
/// covariances, given the means and the per-coordinate **variances** $\sigma^2_{1,i}$,
/// $\sigma^2_{2,i}$. The matrix square roots are then elementwise, and
///
/// $$ d^2 = \sum_i (\mu_{1,i} - \mu_{2,i})^2 + \sum_i (\sigma_{1,i} - \sigma_{2,i})^2 . $$
pub fn frechet_distance_diagonal(mean1: &[f64], var1: &[f64], mean2: &[f64], var2: &[f64]) -> f64 {
    let _ = (mean1, var1, mean2, var2);
    todo!("Exercise 16.3: implement frechet_distance_diagonal (see chapter 16)")
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
    let _ = (mean1, cov1, mean2, cov2);
    todo!("Exercise 16.4: implement frechet_distance_2d (see chapter 16)")
}
