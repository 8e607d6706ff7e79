//! Compile-fail and pass cases for puffs-rs: see `tests/ui`.
