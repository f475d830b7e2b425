//! The `tidings` binary: everything is in the library; this only tunes the allocator and hands
//! over to the CLI.

fn main() -> std::process::ExitCode {
    limit_heap_retention();
    tidings::cli::main()
}

/// Each argon2id password hash (login, agent creation) allocates a 19 MiB block. glibc's dynamic
/// mmap threshold then rises to that size, so later blocks come from a thread's arena and stay
/// resident after they are freed: +19 MiB of RSS per thread that ever hashed. A fixed threshold
/// keeps large blocks in their own mappings, returned to the system when freed.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_heap_retention() {
    // SAFETY: mallopt only sets allocator parameters; it runs before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_heap_retention() {}
