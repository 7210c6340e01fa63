//! containerd (through `ctr`) and CRI-O (its inspect endpoint).

use std::path::Path;
use std::process::{Command, Stdio};

use saker_state::{Container, Mount, Runtime, Str};
use serde_json::Value;

use crate::docker::s;
use crate::{Config, LookupError, http, image, time};

/// containerd namespaces tried, Kubernetes' first.
const NAMESPACES: [&str; 3] = ["k8s.io", "default", "moby"];

/// The container `full_id` from containerd; `Ok(None)` when no namespace
/// has it.
pub(crate) fn containerd(config: &Config, socket: &Path, full_id: &[u8]) -> Result<Option<Container>, LookupError> {
    let id = std::str::from_utf8(full_id).map_err(|_| LookupError::Malformed("container id".into()))?;
    if !socket.exists() {
        return Err(LookupError::Io(std::io::Error::new(std::io::ErrorKind::NotFound, "no such socket")));
    }
    for ns in NAMESPACES {
        let out = Command::new(&config.ctr)
            .arg("--address")
            .arg(socket)
            .args(["--timeout", &format!("{}s", config.timeout.as_secs().max(1))])
            .args(["-n", ns, "containers", "info", id])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| LookupError::Program(format!("cannot run {}: {e}", config.ctr.display())))?;
        if out.status.success() {
            let v: Value = serde_json::from_slice(&out.stdout).map_err(|e| LookupError::Malformed(e.to_string()))?;
            return Ok(Some(from_containerd(&v, full_id)));
        }
        let err = String::from_utf8_lossy(&out.stderr);
        if !err.contains("not found") {
            return Err(LookupError::Program(format!("ctr: {}", err.trim())));
        }
    }
    Ok(None)
}

/// Whether containerd answers (`ctr version`).
pub(crate) fn containerd_ping(config: &Config, socket: &Path) -> Result<(), LookupError> {
    let out = Command::new(&config.ctr)
        .arg("--address")
        .arg(socket)
        .args(["--timeout", &format!("{}s", config.timeout.as_secs().max(1)), "version"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| LookupError::Program(format!("cannot run {}: {e}", config.ctr.display())))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(LookupError::Program(format!("ctr: {}", String::from_utf8_lossy(&out.stderr).trim())))
    }
}

fn text<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// A containerd container record (with its OCI spec).
pub(crate) fn from_containerd(v: &Value, full_id: &[u8]) -> Container {
    let mut c = Container::new(Str::from(full_id), Str::from(full_id), Runtime::Containerd);
    if let Some(ls) = v.get("Labels").and_then(Value::as_object) {
        c.labels = ls.iter().filter_map(|(k, v)| Some((s(k), s(v.as_str()?)))).collect();
    }
    // Kubernetes names its containers by label; others are known by id.
    c.name = match c.label(b"io.kubernetes.container.name") {
        Some(n) => Str::from(n),
        None => Str::from(full_id),
    };
    let img = text(v, "Image");
    c.image = s(img);
    let (repo, tag, digest) = image::split(img);
    c.image_repo = s(&repo);
    c.image_tag = s(&tag);
    c.image_digest = s(&digest);
    c.start_ts = time::parse_rfc3339(text(v, "CreatedAt")).map_or(0, |t| t / 1_000_000_000 * 1_000_000_000);
    let spec = v.get("Spec").unwrap_or(&Value::Null);
    if let Some(ms) = spec.get("mounts").and_then(Value::as_array) {
        c.mounts = ms
            .iter()
            .map(|m| {
                let opts: Vec<&str> = m
                    .get("options")
                    .and_then(Value::as_array)
                    .map_or(Vec::new(), |o| o.iter().filter_map(Value::as_str).collect());
                let propagation = opts
                    .iter()
                    .find(|o| matches!(**o, "rprivate" | "private" | "rshared" | "shared" | "rslave" | "slave"))
                    .copied()
                    .unwrap_or("");
                Mount {
                    source: s(text(m, "source")),
                    dest: s(text(m, "destination")),
                    mode: Str::from(&b""[..]),
                    rw: !opts.contains(&"ro"),
                    propagation: s(propagation),
                }
            })
            .collect();
    }
    // What a privileged container gets (`ctr run --privileged`, CRI's
    // privileged): every capability, so CAP_SYS_ADMIN in its bounding set,
    // and no masked paths.
    let caps = spec.pointer("/process/capabilities/bounding").and_then(Value::as_array);
    let sys_admin = caps.is_some_and(|c| c.iter().any(|x| x.as_str() == Some("CAP_SYS_ADMIN")));
    let masked = spec.pointer("/linux/maskedPaths").and_then(Value::as_array).is_some_and(|m| !m.is_empty());
    c.privileged = Some(sys_admin && !masked);
    c
}

/// The container `full_id` from CRI-O's inspect endpoint.
pub(crate) fn crio(config: &Config, socket: &Path, full_id: &[u8]) -> Result<Option<Container>, LookupError> {
    let id = std::str::from_utf8(full_id).map_err(|_| LookupError::Malformed("container id".into()))?;
    let (status, body) = http::get(socket, &format!("/containers/{id}"), config.timeout)?;
    match status {
        200 => {}
        404 => return Ok(None),
        s => return Err(LookupError::Status(s)),
    }
    let v: Value = serde_json::from_slice(&body).map_err(|e| LookupError::Malformed(e.to_string()))?;
    let mut c = Container::new(Str::from(full_id), Str::from(full_id), Runtime::CriO);
    if let Some(ls) = v.get("labels").and_then(Value::as_object) {
        c.labels = ls.iter().filter_map(|(k, v)| Some((s(k), s(v.as_str()?)))).collect();
    }
    c.name = match c.label(b"io.kubernetes.container.name") {
        Some(n) => Str::from(n),
        None => s(text(&v, "name")),
    };
    let img = text(&v, "image");
    c.image = s(img);
    let (repo, tag, digest) = image::split(img);
    c.image_repo = s(&repo);
    c.image_tag = s(&tag);
    c.image_digest = s(&digest);
    c.image_id = s(text(&v, "image_ref").trim_start_matches("sha256:"));
    c.start_ts = v.get("created_time").and_then(Value::as_u64).map_or(0, |t| t / 1_000_000_000 * 1_000_000_000);
    Ok(Some(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containerd_record() {
        let v: Value = serde_json::from_str(
            r#"{"ID":"abc","Labels":{"io.kubernetes.pod.name":"p"},"Image":"localhost/bb:2","CreatedAt":"2026-12-06T21:00:00Z",
            "Spec":{"process":{"capabilities":{"bounding":["CAP_CHOWN"]}},"linux":{"maskedPaths":["/proc/kcore"]},
            "mounts":[{"destination":"/proc","type":"proc","source":"proc","options":["nosuid"]},
                      {"destination":"/d","type":"bind","source":"/tmp/d","options":["rbind","ro","rprivate"]}]}}"#,
        )
        .unwrap();
        let c = from_containerd(&v, b"abc");
        assert_eq!((&*c.name, &*c.image_repo, &*c.image_tag), (&b"abc"[..], &b"localhost/bb"[..], &b"2"[..]));
        assert_eq!(c.privileged, Some(false));
        assert_eq!(c.mounts.len(), 2);
        assert!(c.mounts[0].rw && !c.mounts[1].rw);
        assert_eq!(&*c.mounts[1].propagation, b"rprivate");
        assert_eq!(c.label(b"io.kubernetes.pod.name"), Some(&b"p"[..]));
    }
}
