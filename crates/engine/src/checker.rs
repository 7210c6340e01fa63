//! Validating rules' fields against the fields saker extracts.

use saker_fields::Field;
use saker_filter::EventTypeSet;
use saker_rules::FieldChecker;

/// Checks field names and event type names for the rules loader, with the
/// same parser the engine compiles them with, so a rule that loads compiles.
#[derive(Clone, Copy, Debug, Default)]
pub struct Fields;

impl FieldChecker for Fields {
    fn check(&self, name: &str, arg: Option<&str>) -> Result<(), String> {
        let text = match arg {
            Some(a) => format!("{name}[{a}]"),
            None => name.to_string(),
        };
        Field::parse(&text).map(|_| ()).map_err(|e| e.to_string())
    }

    fn check_event_type(&self, name: &str) -> Result<(), String> {
        if EventTypeSet::of_name(name).is_empty() { Err(format!("unknown event type {name}")) } else { Ok(()) }
    }
}
