/*!
Reads and writes `.scap` capture files, the format of Falco's libs and sysdig.

A capture is a sequence of pcapng-style blocks: a section header, metadata
(machine, network interfaces, users, the process list and each thread's file
descriptors), then one block per event. This crate reads every block type and
version libs ever wrote (process lists v1 to v9, fd lists v1/v2, event blocks v1
with their missing `nparams` derived, v2, large and flagged ones, the
pre-release `0x8...ABCD` codes), gzip-compressed or not, and writes files that
both sysdig 0.29.3 and current libs read.

- [`Reader`] reads the header section into a [`CaptureHeader`] at open, then
  lends events one by one ([`Reader::next_event`]) as [`saker_abi::Event`]
  views into its buffer (a memory map for uncompressed files), always in the v2
  layout, without allocating per event.
- [`Writer`] writes a [`CaptureHeader`] and events.
- Errors are [`Error`]s carrying an [`ErrorKind`], the byte offset and the
  file: truncated or corrupted files, non-captures and bad gzip streams are
  reported, never a panic.

It does not interpret events beyond their framing (that is `saker_abi`'s
[`Event`](saker_abi::Event) view and the parsers above it), keep any state
about threads or file descriptors across events, filter, or render anything for
humans.
*/

mod batch;
mod error;
pub mod format;
mod header;
mod input;
mod parse;
mod reader;
mod writer;

pub use batch::EventBatch;
pub use error::{Error, ErrorKind};
pub use header::{
    CaptureHeader, FdInfo, FdKind, FdList, GroupInfo, InterfaceAddr, InterfaceInfo, MachineInfo, ProcessInfo,
    SectionHeader, UserInfo, fd_type,
};
pub use input::PageKeeper;
pub use reader::{EventRecord, Item, Metadata, MetadataBlock, ReadOptions, ReadStats, Reader};
pub use writer::{Compression, ProcListLayout, WriteOptions, Writer};
