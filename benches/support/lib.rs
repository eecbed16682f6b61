//! What the benchmarks share: the seeded input generator of the lookup and matrix
//! benches. The workload generator of the engine benchmark is
//! `netpol_testing::workload`.

pub mod splitmix;
