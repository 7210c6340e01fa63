//! Block type codes and limits of the format (libs' `scap_savefile.h`).

/// Block type codes. The `*_INT` codes are the "unofficial" numbers of captures
/// written before libscap's first release; readers still accept them.
pub mod block {
    /// Section header block (`\r\n\n\r`, as pcapng).
    pub const SHB: u32 = 0x0A0D_0D0A;
    /// Machine info.
    pub const MI: u32 = 0x201;
    /// Machine info, pre-release code.
    pub const MI_INT: u32 = 0x8002_ABCD;
    /// Process list, version 1.
    pub const PL_V1: u32 = 0x202;
    /// Process list, version 1, pre-release code.
    pub const PL_V1_INT: u32 = 0x8000_ABCD;
    /// Process list, version 2 (adds memory counters).
    pub const PL_V2: u32 = 0x207;
    /// Process list, version 2, pre-release code.
    pub const PL_V2_INT: u32 = 0x8013_ABCD;
    /// Process list, version 3 (adds env).
    pub const PL_V3: u32 = 0x209;
    /// Process list, version 3, pre-release code.
    pub const PL_V3_INT: u32 = 0x8014_ABCD;
    /// Process list, version 4 (adds vtid, vpid, cgroups).
    pub const PL_V4: u32 = 0x210;
    /// Process list, version 5 (adds root).
    pub const PL_V5: u32 = 0x211;
    /// Process list, version 6 (adds sid).
    pub const PL_V6: u32 = 0x212;
    /// Process list, version 7 (adds exepath).
    pub const PL_V7: u32 = 0x213;
    /// Process list, version 8 (adds vpgid).
    pub const PL_V8: u32 = 0x214;
    /// Process list, version 9: length-prefixed entries with optional trailing fields.
    pub const PL_V9: u32 = 0x215;
    /// File descriptor list, version 1.
    pub const FDL: u32 = 0x203;
    /// File descriptor list, version 1, pre-release code.
    pub const FDL_INT: u32 = 0x8001_ABCD;
    /// File descriptor list, version 2: length-prefixed entries.
    pub const FDL_V2: u32 = 0x218;
    /// Event block, version 1: the event header has no `nparams`.
    pub const EV: u32 = 0x204;
    /// Event block, version 1, pre-release code.
    pub const EV_INT: u32 = 0x8010_ABCD;
    /// Event block, version 2.
    pub const EV_V2: u32 = 0x216;
    /// Event block, version 2, for large-payload events (no 64 KiB limit).
    pub const EV_V2_LARGE: u32 = 0x221;
    /// Event block with dump flags, version 1.
    pub const EVF: u32 = 0x208;
    /// Event block with dump flags, version 2.
    pub const EVF_V2: u32 = 0x217;
    /// Event block with dump flags, version 2, large payload.
    pub const EVF_V2_LARGE: u32 = 0x222;
    /// Interface list, version 1.
    pub const IL: u32 = 0x205;
    /// Interface list, version 1, pre-release code.
    pub const IL_INT: u32 = 0x8011_ABCD;
    /// Interface list, version 2: length-prefixed entries.
    pub const IL_V2: u32 = 0x219;
    /// User and group list, version 1.
    pub const UL: u32 = 0x206;
    /// User and group list, version 1, pre-release code.
    pub const UL_INT: u32 = 0x8012_ABCD;
    /// User and group list, version 2: length-prefixed entries.
    pub const UL_V2: u32 = 0x220;

    /// Whether `t` is any kind of event block.
    #[inline]
    pub const fn is_event(t: u32) -> bool {
        matches!(t, EV | EV_INT | EV_V2 | EV_V2_LARGE | EVF | EVF_V2 | EVF_V2_LARGE)
    }

    /// The process list version (1..=9) of a process list block type.
    pub const fn proclist_version(t: u32) -> Option<u8> {
        Some(match t {
            PL_V1 | PL_V1_INT => 1,
            PL_V2 | PL_V2_INT => 2,
            PL_V3 | PL_V3_INT => 3,
            PL_V4 => 4,
            PL_V5 => 5,
            PL_V6 => 6,
            PL_V7 => 7,
            PL_V8 => 8,
            PL_V9 => 9,
            _ => return None,
        })
    }
}

/// The section header's byte-order magic.
pub const SHB_MAGIC: u32 = 0x1A2B_3C4D;
/// [`SHB_MAGIC`] as it reads on a host of the other byte order.
pub const SHB_MAGIC_SWAPPED: u32 = 0x4D3C_2B1A;
/// Section header major version written and understood.
pub const MAJOR_VERSION: u16 = 1;
/// Section header minor version written.
pub const MINOR_VERSION: u16 = 2;
/// Largest `block_total_length - 8` of a non-large event block (libs'
/// `READER_BUF_SIZE`); readers reject longer ones.
pub const MAX_EVENT_BLOCK_BODY: u32 = 65536;

/// libs' `SCAP_MAX_PATH_SIZE`: comm, exe, exepath, cwd and root longer than this
/// are rejected by readers.
pub const MAX_PATH_SIZE: usize = 1024;
/// libs' `SCAP_MAX_ARGS_SIZE`.
pub const MAX_ARGS_SIZE: usize = 4096;
/// libs' `SCAP_MAX_ENV_SIZE`.
pub const MAX_ENV_SIZE: usize = 4096;
/// libs' `SCAP_MAX_CGROUPS_SIZE`.
pub const MAX_CGROUPS_SIZE: usize = 4096;
/// libs' `MAX_CREDENTIALS_STR_LEN`: user, home and shell names must be shorter.
pub const MAX_CREDENTIALS_STR_LEN: usize = 256;

/// Size of the packed `scap_machine_info`.
pub const MACHINE_INFO_LEN: usize = 180;

/// The padded total length of a block with a `body_len`-byte body.
#[inline]
pub const fn block_total_len(body_len: usize) -> usize {
    (8 + body_len + 4 + 3) & !3
}
