//! Reads a JSON import file, an array of objects or one object a line (JSON Lines), each record
//! reported at the line its `{` is on.

use super::bounded_read::{too_long, LineCounting, LinePosition};
use super::columns::json_record;
use super::json_object::JsonObject;
use super::ReadError;
use crate::domain::limits::{clip_message, quote, IMPORT_WARNINGS_MAX};
use crate::domain::records::{ImportKind, Record, RowError};
use serde::de::{DeserializeSeed, SeqAccess, Visitor};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::rc::Rc;

pub(super) fn read_json(
    input: impl Read,
    kind: ImportKind,
    sink: &mut impl FnMut(Result<Record, RowError>) -> bool,
) -> Result<(u64, Vec<String>), ReadError> {
    let mut buffered = BufReader::with_capacity(64 * 1024, input);
    let head = buffered.fill_buf()?;
    let bom = head.starts_with(b"\xEF\xBB\xBF");
    let is_array = head[if bom { 3 } else { 0 }..]
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'[');
    if bom {
        buffered.consume(3);
    }
    let position = Rc::new(LinePosition::default());
    let counted = LineCounting {
        inner: buffered,
        position: Rc::clone(&position),
    };
    let mut state = JsonState {
        kind,
        position,
        count: 0,
        stopped: false,
        unknown: BTreeSet::new(),
        more_unknown: false,
        sink,
    };
    let outcome = if is_array {
        let mut de = serde_json::Deserializer::from_reader(counted);
        ArraySeed(&mut state)
            .deserialize(&mut de)
            .and_then(|()| de.end())
    } else {
        read_json_lines(counted, &mut state)
    };
    if let Err(e) = outcome {
        if state.position.budget.exceeded.get() {
            return Err(ReadError::Invalid(too_long(state.position.record_line())));
        }
        if !state.stopped {
            // serde's messages quote what they did not expect, whole.
            return Err(ReadError::Invalid(RowError::new(
                e.line() as u64,
                None,
                format!("malformed JSON: {}", clip_message(&e.to_string())),
            )));
        }
    }
    let mut warnings: Vec<String> = state
        .unknown
        .iter()
        .map(|n| format!("unknown field {} ignored", quote(n)))
        .collect();
    if state.more_unknown {
        warnings.push("and more unknown fields ignored".into());
    }
    Ok((state.count, warnings))
}

struct JsonState<'s, S> {
    kind: ImportKind,
    position: Rc<LinePosition>,
    count: u64,
    stopped: bool,
    /// The first [`IMPORT_WARNINGS_MAX`] unknown keys, for the warnings.
    unknown: BTreeSet<String>,
    more_unknown: bool,
    sink: &'s mut S,
}

impl<S: FnMut(Result<Record, RowError>) -> bool> JsonState<'_, S> {
    /// Hands one object to the sink; returns whether to go on.
    fn accept(&mut self, object: JsonObject) -> bool {
        let line = self.position.record_line();
        self.position.record_done();
        self.count += 1;
        let keep = self.kind.attributes_kept();
        let kept = super::columns::kept_fields(&object, self.kind.columns(), keep);
        for (key, _) in &object.fields {
            if !self.kind.columns().iter().any(|c| c.name == key)
                && !kept.contains(key)
                && !self.unknown.contains(key)
            {
                if self.unknown.len() < IMPORT_WARNINGS_MAX {
                    self.unknown.insert(key.clone());
                } else {
                    self.more_unknown = true;
                }
            }
        }
        let record = json_record(object, line, self.kind.columns(), keep);
        if !(self.sink)(record) {
            self.stopped = true;
        }
        !self.stopped
    }
}

fn read_json_lines<R: Read, S: FnMut(Result<Record, RowError>) -> bool>(
    input: R,
    state: &mut JsonState<'_, S>,
) -> Result<(), serde_json::Error> {
    let mut stream = serde_json::Deserializer::from_reader(input).into_iter::<JsonObject>();
    loop {
        state.position.expect_record();
        match stream.next() {
            None => return Ok(()),
            Some(object) => {
                if !state.accept(object?) {
                    return Ok(());
                }
            }
        }
    }
}

struct ArraySeed<'a, 's, S>(&'a mut JsonState<'s, S>);

impl<'de, S: FnMut(Result<Record, RowError>) -> bool> DeserializeSeed<'de>
    for ArraySeed<'_, '_, S>
{
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, S: FnMut(Result<Record, RowError>) -> bool> Visitor<'de> for ArraySeed<'_, '_, S> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        loop {
            self.0.position.expect_record();
            match seq.next_element::<JsonObject>()? {
                Some(object) => {
                    if !self.0.accept(object) {
                        return Err(serde::de::Error::custom("stopped"));
                    }
                }
                None => return Ok(()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_files::{read, values};
    use super::super::ReadError;
    use crate::domain::records::ImportKind;

    #[test]
    fn json_array_reports_the_line_each_record_starts_on() {
        let json = "\u{feff}[\n  {\"principal_id\": \"u1\", \"role\": \"R\", \"scope\": \"/\"},\n  {\n    \"principal_id\": \"u2\",\n    \"role\": \"R\",\n    \"scope\": \"/x\", \"end\": null\n  }\n]\n";
        let (rows, summary) = read("e.json", json.as_bytes(), ImportKind::Eligibility);
        summary.unwrap();
        let lines: Vec<u64> = rows.iter().map(|r| r.as_ref().unwrap().line).collect();
        assert_eq!(lines, vec![2, 3]);
        assert_eq!(values(&rows[1])[..3], [Some("u2"), Some("R"), Some("/x")]);
    }

    #[test]
    fn json_lines_and_a_missing_field() {
        let json = "{\"principal_id\":\"u1\",\"role\":\"R\",\"scope\":\"/\"}\n{\"principal_id\":\"u2\",\"scope\":\"/\"}\n";
        let (rows, summary) = read("e.jsonl", json.as_bytes(), ImportKind::Eligibility);
        summary.unwrap();
        assert_eq!(rows.len(), 2);
        let err = rows[1].as_ref().unwrap_err();
        assert_eq!((err.line, err.field.as_deref()), (2, Some("role")));
    }

    #[test]
    fn json_duplicate_keys_and_wrong_types_are_bad_rows() {
        let json = "[\n{\"id\": \"u1\", \"name\": \"A\", \"id\": \"u2\", \"email\": null, \"manager_id\": null},\n{\"id\": 12345, \"name\": \"B\", \"email\": null, \"manager_id\": null},\n{\"id\": \"u3\", \"name\": \"C\", \"email\": null, \"manager_id\": null, \"enabled\": true, \"extra\": [1, {\"a\": 2}]},\n{\"id\": \"u4\", \"name\": \"D\", \"email\": null, \"manager_id\": null, \"enabled\": 1}\n]";
        let (rows, summary) = read("p.json", json.as_bytes(), ImportKind::People);
        let summary = summary.unwrap();
        let err = rows[0].as_ref().unwrap_err();
        assert_eq!(
            (err.line, err.field.as_deref(), err.reason.as_str()),
            (2, Some("id"), "duplicate key")
        );
        let err = rows[1].as_ref().unwrap_err();
        assert_eq!(
            (err.line, err.field.as_deref(), err.reason.as_str()),
            (3, Some("id"), "expected a string, found a number")
        );
        assert_eq!(values(&rows[2])[5], Some("true"));
        let err = rows[3].as_ref().unwrap_err();
        assert_eq!(
            (err.field.as_deref(), err.reason.as_str()),
            (
                Some("enabled"),
                "expected true, false or a string, found a number"
            )
        );
        assert_eq!(summary.warnings, vec!["unknown field \"extra\" ignored"]);
    }

    #[test]
    fn malformed_json_names_its_line() {
        let (_, summary) = read(
            "e.json",
            b"[\n{\"principal_id\": \"u1\",\n}\n]",
            ImportKind::Eligibility,
        );
        match summary {
            Err(ReadError::Invalid(e)) => assert_eq!(e.line, 3, "{e}"),
            other => panic!("{other:?}"),
        }
    }
}
