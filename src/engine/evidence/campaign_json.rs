//! campaign.json written as it is serialized. The document is a JSON object whose keys come out
//! sorted (serde_json's map), except that its largest member, the reviewers (114,303 of them at
//! ten million items), is never part of that object: each reviewer becomes JSON on its own as
//! it is written, at its key's sorted place. Holding them all as one `serde_json::Value` cost
//! about a kilobyte per reviewer, and the pretty text another 39 MB, before a byte was written.

use crate::evidence::bundle::BundleWriter;
use crate::store::evidence::ReviewerSummary;
use serde::ser::{Error as _, SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};
use std::io;

/// The key the reviewers are written under.
const REVIEWERS: &str = "reviewers";

/// campaign.json: every member but the reviewers, and the reviewers.
pub(super) struct CampaignJson<'a> {
    pub(super) rest: Map<String, Value>,
    pub(super) reviewers: &'a [ReviewerSummary],
}

impl CampaignJson<'_> {
    /// Writes the document into the bundle as `campaign.json`, pretty-printed: byte for byte
    /// what `serde_json::to_vec_pretty` of the whole document as one value gives.
    pub(super) fn write(&self, bundle: &mut BundleWriter) -> io::Result<()> {
        bundle.file_written_by("campaign.json", |out| {
            Ok(serde_json::to_writer_pretty(out, self)?)
        })
    }
}

impl Serialize for CampaignJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.rest.len() + 1))?;
        let mut reviewers_written = false;
        for (key, value) in &self.rest {
            if !reviewers_written && key.as_str() > REVIEWERS {
                map.serialize_entry(REVIEWERS, &Reviewers(self.reviewers))?;
                reviewers_written = true;
            }
            map.serialize_entry(key, value)?;
        }
        if !reviewers_written {
            map.serialize_entry(REVIEWERS, &Reviewers(self.reviewers))?;
        }
        map.end()
    }
}

/// The reviewers, each turned into a JSON value (keys sorted, as in the rest of the document)
/// only while it is written.
struct Reviewers<'a>(&'a [ReviewerSummary]);

impl Serialize for Reviewers<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for reviewer in self.0 {
            let value = serde_json::to_value(reviewer).map_err(S::Error::custom)?;
            seq.serialize_element(&value)?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reviewer(id: &str) -> ReviewerSummary {
        ReviewerSummary {
            id: id.into(),
            name: format!("Reviewer {id}"),
            email: Some(format!("{id}@example.com")),
            items: 3,
            escalated_away: 1,
            decided: 2,
            attested: 1,
            revoked: 1,
            first_decision_at: None,
            last_decision_at: None,
            signed_off_at: None,
            signed_off_addr: None,
        }
    }

    /// The streamed document is the one the whole value gave, wherever "reviewers" sorts among
    /// the other keys (first, between, last) and with none.
    #[test]
    fn streamed_text_is_the_whole_documents_text() {
        let reviewers = [reviewer("r1"), reviewer("r2")];
        for keys in [
            vec!["summary", "timeline"],
            vec!["counts", "summary"],
            vec!["a", "b"],
            vec!["z"],
            vec![],
        ] {
            for listed in [&reviewers[..], &[]] {
                let mut rest = Map::new();
                for key in &keys {
                    rest.insert(key.to_string(), serde_json::json!({"n": 1, "list": [1, 2]}));
                }
                let mut whole = Value::Object(rest.clone());
                whole[REVIEWERS] = serde_json::to_value(listed).expect("value");
                let expected = serde_json::to_vec_pretty(&whole).expect("whole");
                let streamed = serde_json::to_vec_pretty(&CampaignJson {
                    rest,
                    reviewers: listed,
                })
                .expect("streamed");
                assert_eq!(
                    String::from_utf8(streamed).expect("utf-8"),
                    String::from_utf8(expected).expect("utf-8"),
                    "keys {keys:?}"
                );
            }
        }
    }
}
