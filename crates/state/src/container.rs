//! Containers: ids and runtimes from cgroup paths, metadata from the
//! `container` events (CONTAINER_JSON) of captures.

use crate::util::Str;

/// The container runtime a cgroup layout (or a capture's container event)
/// names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Runtime {
    /// Docker (`/docker/<id>`, `docker-<id>.scope`).
    Docker,
    /// containerd through CRI (`cri-containerd-<id>.scope`,
    /// `:cri-containerd:<id>`), or a Kubernetes pod cgroup with a bare id.
    Containerd,
    /// CRI-O (`crio-<id>.scope`, `/crio-<id>`).
    CriO,
    /// Podman (`libpod-<id>.scope`, `/libpod-<id>`).
    Podman,
    /// systemd-nspawn (`/machine.slice/machine-<name>.scope`).
    Nspawn,
    /// LXC (`/lxc/<name>`, `/lxc.payload.<name>`).
    Lxc,
    /// Anything a capture's container event names that is none of the above.
    Other,
}

impl Runtime {
    /// The name sysdig uses for `container.type`.
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Docker => "docker",
            Runtime::Containerd => "containerd",
            Runtime::CriO => "cri-o",
            Runtime::Podman => "podman",
            Runtime::Nspawn => "systemd-nspawn",
            Runtime::Lxc => "lxc",
            Runtime::Other => "other",
        }
    }

    /// libs' `sinsp_container_type` code of the runtime (container events).
    pub fn libs_type(self) -> u64 {
        match self {
            Runtime::Docker => 0,
            Runtime::Lxc => 1,
            Runtime::Containerd => 7,
            Runtime::CriO => 8,
            Runtime::Podman => 11,
            Runtime::Nspawn | Runtime::Other => 12,
        }
    }

    /// The runtime of libs' `sinsp_container_type` code (container events).
    pub fn from_libs_type(t: u64) -> Runtime {
        match t {
            0 => Runtime::Docker,
            1 | 2 => Runtime::Lxc,
            6 | 7 => Runtime::Containerd,
            8 => Runtime::CriO,
            11 => Runtime::Podman,
            _ => Runtime::Other,
        }
    }
}

/// What is known about one container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Container {
    /// The id sysdig shows: the first 12 hex digits for the runtimes with
    /// 64-digit ids, the machine name for nspawn and LXC.
    pub id: Str,
    /// The full id, when known.
    pub full_id: Str,
    /// The runtime.
    pub runtime: Runtime,
    /// Name (from a container event; empty when unknown).
    pub name: Str,
    /// Image (from a container event; empty when unknown).
    pub image: Str,
    /// Image id.
    pub image_id: Str,
    /// Image repository.
    pub image_repo: Str,
    /// Image tag.
    pub image_tag: Str,
    /// Whether it runs privileged, when known.
    pub privileged: Option<bool>,
    /// Image digest (`sha256:...`), when known.
    pub image_digest: Str,
    /// Its mounts, in the runtime's order.
    pub mounts: Vec<Mount>,
    /// Its labels (Kubernetes pod labels included), in the runtime's order.
    pub labels: Vec<(Str, Str)>,
    /// When it was created, in ns since the epoch; 0 when unknown.
    pub start_ts: u64,
}

/// One mount of a container (`container.mount.*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    /// Path on the host (or volume source).
    pub source: Str,
    /// Path in the container.
    pub dest: Str,
    /// Mode string the runtime gives (`z`, `ro`, ...), often empty.
    pub mode: Str,
    /// Writable.
    pub rw: bool,
    /// Propagation (`rprivate`, `shared`...), often empty.
    pub propagation: Str,
}

impl Container {
    /// A container known by its id only.
    pub fn new(id: Str, full_id: Str, runtime: Runtime) -> Container {
        let e = crate::util::empty_str;
        Container {
            id,
            full_id,
            runtime,
            name: e(),
            image: e(),
            image_id: e(),
            image_repo: e(),
            image_tag: e(),
            privileged: None,
            image_digest: e(),
            mounts: Vec::new(),
            labels: Vec::new(),
            start_ts: 0,
        }
    }

    /// The value of label `key`.
    pub fn label(&self, key: &[u8]) -> Option<&[u8]> {
        self.labels.iter().find(|(k, _)| **k == *key).map(|(_, v)| &**v)
    }

    /// The container event (libs' `PPME_CONTAINER_JSON_2_E` payload) that
    /// describes it, so a capture replayed later knows what was known live.
    pub fn to_json(&self) -> Vec<u8> {
        let mut o = Vec::with_capacity(512);
        o.extend_from_slice(b"{\"container\":{");
        let kv = |o: &mut Vec<u8>, k: &str, v: &[u8]| {
            json::put_str(o, k.as_bytes());
            o.push(b':');
            json::put_str(o, v);
            o.push(b',');
        };
        kv(&mut o, "id", &self.id);
        kv(&mut o, "full_id", &self.full_id);
        kv(&mut o, "name", &self.name);
        kv(&mut o, "image", &self.image);
        kv(&mut o, "imageid", &self.image_id);
        kv(&mut o, "imagerepo", &self.image_repo);
        kv(&mut o, "imagetag", &self.image_tag);
        kv(&mut o, "imagedigest", &self.image_digest);
        o.extend_from_slice(format!("\"type\":{},", self.runtime.libs_type()).as_bytes());
        if let Some(p) = self.privileged {
            o.extend_from_slice(format!("\"privileged\":{p},").as_bytes());
        }
        o.extend_from_slice(format!("\"created_time\":{},", self.start_ts / 1_000_000_000).as_bytes());
        o.extend_from_slice(b"\"Mounts\":[");
        for (i, m) in self.mounts.iter().enumerate() {
            if i > 0 {
                o.push(b',');
            }
            o.push(b'{');
            kv(&mut o, "Source", &m.source);
            kv(&mut o, "Destination", &m.dest);
            kv(&mut o, "Mode", &m.mode);
            kv(&mut o, "Propagation", &m.propagation);
            o.extend_from_slice(format!("\"RW\":{}}}", m.rw).as_bytes());
        }
        o.extend_from_slice(b"],\"labels\":{");
        for (i, (k, v)) in self.labels.iter().enumerate() {
            if i > 0 {
                o.push(b',');
            }
            json::put_str(&mut o, k);
            o.push(b':');
            json::put_str(&mut o, v);
        }
        o.extend_from_slice(b"}}}");
        o
    }
}

fn is_hex(b: &[u8]) -> bool {
    b.iter().all(|c| c.is_ascii_hexdigit())
}

/// A 64-hex-digit id at the start of `s` followed by `suffix` and nothing
/// else.
fn hex64_then<'a>(s: &'a [u8], suffix: &[u8]) -> Option<&'a [u8]> {
    let id = s.strip_suffix(suffix)?;
    (id.len() == 64 && is_hex(id)).then_some(id)
}

/// The container a single cgroup path belongs to: its runtime and full id.
/// Paths of the host (including unknown layouts that merely end in a hex
/// id) give `None`.
pub fn container_of_cgroup(path: &[u8]) -> Option<(Runtime, &[u8])> {
    let last = path.rsplit(|&c| c == b'/').next().unwrap_or(path);
    // systemd scopes: <runtime>-<id>.scope
    let scopes: [(&[u8], Runtime); 4] = [
        (b"docker-", Runtime::Docker),
        (b"cri-containerd-", Runtime::Containerd),
        (b"crio-", Runtime::CriO),
        (b"libpod-", Runtime::Podman),
    ];
    for (prefix, rt) in scopes {
        if let Some(rest) = last.strip_prefix(prefix) {
            if let Some(id) = hex64_then(rest, b".scope").or_else(|| hex64_then(rest, b"")) {
                return Some((rt, id));
            }
        }
    }
    // containerd without the systemd cgroup driver: ...:cri-containerd:<id>
    if let Some(pos) = find(last, b":cri-containerd:") {
        if let Some(id) = hex64_then(&last[pos + 16..], b"") {
            return Some((Runtime::Containerd, id));
        }
    }
    // cgroup v1 layouts: /docker/<id>, /kubepods/.../<id>, /libpod_parent/.../<id>
    if last.len() == 64 && is_hex(last) {
        let parent = &path[..path.len() - 64];
        if find(parent, b"/docker/").is_some() || parent.starts_with(b"docker/") {
            return Some((Runtime::Docker, last));
        }
        if find(parent, b"/kubepods").is_some() || parent.starts_with(b"kubepods") {
            return Some((Runtime::Containerd, last));
        }
        if find(parent, b"/crio/").is_some() {
            return Some((Runtime::CriO, last));
        }
        if find(parent, b"libpod").is_some() {
            return Some((Runtime::Podman, last));
        }
        if find(parent, b"/containerd/").is_some()
            || find(parent, b"/ecs/").is_some()
            || parent.ends_with(b"/k8s.io/")
            || parent == b"k8s.io/"
        {
            return Some((Runtime::Containerd, last));
        }
    }
    // systemd-nspawn: /machine.slice/machine-<name>.scope (not libvirt's lxc)
    if find(path, b"/machine.slice/").is_some() || path.starts_with(b"machine.slice/") {
        if let Some(name) = last.strip_prefix(b"machine-").and_then(|r| r.strip_suffix(b".scope")) {
            if !name.is_empty() && !name.starts_with(b"lxc\\x2d") && !name.starts_with(b"qemu") {
                return Some((Runtime::Nspawn, name));
            }
        }
    }
    // LXC: /lxc/<name>, /lxc.payload.<name>, /lxc.payload/<name>
    for prefix in [&b"/lxc/"[..], b"/lxc.payload/"] {
        if let Some(p) = find(path, prefix) {
            let name = &path[p + prefix.len()..];
            let name = name.split(|&c| c == b'/').next().unwrap_or(name);
            if !name.is_empty() {
                return Some((Runtime::Lxc, name));
            }
        }
    }
    if let Some(p) = find(path, b"/lxc.payload.") {
        let name = &path[p + 13..];
        let name = name.split(|&c| c == b'/').next().unwrap_or(name);
        if !name.is_empty() {
            return Some((Runtime::Lxc, name));
        }
    }
    None
}

/// The container of a thread from its cgroups (`subsys=path`, NUL-separated):
/// the first cgroup that names one. Returns the runtime and the id as sysdig
/// shows it (12 digits for hex ids).
pub fn container_of_cgroups(cgroups: &[u8]) -> Option<(Runtime, &[u8])> {
    for c in crate::thread::split_nul(cgroups) {
        let path = match c.iter().rposition(|&b| b == b'=') {
            Some(eq) => &c[eq + 1..],
            None => c,
        };
        if let Some((rt, id)) = container_of_cgroup(path) {
            let short = if id.len() == 64 && is_hex(id) { &id[..12] } else { id };
            return Some((rt, short));
        }
    }
    None
}

/// [`container_of_cgroups`] with the full id (what runtimes are asked).
pub(crate) fn full_container_of_cgroups(cgroups: &[u8]) -> Option<(Runtime, &[u8])> {
    crate::thread::split_nul(cgroups).find_map(|c| {
        let path = match c.iter().rposition(|&b| b == b'=') {
            Some(eq) => &c[eq + 1..],
            None => c,
        };
        container_of_cgroup(path)
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A container described by a capture's container event JSON
/// (`{"container":{"id":...,"name":...,"image":...,"type":N,...}}`).
pub(crate) fn parse_container_json(json: &[u8]) -> Option<Container> {
    let v = json::parse(json)?;
    let c = v.get("container")?;
    let s = |k: &str| crate::util::new_str(c.get(k).and_then(|v| v.as_str()).unwrap_or(b""));
    let id = s("id");
    if id.is_empty() {
        return None;
    }
    let full = s("full_id");
    let new_str = crate::util::new_str;
    let mounts = match c.get("Mounts") {
        Some(json::Value::Arr(a)) => a
            .iter()
            .map(|m| {
                let f = |k: &str| new_str(m.get(k).and_then(|v| v.as_str()).unwrap_or(b""));
                Mount {
                    source: f("Source"),
                    dest: f("Destination"),
                    mode: f("Mode"),
                    rw: m.get("RW").and_then(|v| v.as_bool()).unwrap_or(false),
                    propagation: f("Propagation"),
                }
            })
            .collect(),
        _ => Vec::new(),
    };
    let labels = match c.get("labels") {
        Some(json::Value::Obj(m)) => m.iter().filter_map(|(k, v)| Some((new_str(k), new_str(v.as_str()?)))).collect(),
        _ => Vec::new(),
    };
    Some(Container {
        full_id: if full.is_empty() { id.clone() } else { full },
        id,
        runtime: Runtime::from_libs_type(c.get("type").and_then(|v| v.as_u64()).unwrap_or(u64::MAX)),
        name: s("name"),
        image: s("image"),
        image_id: s("imageid"),
        image_repo: s("imagerepo"),
        image_tag: s("imagetag"),
        privileged: c.get("privileged").and_then(|v| v.as_bool()),
        image_digest: s("imagedigest"),
        mounts,
        labels,
        start_ts: c.get("created_time").and_then(|v| v.as_u64()).unwrap_or(0).saturating_mul(1_000_000_000),
    })
}

/// Just enough JSON to read container events: objects, arrays, strings
/// (with escapes), numbers, booleans, null.
mod json {
    #[allow(dead_code)]
    pub enum Value {
        Null,
        Bool(bool),
        Num(f64),
        Str(Vec<u8>),
        Arr(Vec<Value>),
        Obj(Vec<(Vec<u8>, Value)>),
    }

    impl Value {
        pub fn get(&self, key: &str) -> Option<&Value> {
            match self {
                Value::Obj(m) => m.iter().find(|(k, _)| k == key.as_bytes()).map(|(_, v)| v),
                _ => None,
            }
        }
        pub fn as_str(&self) -> Option<&[u8]> {
            match self {
                Value::Str(s) => Some(s),
                _ => None,
            }
        }
        pub fn as_u64(&self) -> Option<u64> {
            match self {
                Value::Num(n) if *n >= 0.0 => Some(*n as u64),
                _ => None,
            }
        }
        pub fn as_bool(&self) -> Option<bool> {
            match self {
                Value::Bool(b) => Some(*b),
                _ => None,
            }
        }
    }

    /// Appends `s` as a JSON string (bytes outside UTF-8 pass as they are:
    /// the reader above takes them back unchanged).
    pub fn put_str(o: &mut Vec<u8>, s: &[u8]) {
        o.push(b'"');
        for &c in s {
            match c {
                b'"' => o.extend_from_slice(b"\\\""),
                b'\\' => o.extend_from_slice(b"\\\\"),
                b'\n' => o.extend_from_slice(b"\\n"),
                b'\r' => o.extend_from_slice(b"\\r"),
                b'\t' => o.extend_from_slice(b"\\t"),
                c if c < 0x20 => o.extend_from_slice(format!("\\u{c:04x}").as_bytes()),
                c => o.push(c),
            }
        }
        o.push(b'"');
    }

    pub fn parse(b: &[u8]) -> Option<Value> {
        let mut p = Parser { b, i: 0, depth: 0 };
        let v = p.value()?;
        Some(v)
    }

    struct Parser<'a> {
        b: &'a [u8],
        i: usize,
        depth: u32,
    }

    impl Parser<'_> {
        fn ws(&mut self) {
            while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\t' | b'\n' | b'\r') {
                self.i += 1;
            }
        }
        fn peek(&mut self) -> Option<u8> {
            self.ws();
            self.b.get(self.i).copied()
        }
        fn eat(&mut self, c: u8) -> Option<()> {
            (self.peek()? == c).then(|| self.i += 1)
        }
        fn value(&mut self) -> Option<Value> {
            self.depth += 1;
            if self.depth > 64 {
                return None;
            }
            let v = match self.peek()? {
                b'{' => {
                    self.i += 1;
                    let mut m = Vec::new();
                    if self.peek()? == b'}' {
                        self.i += 1;
                    } else {
                        loop {
                            let k = self.string()?;
                            self.eat(b':')?;
                            let v = self.value()?;
                            m.push((k, v));
                            match self.peek()? {
                                b',' => self.i += 1,
                                b'}' => {
                                    self.i += 1;
                                    break;
                                }
                                _ => return None,
                            }
                        }
                    }
                    Value::Obj(m)
                }
                b'[' => {
                    self.i += 1;
                    let mut a = Vec::new();
                    if self.peek()? == b']' {
                        self.i += 1;
                    } else {
                        loop {
                            a.push(self.value()?);
                            match self.peek()? {
                                b',' => self.i += 1,
                                b']' => {
                                    self.i += 1;
                                    break;
                                }
                                _ => return None,
                            }
                        }
                    }
                    Value::Arr(a)
                }
                b'"' => Value::Str(self.string()?),
                b't' => self.word(b"true", Value::Bool(true))?,
                b'f' => self.word(b"false", Value::Bool(false))?,
                b'n' => self.word(b"null", Value::Null)?,
                _ => {
                    let start = self.i;
                    while self.i < self.b.len()
                        && matches!(self.b[self.i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                    {
                        self.i += 1;
                    }
                    let s = std::str::from_utf8(&self.b[start..self.i]).ok()?;
                    Value::Num(s.parse().ok()?)
                }
            };
            self.depth -= 1;
            Some(v)
        }
        fn word(&mut self, w: &[u8], v: Value) -> Option<Value> {
            if self.b[self.i..].starts_with(w) {
                self.i += w.len();
                Some(v)
            } else {
                None
            }
        }
        fn string(&mut self) -> Option<Vec<u8>> {
            self.eat(b'"')?;
            let mut out = Vec::new();
            loop {
                let c = *self.b.get(self.i)?;
                self.i += 1;
                match c {
                    b'"' => return Some(out),
                    b'\\' => {
                        let e = *self.b.get(self.i)?;
                        self.i += 1;
                        match e {
                            b'n' => out.push(b'\n'),
                            b't' => out.push(b'\t'),
                            b'r' => out.push(b'\r'),
                            b'b' => out.push(8),
                            b'f' => out.push(12),
                            b'u' => {
                                let hex = std::str::from_utf8(self.b.get(self.i..self.i + 4)?).ok()?;
                                self.i += 4;
                                let cp = u32::from_str_radix(hex, 16).ok()?;
                                let ch = char::from_u32(cp).unwrap_or('\u{fffd}');
                                let mut buf = [0; 4];
                                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                            }
                            other => out.push(other),
                        }
                    }
                    c => out.push(c),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f1c3e5b4a6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f";

    fn of(path: &str) -> Option<(Runtime, String)> {
        container_of_cgroup(path.as_bytes()).map(|(r, id)| (r, String::from_utf8(id.to_vec()).unwrap()))
    }

    #[test]
    fn runtimes_from_cgroup_layouts() {
        assert_eq!(of(&format!("/docker/{ID}")), Some((Runtime::Docker, ID.into())));
        assert_eq!(of(&format!("/system.slice/docker-{ID}.scope")), Some((Runtime::Docker, ID.into())));
        assert_eq!(
            of(&format!("/kubepods.slice/kubepods-besteffort.slice/kubepods-pod1.slice/cri-containerd-{ID}.scope")),
            Some((Runtime::Containerd, ID.into()))
        );
        assert_eq!(
            of(&format!("/system.slice/containerd.service/kubepods-pod1.slice:cri-containerd:{ID}")),
            Some((Runtime::Containerd, ID.into()))
        );
        assert_eq!(of(&format!("/kubepods/besteffort/pod1234/{ID}")), Some((Runtime::Containerd, ID.into())));
        assert_eq!(
            of(&format!("/kubepods.slice/kubepods-pod1.slice/crio-{ID}.scope")),
            Some((Runtime::CriO, ID.into()))
        );
        assert_eq!(of(&format!("/machine.slice/libpod-{ID}.scope")), Some((Runtime::Podman, ID.into())));
        assert_eq!(of(&format!("/libpod_parent/libpod-{ID}")), Some((Runtime::Podman, ID.into())));
        assert_eq!(of("/machine.slice/machine-web1.scope"), Some((Runtime::Nspawn, "web1".into())));
        assert_eq!(of("/lxc/c1/init.scope"), Some((Runtime::Lxc, "c1".into())));
    }

    #[test]
    fn host_paths_are_not_containers() {
        assert_eq!(of("/user.slice/user-1000.slice/session-1.scope"), None);
        assert_eq!(of("/"), None);
        assert_eq!(of("/init.scope"), None);
        // Merely ending in a hex id is not enough.
        assert_eq!(of(&format!("/user.slice/{ID}")), None);
        assert_eq!(of("/system.slice/docker-abc.scope"), None);
        assert_eq!(of("/machine.slice/machine-qemu\\x2d1\\x2dvm.scope"), None);
    }

    #[test]
    fn first_matching_cgroup_gives_the_short_id() {
        let cg = format!("cpuset=/\0cpu=/docker/{ID}\0memory=/docker/{ID}\0");
        let (rt, id) = container_of_cgroups(cg.as_bytes()).unwrap();
        assert_eq!(rt, Runtime::Docker);
        assert_eq!(id, &ID.as_bytes()[..12]);
        assert_eq!(container_of_cgroups(b"cpuset=/\0cpu=/user.slice\0"), None);
    }

    #[test]
    fn container_json() {
        let j = br#"{"container":{"id":"3f1c3e5b4a6d","full_id":"x","name":"web","image":"nginx:1.2","type":0,"privileged":true,"labels":{"a":"b\u0041"},"Mounts":[{"x":1.5e3}],"ip":null}}"#;
        let c = parse_container_json(j).unwrap();
        assert_eq!(&*c.id, b"3f1c3e5b4a6d");
        assert_eq!(&*c.name, b"web");
        assert_eq!(&*c.image, b"nginx:1.2");
        assert_eq!(c.runtime, Runtime::Docker);
        assert_eq!(c.privileged, Some(true));
        assert!(parse_container_json(b"{not json").is_none());
        assert!(parse_container_json(br#"{"container":{}}"#).is_none());
    }
}
