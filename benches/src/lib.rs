//! Benchmarks of puffs-rs: see `benches/`.
