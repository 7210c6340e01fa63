//! `Event::parse` checks every parameter length; `Event::parse_checked`,
//! for bytes already checked, only the header.

use saker_abi::{Event, EventBuilder, EventError, EventType};

/// An open exit (fd, path, flags, mode, dev, ino) with a 4-byte path.
fn open_exit() -> Vec<u8> {
    let mut buf = Vec::new();
    let mut b = EventBuilder::new(&mut buf, 1, 2, EventType(3));
    b.param_i64(3);
    b.param_str(b"/etc");
    b.param_u64(0);
    b.param_u64(0);
    b.param_u64(0);
    b.param_u64(0);
    b.finish();
    buf
}

#[test]
fn both_view_a_good_event_alike() {
    let bytes = open_exit();
    let (a, b) = (Event::parse(&bytes).unwrap(), Event::parse_checked(&bytes).unwrap());
    assert_eq!(a.as_bytes(), b.as_bytes());
    assert_eq!(a.raw_param(1), Some(&b"/etc\0"[..]));
    assert_eq!(b.raw_param(1), Some(&b"/etc\0"[..]));
}

#[test]
fn only_parse_checks_the_parameter_lengths() {
    let mut bytes = open_exit();
    // The path's length (second u16 after the 26-byte header) now runs past the end.
    bytes[28..30].copy_from_slice(&500u16.to_le_bytes());
    assert!(matches!(Event::parse(&bytes), Err(EventError::ParamsOverflow { .. })));
    let ev = Event::parse_checked(&bytes).expect("the header is fine");
    // The accessors never read out of bounds: they panic.
    assert!(std::panic::catch_unwind(|| ev.raw_param(1).map(<[u8]>::len)).is_err());
    // Both reject a bad header.
    assert!(matches!(Event::parse_checked(&bytes[..20]), Err(EventError::ShortHeader { have: 20 })));
}
