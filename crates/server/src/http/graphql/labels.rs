//! Bounded metric labels for GraphQL operations: the schema's root fields and the
//! SPEC §7 codes ([`Code`]), as `'static` strings so recording a metric allocates nothing.

use std::collections::HashSet;
use std::sync::OnceLock;

use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
use resolver::Code;

/// The label of anything that is not a root field of the schema.
pub const UNKNOWN: &str = "unknown";

static ROOT_FIELDS: OnceLock<HashSet<String>> = OnceLock::new();

/// `name` if it is a root field of the schema (or an introspection field), else
/// [`UNKNOWN`]: a client cannot grow the label set by sending made-up names.
pub fn operation(name: &str) -> &'static str {
    ROOT_FIELDS
        .get_or_init(root_fields)
        .get(name)
        .map_or(UNKNOWN, String::as_str)
}

/// The label of an error code: itself when it is one of ours, else `error`.
pub fn outcome(code: &str) -> &'static str {
    Code::parse(code).map_or("error", Code::as_str)
}

fn root_fields() -> HashSet<String> {
    let mut names: HashSet<String> = ["__schema", "__type", "__typename"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    let Ok(document) = async_graphql::parser::parse_schema(resolver::sdl()) else {
        return names;
    };
    for definition in document.definitions {
        if let TypeSystemDefinition::Type(ty) = definition
            && ["Query", "Mutation"].contains(&ty.node.name.node.as_str())
            && let TypeKind::Object(object) = ty.node.kind
        {
            names.extend(
                object
                    .fields
                    .into_iter()
                    .map(|f| f.node.name.node.to_string()),
            );
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_fields_are_labels_and_made_up_names_are_not() {
        assert_eq!(
            operation("saveIPackInstanceOauthConnectorDetails"),
            "saveIPackInstanceOauthConnectorDetails"
        );
        assert_eq!(operation("__typename"), "__typename");
        assert_eq!(operation("somethingElse"), UNKNOWN);
        assert_eq!(outcome(Code::NotFound.as_str()), Code::NotFound.as_str());
        assert_eq!(outcome("whatever"), "error");
    }
}
