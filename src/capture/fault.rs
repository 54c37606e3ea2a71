//! Turns the SIGBUS of a mapped capture file that shrank into a flag its reader checks.
//!
//! When another process truncates a file (logrotate's copytruncate, a tcpdump `-C` ring being
//! rewritten, a shell's `> file`), the kernel removes the pages past the new end from every
//! mapping, and touching one raises SIGBUS, whose default action kills the process with every
//! finding unreported. Checking the file's length before each access cannot close that race:
//! the truncation can come between the check and the load, and the reader is always inside some
//! window. So the fault itself is made harmless instead. Each mapped window is registered here;
//! a SIGBUS inside a registered window replaces the whole window with zero-filled anonymous
//! pages (`mmap` with `MAP_FIXED`, a plain system call), marks the window, and returns, so the
//! faulting load completes and reads zeros. The reader checks the mark before it hands out
//! each packet and ends the run with a "truncated" error, as a short `read` would have.
//!
//! Why not `sigsetjmp`/`siglongjmp` out of the fault: jumping over Rust frames skips their
//! destructors and is undefined behaviour. Here the handler returns normally, and the program
//! merely sees bytes of the file change under it, which is what the mapping's safety argument
//! (`file.rs`, `map_window`) already accepts of a file another process modifies.
//!
//! What the design leaves: a packet whose bytes are being decoded at the instant of the
//! truncation may be decoded partly from zeros (its line and events are still those of a real
//! record's header; `read` racing with copytruncate yields zeros too, from the sparse file it
//! leaves). A SIGBUS outside every registered window goes to the handler that was installed
//! before ours (Rust's own, or the default action), as if this module did not exist.

#![allow(unsafe_code)]

use std::sync::Once;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use nix::libc;

/// Windows that can be guarded at once. ike-sniff maps one window of one file at a time; the
/// unit tests map a few in parallel.
const SLOTS: usize = 64;

struct Slot {
    /// Start of the window, 0 when the slot is free.
    base: AtomicUsize,
    len: AtomicUsize,
    faulted: AtomicBool,
}

#[allow(clippy::declare_interior_mutable_const)]
const FREE: Slot = Slot {
    base: AtomicUsize::new(0),
    len: AtomicUsize::new(0),
    faulted: AtomicBool::new(false),
};

static WINDOWS: [Slot; SLOTS] = [FREE; SLOTS];

static INSTALL: Once = Once::new();
/// The SIGBUS action before ours, set once before ours is installed and only read after.
static mut PREVIOUS: Option<libc::sigaction> = None;

/// A registered window; the registration ends when this is dropped, which must happen before
/// the window is unmapped (declare it before the mapping in a struct).
pub(super) struct Guard {
    slot: usize,
}

impl Guard {
    /// Registers `len` bytes mapped at `base`, installing the handler on first use.
    pub(super) fn new(base: *const u8, len: usize) -> std::io::Result<Guard> {
        install()?;
        let base = base as usize;
        for (i, slot) in WINDOWS.iter().enumerate() {
            // Reserved (base usize::MAX, which the handler skips) while the length and the mark
            // are written, so a handler that finds the real base sees both.
            if slot.base.load(Ordering::Relaxed) != 0 {
                continue;
            }
            if slot
                .base
                .compare_exchange(0, usize::MAX, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {
                continue;
            }
            slot.len.store(len, Ordering::Relaxed);
            slot.faulted.store(false, Ordering::Relaxed);
            slot.base.store(base, Ordering::Release);
            return Ok(Guard { slot: i });
        }
        Err(std::io::Error::other(format!(
            "more than {SLOTS} capture windows mapped at once"
        )))
    }

    /// Whether a load from the window faulted because the file shrank under it.
    #[inline]
    pub(super) fn faulted(&self) -> bool {
        self.mark().load(Ordering::Acquire)
    }

    /// The window's mark, for a reader that checks it once per packet without going through
    /// the guard. It is reused by a later window once this guard is dropped.
    pub(super) fn mark(&self) -> &'static AtomicBool {
        &WINDOWS[self.slot].faulted
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        WINDOWS[self.slot].base.store(0, Ordering::Release);
    }
}

fn install() -> std::io::Result<()> {
    let mut result = Ok(());
    INSTALL.call_once(|| {
        // SAFETY: plain sigaction calls on zero-initialised structs; `PREVIOUS` is written
        // here, once, before the handler that reads it exists.
        unsafe {
            let mut ours: libc::sigaction = std::mem::zeroed();
            ours.sa_sigaction = on_sigbus as *const () as usize;
            ours.sa_flags = libc::SA_SIGINFO;
            libc::sigemptyset(&mut ours.sa_mask);
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(libc::SIGBUS, std::ptr::null(), &mut old) != 0 {
                result = Err(std::io::Error::last_os_error());
                return;
            }
            PREVIOUS = Some(old);
            if libc::sigaction(libc::SIGBUS, &ours, std::ptr::null_mut()) != 0 {
                result = Err(std::io::Error::last_os_error());
            }
        }
    });
    result
}

/// Async-signal-safe: atomics, `mmap` and `sigaction`, nothing that allocates or locks.
extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    let addr = unsafe { (*info).si_addr() } as usize;
    for slot in &WINDOWS {
        let base = slot.base.load(Ordering::Acquire);
        if base == 0 || base == usize::MAX {
            continue;
        }
        let len = slot.len.load(Ordering::Relaxed);
        if addr < base || addr - base >= len {
            continue;
        }
        // SAFETY: replaces pages of a read-only file mapping that this process made and still
        // holds (the registration ends before the unmapping) with zero pages of the same
        // protection; nothing else lives in that range.
        let p = unsafe {
            libc::mmap(
                base as *mut libc::c_void,
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if p != libc::MAP_FAILED {
            slot.faulted.store(true, Ordering::Release);
            return;
        }
    }
    // Not ours: give the signal back to whoever had it; the load faults again and that
    // handler (or the default action) sees it.
    // SAFETY: `PREVIOUS` was written before this handler was installed and never after.
    unsafe {
        let previous = std::ptr::addr_of!(PREVIOUS).read();
        match previous {
            Some(old) => libc::sigaction(sig, &old, std::ptr::null_mut()),
            None => libc::signal(sig, libc::SIG_DFL) as libc::c_int,
        };
    }
}
