//! Calico's policy model (`projectcalico.org/v3` NetworkPolicy, GlobalNetworkPolicy,
//! NetworkSet, GlobalNetworkSet, Tier): for now its selector language.
//!
//! Calico's policies pick endpoints with selector expressions such as
//! `role == 'db' && env in {'prod', 'staging'}` rather than Kubernetes'
//! `matchLabels`/`matchExpressions`. [`selector`] parses them exactly as Calico does,
//! prints them in Calico's canonical form and matches them against labels.
//!
//! ```
//! use netpol::calico::selector::Selector;
//! use netpol::model::Labels;
//!
//! let sel: Selector = "role == 'db' && !has(legacy)".parse()?;
//! assert_eq!(sel.to_string(), r#"(role == "db" && !has(legacy))"#);
//! let labels: Labels = [("role".to_string(), "db".to_string())].into();
//! assert!(sel.matches(&labels));
//! # Ok::<(), netpol::calico::selector::ParseError>(())
//! ```

pub mod selector;
