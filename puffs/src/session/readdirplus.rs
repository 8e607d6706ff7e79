//! `READDIRPLUS`, synthesized from the file system's `node_readdir` and `node_lookup`.
//!
//! Why synthesized rather than an operation of its own: puffs has no such operation (its
//! `node_readdir` lists names, and attributes come from `node_lookup`), and a file system that
//! already answers both would only write the same lookup again inside its listing, where a
//! mistake in its lookup counts leaks nodes. Here the framework lists the directory, looks up
//! each entry that fits the reply, and counts a lookup for each entry only once the reply is
//! delivered, exactly as for `LOOKUP` (the kernel either keeps each entry it received or
//! forgets it with a `FORGET`). The kernel's `READDIRPLUS_AUTO` decides per directory whether
//! a listing is followed by lookups, so a plain `ls` keeps costing one readdir.
//!
//! Entries `.` and `..`, and entries whose lookup fails (removed since the listing), go out
//! without a node (node id 0): the kernel lists them and looks them up itself if asked.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use nix::errno::Errno;

use crate::dirent::{dirent_len, parse_record, push_dirent, DirBuf, DIRENTPLUS_ENTRY_LEN};
use crate::fs::context::{Context, Ttls};
use crate::fs::cookie::{Cookie, FileHandle};
use crate::fs::dispatch::Op;
use crate::fs::FileSystem;
use crate::fuse::abi;
use crate::fuse::reply::Reply;

use super::Session;

impl<F: FileSystem> Session<F> {
    /// Answers `READDIRPLUS` of `dir` from `offset`, in at most `size` bytes; the nodes handed
    /// to the kernel go to `handed_out`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn readdirplus(
        &self,
        unique: u64,
        dir: Cookie,
        handle: FileHandle,
        offset: u64,
        size: u32,
        ctx: &Context<'_>,
        handed_out: &mut Vec<Cookie>,
    ) -> Result<Vec<u8>, Errno> {
        let size = self.reply_room(size);
        // The names are listed into as much room as the reply has; each then grows by its
        // entry, so the reply ends at the first that no longer fits, and the kernel asks again
        // from that entry's offset.
        let mut listed = Vec::with_capacity(size);
        self.call(Op::Readdir { dir, handle, offset, buf: &mut DirBuf::new(&mut listed, size) }, ctx).done()?;
        let mut reply = Reply::new(unique, size);
        let mut room = size;
        // The records are read in place: the framework wrote them, they parse.
        let mut rest = listed.as_slice();
        while !rest.is_empty() {
            let (name, len) = parse_record(rest).ok_or(Errno::EIO)?;
            rest = &rest[len..];
            let record = DIRENTPLUS_ENTRY_LEN + dirent_len(name.name);
            if record > room {
                break;
            }
            room -= record;
            let ttls = Ttls::default();
            let found = match name.name {
                b"." | b".." => None,
                bytes => {
                    self.call(Op::Lookup { dir, name: OsStr::from_bytes(bytes) }, &ctx.with_ttls(&ttls)).node().ok()
                }
            };
            let entry_start = reply.body().len();
            let fileid = match &found {
                Some(node) if self.push_entry(reply.body(), node, &ttls).is_ok() => {
                    handed_out.push(node.cookie);
                    node.vattr.fileid
                }
                _ => {
                    reply.body().truncate(entry_start);
                    abi::EntryOut::default().encode(reply.body());
                    abi::Attr::default().encode(reply.body());
                    name.fileid
                }
            };
            let dtype = found.as_ref().map_or(name.dtype, |node| node.vattr.vtype.to_dirent_type());
            push_dirent(reply.body(), fileid, name.next_offset, dtype, name.name);
        }
        Ok(reply.finish())
    }
}
