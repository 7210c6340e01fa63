//! `parse`: how long saker takes to read conditions and rules as they grow,
//! and to refuse hostile ones.
//!
//! Two tables. The first gives the time to parse an and-chain and an inline
//! `in` list of 1k..64k terms, in process (`saker_filter::parse`, the parser
//! `saker trace` filters and rules share) and end to end (`saker detect
//! --dry-run` on a rules file holding the condition): the time per term must
//! stay flat as the terms double (linear growth). The second runs `saker
//! detect --dry-run` on hostile inputs that used to exhaust saker (a 40-level
//! chain of macros each using the previous one twice, the same with lists, a
//! "billion laughs" YAML, a 1 MiB token in an output, `-r /dev/zero`) and
//! prints the time, the peak memory and the located error each ends with;
//! and on 30 rules using a macro chain just under the bounds, which loads
//! (each macro one shared body, however often used).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::print_table;

const SIZES: &[usize] = &[1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000];

fn and_chain(n: usize) -> String {
    let mut s = String::from("evt.type = open");
    for i in 1..n {
        s.push_str(&format!(" and proc.name != p{i}"));
    }
    s
}

fn in_list(n: usize) -> String {
    let items: Vec<String> = (0..n).map(|i| format!("p{i}")).collect();
    format!("evt.type = open and proc.name in ({})", items.join(", "))
}

fn rule_file(condition: &str) -> String {
    format!(
        "- rule: big\n  desc: a large condition\n  condition: {condition}\n  output: \"%proc.name\"\n  priority: WARNING\n"
    )
}

/// The best of `runs` in-process parses.
fn parse_time(text: &str, runs: usize) -> Result<Duration> {
    let mut best = Duration::MAX;
    for _ in 0..runs {
        let t = Instant::now();
        saker_filter::parse(text).map_err(|e| anyhow::anyhow!("{e}"))?;
        best = best.min(t.elapsed());
    }
    Ok(best)
}

/// One `saker detect --dry-run` run: wall time, peak RSS (KiB), success, stderr.
struct Outcome {
    time: Duration,
    max_rss_kib: u64,
    ok: bool,
    stderr: String,
}

fn run_saker(saker: &Path, args: &[&str]) -> Result<Outcome> {
    let err_path = std::env::temp_dir().join(format!("saker-bench-parse-{}.err", std::process::id()));
    let err = std::fs::File::create(&err_path)?;
    let start = Instant::now();
    let child = Command::new(saker)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err)
        .spawn()
        .with_context(|| format!("cannot run {}", saker.display()))?;
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waiting for the child we just spawned, with valid pointers.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let time = start.elapsed();
    if pid < 0 {
        bail!("waiting for saker: {}", std::io::Error::last_os_error());
    }
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    let _ = std::fs::remove_file(&err_path);
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    Ok(Outcome { time, max_rss_kib: usage.ru_maxrss as u64, ok, stderr })
}

/// The best of `runs` dry runs on a rules file (must succeed).
fn load_time(saker: &Path, rules: &Path, runs: usize) -> Result<Outcome> {
    let mut best: Option<Outcome> = None;
    for _ in 0..runs {
        let o = run_saker(saker, &["detect", "--dry-run", "-r", rules.to_str().unwrap()])?;
        if !o.ok {
            bail!("saker detect --dry-run -r {} failed:\n{}", rules.display(), o.stderr);
        }
        if best.as_ref().is_none_or(|b| o.time < b.time) {
            best = Some(o);
        }
    }
    Ok(best.unwrap())
}

fn write(dir: &Path, name: &str, text: &str) -> Result<PathBuf> {
    let p = dir.join(name);
    std::fs::File::create(&p)?.write_all(text.as_bytes())?;
    Ok(p)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn per_term(d: Duration, n: usize) -> String {
    format!("{:.2} µs", d.as_secs_f64() * 1e6 / n as f64)
}

/// Runs the entry: both tables.
pub fn bench(saker: &Path, runs: usize) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("saker-bench-parse-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut rows = Vec::new();
    for &n in SIZES {
        let (chain, list) = (and_chain(n), in_list(n));
        let pc = parse_time(&chain, runs)?;
        let pl = parse_time(&list, runs)?;
        let lc = load_time(saker, &write(&dir, "chain.yaml", &rule_file(&chain))?, runs)?;
        let ll = load_time(saker, &write(&dir, "list.yaml", &rule_file(&list))?, runs)?;
        rows.push(vec![
            n.to_string(),
            ms(pc),
            per_term(pc, n),
            ms(pl),
            per_term(pl, n),
            ms(lc.time),
            per_term(lc.time, n),
            ms(ll.time),
            per_term(ll.time, n),
        ]);
    }
    println!("\nParsing: and-chains and inline `in` lists of N terms; best of {runs} runs\n");
    print_table(
        &[
            "terms",
            "and-chain parse",
            "per term",
            "`in` list parse",
            "per item",
            "and-chain rules load",
            "per term",
            "`in` list rules load",
            "per item",
        ],
        &rows,
    );

    let mut rows = Vec::new();
    for (name, args) in hostile(&dir)? {
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = run_saker(saker, &argv)?;
        // The located error: the first line naming a place, else the last line.
        let first = o
            .stderr
            .lines()
            .find(|l| l.contains("LOAD_ERR") || l.contains("error"))
            .or_else(|| o.stderr.lines().last())
            .unwrap_or("")
            .to_string();
        let located = o.stderr.lines().find(|l| l.contains(".yaml:")).unwrap_or("").trim().to_string();
        rows.push(vec![
            name.to_string(),
            if o.ok { "accepted".into() } else { "refused".into() },
            ms(o.time),
            format!("{} MiB", o.max_rss_kib / 1024),
            format!("`{}`", clip(&first, 110)),
            format!("`{}`", clip(&located, 70)),
        ]);
    }
    println!("\nHostile inputs: `saker detect --dry-run`\n");
    print_table(&["input", "outcome", "time", "peak RSS", "error", "where"], &rows);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn clip(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

/// The hostile inputs: a name and saker's arguments.
fn hostile(dir: &Path) -> Result<Vec<(&'static str, Vec<String>)>> {
    let dry = |p: PathBuf| vec!["detect".into(), "--dry-run".into(), "-r".into(), p.to_str().unwrap().to_string()];
    let mut v = Vec::new();

    let mut macros = String::from("- macro: m0\n  condition: evt.type = open\n");
    for i in 1..=40 {
        macros.push_str(&format!("- macro: m{i}\n  condition: m{} or m{}\n", i - 1, i - 1));
    }
    macros.push_str("- rule: r\n  desc: d\n  condition: m40\n  output: \"%proc.name\"\n  priority: WARNING\n");
    v.push(("40-level doubling macro chain", dry(write(dir, "macros.yaml", &macros)?)));

    // Just under both bounds: 65,535 nodes a rule, 1,966,050 in all once
    // expanded; loaded and compiled as 16 shared macro bodies.
    let mut shared = String::from("- macro: m0\n  condition: evt.type = open\n");
    for i in 1..=15 {
        shared.push_str(&format!("- macro: m{i}\n  condition: m{} or m{}\n", i - 1, i - 1));
    }
    for r in 0..30 {
        shared.push_str(&format!(
            "- rule: r{r}\n  desc: d\n  condition: m15\n  output: \"%proc.name\"\n  priority: WARNING\n"
        ));
    }
    v.push(("30 rules using a 15-level doubling macro chain", dry(write(dir, "shared.yaml", &shared)?)));

    let mut lists = String::from("- list: l0\n  items: [a, b]\n");
    for i in 1..=40 {
        lists.push_str(&format!("- list: l{i}\n  items: [l{}, l{}]\n", i - 1, i - 1));
    }
    lists.push_str(
        "- rule: r\n  desc: d\n  condition: evt.type = open and proc.name in (l40)\n  output: \"%proc.name\"\n  priority: WARNING\n",
    );
    v.push(("40-level doubling list chain", dry(write(dir, "lists.yaml", &lists)?)));

    let mut laughs = String::from("- list: lol\n  items: &a0 [lol]\n");
    for i in 1..=9 {
        let refs: Vec<String> = (0..10).map(|_| format!("*a{}", i - 1)).collect();
        laughs.push_str(&format!("- list: lol{i}\n  items: &a{i} [{}]\n", refs.join(", ")));
    }
    v.push(("billion laughs (9 levels of 10 aliases)", dry(write(dir, "laughs.yaml", &laughs)?)));

    let token = format!(
        "- rule: r\n  desc: d\n  condition: evt.type = open\n  output: \"%{}\"\n  priority: WARNING\n",
        "a.".repeat(512 << 10)
    );
    v.push(("1 MiB token in an output", dry(write(dir, "token.yaml", &token)?)));

    let mut pct = String::from("- rule: r\n  desc: d\n  condition: evt.type = open\n  output: \"");
    pct.push_str(&"%".repeat(1 << 20));
    pct.push_str("\"\n  priority: WARNING\n");
    v.push(("1 MiB of `%` in an output", dry(write(dir, "percent.yaml", &pct)?)));

    let cond = format!(
        "- rule: r\n  desc: d\n  condition: evt.type = open and proc.name = {}\n  output: \"%proc.name\"\n  priority: WARNING\n",
        "x".repeat(1 << 20)
    );
    v.push(("1 MiB value in a condition", dry(write(dir, "value.yaml", &cond)?)));

    v.push(("`-r /dev/zero`", dry(PathBuf::from("/dev/zero"))));
    let mut zero = dry(PathBuf::from("/dev/zero"));
    zero.push("--allow-writable-files".into());
    v.push(("`-r /dev/zero --allow-writable-files`", zero));
    let mut bad = b"- list: a\n  items: [x]\n# caf\xc3\xa9 ".to_vec();
    bad.extend_from_slice(b"\xff\n");
    let p = dir.join("utf8.yaml");
    std::fs::write(&p, bad)?;
    v.push(("invalid UTF-8 in a comment", dry(p)));
    Ok(v)
}
