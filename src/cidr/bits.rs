//! Fixed-width address keys (`u32` for IPv4, `u128` for IPv6) and the bit
//! arithmetic the trie and the range sets share.

use core::fmt::Debug;

/// An address as an unsigned integer, most significant bit first.
pub(crate) trait Bits: Copy + Ord + Eq + Debug + Default + Send + Sync + 'static {
    /// Address width in bits.
    const WIDTH: u8;
    /// The six bits starting `off` bits from the most significant end,
    /// padded with zeros past the end of the address. `off < WIDTH`.
    fn chunk(self, off: u32) -> usize;

    /// The top `t` bits (`1 <= t <= 18`).
    fn top(self, t: u32) -> usize;

    /// The address with every bit past the first `len` cleared.
    fn network(self, len: u8) -> Self;

    /// The address with every bit past the first `len` set.
    fn last(self, len: u8) -> Self;

    /// The slot number `slot` of a `t`-bit top-level table as an address
    /// (`slot < 2^t`; 0 for a slot that is not one).
    fn from_top(slot: usize, t: u32) -> Self;

    /// `self + 1`, or `None` at the maximum.
    fn succ(self) -> Option<Self>;

    /// `self - 1`, or `None` at zero.
    fn pred(self) -> Option<Self>;

    /// Widen to `u128` (value-preserving).
    fn widen(self) -> u128;

    /// Narrow from `u128`; `None` for a value that does not fit.
    fn narrow(v: u128) -> Option<Self>;

    /// The longest path end a skip word can hold (see [`Bits::skip_word`]).
    const MAX_SKIP_END: u32;

    /// Encode the first `end` bits of `path` (`end <= MAX_SKIP_END`) as a
    /// 128-bit skip word split into `(high, low)` halves: the bits
    /// left-aligned, then a single terminating 1 bit, then zeros. The
    /// position of the terminator gives `end` back.
    fn skip_word(path: Self, end: u32) -> (u64, u64);

    /// Whether the first `end` bits of `self` equal those of the path encoded
    /// in `(high, low)` by [`Bits::skip_word`], and `end`.
    fn skip_test(self, high: u64, low: u64) -> (bool, u32);
}

impl Bits for u32 {
    const WIDTH: u8 = 32;

    #[inline(always)]
    fn chunk(self, off: u32) -> usize {
        (((u64::from(self) << 32) << (off & 63)) >> 58) as usize
    }

    #[inline(always)]
    fn top(self, t: u32) -> usize {
        (self >> ((32 - t) & 31)) as usize
    }

    #[inline]
    fn network(self, len: u8) -> Self {
        match len {
            0 => 0,
            l if l >= 32 => self,
            l => self & (u32::MAX << (32 - u32::from(l))),
        }
    }

    #[inline]
    fn last(self, len: u8) -> Self {
        match len {
            0 => u32::MAX,
            l if l >= 32 => self,
            l => self | (u32::MAX >> u32::from(l)),
        }
    }

    #[inline]
    fn from_top(slot: usize, t: u32) -> Self {
        u32::try_from(slot)
            .ok()
            .and_then(|s| s.checked_shl(32 - t))
            .unwrap_or(0)
    }

    #[inline]
    fn succ(self) -> Option<Self> {
        self.checked_add(1)
    }

    #[inline]
    fn pred(self) -> Option<Self> {
        self.checked_sub(1)
    }

    #[inline]
    fn widen(self) -> u128 {
        u128::from(self)
    }

    #[inline]
    fn narrow(v: u128) -> Option<Self> {
        u32::try_from(v).ok()
    }

    const MAX_SKIP_END: u32 = 32;

    #[inline]
    fn skip_word(path: Self, end: u32) -> (u64, u64) {
        let end = end.min(32);
        let bits = (u64::from(path) << 32) & u64::MAX.checked_shl(64 - end).unwrap_or(0);
        (bits | (1u64 << (63 - end)), 0)
    }

    #[inline(always)]
    fn skip_test(self, high: u64, _low: u64) -> (bool, u32) {
        let tz = high.trailing_zeros();
        let mask = u64::MAX.checked_shl(tz + 1).unwrap_or(0);
        (
            ((u64::from(self) << 32) ^ high) & mask == 0,
            63u32.wrapping_sub(tz),
        )
    }
}

impl Bits for u128 {
    const WIDTH: u8 = 128;

    #[inline(always)]
    fn chunk(self, off: u32) -> usize {
        ((self << (off & 127)) >> 122) as usize
    }

    #[inline(always)]
    fn top(self, t: u32) -> usize {
        (self >> ((128 - t) & 127)) as usize
    }

    #[inline]
    fn network(self, len: u8) -> Self {
        match len {
            0 => 0,
            l if l >= 128 => self,
            l => self & (u128::MAX << (128 - u32::from(l))),
        }
    }

    #[inline]
    fn last(self, len: u8) -> Self {
        match len {
            0 => u128::MAX,
            l if l >= 128 => self,
            l => self | (u128::MAX >> u32::from(l)),
        }
    }

    #[inline]
    fn from_top(slot: usize, t: u32) -> Self {
        (slot as u128).checked_shl(128 - t).unwrap_or(0)
    }

    #[inline]
    fn succ(self) -> Option<Self> {
        self.checked_add(1)
    }

    #[inline]
    fn pred(self) -> Option<Self> {
        self.checked_sub(1)
    }

    #[inline]
    fn widen(self) -> u128 {
        self
    }

    #[inline]
    fn narrow(v: u128) -> Option<Self> {
        Some(v)
    }

    const MAX_SKIP_END: u32 = 127;

    #[inline]
    fn skip_word(path: Self, end: u32) -> (u64, u64) {
        let end = end.min(127);
        let bits = path & u128::MAX.checked_shl(128 - end).unwrap_or(0);
        let word = bits | (1u128 << (127 - end));
        // The high and the low half: each shifted or masked to 64 bits first.
        ((word >> 64) as u64, (word & 0xFFFF_FFFF_FFFF_FFFF) as u64)
    }

    #[inline(always)]
    fn skip_test(self, high: u64, low: u64) -> (bool, u32) {
        let word = (u128::from(high) << 64) | u128::from(low);
        let tz = word.trailing_zeros();
        let mask = u128::MAX.checked_shl(tz + 1).unwrap_or(0);
        ((self ^ word) & mask == 0, 127u32.wrapping_sub(tz))
    }
}
