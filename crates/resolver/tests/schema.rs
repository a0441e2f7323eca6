//! The committed `schema.graphql` is the schema the code builds (STYLE "Tests"): a
//! change to a GraphQL type shows up in review as a diff of that file.
//! `UPDATE_SCHEMA=1 cargo test -p resolver --test schema` rewrites it.

use std::path::PathBuf;

fn schema_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schema.graphql")
}

#[test]
fn the_committed_schema_graphql_matches_the_code() {
    let path = schema_file();
    let sdl = resolver::sdl();
    if std::env::var("UPDATE_SCHEMA").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &sdl)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        return;
    }
    let committed = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) => panic!(
            "cannot read {} ({error}); generate it with \
             `UPDATE_SCHEMA=1 cargo test -p resolver --test schema` and commit it",
            path.display()
        ),
    };
    if committed != sdl {
        let first_difference = committed
            .lines()
            .zip(sdl.lines())
            .enumerate()
            .find(|(_, (a, b))| a != b)
            .map(|(n, (a, b))| {
                format!(
                    "first difference at line {}:\n  committed: {a}\n  code:      {b}",
                    n + 1
                )
            })
            .unwrap_or_else(|| {
                format!(
                    "the committed file has {} lines, the code's schema {}",
                    committed.lines().count(),
                    sdl.lines().count()
                )
            });
        panic!(
            "{} differs from the schema the code builds ({first_difference}).\n\
             Regenerate it with `UPDATE_SCHEMA=1 cargo test -p resolver --test schema` \
             and commit the result.",
            path.display()
        );
    }
}
