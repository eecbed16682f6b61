use super::Labels;
use super::go_json::{go_struct, go_value};

go_struct! {
    /// A `metav1.LabelSelector` as written: `matchLabels` and `matchExpressions`, ANDed.
    ///
    /// An empty selector (`{}`) selects everything. To match objects, compile it with
    /// [`crate::selector::Selector::new`]; to check it the way the apiserver does, use
    /// [`crate::validate`].
    ///
    /// ```
    /// use netpol::model::LabelSelector;
    ///
    /// let sel: LabelSelector = serde_json::from_str(
    ///     r#"{"matchLabels": {"app": "web"},
    ///         "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod"]}]}"#,
    /// ).unwrap();
    /// assert_eq!(sel.match_labels.as_ref().unwrap()["app"], "web");
    /// assert!(!sel.is_empty());
    /// assert!(LabelSelector::default().is_empty());
    /// ```
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct LabelSelector {
        /// `matchLabels`: every pair must be present on the object.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub match_labels: Option<Labels>,
        /// `matchExpressions`: every requirement must hold.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub match_expressions: Option<Vec<LabelSelectorRequirement>>,
    }
    serde(rename_all = "camelCase");
}

impl LabelSelector {
    /// True when the selector has no terms at all and so selects everything.
    ///
    /// ```
    /// use netpol::model::LabelSelector;
    /// let sel = LabelSelector { match_labels: Some(Default::default()), match_expressions: Some(vec![]) };
    /// assert!(sel.is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.match_labels.as_ref().is_none_or(|m| m.is_empty())
            && self.match_expressions.as_ref().is_none_or(|e| e.is_empty())
    }

    /// A selector with the given `matchLabels` only.
    ///
    /// ```
    /// use netpol::model::LabelSelector;
    /// let sel = LabelSelector::match_labels([("app", "web"), ("tier", "front")]);
    /// assert_eq!(sel.match_labels.unwrap().len(), 2);
    /// ```
    pub fn match_labels<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        LabelSelector {
            match_labels: Some(
                pairs
                    .into_iter()
                    .map(|(k, v)| (k.into(), v.into()))
                    .collect(),
            ),
            match_expressions: None,
        }
    }
}

go_struct! {
    /// One `matchExpressions` entry: a key, an operator and values.
    ///
    /// The operator is kept as written; valid operators are `In`, `NotIn`, `Exists` and
    /// `DoesNotExist`.
    ///
    /// ```
    /// use netpol::model::LabelSelectorRequirement;
    /// let req = LabelSelectorRequirement::new("env", "NotIn", ["prod", "staging"]);
    /// assert_eq!(req.values.as_ref().unwrap().len(), 2);
    /// ```
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct LabelSelectorRequirement {
        /// The label key (`None` when not written, which the apiserver reads as `""`).
        #[serde(skip_serializing_if = "Option::is_none")]
        #[serde(deserialize_with = "go_value")]
        pub key: Option<String>,
        /// `In`, `NotIn`, `Exists` or `DoesNotExist`, as written (`None` when not written).
        #[serde(skip_serializing_if = "Option::is_none")]
        #[serde(deserialize_with = "go_value")]
        pub operator: Option<String>,
        /// The values; must be non-empty for `In`/`NotIn` and empty for `Exists`/`DoesNotExist`.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub values: Option<Vec<String>>,
    }
}

impl LabelSelectorRequirement {
    /// The key, `""` when not written (what the apiserver's Go struct holds).
    ///
    /// ```
    /// use netpol::model::LabelSelectorRequirement;
    /// assert_eq!(LabelSelectorRequirement::new("env", "Exists", Vec::<String>::new()).key(), "env");
    /// assert_eq!(LabelSelectorRequirement::default().key(), "");
    /// ```
    #[must_use]
    pub fn key(&self) -> &str {
        self.key.as_deref().unwrap_or("")
    }

    /// The operator, `""` when not written.
    ///
    /// ```
    /// use netpol::model::LabelSelectorRequirement;
    /// assert_eq!(LabelSelectorRequirement::new("env", "In", ["a"]).operator(), "In");
    /// ```
    #[must_use]
    pub fn operator(&self) -> &str {
        self.operator.as_deref().unwrap_or("")
    }

    /// A requirement from its parts.
    ///
    /// ```
    /// use netpol::model::LabelSelectorRequirement;
    /// let req = LabelSelectorRequirement::new("legacy", "DoesNotExist", Vec::<String>::new());
    /// assert_eq!(req.values, None);
    /// ```
    pub fn new<S: Into<String>>(
        key: impl Into<String>,
        operator: impl Into<String>,
        values: impl IntoIterator<Item = S>,
    ) -> Self {
        let values: Vec<String> = values.into_iter().map(Into::into).collect();
        LabelSelectorRequirement {
            key: Some(key.into()),
            operator: Some(operator.into()),
            values: if values.is_empty() {
                None
            } else {
                Some(values)
            },
        }
    }
}
