//! Generates the event table (Rust) and the kernel-side C header from the
//! files in `spec/`, so both sides of the ABI come from one source of truth.
//!
//! Inputs (tab-separated, `#` lines are comments, first other line is a header):
//! - `events.tsv`: code, enum, name, EF_ flags, nparams, `name:TYPE` params
//!   (a dump of falcosecurity/libs `driver/event_table.c`).
//! - `param_types.tsv`: `enum ppm_param_type` names, values and encoded sizes.
//! - `event_meta.tsv`: per event, its category and, per parameter, the print
//!   format and the flags/dynamic table it refers to.
//! - `flags.tsv`, `dyn_params.tsv`, `errno.tsv`, `syscalls.tsv`, `signals.tsv`:
//!   the name tables used to render values.
//!
//! Outputs in `OUT_DIR`: `table.rs` (included by `src/table.rs`) and
//! `saker_events.h` (compared with `kernel/include/saker_events.h` by a test).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

struct Row {
    fields: Vec<String>,
    line: usize,
}

fn read_tsv(path: &Path) -> Vec<Row> {
    println!("cargo:rerun-if-changed={}", path.display());
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut rows = Vec::new();
    let mut header_seen = false;
    for (i, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if !header_seen {
            header_seen = true;
            continue;
        }
        rows.push(Row { fields: line.split('\t').map(|s| s.trim().to_string()).collect(), line: i + 1 });
    }
    rows
}

/// The Rust variant of a print format (`10_PADDED_DEC` cannot start an identifier).
fn fmt_variant(name: &str) -> String {
    match name {
        "10_PADDED_DEC" => "PaddedDec10".to_string(),
        other => camel(other),
    }
}

fn camel(name: &str) -> String {
    name.split('_')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            let first = c.next().unwrap().to_ascii_uppercase();
            std::iter::once(first).chain(c.map(|c| c.to_ascii_lowercase())).collect::<String>()
        })
        .collect()
}

struct ParamTypeDef {
    name: String,
    value: u32,
    size: Option<u32>,
}

struct ParamDef {
    name: String,
    ty: String,
    fmt: String,
    table: Option<String>,
    /// For FSRELPATH parameters, the index of the parameter holding the dirfd.
    dirfd: Option<u8>,
}

/// A parameter's name, print format and name table, from `event_meta.tsv`.
type ParamMeta = (String, String, Option<String>);

struct EventDef {
    code: u16,
    enum_name: String,
    name: String,
    flags: Vec<String>,
    category: Vec<String>,
    params: Vec<ParamDef>,
}

/// Event flags, in bit order; the names are libs' `enum ppm_event_flags`.
const EVENT_FLAGS: &[&str] = &[
    "EF_CREATES_FD",
    "EF_DESTROYS_FD",
    "EF_USES_FD",
    "EF_READS_FROM_FD",
    "EF_WRITES_TO_FD",
    "EF_MODIFIES_STATE",
    "EF_UNUSED",
    "EF_WAITS",
    "EF_SKIPPARSERESET",
    "EF_OLD_VERSION",
    "EF_DROP_SIMPLE_CONS",
    "EF_LARGE_PAYLOAD",
    "EF_USED_BY_DRIVER",
    "EF_TMP_CONVERTER_MANAGED",
    "EF_CONVERTER_MANAGED",
];

fn main() {
    let spec = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("spec");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());

    let param_types: Vec<ParamTypeDef> = read_tsv(&spec.join("param_types.tsv"))
        .into_iter()
        .map(|r| ParamTypeDef {
            name: r.fields[0].clone(),
            value: r.fields[1].parse().expect("param type value"),
            size: r.fields[2].parse().ok(),
        })
        .collect();
    let known_types: HashMap<&str, &ParamTypeDef> = param_types.iter().map(|t| (t.name.as_str(), t)).collect();

    // Optional metadata: category and per-param print format/table.
    let meta_path = spec.join("event_meta.tsv");
    let mut meta: HashMap<u16, (Vec<String>, Vec<ParamMeta>)> = HashMap::new();
    {
        for r in read_tsv(&meta_path) {
            let code: u16 = r.fields[0].parse().expect("meta code");
            let cat = r.fields[1].split('|').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
            let params = r.fields[2..]
                .iter()
                .flat_map(|f| f.split(' '))
                .filter(|f| !f.is_empty())
                .map(|p| {
                    let mut it = p.rsplitn(3, ':');
                    let table = it.next().unwrap().to_string();
                    let fmt = it.next().unwrap_or("NA").to_string();
                    let name = it.next().unwrap_or("").to_string();
                    let table = (table != "-").then_some(table);
                    (name, fmt, table)
                })
                .collect();
            meta.insert(code, (cat, params));
        }
    }

    // Which parameter holds the directory fd of each relative path.
    let mut dirfds: HashMap<(u16, usize), u8> = HashMap::new();
    for r in read_tsv(&spec.join("dirfd_params.tsv")) {
        if r.fields[0] == "48dfd53c" {
            let code = r.fields[1].parse().expect("dirfd code");
            let idx = r.fields[2].parse().expect("dirfd param");
            dirfds.insert((code, idx), r.fields[3].parse().expect("dirfd index"));
        }
    }

    let mut events = Vec::new();
    for r in read_tsv(&spec.join("events.tsv")) {
        let f = &r.fields;
        let code: u16 = f[0].parse().expect("event code");
        assert_eq!(code as usize, events.len(), "events.tsv line {}: codes must be dense", r.line);
        let flags: Vec<String> =
            f[3].split('|').map(|s| s.trim().to_string()).filter(|s| !s.is_empty() && s != "EF_NONE").collect();
        for fl in &flags {
            assert!(EVENT_FLAGS.contains(&fl.as_str()), "events.tsv line {}: unknown flag {fl}", r.line);
        }
        let nparams: usize = f[4].parse().expect("nparams");
        let specs: Vec<&str> = f.get(5).map(|s| s.split(' ').filter(|p| !p.is_empty()).collect()).unwrap_or_default();
        assert_eq!(specs.len(), nparams, "events.tsv line {}: nparams", r.line);
        let (category, pmeta) = meta.remove(&code).unwrap_or_default();
        let params = specs
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let (name, ty) = p.rsplit_once(':').expect("name:TYPE");
                assert!(known_types.contains_key(ty), "events.tsv line {}: unknown type {ty}", r.line);
                let (fmt, table) = match pmeta.get(i) {
                    Some((mname, fmt, table)) => {
                        assert_eq!(mname, name, "event_meta.tsv code {code}: param {i} name");
                        (fmt.clone(), table.clone())
                    }
                    None => ("NA".to_string(), None),
                };
                let dirfd = dirfds.get(&(code, i)).copied();
                ParamDef { name: name.to_string(), ty: ty.to_string(), fmt, table, dirfd }
            })
            .collect();
        events.push(EventDef { code, enum_name: f[1].clone(), name: f[2].clone(), flags, category, params });
    }

    // Name tables.
    let mut flag_tables: BTreeMap<String, Vec<(String, u64)>> = BTreeMap::new();
    let flags_path = spec.join("flags.tsv");
    {
        for r in read_tsv(&flags_path) {
            let v: u64 = r.fields[2].parse().unwrap_or_else(|_| panic!("flags.tsv line {}", r.line));
            flag_tables.entry(r.fields[0].clone()).or_default().push((r.fields[1].clone(), v));
        }
    }
    let mut dyn_tables: BTreeMap<String, Vec<(u32, String, String, String)>> = BTreeMap::new();
    let dyn_path = spec.join("dyn_params.tsv");
    {
        for r in read_tsv(&dyn_path) {
            let f = &r.fields;
            dyn_tables.entry(f[0].clone()).or_default().push((
                f[1].parse().expect("dyn index"),
                f[2].trim_start_matches("PT_").to_string(),
                f[3].trim_start_matches("PF_").to_string(),
                f.get(4).cloned().unwrap_or_default(),
            ));
        }
    }
    let simple_table = |file: &str| -> Vec<(i64, String)> {
        read_tsv(&spec.join(file))
            .into_iter()
            .map(|r| (r.fields[0].parse().expect("number"), r.fields[1].clone()))
            .collect()
    };

    let mut rs = String::new();
    writeln!(rs, "// Generated by build.rs from spec/*.tsv; do not edit.").unwrap();

    // ParamType.
    writeln!(rs, "/// A parameter's encoding (libs' `enum ppm_param_type`).").unwrap();
    writeln!(
        rs,
        "#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]\n#[repr(u8)]\n#[allow(missing_docs)]\npub enum ParamType {{"
    )
    .unwrap();
    for t in &param_types {
        writeln!(rs, "    {} = {},", camel(&t.name), t.value).unwrap();
    }
    writeln!(rs, "}}\n\nimpl ParamType {{").unwrap();
    writeln!(rs, "    /// The encoded size in bytes, or `None` if the parameter has a variable length.").unwrap();
    writeln!(rs, "    pub const fn fixed_size(self) -> Option<usize> {{\n        match self {{").unwrap();
    for t in &param_types {
        match t.size {
            Some(s) => writeln!(rs, "            ParamType::{} => Some({s}),", camel(&t.name)).unwrap(),
            None => writeln!(rs, "            ParamType::{} => None,", camel(&t.name)).unwrap(),
        }
    }
    writeln!(rs, "        }}\n    }}\n").unwrap();
    writeln!(rs, "    /// libs' name for the type, without the `PT_` prefix.").unwrap();
    writeln!(rs, "    pub const fn name(self) -> &'static str {{\n        match self {{").unwrap();
    for t in &param_types {
        writeln!(rs, "            ParamType::{} => {:?},", camel(&t.name), t.name).unwrap();
    }
    writeln!(rs, "        }}\n    }}\n}}\n").unwrap();

    // Event type constants.
    writeln!(rs, "#[allow(missing_docs)]\nimpl EventType {{").unwrap();
    for e in &events {
        let short = e.enum_name.trim_start_matches("PPME_");
        writeln!(rs, "    pub const {short}: EventType = EventType({});", e.code).unwrap();
    }
    writeln!(rs, "}}\n").unwrap();
    writeln!(rs, "/// Number of event types the table knows (libs' `PPM_EVENT_MAX`).").unwrap();
    writeln!(rs, "pub const EVENT_TYPE_COUNT: usize = {};\n", events.len()).unwrap();

    // Flag tables.
    for (name, entries) in &flag_tables {
        write!(rs, "static FLAGS_{}: [(&str, u64); {}] = [", name.to_uppercase(), entries.len()).unwrap();
        for (n, v) in entries {
            write!(rs, "({n:?}, {v}), ").unwrap();
        }
        writeln!(rs, "];").unwrap();
    }
    writeln!(rs, "/// Every flag and enum name table, by libs' table name.").unwrap();
    writeln!(rs, "pub static FLAG_TABLES: [FlagTable; {}] = [", flag_tables.len()).unwrap();
    for name in flag_tables.keys() {
        writeln!(rs, "    FlagTable {{ name: {name:?}, entries: &FLAGS_{} }},", name.to_uppercase()).unwrap();
    }
    writeln!(rs, "];\n").unwrap();
    let flag_index: HashMap<&str, usize> = flag_tables.keys().enumerate().map(|(i, k)| (k.as_str(), i)).collect();

    for (name, entries) in &dyn_tables {
        write!(rs, "static DYN_{}: [DynParamInfo; {}] = [", name.to_uppercase(), entries.len()).unwrap();
        for (idx, ty, fmt, pname) in entries {
            assert_eq!(*idx as usize, entries.iter().position(|e| e.0 == *idx).unwrap());
            write!(
                rs,
                "DynParamInfo {{ ty: ParamType::{}, fmt: PrintFormat::{}, name: {pname:?} }}, ",
                camel(ty),
                fmt_variant(fmt)
            )
            .unwrap();
        }
        writeln!(rs, "];").unwrap();
    }

    // Events.
    for e in &events {
        write!(rs, "static P{}: [ParamInfo; {}] = [", e.code, e.params.len()).unwrap();
        for p in &e.params {
            let extra = match &p.table {
                None => "ParamTable::None".to_string(),
                Some(t) if flag_index.contains_key(t.as_str()) => {
                    format!("ParamTable::Flags(&FLAG_TABLES[{}])", flag_index[t.as_str()])
                }
                Some(t) if dyn_tables.contains_key(t) => format!("ParamTable::Dyn(&DYN_{})", t.to_uppercase()),
                Some(t) => panic!("event {}: param {} refers to unknown table {t}", e.code, p.name),
            };
            write!(
                rs,
                "ParamInfo {{ name: {:?}, ty: ParamType::{}, fmt: PrintFormat::{}, table: {extra}, dirfd: {:?} }}, ",
                p.name,
                camel(&p.ty),
                fmt_variant(&p.fmt),
                p.dirfd
            )
            .unwrap();
        }
        writeln!(rs, "];").unwrap();
    }
    writeln!(rs, "/// The event table, indexed by event type.").unwrap();
    writeln!(rs, "pub static EVENT_TABLE: [EventInfo; {}] = [", events.len()).unwrap();
    for e in &events {
        let flags = if e.flags.is_empty() {
            "EventFlags::NONE".to_string()
        } else {
            format!(
                "EventFlags({})",
                e.flags.iter().map(|f| format!("EventFlags::{}.0", &f[3..])).collect::<Vec<_>>().join(" | ")
            )
        };
        let cat = if e.category.is_empty() {
            "Category::UNKNOWN".to_string()
        } else {
            format!(
                "Category({})",
                e.category.iter().map(|c| format!("Category::{}.0", &c[3..])).collect::<Vec<_>>().join(" | ")
            )
        };
        writeln!(
            rs,
            "    EventInfo {{ code: {}, enum_name: {:?}, name: {:?}, flags: {flags}, category: {cat}, params: &P{} }},",
            e.code, e.enum_name, e.name, e.code
        )
        .unwrap();
    }
    writeln!(rs, "];\n").unwrap();
    // The one fact every event's validation needs, in a table small enough
    // to stay in cache (the full entries are tens of bytes each).
    writeln!(rs, "/// Bytes per parameter length (2, or 4 for large-payload events), indexed by event type.").unwrap();
    let sizes: Vec<&str> =
        events.iter().map(|e| if e.flags.iter().any(|f| f == "EF_LARGE_PAYLOAD") { "4" } else { "2" }).collect();
    writeln!(rs, "pub(crate) static PARAM_LEN_SIZE: [u8; {}] = [{}];\n", events.len(), sizes.join(", ")).unwrap();

    // Dense tables indexed by number ("" where there is no name), so a lookup
    // on the per-event path is one bounds check.
    for (file, name, doc) in [
        ("errno.tsv", "ERRNO_NAMES", "errno names, indexed by the positive errno value"),
        ("syscalls.tsv", "SYSCALL_NAMES", "syscall names, indexed by the id of generic events"),
        ("signals.tsv", "SIGNAL_NAMES", "signal names, indexed by signal number"),
    ] {
        let t = simple_table(file);
        let len = t.iter().map(|(n, _)| *n as usize + 1).max().unwrap_or(0);
        let mut dense = vec![String::new(); len];
        for (n, s) in t {
            dense[n as usize] = s;
        }
        writeln!(rs, "/// The {doc}.").unwrap();
        write!(rs, "pub(crate) static {name}: [&str; {len}] = [").unwrap();
        for s in &dense {
            write!(rs, "{s:?}, ").unwrap();
        }
        writeln!(rs, "];").unwrap();
    }
    std::fs::write(out.join("table.rs"), rs).unwrap();

    std::fs::write(out.join("saker_events.h"), c_header(&events, &param_types)).unwrap();
    println!("cargo:rerun-if-changed=build.rs");
}

fn c_header(events: &[EventDef], param_types: &[ParamTypeDef]) -> String {
    let types: HashMap<&str, &ParamTypeDef> = param_types.iter().map(|t| (t.name.as_str(), t)).collect();
    let mut h = String::new();
    h.push_str(
        "/* SPDX-License-Identifier: Apache-2.0 OR GPL-2.0-only */\n\
         /*\n \
         * saker event ABI, shared by the BPF programs and the kernel module.\n \
         *\n \
         * Generated by crates/abi/build.rs from the tables in crates/abi/spec/: do not edit.\n \
         * Regenerate with `SAKER_BLESS=1 cargo test -p saker-abi --test c_header`.\n \
         *\n \
         * The layout is Falco's (falcosecurity/libs driver/ppm_events_public.h), so\n \
         * captures and tools interoperate. Include it after a header that defines\n \
         * __u8/__u16/__u32/__u64 (linux/types.h, or vmlinux.h in BPF programs).\n \
         */\n\
         #ifndef SAKER_EVENTS_H\n#define SAKER_EVENTS_H\n\n",
    );
    h.push_str("/* Every event starts with this header, then nparams lengths (__u16, or __u32\n * for EF_LARGE_PAYLOAD events), then the parameters back to back. */\n");
    h.push_str("struct ppm_evt_hdr {\n\t__u64 ts;\t/* nanoseconds since the epoch */\n\t__u64 tid;\t/* thread id in the initial pid namespace */\n\t__u32 len;\t/* whole event, header included */\n\t__u16 type;\t/* enum ppm_event_type */\n\t__u32 nparams;\n} __attribute__((packed));\n\n");
    h.push_str("#define SAKER_EVENT_HEADER_LEN 26\n");
    h.push_str("#define SAKER_PARAM_LEN_SIZE 2\n#define SAKER_LARGE_PARAM_LEN_SIZE 4\n\n");

    h.push_str("enum ppm_param_type {\n");
    for t in param_types {
        writeln!(h, "\tPT_{} = {},", t.name, t.value).unwrap();
    }
    h.push_str("};\n\n");

    h.push_str("enum ppm_event_type {\n");
    for e in events {
        writeln!(h, "\t{} = {},", e.enum_name, e.code).unwrap();
    }
    writeln!(h, "\tPPM_EVENT_MAX = {}\n}};\n", events.len()).unwrap();

    h.push_str("/* Number of parameters of each event type. */\n");
    for e in events {
        if e.flags.iter().any(|f| f == "EF_UNUSED") {
            continue;
        }
        writeln!(h, "#define {}_NPARAMS {}", e.enum_name, e.params.len()).unwrap();
    }
    h.push_str("\n/* Total size of the events whose parameters all have a fixed size. */\n");
    for e in events {
        if e.flags.iter().any(|f| f == "EF_UNUSED" || f == "EF_LARGE_PAYLOAD") {
            continue;
        }
        let sizes: Option<Vec<u32>> = e.params.iter().map(|p| types[p.ty.as_str()].size).collect();
        if let Some(sizes) = sizes {
            let total = 26 + 2 * e.params.len() as u32 + sizes.iter().sum::<u32>();
            writeln!(h, "#define {}_SIZE {}", e.enum_name, total).unwrap();
        }
    }
    h.push_str("\n#endif /* SAKER_EVENTS_H */\n");
    h
}
