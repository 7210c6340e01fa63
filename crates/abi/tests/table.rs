//! The event table knows every event type of current libs, as the shared
//! dump of `driver/event_table.c` lists them.

use saker_abi::{EVENT_TABLE, EventFlags, EventType, ParamTable};

fn shared_table() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/event-tables/libs-48dfd53c.tsv");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e} (the shared data must sit beside the repo)"))
}

#[test]
fn knows_all_454_event_types_with_their_parameters() {
    let text = shared_table();
    let rows: Vec<&str> = text.lines().skip(1).filter(|l| !l.is_empty()).collect();
    assert_eq!(rows.len(), 454);
    assert_eq!(EVENT_TABLE.len(), 454);
    for row in rows {
        let f: Vec<&str> = row.split('\t').collect();
        let code: usize = f[0].parse().unwrap();
        let e = &EVENT_TABLE[code];
        assert_eq!((e.enum_name, e.name), (f[1], f[2]), "event {code}");
        let params: Vec<String> = e.params.iter().map(|p| format!("{}:{}", p.name, p.ty.name())).collect();
        let expected: Vec<&str> = f.get(5).map_or(vec![], |s| s.split(' ').filter(|s| !s.is_empty()).collect());
        assert_eq!(params, expected, "event {code} ({})", e.name);
        assert_eq!(e.flags.contains(EventFlags::LARGE_PAYLOAD), f[3].contains("EF_LARGE_PAYLOAD"), "event {code}");
    }
}

#[test]
fn names_and_tables_resolve() {
    assert_eq!(EventType::SYSCALL_OPENAT_2_X.info().unwrap().name, "openat");
    assert!(EventType::SYSCALL_OPEN_E.is_enter());
    assert_eq!(EventType::SYSCALL_OPEN_E.pair(), EventType::SYSCALL_OPEN_X);
    let open_x = EventType::SYSCALL_OPEN_X.info().unwrap();
    let flags = &open_x.params[open_x.param_index("flags").unwrap()];
    assert!(matches!(flags.table, ParamTable::Flags(t) if t.name == "file_flags"));
    assert_eq!(saker_abi::errno_name(-2), Some("ENOENT"));
    assert_eq!(saker_abi::signal_name(9), Some("SIGKILL"));
    // Relative paths know which parameter holds their directory fd.
    let openat = EventType::SYSCALL_OPENAT_2_X.info().unwrap();
    let name = openat.param_index("name").unwrap();
    assert_eq!(openat.params[name].dirfd.map(usize::from), openat.param_index("dirfd"));
}
