//! Sample-quality statistics (chapter 16), in plain `f64` ndarray so that they can be tested
//! without burn: the squared Fréchet distance between two feature sets (the FID of Heusel et al. 2017,
//! computed here in a LeNet classifier's features: the *Fréchet LeNet Distance*, FLD), the
//! symmetric eigendecomposition it needs (Jacobi's method), and the classifier-confidence and
//! label-entropy statistics.
//!
//! The network that produces the features lives in `network::classifier`; the workflow that
//! feeds it images is `workflows::measure`.

use ndarray::{Array1, Array2, ArrayView2, Axis};

/// What is wrong with the input of a statistic.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetricsError {
    /// Too few rows to estimate a covariance.
    #[error("{what} has {rows} samples; a covariance needs at least 2")]
    TooFewSamples {
        /// Which input.
        what: &'static str,
        /// Its number of rows.
        rows: usize,
    },
    /// Two feature sets of different widths, or a non-square matrix.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// A NaN or infinity in the input.
    #[error("{0} contains NaN or infinite values; check the network's outputs")]
    NonFinite(&'static str),
    /// A matrix that should be symmetric is not.
    #[error(
        "the matrix is not symmetric (largest |A - A^T| = {0:e}); the eigensolver needs a \
         symmetric matrix such as a covariance"
    )]
    NotSymmetric(f64),
}

/// The sample mean and the unbiased sample covariance of the rows of `x`:
/// $\mu = \frac1n\sum_i x_i$, $\Sigma = \frac{1}{n-1}\sum_i (x_i - \mu)(x_i - \mu)^\top$.
///
/// # Shapes
/// - `x`: `[n, d]`; returns `([d], [d, d])`
///
/// # Errors
/// [`MetricsError::TooFewSamples`] for fewer than 2 rows, [`MetricsError::NonFinite`].
///
/// ```
/// use ddpm::metrics::mean_and_covariance;
/// let x = ndarray::arr2(&[[1.0, 2.0], [3.0, 6.0]]);
/// let (mean, cov) = mean_and_covariance(x.view()).unwrap();
/// assert_eq!(mean.to_vec(), vec![2.0, 4.0]);
/// assert_eq!(cov, ndarray::arr2(&[[2.0, 4.0], [4.0, 8.0]]));
/// ```
pub fn mean_and_covariance(x: ArrayView2<f64>) -> Result<(Array1<f64>, Array2<f64>), MetricsError> {
    let n = x.nrows();
    if n < 2 {
        return Err(MetricsError::TooFewSamples {
            what: "the feature set",
            rows: n,
        });
    }
    if x.iter().any(|v| !v.is_finite()) {
        return Err(MetricsError::NonFinite("the feature set"));
    }
    let mean = x.mean_axis(Axis(0)).expect("n >= 2 rows");
    let centred = &x - &mean.view().insert_axis(Axis(0)); // [n, d]
    let cov = centred.t().dot(&centred) / (n as f64 - 1.0); // [d, d]
    Ok((mean, cov))
}

// ANCHOR: symmetric_eigen
/// Eigendecomposition $A = V \operatorname{diag}(\lambda) V^\top$ of a symmetric matrix by the
/// cyclic Jacobi method (Golub & Van Loan, *Matrix Computations*, 4th ed., Sec. 8.5; Press et
/// al., *Numerical Recipes*, Sec. 11.1): each plane rotation $J(p, q, \theta)$ zeroes $a_{pq}$,
/// and sweeps over all pairs repeat until the off-diagonal mass is negligible. Returns the
/// eigenvalues (unsorted) and the orthonormal eigenvectors as the columns of $V$.
///
/// # Errors
/// [`MetricsError::Shape`] for a non-square matrix, [`MetricsError::NonFinite`],
/// [`MetricsError::NotSymmetric`] when $|a_{ij} - a_{ji}|$ exceeds $10^{-9}\max|a|$.
///
/// ```
/// use ddpm::metrics::symmetric_eigen;
/// let a = ndarray::arr2(&[[2.0, 1.0], [1.0, 2.0]]);
/// let (values, _) = symmetric_eigen(a.view()).unwrap();
/// let mut values = values.to_vec();
/// values.sort_by(f64::total_cmp);
/// assert!((values[0] - 1.0).abs() < 1e-12 && (values[1] - 3.0).abs() < 1e-12);
/// ```
pub fn symmetric_eigen(a: ArrayView2<f64>) -> Result<(Array1<f64>, Array2<f64>), MetricsError> {
    let n = a.nrows();
    if a.ncols() != n {
        return Err(MetricsError::Shape(format!(
            "expected a square matrix, got {n}x{}",
            a.ncols()
        )));
    }
    if a.iter().any(|v| !v.is_finite()) {
        return Err(MetricsError::NonFinite("the matrix"));
    }
    let scale = a.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let asymmetry = (&a - &a.t()).iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if asymmetry > 1e-9 * scale.max(f64::MIN_POSITIVE) {
        return Err(MetricsError::NotSymmetric(asymmetry));
    }
    let mut a = (&a + &a.t()) / 2.0; // exactly symmetric from here on
    let mut v = Array2::<f64>::eye(n);
    let total: f64 = a.iter().map(|x| x * x).sum();
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|p| (p + 1..n).map(move |q| (p, q)))
            .map(|(p, q)| a[[p, q]] * a[[p, q]])
            .sum();
        if off <= 1e-30 * total {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[[p, q]];
                if apq.abs() <= f64::MIN_POSITIVE {
                    continue;
                }
                // tan(theta) as the smaller root of t^2 + 2 t cot(2 theta) - 1 = 0 (NR 11.1.8).
                let theta = (a[[q, q]] - a[[p, p]]) / (2.0 * apq);
                let sign = if theta >= 0.0 { 1.0 } else { -1.0 };
                let t = sign / (theta.abs() + (theta * theta + 1.0).sqrt());
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                // A <- J^T A J: columns p, q, then rows p, q.
                for k in 0..n {
                    let (akp, akq) = (a[[k, p]], a[[k, q]]);
                    a[[k, p]] = c * akp - s * akq;
                    a[[k, q]] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[[p, k]], a[[q, k]]);
                    a[[p, k]] = c * apk - s * aqk;
                    a[[q, k]] = s * apk + c * aqk;
                }
                a[[p, q]] = 0.0;
                a[[q, p]] = 0.0;
                // V <- V J.
                for k in 0..n {
                    let (vkp, vkq) = (v[[k, p]], v[[k, q]]);
                    v[[k, p]] = c * vkp - s * vkq;
                    v[[k, q]] = s * vkp + c * vkq;
                }
            }
        }
    }
    Ok((a.diag().to_owned(), v))
}
// ANCHOR_END: symmetric_eigen

/// The principal square root $A^{1/2} = V \operatorname{diag}(\sqrt{\lambda}) V^\top$ of a
/// symmetric positive semi-definite matrix; eigenvalues below zero (rounding) are set to 0.
///
/// # Errors
/// As [`symmetric_eigen`].
///
/// ```
/// use ddpm::metrics::sqrtm_psd;
/// let a = ndarray::arr2(&[[5.0, 4.0], [4.0, 5.0]]); // = [[2, 1], [1, 2]]^2
/// let r = sqrtm_psd(a.view()).unwrap();
/// assert!((r[[0, 0]] - 2.0).abs() < 1e-12 && (r[[0, 1]] - 1.0).abs() < 1e-12);
/// ```
pub fn sqrtm_psd(a: ArrayView2<f64>) -> Result<Array2<f64>, MetricsError> {
    let (values, v) = symmetric_eigen(a)?;
    let root = values.mapv(|l| l.max(0.0).sqrt());
    let scaled = &v * &root.view().insert_axis(Axis(0)); // column j times sqrt(lambda_j)
    Ok(scaled.dot(&v.t()))
}

// ANCHOR: frechet_distance
/// The **squared** Fréchet (2-Wasserstein) distance $d^2$ between $\mathcal N(\mu_1, \Sigma_1)$
/// and $\mathcal N(\mu_2, \Sigma_2)$ (Dowson & Landau 1982; the FID of Heusel et al. 2017,
/// which is $d^2$ too, despite its name):
///
/// $$d^2 = \lVert\mu_1 - \mu_2\rVert^2 + \operatorname{tr}\Sigma_1 + \operatorname{tr}\Sigma_2 -
///   2\operatorname{tr}\big(\Sigma_1^{1/2}\,\Sigma_2\,\Sigma_1^{1/2}\big)^{1/2}.$$
///
/// $\Sigma_1^{1/2}\Sigma_2\Sigma_1^{1/2}$ is symmetric positive semi-definite, so its square
/// root's trace is $\sum_i \sqrt{\lambda_i}$ over its eigenvalues ([`symmetric_eigen`]); it
/// equals $\operatorname{tr}(\Sigma_1\Sigma_2)^{1/2}$, the form FID code writes with a general
/// `sqrtm`. Returns $d^2$ (as FID does), clamped at 0 against rounding.
///
/// # Errors
/// [`MetricsError::Shape`] when the dimensions differ; as [`symmetric_eigen`].
///
/// ```
/// use ddpm::metrics::frechet_distance;
/// use ndarray::{arr1, Array2};
/// let (m, s) = (arr1(&[1.0, 2.0]), Array2::<f64>::eye(2));
/// assert!(frechet_distance(m.view(), s.view(), m.view(), s.view()).unwrap().abs() < 1e-12);
/// // Shifting one mean by (3, 4) costs 3^2 + 4^2.
/// let m2 = arr1(&[4.0, 6.0]);
/// assert!((frechet_distance(m.view(), s.view(), m2.view(), s.view()).unwrap() - 25.0).abs() < 1e-12);
/// ```
pub fn frechet_distance(
    mean1: ndarray::ArrayView1<f64>,
    cov1: ArrayView2<f64>,
    mean2: ndarray::ArrayView1<f64>,
    cov2: ArrayView2<f64>,
) -> Result<f64, MetricsError> {
    let d = mean1.len();
    if mean2.len() != d || cov1.dim() != (d, d) || cov2.dim() != (d, d) {
        return Err(MetricsError::Shape(format!(
            "means of length {d} and {}, covariances {:?} and {:?}",
            mean2.len(),
            cov1.dim(),
            cov2.dim()
        )));
    }
    let diff = &mean1 - &mean2;
    let root1 = sqrtm_psd(cov1)?;
    let product = root1.dot(&cov2).dot(&root1); // symmetric PSD up to rounding
    let product = (&product + &product.t()) / 2.0;
    let (values, _) = symmetric_eigen(product.view())?;
    let trace_sqrt: f64 = values.iter().map(|l| l.max(0.0).sqrt()).sum();
    let d2 = diff.dot(&diff) + cov1.diag().sum() + cov2.diag().sum() - 2.0 * trace_sqrt;
    Ok(d2.max(0.0))
}
// ANCHOR_END: frechet_distance

/// [`frechet_distance`] between the Gaussians fitted ([`mean_and_covariance`]) to two feature
/// sets, e.g. classifier features of generated and of real digits (the FLD).
///
/// # Shapes
/// - `a`: `[n, d]`, `b`: `[m, d]`
///
/// # Errors
/// [`MetricsError`] for fewer than 2 rows, different widths or non-finite features.
pub fn frechet_distance_of_features(
    a: ArrayView2<f64>,
    b: ArrayView2<f64>,
) -> Result<f64, MetricsError> {
    if a.ncols() != b.ncols() {
        return Err(MetricsError::Shape(format!(
            "feature sets of width {} and {}",
            a.ncols(),
            b.ncols()
        )));
    }
    let (m1, s1) = mean_and_covariance(a)?;
    let (m2, s2) = mean_and_covariance(b)?;
    frechet_distance(m1.view(), s1.view(), m2.view(), s2.view())
}

/// Share of rows of `probabilities` (`[n, classes]`, each a distribution) whose largest
/// probability is at least `threshold`: how often the classifier is *sure* what digit a sample
/// shows. Returns 0 for an empty set.
///
/// ```
/// let p = ndarray::arr2(&[[0.95, 0.05], [0.6, 0.4]]);
/// assert_eq!(ddpm::metrics::confident_share(p.view(), 0.9), 0.5);
/// ```
pub fn confident_share(probabilities: ArrayView2<f64>, threshold: f64) -> f64 {
    let n = probabilities.nrows();
    if n == 0 {
        return 0.0;
    }
    let confident = probabilities
        .rows()
        .into_iter()
        .filter(|row| row.iter().fold(0.0f64, |m, &p| m.max(p)) >= threshold)
        .count();
    confident as f64 / n as f64
}

/// How many rows of `probabilities` (`[n, classes]`) have their argmax at each class.
pub fn label_histogram(probabilities: ArrayView2<f64>) -> Vec<usize> {
    let mut counts = vec![0; probabilities.ncols()];
    for row in probabilities.rows() {
        let (best, _) = row
            .iter()
            .enumerate()
            .fold((0, f64::NEG_INFINITY), |(bi, bp), (i, &p)| {
                if p > bp { (i, p) } else { (bi, bp) }
            });
        if !counts.is_empty() {
            counts[best] += 1;
        }
    }
    counts
}

/// The entropy $H = -\sum_k \hat p_k \ln \hat p_k$ (nats) of a histogram's relative
/// frequencies $\hat p_k = n_k / n$. For the predicted labels of generated digits it measures
/// diversity: $\ln 10 \approx 2.303$ when all ten digits are equally frequent, 0 when the model
/// draws only one (mode collapse).
///
/// ```
/// use ddpm::metrics::histogram_entropy;
/// assert!((histogram_entropy(&[5; 10]) - 10f64.ln()).abs() < 1e-12);
/// assert_eq!(histogram_entropy(&[7, 0, 0]), 0.0);
/// ```
pub fn histogram_entropy(counts: &[usize]) -> f64 {
    let n: usize = counts.iter().sum();
    if n == 0 {
        return 0.0;
    }
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n as f64;
            -p * p.ln()
        })
        .sum::<f64>()
        + 0.0 // turns the -0.0 of a single class into 0.0
}
