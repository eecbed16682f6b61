//! (module model)
