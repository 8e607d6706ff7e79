//! The records of FUSE over io_uring (`fuse.h` 7.42 on; Linux 6.14 on): the commands a server
//! sends as `IORING_OP_URING_CMD` on `/dev/fuse`, and the header each ring entry shares with
//! the kernel.
//!
//! A ring entry is two buffers the server registers: a header of [`HEADER_SIZE`] bytes and a
//! payload. For a request the kernel writes the `fuse_in_header` at [`IN_OUT`], the
//! operation's fixed record (its first argument, at most [`OP_IN_SIZE`] bytes) at [`OP_IN`],
//! the rest (names, data) in the payload, and a [`RingEntInOut`] at [`ENT_IN_OUT`] saying how
//! much of the payload it used. A reply goes the same way: the `fuse_out_header` at
//! [`IN_OUT`], its body in the payload.

/// `FUSE_IO_URING_CMD_REGISTER`: hands the kernel an entry's buffers (an `iovec[2]`: header,
/// payload); the command completes when a request is in them.
pub const CMD_REGISTER: u32 = 1;
/// `FUSE_IO_URING_CMD_COMMIT_AND_FETCH`: the reply is in the entry; the command completes
/// when the next request is.
pub const CMD_COMMIT_AND_FETCH: u32 = 2;

/// Where the in (request) or out (reply) header lies in an entry's header buffer.
pub const IN_OUT: usize = 0;
/// Bytes the kernel keeps for that header (`FUSE_URING_IN_OUT_HEADER_SZ`).
pub const IN_OUT_SIZE: usize = 128;
/// Where the operation's fixed record lies (`op_in`).
pub const OP_IN: usize = IN_OUT + IN_OUT_SIZE;
/// Bytes the kernel keeps for it (`FUSE_URING_OP_IN_OUT_SZ`).
pub const OP_IN_SIZE: usize = 128;
/// Where the [`RingEntInOut`] lies.
pub const ENT_IN_OUT: usize = OP_IN + OP_IN_SIZE;
/// The size of an entry's header buffer (`struct fuse_uring_req_header`).
pub const HEADER_SIZE: usize = ENT_IN_OUT + RingEntInOut::SIZE;

wire_struct! {
    /// What an entry carries besides the headers (`struct fuse_uring_ent_in_out`): the bytes
    /// of the payload in use, and the request's `unique` to name in the commit.
    pub struct RingEntInOut { pub flags: u64, pub commit_id: u64, pub payload_sz: u32, pub padding: u32, pub reserved: u64 }
}

wire_struct! {
    /// A command's own record, in the 80-byte command area of the submission entry
    /// (`struct fuse_uring_cmd_req`): the queue (one per CPU) and, for a commit, the request.
    pub struct RingCmdReq { pub flags: u64, pub commit_id: u64, pub qid: u16, pub padding0: u16, pub padding1: u32 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_records_have_the_kernels_sizes() {
        assert_eq!(RingEntInOut::SIZE, 32);
        assert_eq!(RingCmdReq::SIZE, 24);
        assert_eq!(HEADER_SIZE, 288);
    }
}
