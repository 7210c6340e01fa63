/*!
Falco's event ABI, as saker's drivers, capture files and readers share it.

An event is a packed 26-byte header (`ts, tid, len, type, nparams`), then one
length per parameter (`u16`, or `u32` for [`EventFlags::LARGE_PAYLOAD`]
events), then the parameters back to back. The codes and parameter lists are
those of falcosecurity/libs (454 event types), so captures, rules and tools
written for Falco and sysdig work unchanged.

The crate provides:
- [`EVENT_TABLE`]: every event type with its name, category, flags and
  parameters ([`EventInfo`], [`ParamInfo`]), and [`EventType`] constants named
  after libs' `PPME_*` codes;
- [`Event`]: a validated, zero-copy view over one event's bytes, whose
  parameter accessors ([`Event::param`], [`Param::value`]) never allocate;
- [`EventBuilder`]: writes events for the drivers and the capture writer;
- [`C_HEADER`]: the same ABI as a C header for the kernel-side code, generated
  from the same files in `spec/` as the Rust table.

It does not read capture files (`saker-scap`), keep any state about threads or
file descriptors (`saker-state`), or render values for humans beyond the
name tables (`saker-fields`).
*/

mod builder;
mod event;
mod table;
mod typeset;
mod value;

pub use builder::EventBuilder;
pub use event::{Event, EventError, HEADER_LEN, Params};
pub use table::{
    C_HEADER, Category, DynParamInfo, EVENT_TABLE, EVENT_TYPE_COUNT, EventFlags, EventInfo, EventType, FLAG_TABLES,
    FlagTable, ParamInfo, ParamTable, ParamType, PrintFormat, errno_name, signal_name, syscall_name,
};
pub use typeset::EventTypeSet;
pub use value::{Param, SockAddr, SockTuple, Value, decode_value};
