//! MNIST-style data: IDX reader (gzip or raw), the embedded 10k subset, download + checksum.
