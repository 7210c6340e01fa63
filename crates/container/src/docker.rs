//! The Docker Engine API's container inspect (Docker, and podman's
//! compatible service): `GET /v1.41/containers/ID/json`.

use std::path::Path;

use saker_state::{Container, Mount, Runtime, Str};
use serde_json::Value;

use crate::{Config, LookupError, http, image, time};

pub(crate) fn s(b: &str) -> Str {
    Str::from(b.as_bytes())
}

/// The container `full_id`; `Ok(None)` when the engine does not know it.
pub(crate) fn inspect(
    config: &Config,
    socket: &Path,
    full_id: &[u8],
    runtime: Runtime,
) -> Result<Option<Container>, LookupError> {
    let id = std::str::from_utf8(full_id).map_err(|_| LookupError::Malformed("container id".into()))?;
    let (status, body) = http::get(socket, &format!("/v1.41/containers/{id}/json"), config.timeout)?;
    match status {
        200 => {}
        404 => return Ok(None),
        s => return Err(LookupError::Status(s)),
    }
    let v: Value = serde_json::from_slice(&body).map_err(|e| LookupError::Malformed(e.to_string()))?;
    Ok(Some(from_inspect(&v, full_id, runtime)))
}

fn text<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    path.iter().try_fold(v, |v, k| v.get(k)).and_then(Value::as_str).unwrap_or("")
}

/// The container an inspect document describes.
pub(crate) fn from_inspect(v: &Value, full_id: &[u8], runtime: Runtime) -> Container {
    let mut c = Container::new(Str::from(full_id), Str::from(full_id), runtime);
    c.name = s(text(v, &["Name"]).trim_start_matches('/'));
    let img = text(v, &["Config", "Image"]);
    c.image = s(img);
    let (repo, tag, digest) = image::split(img);
    c.image_repo = s(&repo);
    c.image_tag = s(&tag);
    c.image_digest = s(&digest);
    c.image_id = s(text(v, &["Image"]).trim_start_matches("sha256:"));
    c.privileged = v.pointer("/HostConfig/Privileged").and_then(Value::as_bool);
    // libs keeps whole seconds (its container events carry seconds).
    c.start_ts = time::parse_rfc3339(text(v, &["Created"])).map_or(0, |t| t / 1_000_000_000 * 1_000_000_000);
    if let Some(ms) = v.get("Mounts").and_then(Value::as_array) {
        c.mounts = ms
            .iter()
            .map(|m| Mount {
                source: s(text(m, &["Source"])),
                dest: s(text(m, &["Destination"])),
                mode: s(text(m, &["Mode"])),
                rw: m.get("RW").and_then(Value::as_bool).unwrap_or(false),
                propagation: s(text(m, &["Propagation"])),
            })
            .collect();
    }
    if let Some(ls) = v.pointer("/Config/Labels").and_then(Value::as_object) {
        c.labels = ls.iter().filter_map(|(k, v)| Some((s(k), s(v.as_str()?)))).collect();
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inspect_document() {
        let v: Value = serde_json::from_str(
            r#"{"Id":"abc","Name":"/web","Image":"sha256:0123","Created":"2026-12-06T21:00:00.5Z",
            "Config":{"Image":"localhost/busybox:1","Labels":{"io.kubernetes.pod.name":"p1"}},
            "HostConfig":{"Privileged":true},
            "Mounts":[{"Type":"bind","Source":"/tmp/x","Destination":"/x","Mode":"","RW":true,"Propagation":"rprivate"}]}"#,
        )
        .unwrap();
        let c = from_inspect(&v, b"abc", Runtime::Podman);
        assert_eq!(&*c.name, b"web");
        assert_eq!(
            (&*c.image, &*c.image_repo, &*c.image_tag),
            (&b"localhost/busybox:1"[..], &b"localhost/busybox"[..], &b"1"[..])
        );
        assert_eq!(&*c.image_id, b"0123");
        assert_eq!(c.privileged, Some(true));
        assert_eq!(c.start_ts, 1_796_590_800_000_000_000);
        assert_eq!(c.mounts.len(), 1);
        assert!(c.mounts[0].rw);
        assert_eq!(c.label(b"io.kubernetes.pod.name"), Some(&b"p1"[..]));
    }
}
