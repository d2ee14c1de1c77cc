//! [`FrameRing`]: a bounded queue of frames (payloads or PCM) in preallocated slots, the
//! oldest dropped and counted when a new one does not fit. The relay queues of a bridge.

/// Up to `slots` frames of up to `frame_capacity` items each, every frame with a tag `M` (such
/// as its playout slot time). Allocates in `new` only.
pub(super) struct FrameRing<T, M = ()> {
    items: Vec<T>,
    frame_capacity: usize,
    /// Per slot: the frame's length and tag.
    frames: Vec<(usize, M)>,
    /// The oldest frame's slot, and how many frames wait.
    head: usize,
    len: usize,
    dropped: u64,
}

impl<T: Copy + Default, M: Copy> FrameRing<T, M> {
    /// `slots` empty slots of `frame_capacity` items; `blank` is the tag of a slot never
    /// written (never handed out).
    pub(super) fn new(slots: usize, frame_capacity: usize, blank: M) -> Self {
        let slots = slots.max(1);
        Self {
            items: vec![T::default(); slots * frame_capacity],
            frame_capacity,
            frames: vec![(0, blank); slots],
            head: 0,
            len: 0,
            dropped: 0,
        }
    }

    /// Appends `frame` (cut to the frame capacity); when the ring is full the oldest frame is
    /// dropped first, and counted.
    pub(super) fn push(&mut self, tag: M, frame: &[T]) {
        let slots = self.frames.len();
        if self.len == slots {
            self.head = (self.head + 1) % slots;
            self.len -= 1;
            self.dropped += 1;
        }
        let slot = (self.head + self.len) % slots;
        let frame = &frame[..frame.len().min(self.frame_capacity)];
        let start = slot * self.frame_capacity;
        self.items[start..start + frame.len()].copy_from_slice(frame);
        self.frames[slot] = (frame.len(), tag);
        self.len += 1;
    }

    /// The oldest frame, with its tag.
    pub(super) fn front(&self) -> Option<(M, &[T])> {
        if self.len == 0 {
            return None;
        }
        let (len, tag) = self.frames[self.head];
        let start = self.head * self.frame_capacity;
        Some((tag, &self.items[start..start + len]))
    }

    /// Forgets the oldest frame.
    pub(super) fn pop_front(&mut self) {
        if self.len > 0 {
            self.head = (self.head + 1) % self.frames.len();
            self.len -= 1;
        }
    }

    /// Hands every frame to `f`, oldest first, and empties the ring.
    pub(super) fn drain(&mut self, mut f: impl FnMut(M, &[T])) {
        while let Some((tag, frame)) = self.front() {
            f(tag, frame);
            self.pop_front();
        }
    }

    /// Forgets every frame (not counted as dropped).
    pub(super) fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }

    /// Drops the oldest frame, counted.
    pub(super) fn drop_front(&mut self) {
        if self.len > 0 {
            self.pop_front();
            self.dropped += 1;
        }
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Frames dropped because the ring was full.
    pub(super) fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contents(ring: &mut FrameRing<u8, u32>) -> Vec<(u32, Vec<u8>)> {
        let mut out = Vec::new();
        ring.drain(|tag, frame| out.push((tag, frame.to_vec())));
        out
    }

    #[test]
    fn keeps_the_newest_frames_in_order_and_counts_the_dropped() {
        let mut ring = FrameRing::<u8, u32>::new(3, 4, 0);
        for i in 0..5u8 {
            ring.push(u32::from(i), &vec![i; usize::from(i)]);
        }
        assert_eq!(ring.len(), 3);
        assert_eq!(ring.dropped(), 2);
        // Frame 4 is cut to the capacity of a slot.
        assert_eq!(
            contents(&mut ring),
            [(2, vec![2, 2]), (3, vec![3, 3, 3]), (4, vec![4; 4])]
        );
        assert_eq!(ring.front(), None);
        ring.push(9, &[9]);
        ring.clear();
        assert_eq!((ring.len(), ring.dropped()), (0, 2));
        ring.pop_front();
        assert_eq!(ring.len(), 0);
    }
}
