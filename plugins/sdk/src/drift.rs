//! Drift: how a response's shape differs from what a plugin knows. A plugin names, per
//! dataset, every field it knows (those it maps and those it knowingly ignores) and the fields
//! it expects in every response; [`Shape::drift`] compares a page's items with that, and the
//! plugin returns the result in `page.drift`. The host counts it per source and dataset and
//! alerts when a dataset's shape changes, so a format change shows before it breaks a parse.
//!
//! ```
//! use racelab_plugin_sdk::drift::Shape;
//! use racelab_plugin_sdk::fields::Row;
//! use racelab_plugin_sdk::DriftKind;
//! use serde_json::json;
//!
//! const SHAPE: Shape = Shape { known: &["rcNo", "hrName", "bu*"], expected: &["rcNo", "hrName"] };
//! let item = json!({"rcNo": 1, "buG1fAccTime": 12.1, "hrNameKo": "질풍"});
//! let serde_json::Value::Object(fields) = item else { unreachable!() };
//! let drift = SHAPE.drift(&[Row::new(0, fields)]);
//! let seen: Vec<_> = drift.iter().map(|d| (d.kind, d.field.as_str())).collect();
//! assert_eq!(seen, [(DriftKind::Unmapped, "hrNameKo"), (DriftKind::Missing, "hrName")]);
//! ```

use std::collections::BTreeSet;

use crate::fields::{Lookup, Row};
use crate::{Drift, DriftKind};

/// What a plugin knows of one dataset's items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Every field the plugin knows: mapped or knowingly ignored. `prefix*` stands for every
    /// field starting with `prefix` (KRA's sectional times: `buG1fAccTime`, `bu_10_8fTime`…).
    pub known: &'static [&'static str],
    /// Fields the plugin expects in every response with items.
    pub expected: &'static [&'static str],
}

impl Shape {
    /// Whether `field` is among the known ones.
    pub fn knows(&self, field: &str) -> bool {
        self.known.iter().any(|k| match k.strip_suffix('*') {
            Some(prefix) => field.starts_with(prefix),
            None => *k == field,
        })
    }

    /// The drift of a page: fields some item has and the plugin does not know (unmapped), then
    /// expected fields no item has (missing), each once, unmapped ones sorted. A page without
    /// items has none.
    pub fn drift<S: Lookup>(&self, items: &[Row<S>]) -> Vec<Drift> {
        if items.is_empty() {
            return Vec::new();
        }
        // Items of one page share their keys: each distinct key is judged once.
        let mut keys: BTreeSet<String> = BTreeSet::new();
        for item in items {
            item.for_each_key(&mut |key| {
                if !keys.contains(key) {
                    keys.insert(key.to_string());
                }
            });
        }
        let missing = self.expected.iter().filter(|e| !keys.contains(**e));
        let missing: Vec<Drift> =
            missing.map(|e| Drift { kind: DriftKind::Missing, field: (*e).to_string() }).collect();
        let mut drift: Vec<Drift> = keys
            .into_iter()
            .filter(|k| !self.knows(k))
            .map(|field| Drift { kind: DriftKind::Unmapped, field })
            .collect();
        drift.extend(missing);
        drift
    }
}
