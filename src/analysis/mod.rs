//! Analyses of a whole policy set on a cluster, built on the compiled engine.

pub mod lint;
