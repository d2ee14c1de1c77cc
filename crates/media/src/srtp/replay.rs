//! Packet index estimation (RFC 3711 §3.3.1), the replay list (§3.3.2), and the small per-SSRC
//! tables that hold them.

/// How far behind the highest index a packet may arrive: 128 packets (RFC 3711 §3.3.2 asks for
/// at least 64; libsrtp uses 128). At 50 packets per second that is 2.5 s of reordering.
pub(crate) const WINDOW: u64 = 128;

/// The 48-bit SRTP index (RFC 3711 §3.3.1) for `sequence`, given the highest index seen so far:
/// the candidate whose low 16 bits are `sequence` and that lies closest to `highest` (the ROC
/// of `highest`, or one more or one less across a wrap). It never goes below 0.
pub(crate) fn estimate_index(highest: u64, sequence: u16) -> u64 {
    let roc = highest >> 16;
    let candidate = (roc << 16) | u64::from(sequence);
    if candidate + 0x8000 < highest {
        candidate + 0x1_0000
    } else if candidate > highest + 0x8000 && roc > 0 {
        candidate - 0x1_0000
    } else {
        candidate
    }
}

/// What a packet index is, against the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Freshness {
    /// Not seen: accept once authenticated.
    New,
    /// Seen before.
    Replayed,
    /// Older than the window: whether it was seen is no longer known.
    TooOld,
}

/// The replay list of one SSRC: the highest authenticated index and a bitmap of the
/// [`WINDOW`] indices at and below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReplayWindow {
    highest: u64,
    /// Bit `i` set: index `highest - i` was accepted.
    seen: u128,
}

impl ReplayWindow {
    /// A window whose first accepted index is `first`.
    pub(crate) fn starting_at(first: u64) -> Self {
        Self {
            highest: first,
            seen: 1,
        }
    }

    /// The highest index accepted so far.
    pub(crate) fn highest(&self) -> u64 {
        self.highest
    }

    /// Whether `index` may still be accepted.
    pub(crate) fn check(&self, index: u64) -> Freshness {
        if index > self.highest {
            return Freshness::New;
        }
        let age = self.highest - index;
        if age >= WINDOW {
            Freshness::TooOld
        } else if self.seen & (1 << age) != 0 {
            Freshness::Replayed
        } else {
            Freshness::New
        }
    }

    /// Records `index` as accepted (after [`ReplayWindow::check`] said [`Freshness::New`] and the
    /// packet authenticated).
    pub(crate) fn accept(&mut self, index: u64) {
        if index > self.highest {
            let shift = index - self.highest;
            self.seen = if shift >= WINDOW {
                0
            } else {
                self.seen << shift
            };
            self.highest = index;
            self.seen |= 1;
        } else if self.highest - index < WINDOW {
            self.seen |= 1 << (self.highest - index);
        }
    }
}

/// A few SSRCs' state, without allocation: a peer normally sends one SSRC per session, and a
/// new one after a re-INVITE. The least recently used entry makes room for a new SSRC. Entries
/// are only added for packets that authenticated (or that we protect), so an attacker cannot
/// fill the table.
#[derive(Debug, Clone)]
pub(crate) struct SsrcTable<T> {
    slots: [Option<Slot<T>>; SSRC_SLOTS],
    uses: u64,
}

/// SSRCs remembered per direction and protocol.
const SSRC_SLOTS: usize = 4;

#[derive(Debug, Clone)]
struct Slot<T> {
    ssrc: u32,
    last_use: u64,
    state: T,
}

impl<T> Default for SsrcTable<T> {
    fn default() -> Self {
        Self {
            slots: std::array::from_fn(|_| None),
            uses: 0,
        }
    }
}

impl<T> SsrcTable<T> {
    /// The state of `ssrc`, if known.
    pub(crate) fn get(&self, ssrc: u32) -> Option<&T> {
        self.slots
            .iter()
            .flatten()
            .find(|slot| slot.ssrc == ssrc)
            .map(|slot| &slot.state)
    }

    /// The state of `ssrc`, created with `new` (evicting the least recently used SSRC when
    /// full) if unknown; marks it used.
    pub(crate) fn entry(&mut self, ssrc: u32, new: impl FnOnce() -> T) -> &mut T {
        self.uses += 1;
        let index = self.slot(ssrc).unwrap_or_else(|| {
            let index = self.vacant_or_oldest();
            self.slots[index] = Some(Slot {
                ssrc,
                last_use: 0,
                state: new(),
            });
            index
        });
        let slot = self.slots[index].as_mut().expect("slot filled above");
        slot.last_use = self.uses;
        &mut slot.state
    }

    fn slot(&self, ssrc: u32) -> Option<usize> {
        self.slots
            .iter()
            .position(|slot| slot.as_ref().is_some_and(|s| s.ssrc == ssrc))
    }

    fn vacant_or_oldest(&self) -> usize {
        let age = |slot: &Option<Slot<T>>| slot.as_ref().map_or(0, |s| s.last_use);
        (0..SSRC_SLOTS)
            .min_by_key(|&i| age(&self.slots[i]))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_estimation_follows_rfc_3711_appendix_a() {
        assert_eq!(estimate_index(0, 5), 5);
        assert_eq!(estimate_index(65535, 0), 65536);
        assert_eq!(estimate_index(65536 + 2, 65535), 65535);
        assert_eq!(estimate_index(3 * 65536 + 100, 40000), 2 * 65536 + 40000);
        assert_eq!(estimate_index(3 * 65536 + 40000, 100), 4 * 65536 + 100);
        assert_eq!(estimate_index(3 * 65536 + 40000, 7000), 4 * 65536 + 7000);
        assert_eq!(estimate_index(3 * 65536 + 40000, 8000), 3 * 65536 + 8000);
        // ROC 0 never goes negative: a "wrap back" from the start is a jump forward.
        assert_eq!(estimate_index(10, 60000), 60000);
    }

    #[test]
    fn window_accepts_each_index_once_and_forgets_beyond_its_width() {
        let mut window = ReplayWindow::starting_at(1000);
        assert_eq!(window.check(1000), Freshness::Replayed);
        assert_eq!(window.check(999), Freshness::New);
        window.accept(999);
        assert_eq!(window.check(999), Freshness::Replayed);
        window.accept(1005);
        assert_eq!(window.highest(), 1005);
        assert_eq!(window.check(1000), Freshness::Replayed);
        assert_eq!(window.check(1003), Freshness::New);
        assert_eq!(window.check(1005 - WINDOW + 1), Freshness::New);
        assert_eq!(window.check(1005 - WINDOW), Freshness::TooOld);
        window.accept(1005 + 500);
        assert_eq!(window.check(1005), Freshness::TooOld);
        assert_eq!(window.check(1504), Freshness::New);
        window.accept(3);
        assert_eq!(window.highest(), 1505);
    }

    #[test]
    fn ssrc_table_evicts_the_least_recently_used() {
        let mut table = SsrcTable::default();
        for ssrc in 1..=4 {
            *table.entry(ssrc, || 0) += ssrc;
        }
        *table.entry(1, || 0) += 10;
        *table.entry(5, || 0) += 5;
        assert_eq!(table.get(1), Some(&11));
        assert_eq!(table.get(2), None);
        assert_eq!(table.get(5), Some(&5));
        assert_eq!(table.get(4), Some(&4));
    }
}
