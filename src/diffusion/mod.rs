//! Part II: the diffusion process (f64, ndarray; no burn). Chapters 6-11.
