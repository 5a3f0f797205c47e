//! docs/BROKER.md's generated tables must match the code: the API table
//! (the handler registry) and the settings table (`SERVER_PROPERTIES`).
//!
//! Regenerate them with `DURIAN_UPDATE_DOCS=1 cargo test -p durian-broker --test docs`.

use std::path::PathBuf;

/// Checks (or, with `DURIAN_UPDATE_DOCS`, rewrites) the part of BROKER.md
/// between the markers `<!-- {table}:start -->` and `<!-- {table}:end -->`.
/// Held while a test reads and rewrites BROKER.md: the tests run on
/// parallel threads, and two read-modify-write passes over the same file
/// would lose one table's update (or interleave the writes).
static BROKER_MD: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn check_table(table: &str, expected: &str) {
    let _file = BROKER_MD
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let start_marker = format!("<!-- {table}:start -->\n");
    let end_marker = format!("<!-- {table}:end -->");
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/BROKER.md");
    let text = std::fs::read_to_string(&path).expect("docs/BROKER.md exists");
    let start = text
        .find(&start_marker)
        .unwrap_or_else(|| panic!("BROKER.md has the {table} start marker"))
        + start_marker.len();
    let end = text
        .find(&end_marker)
        .unwrap_or_else(|| panic!("BROKER.md has the {table} end marker"));
    if text.get(start..end) == Some(expected) {
        return;
    }
    if std::env::var_os("DURIAN_UPDATE_DOCS").is_some() {
        let updated = format!("{}{}{}", &text[..start], expected, &text[end..]);
        std::fs::write(&path, updated).expect("write BROKER.md");
        return;
    }
    panic!(
        "docs/BROKER.md's {table} is stale; regenerate it with \
         DURIAN_UPDATE_DOCS=1 cargo test -p durian-broker --test docs\nexpected:\n{expected}"
    );
}

#[test]
fn broker_md_api_table_is_current() {
    check_table(
        "api-table",
        &durian_broker::testing::reference::api_table_markdown(),
    );
}

/// The table of broker settings by `server.properties` name, from
/// `durian_broker::SERVER_PROPERTIES`.
fn properties_table() -> String {
    let mut table = String::from("| Property | Default | What it does |\n|---|---|---|\n");
    for property in durian_broker::SERVER_PROPERTIES {
        table.push_str(&format!(
            "| `{}` | `{}` | {} |\n",
            property.name, property.default, property.doc
        ));
    }
    table
}

#[test]
fn broker_md_properties_table_is_current() {
    check_table("properties-table", &properties_table());
}
