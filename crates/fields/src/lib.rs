/*!
The fields users name in output formats, filters and rules (`evt.type`,
`evt.arg.name`, `thread.tid`, ...): what each one is, how it is extracted
from an event, and how its value prints, byte for byte as sysdig prints it.

The main types are [`Field`] (a field name plus its argument, resolved once
when a format or filter is compiled) and [`Format`] (a compiled `-p` format
string such as `%evt.num %evt.type %evt.args`). Extraction writes into a
caller-owned buffer and never allocates on the per-event path.

This crate does not read events from anywhere (drivers, `saker-scap`), keep
state about threads and file descriptors, or evaluate filter expressions; it
only turns an event in its context into field values.
*/

mod field;
mod format;
mod render;
mod state;
mod time;

pub use field::{ArgKind, EventContext, FIELDS, Field, FieldError, FieldInfo, FieldType, FieldValue};
pub use format::{DEFAULT_FORMAT, Format, FormatError, MAX_WIDTH};
pub use render::{BufferStyle, set_buffer_style, write_flags};
pub use state::{FdView, NoState, StateView};
pub use time::{OutputTime, TimeFormatter};
