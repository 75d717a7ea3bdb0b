//! Returning freed heap memory to the operating system.
//!
//! After tens of thousands of sessions end, the allocator keeps their freed memory for reuse;
//! an operator watching the daemon's RSS expects it to shrink back. glibc's `malloc_trim`
//! releases free memory at the top of the heap and unused pages inside it.

/// Asks the C allocator to give free memory back to the OS. Returns true if some was.
pub fn trim_heap() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim takes no pointers and only walks the allocator's own free
        // lists under its locks; it is safe to call at any time from any thread.
        unsafe { libc::malloc_trim(0) != 0 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}
