//! (module cidr)
