#![doc = include_str!("../README.md")]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_possible_wrap,
        clippy::cast_precision_loss,
        clippy::cast_lossless
    )
)]
#![deny(missing_docs, rustdoc::broken_intra_doc_links)]

pub mod analysis;
pub mod calico;
pub mod cidr;
pub mod cluster;
pub mod engine;
pub mod explain;
pub mod flannel;
#[cfg(feature = "k8s-openapi")]
pub mod k8s_openapi;
pub mod model;
mod persist;
pub mod policy;
pub mod profile;
pub mod reference;
pub mod selector;
pub mod service;
pub mod validate;
