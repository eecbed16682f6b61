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

    /// The slot number `slot` of a `t`-bit top-level table as an address.
    fn from_top(slot: usize, t: u32) -> Self;

    /// `self + 1`, or `None` at the maximum.
    fn succ(self) -> Option<Self>;

    /// `self - 1`, or `None` at zero.
    fn pred(self) -> Option<Self>;

    /// Widen to `u128` (value-preserving).
    fn widen(self) -> u128;

    /// Narrow from `u128`; only called with values that fit.
    fn narrow(v: u128) -> Self;
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
        (slot as u32).checked_shl(32 - t).unwrap_or(0)
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
    fn narrow(v: u128) -> Self {
        v as u32
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
    fn narrow(v: u128) -> Self {
        v
    }
}
