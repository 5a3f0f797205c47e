//! Request bodies read into recycled buffers.
//!
//! A 1 MB Produce request used to be read into fresh memory every time:
//! the allocator hands large blocks back to the kernel when they are
//! freed, so every request paid a page fault (and the kernel zeroing a
//! page) for each 4 KiB it received, about a quarter of the broker's CPU
//! for 10 KB records in 1 MB batches (docs/PERFORMANCE.md). Bodies of
//! [`MIN_RECYCLED_BYTES`] or more are now read into a buffer taken from a
//! broker-wide shelf, and the buffer goes back on the shelf when the last
//! slice of its request is dropped.
//!
//! The shelf holds at most [`IDLE_LIMIT_BYTES`] of idle buffers, none larger
//! than [`MAX_RECYCLED_BYTES`]; anything beyond is freed as before. That
//! memory is idle and not part of `queued.max.request.bytes`, which still
//! counts every byte of every request being read or waiting, as before.

use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;

/// Bodies smaller than this are left to the allocator, which keeps small
/// blocks in its own free lists.
pub const MIN_RECYCLED_BYTES: usize = 64 * 1024;

/// Buffers larger than this are freed rather than kept.
pub const MAX_RECYCLED_BYTES: usize = 2 * 1024 * 1024;

/// Most idle bytes the shelf keeps: enough for a few producers' 1 MB
/// requests in flight.
pub const IDLE_LIMIT_BYTES: usize = 8 * 1024 * 1024;

/// The broker-wide shelf of idle body buffers.
#[derive(Debug, Default)]
pub struct BodyBuffers {
    idle: Mutex<Shelf>,
}

#[derive(Debug, Default)]
struct Shelf {
    buffers: Vec<Vec<u8>>,
    bytes: usize,
}

impl BodyBuffers {
    /// An empty shelf behind an `Arc` (the buffers it lends find their way
    /// back through it).
    pub fn new() -> Arc<BodyBuffers> {
        Arc::default()
    }

    /// An empty buffer for a body of `size` bytes: an idle one that holds
    /// it whole if there is one (the smallest such), else a new one of
    /// `first_capacity` bytes, which the reader grows as memory is charged.
    pub fn take(&self, size: usize, first_capacity: usize) -> Vec<u8> {
        if size >= MIN_RECYCLED_BYTES {
            let mut shelf = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
            let best = shelf
                .buffers
                .iter()
                .enumerate()
                .filter(|(_, buffer)| buffer.capacity() >= size)
                .min_by_key(|(_, buffer)| buffer.capacity())
                .map(|(at, _)| at);
            if let Some(at) = best {
                let buffer = shelf.buffers.swap_remove(at);
                shelf.bytes -= buffer.capacity();
                return buffer;
            }
        }
        Vec::with_capacity(first_capacity)
    }

    /// The finished body as shared bytes; a buffer worth keeping comes
    /// back to the shelf once every slice of it is dropped.
    pub fn freeze(self: &Arc<Self>, body: Vec<u8>) -> Bytes {
        if (MIN_RECYCLED_BYTES..=MAX_RECYCLED_BYTES).contains(&body.capacity()) {
            Bytes::from_owner(Lent {
                body,
                home: self.clone(),
            })
        } else {
            Bytes::from(body)
        }
    }

    /// Bytes of idle buffers on the shelf.
    pub fn idle_bytes(&self) -> usize {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .bytes
    }

    fn give_back(&self, mut buffer: Vec<u8>) {
        buffer.clear();
        let mut shelf = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if shelf.bytes + buffer.capacity() <= IDLE_LIMIT_BYTES {
            shelf.bytes += buffer.capacity();
            shelf.buffers.push(buffer);
        }
    }
}

/// A body lent out as [`Bytes`]; dropping the last slice drops this.
struct Lent {
    body: Vec<u8>,
    home: Arc<BodyBuffers>,
}

impl AsRef<[u8]> for Lent {
    fn as_ref(&self) -> &[u8] {
        &self.body
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        self.home.give_back(std::mem::take(&mut self.body));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_large_body_comes_back_when_its_last_slice_is_dropped() {
        let shelf = BodyBuffers::new();
        let mut body = shelf.take(1_000_000, MIN_RECYCLED_BYTES);
        body.resize(1_000_000, 7);
        let capacity = body.capacity();
        let bytes = shelf.freeze(body);
        let slice = bytes.slice(10..20);
        drop(bytes);
        assert_eq!(shelf.idle_bytes(), 0, "a slice still holds it");
        assert_eq!(&slice[..], &[7; 10]);
        drop(slice);
        assert_eq!(shelf.idle_bytes(), capacity);
        // The next body that fits gets the same memory, empty.
        let again = shelf.take(900_000, MIN_RECYCLED_BYTES);
        assert!(again.is_empty());
        assert_eq!(again.capacity(), capacity);
        assert_eq!(shelf.idle_bytes(), 0);
    }

    #[test]
    fn small_and_huge_bodies_are_not_kept() {
        let shelf = BodyBuffers::new();
        drop(shelf.freeze(vec![1; 1000]));
        drop(shelf.freeze(vec![1; MAX_RECYCLED_BYTES + 1]));
        assert_eq!(shelf.idle_bytes(), 0);
        // A small body never takes a large idle buffer.
        drop(shelf.freeze(vec![1; MIN_RECYCLED_BYTES]));
        assert_eq!(shelf.idle_bytes(), MIN_RECYCLED_BYTES);
        assert_eq!(shelf.take(100, 128).capacity(), 128);
        assert_eq!(shelf.idle_bytes(), MIN_RECYCLED_BYTES);
    }

    #[test]
    fn the_shelf_keeps_at_most_its_limit_and_lends_the_best_fit() {
        let shelf = BodyBuffers::new();
        let held: Vec<Bytes> = (0..IDLE_LIMIT_BYTES / MAX_RECYCLED_BYTES + 2)
            .map(|_| shelf.freeze(vec![0; MAX_RECYCLED_BYTES]))
            .collect();
        drop(held);
        assert_eq!(shelf.idle_bytes(), IDLE_LIMIT_BYTES);
        let small = shelf.freeze(vec![0; MIN_RECYCLED_BYTES]);
        drop(small);
        // Full: the small one was freed, not kept.
        assert_eq!(shelf.idle_bytes(), IDLE_LIMIT_BYTES);

        let shelf = BodyBuffers::new();
        drop(shelf.freeze(vec![0; MAX_RECYCLED_BYTES]));
        drop(shelf.freeze(vec![0; 200_000]));
        assert_eq!(shelf.take(150_000, 1).capacity(), 200_000);
        // Nothing idle fits: a new buffer of the first capacity.
        assert_eq!(shelf.take(MAX_RECYCLED_BYTES + 1, 4096).capacity(), 4096);
    }
}
