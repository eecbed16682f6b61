//! (module selector)
