//! docs/BROKER.md's API table must match the handler registry.
//!
//! Regenerate it with `DURIAN_UPDATE_DOCS=1 cargo test -p durian-broker --test docs`.

use std::path::PathBuf;

const START: &str = "<!-- api-table:start -->\n";
const END: &str = "<!-- api-table:end -->";

#[test]
fn broker_md_api_table_is_current() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/BROKER.md");
    let text = std::fs::read_to_string(&path).expect("docs/BROKER.md exists");
    let start = text
        .find(START)
        .expect("BROKER.md has the api-table start marker")
        + START.len();
    let end = text
        .find(END)
        .expect("BROKER.md has the api-table end marker");
    let expected = durian_broker::testing::reference::api_table_markdown();
    if text.get(start..end) == Some(expected.as_str()) {
        return;
    }
    if std::env::var_os("DURIAN_UPDATE_DOCS").is_some() {
        let updated = format!("{}{}{}", &text[..start], expected, &text[end..]);
        std::fs::write(&path, updated).expect("write BROKER.md");
        return;
    }
    panic!(
        "docs/BROKER.md's API table is stale; regenerate it with \
         DURIAN_UPDATE_DOCS=1 cargo test -p durian-broker --test docs\nexpected:\n{expected}"
    );
}

const PROPERTIES_START: &str = "<!-- properties-table:start -->\n";
const PROPERTIES_END: &str = "<!-- properties-table:end -->";

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
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/BROKER.md");
    let text = std::fs::read_to_string(&path).expect("docs/BROKER.md exists");
    let start = text
        .find(PROPERTIES_START)
        .expect("BROKER.md has the properties-table start marker")
        + PROPERTIES_START.len();
    let end = text
        .find(PROPERTIES_END)
        .expect("BROKER.md has the properties-table end marker");
    let expected = properties_table();
    if text.get(start..end) == Some(expected.as_str()) {
        return;
    }
    if std::env::var_os("DURIAN_UPDATE_DOCS").is_some() {
        let updated = format!("{}{}{}", &text[..start], expected, &text[end..]);
        std::fs::write(&path, updated).expect("write BROKER.md");
        return;
    }
    panic!(
        "docs/BROKER.md's properties table is stale; regenerate it with \
         DURIAN_UPDATE_DOCS=1 cargo test -p durian-broker --test docs\nexpected:\n{expected}"
    );
}
