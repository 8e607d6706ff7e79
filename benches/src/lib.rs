//! Benchmarks of puffs-rs against the FUSE libraries of the field, measured in one run.
//!
//! `benches/run` (as root) builds the peers (`benches/setup.sh`) and runs the `peers` bench:
//! every server is mounted at once, and each round runs every workload on every peer, in an
//! order shuffled each round, so that what the machine does meanwhile (and what one peer
//! leaves for the next) falls on all of them alike.
//! The report gives medians and their ratios against the best of libfuse and fuser and
//! against a raw responder with no library, as a table, as CSV and as an SVG chart.
//!
//! - [`peers`]: the programs compared, and starting and stopping them;
//! - [`workloads`]: what the client does, and the figure it gives;
//! - [`report`]: medians, ratios, the table and the CSV;
//! - [`chart`]: the SVG.

pub mod chart;
pub mod peers;
pub mod report;
pub mod workloads;
