//! The wasm module's memory allocator: a free list per power-of-two size class, carved from
//! `memory.grow`. It is about 300 bytes where Rust's default (dlmalloc) is about 6 KB, and
//! the module only ever holds a few short strings at a time.
//!
//! A freed block goes back to its class's list and is reused by the next allocation of that
//! class; memory is never returned to the browser (wasm cannot shrink memory anyway). Blocks
//! are aligned to their size, so every alignment up to the size is honoured.
//! `wasm32-unknown-unknown` without the `atomics` feature is single-threaded, which is what
//! makes the unsynchronised state sound.

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;
use core::cell::UnsafeCell;
use core::ptr::null_mut;

const PAGE: u64 = 65536;

/// The allocator; see the module docs.
pub struct SizeClasses(UnsafeCell<State>);

struct State {
    /// `free[k]`: the first free block of size `2^k`; each free block stores the next one.
    free: [*mut u8; usize::BITS as usize],
    /// Where the next new block may start, and where the memory grown so far ends. In `u64`,
    /// so that nothing overflows near wasm32's 4 GiB.
    next: u64,
    end: u64,
}

// SAFETY: wasm32-unknown-unknown without atomics runs one thread; see the module docs.
unsafe impl Sync for SizeClasses {}

impl SizeClasses {
    /// An allocator that has not grown memory yet.
    pub const fn new() -> Self {
        SizeClasses(UnsafeCell::new(State { free: [null_mut(); usize::BITS as usize], next: 0, end: 0 }))
    }
}

impl Default for SizeClasses {
    fn default() -> Self {
        Self::new()
    }
}

/// The size class of `layout`: `k` for blocks of `2^k` bytes (at least 8, room for a pointer);
/// `None` when no power of two of `usize` holds it.
fn class(layout: Layout) -> Option<usize> {
    let size = layout.size().max(layout.align()).max(8).checked_next_power_of_two()?;
    Some(size.trailing_zeros() as usize)
}

unsafe impl GlobalAlloc for SizeClasses {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(k) = class(layout) else {
            return null_mut();
        };
        // SAFETY: single-threaded and never re-entered (see the module docs).
        let s = unsafe { &mut *self.0.get() };
        let head = s.free[k];
        if !head.is_null() {
            // SAFETY: a free block's first word holds the next free block of its class.
            s.free[k] = unsafe { *(head as *mut *mut u8) };
            return head;
        }
        let size = 1u64 << k;
        let mut start = (s.next + size - 1) & !(size - 1);
        if start + size > s.end {
            // Twice the size covers the alignment gap.
            let pages = (2 * size).div_ceil(PAGE);
            let old = wasm32::memory_grow(0, pages as usize);
            if old == usize::MAX {
                return null_mut();
            }
            let base = old as u64 * PAGE;
            if base != s.end {
                // First growth (or someone else grew memory): start in the new pages.
                s.next = base;
            }
            s.end = base + pages * PAGE;
            start = (s.next + size - 1) & !(size - 1);
        }
        s.next = start + size;
        // Below `s.end`, which memory.grow kept within the address space.
        start as usize as *mut u8
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // `alloc` gave this block, so its layout has a class.
        let Some(k) = class(layout) else {
            return;
        };
        // SAFETY: as in `alloc`; `ptr` is a block of class `k` nobody uses any more.
        let s = unsafe { &mut *self.0.get() };
        unsafe { *(ptr as *mut *mut u8) = s.free[k] };
        s.free[k] = ptr;
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees `new_size` with `layout.align()` is a valid layout.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        if class(new_layout) == class(layout) {
            return ptr;
        }
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            unsafe {
                core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        new
    }
}
