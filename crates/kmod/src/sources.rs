//! The module's sources, embedded so that `saker driver build` needs
//! nothing but the saker binary and the kernel's headers. Written flat into
//! one directory, where `Kbuild`'s `-I$(src)` finds every header.

macro_rules! kernel_file {
    ($path:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../kernel/", $path))
    };
}

/// `kernel/include/saker_events.h`.
pub const EVENTS_H: &str = kernel_file!("include/saker_events.h");

/// Every file of the module: (name in the build directory, contents).
pub const SOURCES: &[(&str, &str)] = &[
    ("Kbuild", kernel_file!("kmod/Kbuild")),
    ("Makefile", kernel_file!("kmod/Makefile")),
    ("dkms.conf", kernel_file!("kmod/dkms.conf")),
    ("main.c", kernel_file!("kmod/main.c")),
    ("fill.h", kernel_file!("kmod/fill.h")),
    ("version.h", kernel_file!("kmod/version.h")),
    ("saker_events.h", EVENTS_H),
    ("saker_gen.h", kernel_file!("include/saker_gen.h")),
    ("saker_kmod.h", kernel_file!("include/saker_kmod.h")),
    ("common.h", kernel_file!("fillers/common.h")),
    ("fillers.h", kernel_file!("fillers/fillers.h")),
    ("flags.h", kernel_file!("fillers/flags.h")),
    ("extract.h", kernel_file!("fillers/extract.h")),
    ("proc.h", kernel_file!("fillers/proc.h")),
    ("progs.h", kernel_file!("fillers/progs.h")),
    ("progs_file.h", kernel_file!("fillers/progs_file.h")),
    ("progs_net.h", kernel_file!("fillers/progs_net.h")),
    ("progs_proc.h", kernel_file!("fillers/progs_proc.h")),
    ("progs_misc.h", kernel_file!("fillers/progs_misc.h")),
    ("list.h", kernel_file!("fillers/list.h")),
];

/// The names of the syscalls the module has a filler of its own for.
pub fn full_syscalls() -> impl Iterator<Item = &'static str> {
    kernel_file!("fillers/list.h")
        .lines()
        .filter_map(|l| l.strip_prefix("FILLER_EXIT(").and_then(|r| r.strip_suffix(')')))
}
