//! The seccomp filter the launched command runs under: `SECCOMP_RET_TRACE`
//! for the traced syscalls (with data 1 for those whose enter event must be
//! read before the kernel acts), `SECCOMP_RET_ALLOW` for everything else.
//!
//! The filter's result depends only on the architecture and the syscall
//! number, so the kernel's seccomp action cache (5.11+) answers ALLOW for an
//! untraced syscall from a bitmap, without running the filter.

use libc::sock_filter;

const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
pub(crate) const RET_ALLOW: u32 = 0x7fff_0000;
pub(crate) const RET_TRACE: u32 = 0x7ff0_0000;
/// `RET_DATA` of syscalls whose enter event is read at the seccomp stop.
pub(crate) const DATA_ENTER: u16 = 1;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

const LD_W_ABS: u16 = 0x20;
const JEQ_K: u16 = 0x15;
const JGE_K: u16 = 0x35;
const RET_K: u16 = 0x06;

fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter { code, jt: 0, jf: 0, k }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// The filter for `traced`: `(native number, RET_DATA)` pairs.
///
/// Other architectures (i386 `int 0x80`) and the x32 ABI are allowed: the
/// kernel drivers skip them too. Each traced number costs two instructions
/// (`jeq nr; ret TRACE`), so no jump is ever longer than one.
pub(crate) fn build(traced: &[(u32, u16)]) -> Vec<sock_filter> {
    let mut p = vec![
        stmt(LD_W_ABS, 4), // seccomp_data.arch
        jump(JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
        stmt(RET_K, RET_ALLOW),
        stmt(LD_W_ABS, 0), // seccomp_data.nr
        jump(JGE_K, X32_SYSCALL_BIT, 0, 1),
        stmt(RET_K, RET_ALLOW),
    ];
    let mut sorted: Vec<(u32, u16)> = traced.to_vec();
    // Enter-event syscalls first, then by number: a fixed, short path for the
    // few that stop twice.
    sorted.sort_by_key(|&(nr, data)| (std::cmp::Reverse(data), nr));
    sorted.dedup_by_key(|e| e.0);
    for (nr, data) in sorted {
        p.push(jump(JEQ_K, nr, 0, 1));
        p.push(stmt(RET_K, RET_TRACE | data as u32));
    }
    p.push(stmt(RET_K, RET_ALLOW));
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny interpreter for the instructions `build` emits.
    fn run(p: &[sock_filter], arch: u32, nr: u32) -> u32 {
        let mut pc = 0;
        let mut a = 0;
        loop {
            let i = p[pc];
            match i.code {
                LD_W_ABS => a = if i.k == 4 { arch } else { nr },
                JEQ_K => {
                    pc += if a == i.k { i.jt } else { i.jf } as usize;
                }
                JGE_K => {
                    pc += if a >= i.k { i.jt } else { i.jf } as usize;
                }
                RET_K => return i.k,
                _ => panic!("unexpected instruction"),
            }
            pc += 1;
        }
    }

    #[test]
    fn traces_only_what_is_asked() {
        let p = build(&[(257, DATA_ENTER), (3, 0), (59, 0)]);
        assert_eq!(run(&p, AUDIT_ARCH_X86_64, 257), RET_TRACE | 1);
        assert_eq!(run(&p, AUDIT_ARCH_X86_64, 3), RET_TRACE);
        assert_eq!(run(&p, AUDIT_ARCH_X86_64, 59), RET_TRACE);
        assert_eq!(run(&p, AUDIT_ARCH_X86_64, 110), RET_ALLOW);
        assert_eq!(run(&p, 0x4000_0003, 3), RET_ALLOW); // i386
        assert_eq!(run(&p, AUDIT_ARCH_X86_64, 3 | X32_SYSCALL_BIT), RET_ALLOW);
    }
}
