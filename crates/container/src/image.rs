//! Image references: `[registry/]repository[:tag][@digest]`.

/// The repository, tag and digest of an image reference, as libsinsp
/// splits them: the tag is after the last `:` that follows the last `/`
/// (a registry's port is not a tag); `latest` when there is neither tag nor
/// digest.
pub(crate) fn split(image: &str) -> (String, String, String) {
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, d.to_string()),
        None => (image, String::new()),
    };
    let slash = name.rfind('/').map_or(0, |i| i + 1);
    let (repo, tag) = match name[slash..].rfind(':') {
        Some(i) => (&name[..slash + i], name[slash + i + 1..].to_string()),
        None => (name, String::new()),
    };
    let tag = if tag.is_empty() && digest.is_empty() { "latest".to_string() } else { tag };
    (repo.to_string(), tag, digest)
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn references() {
        let s = |i| {
            let (r, t, d) = split(i);
            (r, t, d)
        };
        assert_eq!(s("localhost/busybox:1.2"), ("localhost/busybox".into(), "1.2".into(), "".into()));
        assert_eq!(s("nginx"), ("nginx".into(), "latest".into(), "".into()));
        assert_eq!(s("reg:5000/a/b"), ("reg:5000/a/b".into(), "latest".into(), "".into()));
        assert_eq!(s("reg:5000/a/b:v1@sha256:00"), ("reg:5000/a/b".into(), "v1".into(), "sha256:00".into()));
        assert_eq!(s("a@sha256:00"), ("a".into(), "".into(), "sha256:00".into()));
    }
}
