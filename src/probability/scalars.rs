//! A variance is not a log-variance is not a standard deviation: three types, so that a
//! function cannot be handed one where it expects another (diffusers returns all three from
//! one function and has had NaNs from mixing them up).

use thiserror::Error;

/// Why a scale parameter was rejected.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ScalarError {
    /// A variance or standard deviation must be finite and strictly positive.
    #[error(
        "{what} must be finite and > 0, got {value}; pass a positive number (did you pass a log-variance?)"
    )]
    NotPositive {
        /// Which quantity.
        what: &'static str,
        /// The rejected value.
        value: f64,
    },
    /// A log-variance must be finite.
    #[error("log-variance must be finite, got {value}")]
    NotFinite {
        /// The rejected value.
        value: f64,
    },
}

/// A variance $\sigma^2 > 0$.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Variance(f64);

/// A natural-log variance $\log \sigma^2$ (any finite real).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct LogVariance(f64);

/// A standard deviation $\sigma > 0$.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct StdDev(f64);

impl Variance {
    /// A variance, checked to be finite and positive.
    ///
    /// # Errors
    /// [`ScalarError::NotPositive`] if `value` is not finite or not > 0.
    ///
    /// ```
    /// use ddpm::probability::Variance;
    /// assert!(Variance::new(-1.0).is_err());
    /// assert_eq!(Variance::new(4.0).unwrap().std_dev().get(), 2.0);
    /// ```
    pub fn new(value: f64) -> Result<Self, ScalarError> {
        if value.is_finite() && value > 0.0 {
            Ok(Self(value))
        } else {
            Err(ScalarError::NotPositive {
                what: "variance",
                value,
            })
        }
    }
    /// The value $\sigma^2$.
    pub fn get(self) -> f64 {
        self.0
    }
    /// $\log \sigma^2$.
    pub fn ln(self) -> LogVariance {
        LogVariance(self.0.ln())
    }
    /// $\sigma = \sqrt{\sigma^2}$.
    pub fn std_dev(self) -> StdDev {
        StdDev(self.0.sqrt())
    }
}

impl LogVariance {
    /// A log-variance, checked to be finite.
    ///
    /// # Errors
    /// [`ScalarError::NotFinite`] if `value` is NaN or infinite.
    pub fn new(value: f64) -> Result<Self, ScalarError> {
        if value.is_finite() {
            Ok(Self(value))
        } else {
            Err(ScalarError::NotFinite { value })
        }
    }
    /// The value $\log \sigma^2$.
    pub fn get(self) -> f64 {
        self.0
    }
    /// $\sigma^2 = e^{\log \sigma^2}$.
    pub fn exp(self) -> Variance {
        Variance(self.0.exp())
    }
    /// $\sigma = e^{\frac12 \log \sigma^2}$.
    pub fn std_dev(self) -> StdDev {
        StdDev((0.5 * self.0).exp())
    }
}

impl StdDev {
    /// A standard deviation, checked to be finite and positive.
    ///
    /// # Errors
    /// [`ScalarError::NotPositive`] if `value` is not finite or not > 0.
    pub fn new(value: f64) -> Result<Self, ScalarError> {
        if value.is_finite() && value > 0.0 {
            Ok(Self(value))
        } else {
            Err(ScalarError::NotPositive {
                what: "standard deviation",
                value,
            })
        }
    }
    /// The value $\sigma$.
    pub fn get(self) -> f64 {
        self.0
    }
    /// $\sigma^2$.
    pub fn variance(self) -> Variance {
        Variance(self.0 * self.0)
    }
}
