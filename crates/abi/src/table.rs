//! The static event table and the types that describe it.

use std::fmt;

/// An event type code (libs' `enum ppm_event_type`). Even codes are enter
/// events, odd codes exit events.
///
/// The associated constants (`EventType::SYSCALL_OPEN_X`, ...) are libs'
/// `PPME_*` names without the prefix.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(transparent)]
pub struct EventType(pub u16);

impl EventType {
    /// This type's table entry, or `None` for a code the table does not know.
    #[inline]
    pub fn info(self) -> Option<&'static EventInfo> {
        EVENT_TABLE.get(self.0 as usize)
    }

    /// Whether this is an enter event (even code), as libs' `PPME_IS_ENTER`.
    #[inline]
    pub const fn is_enter(self) -> bool {
        self.0 & 1 == 0
    }

    /// The other half of an enter/exit pair.
    #[inline]
    pub const fn pair(self) -> EventType {
        EventType(self.0 ^ 1)
    }
}

impl fmt::Debug for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.info() {
            Some(i) => write!(f, "{}({})", i.enum_name, self.0),
            None => write!(f, "EventType({})", self.0),
        }
    }
}

/// Event flags (libs' `enum ppm_event_flags`). The bit values are saker's own:
/// flags never travel inside events.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct EventFlags(pub u32);

#[allow(missing_docs)]
impl EventFlags {
    pub const NONE: EventFlags = EventFlags(0);
    pub const CREATES_FD: EventFlags = EventFlags(1 << 0);
    pub const DESTROYS_FD: EventFlags = EventFlags(1 << 1);
    pub const USES_FD: EventFlags = EventFlags(1 << 2);
    pub const READS_FROM_FD: EventFlags = EventFlags(1 << 3);
    pub const WRITES_TO_FD: EventFlags = EventFlags(1 << 4);
    pub const MODIFIES_STATE: EventFlags = EventFlags(1 << 5);
    /// A placeholder code no driver emits.
    pub const UNUSED: EventFlags = EventFlags(1 << 6);
    pub const WAITS: EventFlags = EventFlags(1 << 7);
    pub const SKIPPARSERESET: EventFlags = EventFlags(1 << 8);
    /// Superseded by a newer code for the same syscall; still read from old captures.
    pub const OLD_VERSION: EventFlags = EventFlags(1 << 9);
    pub const DROP_SIMPLE_CONS: EventFlags = EventFlags(1 << 10);
    /// Parameter lengths are `u32` instead of `u16`.
    pub const LARGE_PAYLOAD: EventFlags = EventFlags(1 << 11);
    pub const USED_BY_DRIVER: EventFlags = EventFlags(1 << 12);
    pub const TMP_CONVERTER_MANAGED: EventFlags = EventFlags(1 << 13);
    pub const CONVERTER_MANAGED: EventFlags = EventFlags(1 << 14);

    /// Whether every flag of `other` is set.
    #[inline]
    pub const fn contains(self, other: EventFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

/// An event category (libs' `enum ppm_event_category`): a class in the low
/// byte plus source flags (`SYSCALL`, `TRACEPOINT`, ...) above it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct Category(pub u32);

#[allow(missing_docs)]
impl Category {
    pub const UNKNOWN: Category = Category(0);
    pub const OTHER: Category = Category(1);
    pub const FILE: Category = Category(2);
    pub const NET: Category = Category(3);
    pub const IPC: Category = Category(4);
    pub const MEMORY: Category = Category(5);
    pub const PROCESS: Category = Category(6);
    pub const SLEEP: Category = Category(7);
    pub const SYSTEM: Category = Category(8);
    pub const SIGNAL: Category = Category(9);
    pub const USER: Category = Category(10);
    pub const TIME: Category = Category(11);
    pub const PROCESSING: Category = Category(12);
    pub const IO_READ: Category = Category(32);
    pub const IO_WRITE: Category = Category(33);
    pub const IO_OTHER: Category = Category(34);
    pub const WAIT: Category = Category(64);
    pub const SCHEDULER: Category = Category(128);
    pub const INTERNAL: Category = Category(256);
    pub const SYSCALL: Category = Category(1 << 9);
    pub const TRACEPOINT: Category = Category(1 << 10);
    pub const PLUGIN: Category = Category(1 << 11);
    pub const METAEVENT: Category = Category(1 << 12);
    /// Events produced by BPF iterators when saker reads the initial state.
    pub const ITER: Category = Category(1 << 13);

    const SOURCE_MASK: u32 = Self::SYSCALL.0 | Self::TRACEPOINT.0 | Self::PLUGIN.0 | Self::METAEVENT.0 | Self::ITER.0;

    /// The class without the source flags.
    #[inline]
    pub const fn class(self) -> Category {
        Category(self.0 & !Self::SOURCE_MASK)
    }

    /// The class as sysdig's `evt.category` names it.
    pub fn class_name(self) -> &'static str {
        match self.class() {
            Self::OTHER => "other",
            Self::FILE => "file",
            Self::NET => "net",
            Self::IPC => "IPC",
            Self::MEMORY => "memory",
            Self::PROCESS => "process",
            Self::SLEEP => "sleep",
            Self::SYSTEM => "system",
            Self::SIGNAL => "signal",
            Self::USER => "user",
            Self::TIME => "time",
            Self::PROCESSING => "processing",
            Self::IO_READ => "I/O read",
            Self::IO_WRITE => "I/O write",
            Self::IO_OTHER => "I/O other",
            Self::WAIT => "wait",
            Self::SCHEDULER => "scheduler",
            Self::INTERNAL => "internal",
            _ => "unknown",
        }
    }
}

/// How a numeric parameter prints (libs' `enum ppm_print_format`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[allow(missing_docs)]
pub enum PrintFormat {
    Na,
    Dec,
    Hex,
    PaddedDec10,
    Id,
    Dir,
    Oct,
}

/// A table of names for a flags or enum parameter, in libs' order.
#[derive(Debug)]
pub struct FlagTable {
    /// libs' name for the table (`file_flags`, `clone_flags`, ...).
    pub name: &'static str,
    /// `(name, value)` pairs; a value of 0 names the "no flag" case.
    pub entries: &'static [(&'static str, u64)],
}

/// One possible shape of a [`ParamType::Dyn`] parameter.
#[derive(Debug)]
pub struct DynParamInfo {
    /// The encoding that follows the one-byte index.
    pub ty: ParamType,
    /// How it prints.
    pub fmt: PrintFormat,
    /// A descriptive name.
    pub name: &'static str,
}

/// The name table a parameter refers to, if any.
#[derive(Debug)]
pub enum ParamTable {
    /// No table.
    None,
    /// Flag or enum names.
    Flags(&'static FlagTable),
    /// The shapes of a dynamic parameter, selected by its first byte.
    Dyn(&'static [DynParamInfo]),
}

/// One parameter of an event type.
#[derive(Debug)]
pub struct ParamInfo {
    /// Its name, as `evt.arg.NAME` refers to it.
    pub name: &'static str,
    /// Its encoding.
    pub ty: ParamType,
    /// How it prints.
    pub fmt: PrintFormat,
    /// Names of its values.
    pub table: ParamTable,
    /// For a path relative to a directory fd (`FSRELPATH`), the index of the
    /// parameter holding that fd.
    pub dirfd: Option<u8>,
}

/// One entry of the event table.
#[derive(Debug)]
pub struct EventInfo {
    /// The code.
    pub code: u16,
    /// libs' enum name (`PPME_SYSCALL_OPEN_X`).
    pub enum_name: &'static str,
    /// The name users see (`open`), `NA` for unused codes.
    pub name: &'static str,
    /// Flags.
    pub flags: EventFlags,
    /// Category.
    pub category: Category,
    /// Parameters, in order.
    pub params: &'static [ParamInfo],
}

impl EventInfo {
    /// Size of each parameter length: 4 for large-payload events, else 2.
    #[inline]
    pub const fn param_len_size(&self) -> usize {
        if self.flags.contains(EventFlags::LARGE_PAYLOAD) { 4 } else { 2 }
    }

    /// The index of the parameter called `name`.
    pub fn param_index(&self, name: &str) -> Option<usize> {
        self.params.iter().position(|p| p.name == name)
    }
}

impl FlagTable {
    /// The table called `name`.
    pub fn by_name(name: &str) -> Option<&'static FlagTable> {
        FLAG_TABLES.iter().find(|t| t.name == name)
    }
}

#[inline]
fn lookup(table: &'static [&'static str], n: u64) -> Option<&'static str> {
    table.get(usize::try_from(n).ok()?).copied().filter(|s| !s.is_empty())
}

/// The name of an errno value (positive or negative), like `ENOENT`.
#[inline]
pub fn errno_name(errno: i64) -> Option<&'static str> {
    lookup(&ERRNO_NAMES, errno.unsigned_abs())
}

/// The name of a signal number, like `SIGKILL`.
#[inline]
pub fn signal_name(sig: i64) -> Option<&'static str> {
    lookup(&SIGNAL_NAMES, u64::try_from(sig).ok()?)
}

/// The name of the syscall a generic event's id denotes, like `pselect6`.
#[inline]
pub fn syscall_name(id: u64) -> Option<&'static str> {
    lookup(&SYSCALL_NAMES, id)
}

/// The ABI as a C header for the kernel-side code; `kernel/include/saker_events.h`
/// is this text, and a test fails if the two drift.
pub const C_HEADER: &str = include_str!(concat!(env!("OUT_DIR"), "/saker_events.h"));

include!(concat!(env!("OUT_DIR"), "/table.rs"));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compact_length_size_table_agrees_with_the_event_table() {
        assert_eq!(PARAM_LEN_SIZE.len(), EVENT_TABLE.len());
        for (i, info) in EVENT_TABLE.iter().enumerate() {
            assert_eq!(info.code as usize, i, "the table is indexed by event type");
            assert_eq!(PARAM_LEN_SIZE[i] as usize, info.param_len_size(), "{}", info.enum_name);
        }
        assert!(PARAM_LEN_SIZE.contains(&4), "some events have 4-byte parameter lengths");
    }
}
