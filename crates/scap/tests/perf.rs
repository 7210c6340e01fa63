//! Read throughput on a large capture. Ignored by default (it writes a ~0.6 GB
//! file); run with
//! `cargo test --release -p saker-scap --test perf -- --ignored --nocapture`.

mod common;

use std::time::Instant;

use saker_scap::{ReadOptions, Reader, Writer};

#[test]
#[ignore = "writes a large file; run explicitly in release mode"]
fn read_throughput_on_a_large_capture() {
    let src = common::captures_dir().join("libs__sample.scap");
    let mut r = Reader::open(&src).unwrap();
    let header = r.header().clone();
    let mut events: Vec<(u16, Vec<u8>)> = Vec::new();
    while let Some(rec) = r.next_event().unwrap() {
        events.push((rec.cpu, rec.event.as_bytes().to_vec()));
    }
    let repeat = 10_000;
    let dir = common::temp_dir("perf");
    let big = dir.join("big.scap");
    let t = Instant::now();
    let mut w = Writer::create(&big).unwrap();
    w.write_header(&header).unwrap();
    for _ in 0..repeat {
        for (cpu, bytes) in &events {
            w.write_event(*cpu, &saker_abi::Event::parse(bytes).unwrap()).unwrap();
        }
    }
    w.finish().unwrap();
    let size = std::fs::metadata(&big).unwrap().len();
    let n_expected = (events.len() * repeat) as u64;
    println!(
        "wrote {n_expected} events, {:.1} MB in {:.2} s ({:.1} M events/s)",
        size as f64 / 1e6,
        t.elapsed().as_secs_f64(),
        n_expected as f64 / t.elapsed().as_secs_f64() / 1e6
    );

    for (name, opts) in
        [("mmap", ReadOptions::default()), ("buffered read", ReadOptions { mmap: false, ..ReadOptions::default() })]
    {
        for _ in 0..2 {
            let t = Instant::now();
            let mut r = Reader::open_with(&big, opts).unwrap();
            let (mut n, mut sum) = (0u64, 0u64);
            while let Some(rec) = r.next_event().unwrap() {
                n += 1;
                sum += rec.event.event_type().0 as u64 + rec.event.len() as u64;
            }
            let s = t.elapsed().as_secs_f64();
            assert_eq!(n, n_expected);
            println!(
                "{name}: {n} events in {s:.3} s = {:.1} M events/s, {:.2} GB/s (checksum {sum})",
                n as f64 / s / 1e6,
                size as f64 / s / 1e9
            );
        }
    }

    // The same events, gzip-compressed (level 1 to keep the test short).
    let gz = dir.join("big.scap.gz");
    let mut r = Reader::open(&big).unwrap();
    let opts = saker_scap::WriteOptions { compression: saker_scap::Compression::Gzip(1), ..Default::default() };
    let mut w = Writer::create_with(&gz, opts).unwrap();
    w.write_header(r.header()).unwrap();
    while let Some(rec) = r.next_event().unwrap() {
        w.write_record(&rec).unwrap();
    }
    w.finish().unwrap();
    let t = Instant::now();
    let mut r = Reader::open(&gz).unwrap();
    let mut n = 0u64;
    while r.next_event().unwrap().is_some() {
        n += 1;
    }
    let s = t.elapsed().as_secs_f64();
    assert_eq!(n, n_expected);
    println!(
        "gzip ({:.1} MB): {n} events in {s:.3} s = {:.1} M events/s",
        std::fs::metadata(&gz).unwrap().len() as f64 / 1e6,
        n as f64 / s / 1e6
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
