//! A counting global allocator for the fuzz binaries: live bytes and their peak, so each
//! input's own memory is measured, whatever the system allocator keeps resident.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::Ordering;

use super::engine::{LIVE, PEAK};

/// Past this much live memory allocations fail, which aborts the process: the limit that
/// fails an input is far lower ([`super::engine::MEMORY_LIMIT`]); this one only keeps a
/// runaway input from taking the machine down before it can be reported.
const HARD_LIMIT: usize = 3 << 30;

/// Counts live heap bytes.
pub struct Counting;

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if LIVE.load(Ordering::Relaxed) + layout.size() > HARD_LIMIT {
            return std::ptr::null_mut();
        }
        let pointer = System.alloc(layout);
        if !pointer.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        System.dealloc(pointer, layout);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}
