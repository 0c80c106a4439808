//! A uniform 1-D grid for brute-force integration (chapters 2 and 3): when a formula has no
//! closed form, evaluate it on many points and add up.

use super::ProbabilityError;

/// `n` equally spaced points from `lo` to `hi` inclusive.
///
/// ```
/// use ddpm::probability::Grid;
/// let g = Grid::new(0.0, 1.0, 11).unwrap();
/// assert_eq!(g.points().len(), 11);
/// assert!((g.spacing() - 0.1).abs() < 1e-15);
/// // The trapezoid rule integrates x on [0,1] exactly.
/// assert!((g.integrate(|x| x) - 0.5).abs() < 1e-15);
/// assert!(Grid::new(1.0, 0.0, 10).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grid {
    lo: f64,
    hi: f64,
    n: usize,
}

impl Grid {
    /// A grid, checked.
    ///
    /// # Errors
    /// [`ProbabilityError::BadGrid`] unless `lo < hi` are finite and `n >= 2`.
    pub fn new(lo: f64, hi: f64, n: usize) -> Result<Self, ProbabilityError> {
        if lo.is_finite() && hi.is_finite() && lo < hi && n >= 2 {
            Ok(Self { lo, hi, n })
        } else {
            Err(ProbabilityError::BadGrid { lo, hi, n })
        }
    }
    /// Lower end.
    pub fn lo(&self) -> f64 {
        self.lo
    }
    /// Upper end.
    pub fn hi(&self) -> f64 {
        self.hi
    }
    /// Number of points.
    pub fn len(&self) -> usize {
        self.n
    }
    /// Always false (a grid has at least 2 points); here for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        false
    }
    /// Distance between neighbouring points, $h = (hi - lo)/(n-1)$.
    pub fn spacing(&self) -> f64 {
        (self.hi - self.lo) / (self.n - 1) as f64
    }
    /// The `i`-th point, $lo + i h$.
    pub fn point(&self, i: usize) -> f64 {
        if i + 1 == self.n {
            self.hi
        } else {
            self.lo + i as f64 * self.spacing()
        }
    }
    /// All points.
    pub fn points(&self) -> Vec<f64> {
        (0..self.n).map(|i| self.point(i)).collect()
    }
    /// Trapezoid-rule weights: $h$ inside, $h/2$ at both ends.
    pub fn weights(&self) -> Vec<f64> {
        let h = self.spacing();
        (0..self.n)
            .map(|i| {
                if i == 0 || i + 1 == self.n {
                    0.5 * h
                } else {
                    h
                }
            })
            .collect()
    }
    /// $\int_{lo}^{hi} f(x)\,dx$ by the trapezoid rule.
    pub fn integrate(&self, f: impl Fn(f64) -> f64) -> f64 {
        self.points()
            .into_iter()
            .zip(self.weights())
            .map(|(x, w)| w * f(x))
            .sum()
    }
}
