//! Part I: probability foundations (f64, ndarray; no burn). Chapters 2-5.

pub mod kl;
pub mod scalars;

pub use scalars::{LogVariance, ScalarError, StdDev, Variance};
