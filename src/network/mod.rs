//! The burn network layer: U-Net, timestep embedding, classifier. Generic over the device; no I/O.

pub mod classifier;
