//! (module flannel)
