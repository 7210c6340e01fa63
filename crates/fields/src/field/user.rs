//! `user.*` and `group.*`: the user and group the event's thread runs as.

use super::{EventContext, Raw};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum U {
    Uid,
    Name,
    Homedir,
    Shell,
    Loginuid,
    Loginname,
    Gid,
    GroupName,
}

pub(crate) fn extract<'s>(u: U, ctx: &'s EventContext<'_>) -> Option<Raw<'s>> {
    let s = ctx.state.state()?;
    let tid = ctx.event.tid() as i64;
    let t = s.thread(tid)?;
    // libsinsp's user and group lookups fail for -1.
    let user = |uid: u32| if uid == u32::MAX { None } else { s.user(tid, uid) };
    Some(match u {
        U::Uid => Raw::Uint(t.uid as u64),
        U::Name => Raw::Str(&user(t.uid)?.name),
        U::Homedir => Raw::Str(&user(t.uid)?.home),
        U::Shell => Raw::Str(&user(t.uid)?.shell),
        U::Loginuid => Raw::Int(t.loginuid as i32 as i64),
        U::Loginname => Raw::Str(&user(t.loginuid)?.name),
        U::Gid => Raw::Uint(t.gid as u64),
        U::GroupName => {
            if t.gid == u32::MAX {
                return None;
            }
            Raw::Str(&s.group(tid, t.gid)?.name)
        }
    })
}
