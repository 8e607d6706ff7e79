//! The FUSE wire protocol: the kernel ABI, request decoding and reply encoding, and the channel
//! frames travel on (`/dev/fuse` or a loopback socket).
//!
//! Public so that tools (the loopback kernel, benchmarks' raw responders, fuzzers) can speak the
//! protocol; file systems never need it.

pub mod abi;
mod channel;
pub mod decode;
pub(crate) mod dump;
pub mod encode;
pub mod reply;
pub mod request;
#[cfg(test)]
mod tests;
pub(crate) mod uring;

pub use channel::Channel;
