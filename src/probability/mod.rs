//! Part I: probability foundations (f64, ndarray; no burn). Chapters 2-5.
