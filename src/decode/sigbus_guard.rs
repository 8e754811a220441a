//! Turns the SIGBUS of a mapped input that shrank into a clear message and an exit code.
//!
//! A file mapped into memory and then truncated by another process raises SIGBUS on the
//! first access past its new end, and SIGBUS kills the process. While at least one
//! [`SigbusGuard`] lives, a handler is installed that looks up the faulting address among
//! the guarded ranges: inside one, it writes that range's message (prepared beforehand,
//! since a handler may only make async-signal-safe calls) and `_exit`s with its code;
//! outside every range, the SIGBUS is not ours, so the handler puts the previous action
//! back and lets the fault happen again under it (a user-sent SIGBUS is raised again).
//! When the last guard goes, the previous action is restored.
//!
//! The handler is process-wide while a thread's fault is delivered to that thread, so
//! the ranges live in a fixed table of atomics the handler can read without a lock.

use std::cell::UnsafeCell;
use std::ops::Range;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::AtomicI32;
use std::sync::atomic::AtomicPtr;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering;
use std::sync::Mutex;

/// Inputs mapped at once; one more is read instead of mapped.
const SLOTS: usize = 16;

/// One guarded range. `start` is written last and cleared first: a slot whose `start` is
/// not zero has its other fields set.
struct Slot {
    start: AtomicUsize,
    end: AtomicUsize,
    message: AtomicPtr<u8>,
    message_len: AtomicUsize,
    exit_code: AtomicI32,
}

#[allow(clippy::declare_interior_mutable_const)] // Only to build the array below.
const EMPTY: Slot = Slot {
    start: AtomicUsize::new(0),
    end: AtomicUsize::new(0),
    message: AtomicPtr::new(std::ptr::null_mut()),
    message_len: AtomicUsize::new(0),
    exit_code: AtomicI32::new(0),
};

static SLOTS_TABLE: [Slot; SLOTS] = [EMPTY; SLOTS];

/// Set by the first thread to fault in a guarded range: the message is written once.
static EXITING: AtomicBool = AtomicBool::new(false);

/// Guards alive, and so whether the handler is installed; taken to change a slot.
static ACTIVE: Mutex<usize> = Mutex::new(0);

/// The action SIGBUS had before the handler was installed.
struct PreviousAction(UnsafeCell<Option<libc::sigaction>>);

// SAFETY: written only under `ACTIVE` while the handler is not installed (before the
// `sigaction` call that installs it), read only by the handler and under `ACTIVE`.
unsafe impl Sync for PreviousAction {}

static PREVIOUS: PreviousAction = PreviousAction(UnsafeCell::new(None));

/// While alive, a SIGBUS at an address in its range writes its message to stderr and
/// exits with its code.
#[derive(Debug)]
pub(crate) struct SigbusGuard {
    slot: usize,
    /// Owned here, pointed to by the slot.
    _message: Box<[u8]>,
}

impl SigbusGuard {
    /// Guards `range` (addresses); `None` when every slot is taken or the handler cannot
    /// be installed, and the input should be read instead.
    pub(crate) fn new(range: Range<usize>, message: &str, exit_code: i32) -> Option<Self> {
        let mut active = ACTIVE.lock().unwrap_or_else(|e| e.into_inner());
        let slot = SLOTS_TABLE
            .iter()
            .position(|s| s.start.load(Ordering::Acquire) == 0)?;
        if *active == 0 && !install() {
            return None;
        }
        *active += 1;
        let mut message: Box<[u8]> = message.as_bytes().into();
        let entry = &SLOTS_TABLE[slot];
        entry.message.store(message.as_mut_ptr(), Ordering::Release);
        entry.message_len.store(message.len(), Ordering::Release);
        entry.exit_code.store(exit_code, Ordering::Release);
        entry.end.store(range.end, Ordering::Release);
        // A zero start would read as a free slot; no mapping starts at address zero.
        entry.start.store(range.start.max(1), Ordering::Release);
        Some(SigbusGuard {
            slot,
            _message: message,
        })
    }
}

impl Drop for SigbusGuard {
    fn drop(&mut self) {
        let mut active = ACTIVE.lock().unwrap_or_else(|e| e.into_inner());
        let entry = &SLOTS_TABLE[self.slot];
        entry.start.store(0, Ordering::Release);
        entry.end.store(0, Ordering::Release);
        entry.message.store(std::ptr::null_mut(), Ordering::Release);
        entry.message_len.store(0, Ordering::Release);
        *active -= 1;
        if *active == 0 {
            restore();
        }
    }
}

/// Installs the handler, keeping the previous action; false if that fails.
fn install() -> bool {
    // SAFETY: an all-zero sigaction is valid (no handler, empty mask, no flags).
    let mut previous: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: a null new action only reads the current one into `previous`.
    if unsafe { libc::sigaction(libc::SIGBUS, std::ptr::null(), &mut previous) } != 0 {
        return false;
    }
    // SAFETY: the handler is not installed (ACTIVE is held and zero), so nothing reads
    // PREVIOUS now.
    unsafe { *PREVIOUS.0.get() = Some(previous) };
    // SAFETY: as above.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = on_sigbus as *const () as libc::sighandler_t;
    // SA_ONSTACK: a thread with an alternate signal stack (Rust's threads have one)
    // handles the signal there, as the previous handler would have.
    action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
    // SAFETY: `action.sa_mask` is a valid sigset to empty.
    unsafe { libc::sigemptyset(&mut action.sa_mask) };
    // SAFETY: `on_sigbus` only makes async-signal-safe calls and reads atomics.
    unsafe { libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut()) == 0 }
}

/// Puts the previous action back.
fn restore() {
    // SAFETY: PREVIOUS was set by `install` and is read here under ACTIVE.
    if let Some(previous) = unsafe { &*PREVIOUS.0.get() } {
        // SAFETY: `previous` is the action the kernel gave us.
        unsafe { libc::sigaction(libc::SIGBUS, previous, std::ptr::null_mut()) };
    }
}

/// The handler: async-signal-safe calls only (`write`, `_exit`, `pause`, `sigaction`, `raise`),
/// no allocation, no lock.
extern "C" fn on_sigbus(_signal: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: with SA_SIGINFO the kernel passes a valid siginfo.
    let (code, address) = unsafe { ((*info).si_code, (*info).si_addr() as usize) };
    // si_code > 0: sent by the kernel for a fault, so si_addr is the faulting address.
    if code > 0 {
        for slot in &SLOTS_TABLE {
            let start = slot.start.load(Ordering::Acquire);
            if start != 0 && (start..slot.end.load(Ordering::Acquire)).contains(&address) {
                if EXITING.swap(true, Ordering::AcqRel) {
                    // Another worker faulted too and is writing the message: wait for
                    // its _exit, which ends every thread.
                    loop {
                        // SAFETY: pause is async-signal-safe.
                        unsafe { libc::pause() };
                    }
                }
                let message = slot.message.load(Ordering::Acquire);
                let len = slot.message_len.load(Ordering::Acquire);
                write_all_stderr(message, len);
                // SAFETY: _exit is async-signal-safe; the output so far stays incomplete,
                // as the message says.
                unsafe { libc::_exit(slot.exit_code.load(Ordering::Acquire)) };
            }
        }
    }
    // Not a guarded range: the previous action takes it. A fault happens again when the
    // handler returns; a SIGBUS sent by a process is raised again, delivered on return.
    // SAFETY: PREVIOUS is set while the handler is installed; sigaction and raise are
    // async-signal-safe.
    unsafe {
        if let Some(previous) = &*PREVIOUS.0.get() {
            libc::sigaction(libc::SIGBUS, previous, std::ptr::null_mut());
        } else {
            libc::signal(libc::SIGBUS, libc::SIG_DFL);
        }
        if code <= 0 {
            libc::raise(libc::SIGBUS);
        }
    }
}

/// `write(2)` until all of `len` bytes at `message` are out or it fails.
fn write_all_stderr(mut message: *const u8, mut len: usize) {
    while len > 0 {
        // SAFETY: `message..message + len` lies in the slot's message, owned by its guard,
        // which is alive: the fault was in its range.
        let n = unsafe { libc::write(libc::STDERR_FILENO, message.cast(), len) };
        if n <= 0 {
            // SAFETY: errno is thread-local and reading it is async-signal-safe.
            if n < 0 && unsafe { *libc::__errno_location() } == libc::EINTR {
                continue;
            }
            return;
        }
        let n = n as usize;
        // SAFETY: n <= len, so this stays within the message.
        message = unsafe { message.add(n) };
        len -= n;
    }
}
