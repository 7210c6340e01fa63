//! Every kernel-struct access of the modern probe whose layout changed since
//! 5.8 (and the one helper it chooses at load time), with its variants and the
//! kernels each variant was verified on.
//!
//! The probe handles each with CO-RE: local `___flavour` structs and
//! `bpf_core_field_exists` / `bpf_core_type_exists` /
//! `bpf_core_enum_value_exists` choose the variant when the probe loads. This
//! test reads the running kernel's BTF and checks that exactly one variant of
//! each access matches it, and that it is the one [`ACCESSES`] says for this
//! kernel. The guest harness (`tests/guest/run`) runs it in Debian's 5.10 and
//! 6.1 kernels, the host runs it on 6.18: those are the kernels listed. A
//! second test fails when the probe's sources use a variant this table does
//! not list.

use libbpf_rs::btf::types::Composite;
use libbpf_rs::btf::{Btf, BtfType};

/// What a variant looks like in a kernel's BTF.
#[derive(Debug, Clone, Copy)]
enum Shape {
    /// Type `S` (a struct, or a typedef of one) has field `f` (anonymous
    /// members searched too).
    Field(&'static str, &'static str),
    /// A type of this name exists.
    Type(&'static str),
    /// A type of this name does not exist.
    NoType(&'static str),
    /// `enum bpf_func_id` has this value (a helper the kernel offers).
    Helper(&'static str),
    /// The helper does not exist.
    NoHelper(&'static str),
}

struct Variant {
    layout: &'static str,
    shape: Shape,
    /// Kernel families (`major.minor`) this variant was verified on.
    kernels: &'static [&'static str],
}

struct Access {
    what: &'static str,
    /// The local flavoured types and CO-RE checks in the probe's sources that
    /// implement the variants (each must appear in the sources).
    source_names: &'static [&'static str],
    variants: &'static [Variant],
}

const ACCESSES: &[Access] = &[
    Access {
        what: "mm_struct.rss_stat (vm_rss, vm_swap)",
        source_names: &["mm_rss_stat___pre62", "mm_struct___pre62"],
        variants: &[
            Variant {
                layout: "struct mm_rss_stat { atomic_long_t count[] } (before 6.2)",
                shape: Shape::Type("mm_rss_stat"),
                kernels: &["5.10", "6.1"],
            },
            Variant {
                layout: "struct percpu_counter rss_stat[] (6.2+)",
                shape: Shape::NoType("mm_rss_stat"),
                kernels: &["6.18"],
            },
        ],
    },
    Access {
        what: "cred capabilities (kernel_cap_t)",
        source_names: &["kernel_cap_struct___old"],
        variants: &[
            Variant {
                layout: "u32 cap[2] (before 6.3)",
                shape: Shape::Field("kernel_cap_t", "cap"),
                kernels: &["5.10", "6.1"],
            },
            Variant { layout: "u64 val (6.3+)", shape: Shape::Field("kernel_cap_t", "val"), kernels: &["6.18"] },
        ],
    },
    Access {
        what: "inode ctime (exe_ino_ctime)",
        source_names: &["inode___old", "inode___v66"],
        variants: &[
            Variant {
                layout: "struct timespec64 i_ctime (before 6.6)",
                shape: Shape::Field("inode", "i_ctime"),
                kernels: &["5.10", "6.1"],
            },
            Variant {
                layout: "struct timespec64 __i_ctime (6.6-6.10)",
                shape: Shape::Field("inode", "__i_ctime"),
                kernels: &[],
            },
            Variant {
                layout: "i_ctime_sec + i_ctime_nsec (6.11+)",
                shape: Shape::Field("inode", "i_ctime_sec"),
                kernels: &["6.18"],
            },
        ],
    },
    Access {
        what: "inode mtime (exe_ino_mtime)",
        source_names: &["inode___old", "inode___v67"],
        variants: &[
            Variant {
                layout: "struct timespec64 i_mtime (before 6.7)",
                shape: Shape::Field("inode", "i_mtime"),
                kernels: &["5.10", "6.1"],
            },
            Variant {
                layout: "struct timespec64 __i_mtime (6.7-6.10)",
                shape: Shape::Field("inode", "__i_mtime"),
                kernels: &[],
            },
            Variant {
                layout: "i_mtime_sec + i_mtime_nsec (6.11+)",
                shape: Shape::Field("inode", "i_mtime_sec"),
                kernels: &["6.18"],
            },
        ],
    },
    Access {
        what: "kernfs_node parent (cgroup paths)",
        source_names: &["kernfs_node___old"],
        variants: &[
            Variant {
                layout: "struct kernfs_node *parent (before 6.15)",
                shape: Shape::Field("kernfs_node", "parent"),
                kernels: &["5.10", "6.1"],
            },
            Variant {
                layout: "struct kernfs_node __rcu *__parent (6.15+)",
                shape: Shape::Field("kernfs_node", "__parent"),
                kernels: &["6.18"],
            },
        ],
    },
    Access {
        what: "the current task (dispatchers, every filler)",
        source_names: &["BPF_FUNC_get_current_task_btf"],
        variants: &[
            Variant {
                layout: "bpf_get_current_task() + checked reads (before 5.11)",
                shape: Shape::NoHelper("BPF_FUNC_get_current_task_btf"),
                kernels: &["5.10"],
            },
            Variant {
                layout: "bpf_get_current_task_btf(), direct loads (5.11+)",
                shape: Shape::Helper("BPF_FUNC_get_current_task_btf"),
                kernels: &["6.1", "6.18"],
            },
        ],
    },
];

/// `major.minor` of the running kernel.
fn kernel_family() -> String {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let mut nums = release.trim().split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty());
    format!("{}.{}", nums.next().unwrap(), nums.next().unwrap())
}

/// Whether composite `ty` (or an anonymous member of it, recursively) has `field`.
fn has_field(btf: &Btf<'_>, ty: Composite<'_>, field: &str, depth: u32) -> bool {
    ty.iter().any(|m| match m.name {
        Some(n) => n == field,
        None => {
            depth < 8
                && btf
                    .type_by_id::<BtfType<'_>>(m.ty)
                    .map(|t| t.skip_mods_and_typedefs())
                    .and_then(|t| Composite::try_from(t).ok())
                    .is_some_and(|c| has_field(btf, c, field, depth + 1))
        }
    })
}

fn matches(btf: &Btf<'_>, shape: Shape) -> bool {
    let helper = |name: &str| {
        btf.type_by_name::<libbpf_rs::btf::types::Enum<'_>>("bpf_func_id")
            .is_some_and(|e| e.iter().any(|v| v.name.is_some_and(|n| n == name)))
    };
    match shape {
        Shape::Field(s, f) => btf
            .type_by_name::<BtfType<'_>>(s)
            .and_then(|t| Composite::try_from(t.skip_mods_and_typedefs()).ok())
            .is_some_and(|c| has_field(btf, c, f, 0)),
        Shape::Type(t) => btf.type_by_name::<BtfType<'_>>(t).is_some(),
        Shape::NoType(t) => btf.type_by_name::<BtfType<'_>>(t).is_none(),
        Shape::Helper(h) => helper(h),
        Shape::NoHelper(h) => !helper(h),
    }
}

#[test]
fn each_access_has_exactly_the_listed_variant_on_this_kernel() {
    if !std::path::Path::new("/sys/kernel/btf/vmlinux").exists() {
        eprintln!("SKIP core_variants: this kernel has no BTF (/sys/kernel/btf/vmlinux)");
        return;
    }
    let btf = Btf::from_vmlinux().expect("read the kernel's BTF");
    let family = kernel_family();
    let mut verified_here = 0;
    for access in ACCESSES {
        let matching: Vec<&Variant> = access.variants.iter().filter(|v| matches(&btf, v.shape)).collect();
        assert_eq!(
            matching.len(),
            1,
            "{}: kernel {family} matches {} variants: {:?}",
            access.what,
            matching.len(),
            matching.iter().map(|v| v.layout).collect::<Vec<_>>()
        );
        let found = matching[0];
        if let Some(listed) = access.variants.iter().find(|v| v.kernels.contains(&family.as_str())) {
            assert_eq!(
                found.layout, listed.layout,
                "{}: the table says kernel {family} has `{}`, its BTF has `{}`",
                access.what, listed.layout, found.layout
            );
            verified_here += 1;
        }
        println!("{family}: {} -> {}", access.what, found.layout);
    }
    let listed = ["5.10", "6.1", "6.18"].contains(&family.as_str());
    if listed {
        assert_eq!(verified_here, ACCESSES.len(), "every access lists kernel {family}");
    } else {
        eprintln!("NOTE core_variants: kernel {family} is not one the table was verified on; variants checked only");
    }
}

#[test]
fn every_variant_in_the_sources_is_listed() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../kernel/modern_bpf");
    let Ok(entries) = std::fs::read_dir(dir) else {
        eprintln!("SKIP every_variant_in_the_sources_is_listed: no sources at {dir} (guest run)");
        return;
    };
    let mut sources = String::new();
    for e in entries {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if (name.ends_with(".h") || name.ends_with(".c")) && name != "vmlinux.h" {
            sources.push_str(&std::fs::read_to_string(&p).unwrap());
        }
    }
    let listed: Vec<&str> = ACCESSES.iter().flat_map(|a| a.source_names.iter().copied()).collect();
    // Local flavoured types: `struct NAME___FLAVOUR`.
    let mut flavoured: Vec<String> = Vec::new();
    for (i, _) in sources.match_indices("struct ") {
        let rest = &sources[i + 7..];
        let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if name.contains("___") && !flavoured.contains(&name) {
            flavoured.push(name);
        }
    }
    for name in &flavoured {
        assert!(listed.contains(&name.as_str()), "the probe uses `struct {name}`, which ACCESSES does not list");
    }
    // Helpers chosen at load time.
    for (i, _) in sources.match_indices("bpf_core_enum_value_exists(enum bpf_func_id, ") {
        let rest = &sources[i + "bpf_core_enum_value_exists(enum bpf_func_id, ".len()..];
        let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        assert!(listed.contains(&name.as_str()), "the probe chooses on `{name}`, which ACCESSES does not list");
    }
    for name in &listed {
        assert!(sources.contains(name), "ACCESSES lists `{name}`, which the probe's sources no longer use");
    }
}
