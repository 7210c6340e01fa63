//! `container.*` and `k8s.*`: the container the event's thread runs in.
//!
//! The container id comes from the thread's cgroups; the rest from the
//! capture's container events. Threads on the host have id and name
//! `host`.

use saker_state::Runtime;

use super::{EventContext, Field, Raw};

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

pub(crate) fn extract<'s>(_f: &Field, c: C, ctx: &'s EventContext<'_>, _buf: &mut Vec<u8>) -> Option<Raw<'s>> {
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
    // Containers only known by their cgroups have no metadata.
    let ct = s.container_by_id(id)?;
    let non_empty = |v: &'s [u8]| (!v.is_empty()).then_some(Raw::Str(v));
    match c {
        C::Id => Some(Raw::Str(id)),
        C::FullId => non_empty(&ct.full_id),
        C::Name => non_empty(&ct.name),
        C::Image => non_empty(&ct.image),
        C::ImageId => non_empty(&ct.image_id),
        C::ImageRepository => non_empty(&ct.image_repo),
        C::ImageTag => non_empty(&ct.image_tag),
        C::Type => Some(Raw::Str(ct.runtime.name().as_bytes())),
        // sysdig knows the privileged flag of docker-like runtimes only.
        C::Privileged => match ct.runtime {
            Runtime::Docker | Runtime::Containerd | Runtime::CriO | Runtime::Podman => ct.privileged.map(Raw::Bool),
            _ => None,
        },
        // No health probes are known: sysdig's value for a container without one.
        C::Healthcheck | C::LivenessProbe | C::ReadinessProbe => Some(Raw::Str(b"NONE")),
        // The state keeps neither mounts, image digests nor labels.
        C::Mounts
        | C::Mount
        | C::MountSource
        | C::MountDest
        | C::MountMode
        | C::MountRdwr
        | C::MountPropagation
        | C::ImageDigest
        | C::K8sPodName
        | C::K8sNsName
        | C::StartTs => None,
    }
}
