//! The packet store: a ring of preallocated slots indexed by sequence number, each with a payload
//! buffer reserved once, so that storing a packet never allocates.

/// One stored packet.
#[derive(Debug)]
pub(super) struct Slot {
    /// Extended sequence number.
    pub seq: u64,
    /// Extended RTP timestamp.
    pub ts: u64,
    /// Relative transit: arrival time minus timestamp, in clock units (an unknown constant apart
    /// from the real one-way delay).
    pub transit: i64,
    /// The payload bytes (capacity reserved up front; valid while `filled`, and kept after
    /// `take` until the slot is reused).
    pub payload: Vec<u8>,
    /// Whether the slot holds a packet waiting to be played.
    pub filled: bool,
}

/// What [`SlotRing::store`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stored {
    /// The packet is in.
    New,
    /// The same sequence number is already waiting.
    Duplicate,
}

/// A ring of `capacity` slots; sequence number `s` lives in slot `s % capacity`. The caller keeps
/// every waiting sequence number within one capacity of the others.
#[derive(Debug)]
pub(super) struct SlotRing {
    slots: Box<[Slot]>,
    filled: usize,
}

impl SlotRing {
    /// Reserves `capacity` slots of `max_payload` bytes each.
    pub fn new(capacity: usize, max_payload: usize) -> Self {
        let slots = (0..capacity)
            .map(|_| Slot {
                seq: 0,
                ts: 0,
                transit: 0,
                payload: Vec::with_capacity(max_payload),
                filled: false,
            })
            .collect();
        Self { slots, filled: 0 }
    }

    /// Number of slots.
    pub fn capacity(&self) -> u64 {
        self.slots.len() as u64
    }

    /// Number of packets waiting.
    pub fn len(&self) -> usize {
        self.filled
    }

    fn index(&self, seq: u64) -> usize {
        // The remainder is below the slot count, which is a usize.
        (seq % self.capacity()) as usize
    }

    /// The waiting packet with sequence number `seq`.
    pub fn get(&self, seq: u64) -> Option<&Slot> {
        let slot = &self.slots[self.index(seq)];
        (slot.filled && slot.seq == seq).then_some(slot)
    }

    /// Stores a packet; `payload` must fit the reserved size (checked by the caller), so the
    /// copy does not allocate. A different packet in the slot is overwritten: the caller has made
    /// room first.
    pub fn store(&mut self, seq: u64, ts: u64, transit: i64, payload: &[u8]) -> Stored {
        let index = self.index(seq);
        let slot = &mut self.slots[index];
        if slot.filled && slot.seq == seq {
            return Stored::Duplicate;
        }
        if !slot.filled {
            self.filled += 1;
        }
        slot.seq = seq;
        slot.ts = ts;
        slot.transit = transit;
        slot.payload.clear();
        slot.payload.extend_from_slice(payload);
        slot.filled = true;
        Stored::New
    }

    /// Marks `seq` played and returns it; the payload stays readable until the slot is reused.
    pub fn take(&mut self, seq: u64) -> Option<&Slot> {
        let index = self.index(seq);
        let slot = &mut self.slots[index];
        if !(slot.filled && slot.seq == seq) {
            return None;
        }
        slot.filled = false;
        self.filled -= 1;
        Some(slot)
    }

    /// Drops `seq` if it is waiting; tells whether it was.
    pub fn discard(&mut self, seq: u64) -> bool {
        self.take(seq).is_some()
    }

    /// The waiting packet with the lowest sequence number in `from..=to`.
    pub fn first_in(&self, from: u64, to: u64) -> Option<&Slot> {
        if self.filled == 0 || to < from {
            return None;
        }
        let last = to.min(from.saturating_add(self.capacity() - 1));
        (from..=last).find_map(|seq| self.get(seq))
    }

    /// Drops every waiting packet; returns how many there were.
    pub fn clear(&mut self) -> usize {
        let dropped = self.filled;
        for slot in self.slots.iter_mut() {
            slot.filled = false;
        }
        self.filled = 0;
        dropped
    }
}
