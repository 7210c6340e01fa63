//! `container.*` and `k8s.*`: the container the event's thread runs in.
//!
//! The container id comes from the thread's cgroups; the rest from the
//! runtimes (live) or the capture's container events. Threads on the host
//! have id and name `host`.

use saker_state::{Container, Mount, Runtime};

use super::{Arg, EventContext, Field, Raw};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum C {
    Id,
    FullId,
    Name,
    Image,
    ImageId,
    Type,
    Privileged,
    Mounts,
    Mount,
    MountSource,
    MountDest,
    MountMode,
    MountRdwr,
    MountPropagation,
    ImageRepository,
    ImageTag,
    ImageDigest,
    Healthcheck,
    LivenessProbe,
    ReadinessProbe,
    K8sPodName,
    K8sNsName,
    StartTs,
}

pub(crate) fn extract<'s>(f: &Field, c: C, ctx: &'s EventContext<'_>, buf: &mut Vec<u8>) -> Option<Raw<'s>> {
    let s = ctx.state.state()?;
    let t = s.thread(ctx.event.tid() as i64)?;
    let id: &[u8] = &t.info.container_id;
    let host = id.is_empty();
    // Host threads: id, name and type are "host", the rest is absent.
    if host {
        return match c {
            C::Id | C::Name | C::Type | C::FullId => Some(Raw::Str(b"host")),
            _ => None,
        };
    }
    if c == C::Id {
        return Some(Raw::Str(id));
    }
    // Containers only known by their cgroups have no metadata but their
    // runtime (until the runtime's answer comes, live).
    let Some(ct) = s.container_by_id(id) else {
        return match c {
            C::Type => saker_state::container_of_cgroups(&t.info.cgroups).map(|(r, _)| Raw::Str(r.name().as_bytes())),
            _ => None,
        };
    };
    let non_empty = |v: &'s [u8]| (!v.is_empty()).then_some(Raw::Str(v));
    match c {
        C::Id => Some(Raw::Str(id)),
        C::FullId => non_empty(&ct.full_id),
        C::Name => non_empty(&ct.name),
        C::Image => non_empty(&ct.image),
        C::ImageId => non_empty(&ct.image_id),
        C::ImageRepository => non_empty(&ct.image_repo),
        C::ImageTag => non_empty(&ct.image_tag),
        C::ImageDigest => non_empty(&ct.image_digest),
        C::Type => Some(Raw::Str(ct.runtime.name().as_bytes())),
        // sysdig knows the privileged flag of docker-like runtimes only.
        C::Privileged => match ct.runtime {
            Runtime::Docker | Runtime::Containerd | Runtime::CriO | Runtime::Podman => ct.privileged.map(Raw::Bool),
            _ => None,
        },
        // No health probes are known: sysdig's value for a container without one.
        C::Healthcheck | C::LivenessProbe | C::ReadinessProbe => Some(Raw::Str(b"NONE")),
        C::Mounts => {
            // A known container without mounts: empty, as sysdig prints it.
            if ct.mounts.is_empty() {
                return Some(Raw::Str(b""));
            }
            for (i, m) in ct.mounts.iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                mount_text(m, buf);
            }
            Some(Raw::Built)
        }
        C::Mount => {
            mount_text(mount(f, ct, false)?, buf);
            Some(Raw::Built)
        }
        // mount.source is chosen by destination, the others by source.
        C::MountSource => Some(Raw::Str(&mount(f, ct, true)?.source)),
        C::MountDest => Some(Raw::Str(&mount(f, ct, false)?.dest)),
        C::MountMode => Some(Raw::Str(&mount(f, ct, false)?.mode)),
        C::MountRdwr => Some(Raw::Str(if mount(f, ct, false)?.rw { b"true" } else { b"false" })),
        C::MountPropagation => Some(Raw::Str(&mount(f, ct, false)?.propagation)),
        // Kubernetes' pod labels on the container.
        C::K8sPodName => ct.label(b"io.kubernetes.pod.name").map(Raw::Str),
        C::K8sNsName => ct.label(b"io.kubernetes.pod.namespace").map(Raw::Str),
        C::StartTs => (ct.start_ts != 0).then_some(Raw::Uint(ct.start_ts)),
    }
}

/// `source:dest:mode:rdwr:propagation`, libsinsp's text of one mount.
fn mount_text(m: &Mount, buf: &mut Vec<u8>) {
    for (i, part) in
        [&*m.source, &*m.dest, &*m.mode, if m.rw { b"true" } else { b"false" }, &*m.propagation].into_iter().enumerate()
    {
        if i > 0 {
            buf.push(b':');
        }
        buf.extend_from_slice(part);
    }
}

/// The mount the field's argument names: by index, or by path (the
/// destination's when `by_dest`, else the source's; `*` matches any run of
/// characters, as libsinsp's glob).
fn mount<'c>(f: &Field, ct: &'c Container, by_dest: bool) -> Option<&'c Mount> {
    match &f.arg {
        Arg::Index(i) => ct.mounts.get(usize::try_from(*i).ok()?),
        Arg::Name(p) => ct.mounts.iter().find(|m| glob(p.as_bytes(), if by_dest { &m.dest } else { &m.source })),
        _ => None,
    }
}

fn glob(pat: &[u8], s: &[u8]) -> bool {
    match pat.iter().position(|&c| c == b'*') {
        None => pat == s,
        Some(star) => {
            let (head, rest) = (&pat[..star], &pat[star + 1..]);
            s.starts_with(head) && (head.len()..=s.len()).any(|i| glob(rest, &s[i..]))
        }
    }
}
