//! Output of the listing commands: plain-text tables (a header row and
//! aligned columns separated by two spaces, easy to read and to `awk`)
//! or, with `-o json`, one JSON document; and writing to stdout where a
//! closed pipe (`| head`) is not an error.
//!
//! The format is chosen once per process ([`set_format`], from the global
//! `-o` option) rather than passed down every command: it is a property of
//! the invocation, like stdout itself, and so every command that prints a
//! [`Table`] or a [`Report`] gets JSON without code of its own.
//!
//! In JSON a table is an array of objects, one per row, keyed by the
//! column headings in lower snake case (`HIGH-WATERMARK` →
//! `high_watermark`); every value is the cell's text exactly as the table
//! shows it (`-` for none).

use std::io::Write;
use std::sync::OnceLock;

use serde_json::{Map, Value};

use crate::CliError;

/// A table being filled row by row.
///
/// ```
/// use durian_cli::table::Table;
/// let mut table = Table::new(["TOPIC", "PARTITIONS"]);
/// table.row(["web_log", "3"]);
/// assert_eq!(table.render(), "TOPIC    PARTITIONS\nweb_log  3\n");
/// ```
#[derive(Debug, Clone)]
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headings.
    pub fn new<I, S>(headings: I) -> Table
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Table {
            rows: vec![headings.into_iter().map(Into::into).collect()],
        }
    }

    /// Adds a row; missing cells are left empty.
    pub fn row<I, S>(&mut self, cells: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    /// Whether only the heading row is present.
    pub fn is_empty(&self) -> bool {
        self.rows.len() <= 1
    }

    /// The table as text, one line per row; the last column is not padded.
    pub fn render(&self) -> String {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|row| row.get(c))
                    .map(|cell| cell.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in &self.rows {
            let mut line = String::new();
            for (c, width) in widths.iter().enumerate() {
                let cell = row.get(c).map_or("", String::as_str);
                line.push_str(cell);
                if c + 1 < columns {
                    let pad = width.saturating_sub(cell.chars().count()) + 2;
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// How results are printed (`-o/--output`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Aligned plain-text columns.
    #[default]
    Table,
    /// One JSON document per command.
    Json,
}

static FORMAT: OnceLock<OutputFormat> = OnceLock::new();

/// Chooses the output format of this process; the first call wins, as the
/// command line is parsed once.
pub fn set_format(format: OutputFormat) {
    // A second call (a test running two commands in one process) keeps the
    // first choice; there is nothing to report.
    let _ = FORMAT.set(format);
}

/// The output format of this process ([`OutputFormat::Table`] unless
/// [`set_format`] said otherwise).
pub fn format() -> OutputFormat {
    FORMAT.get().copied().unwrap_or_default()
}

/// A column heading as a JSON key: lower case, `-` and spaces as `_`.
pub fn json_key(heading: &str) -> String {
    heading
        .trim()
        .chars()
        .map(|c| match c {
            '-' | ' ' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

impl Table {
    /// The rows as JSON objects keyed by [`json_key`] of their headings;
    /// missing cells are empty strings.
    pub fn to_json(&self) -> Value {
        let Some((headings, rows)) = self.rows.split_first() else {
            return Value::Array(Vec::new());
        };
        let keys: Vec<String> = headings.iter().map(|h| json_key(h)).collect();
        rows.iter()
            .map(|row| {
                let object: Map<String, Value> = keys
                    .iter()
                    .enumerate()
                    .map(|(c, key)| {
                        let cell = row.get(c).cloned().unwrap_or_default();
                        (key.clone(), Value::String(cell))
                    })
                    .collect();
                Value::Object(object)
            })
            .collect()
    }

    /// Prints the table in the process's [`format`].
    pub fn print(&self) -> Result<(), CliError> {
        match format() {
            OutputFormat::Table => print_stdout(&self.render()),
            OutputFormat::Json => print_json(&self.to_json()),
        }
    }
}

/// What a command prints when it is more than one table: `key  value`
/// lines, then tables each after an empty line; in JSON one object with a
/// string per field and an array per table.
///
/// A field whose key is also a table's (a count such as `partitions`) is
/// left out of the JSON: there the array's length says it.
#[derive(Debug, Clone, Default)]
pub struct Report {
    fields: Vec<(String, String)>,
    tables: Vec<(String, Table, bool)>,
}

impl Report {
    /// An empty report.
    pub fn new() -> Report {
        Report::default()
    }

    /// Adds a `key  value` line (in JSON `"key": "value"`).
    pub fn field(&mut self, key: &str, value: impl Into<String>) {
        self.fields.push((key.to_owned(), value.into()));
    }

    /// Adds a table under `key`.
    pub fn table(&mut self, key: &str, table: Table) {
        self.tables.push((key.to_owned(), table, true));
    }

    /// Adds a table under `key` that the text output leaves out when it
    /// has no rows (the JSON still has the empty array).
    pub fn table_if_any(&mut self, key: &str, table: Table) {
        self.tables.push((key.to_owned(), table, false));
    }

    /// The text form.
    pub fn render(&self) -> String {
        let width = self.fields.iter().map(|(k, _)| k.chars().count()).max();
        let mut out = String::new();
        for (key, value) in &self.fields {
            let pad = width.unwrap_or(0) - key.chars().count() + 2;
            out.push_str(key);
            out.extend(std::iter::repeat_n(' ', pad));
            out.push_str(value);
            out.push('\n');
        }
        for (_, table, show_empty) in &self.tables {
            if *show_empty || !table.is_empty() {
                if !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(&table.render());
            }
        }
        out
    }

    /// The JSON form.
    pub fn to_json(&self) -> Value {
        let mut object = Map::new();
        for (key, value) in &self.fields {
            if !self.tables.iter().any(|(k, _, _)| k == key) {
                object.insert(json_key(key), Value::String(value.clone()));
            }
        }
        for (key, table, _) in &self.tables {
            object.insert(json_key(key), table.to_json());
        }
        Value::Object(object)
    }

    /// Prints the report in the process's [`format`].
    pub fn print(&self) -> Result<(), CliError> {
        match format() {
            OutputFormat::Table => print_stdout(&self.render()),
            OutputFormat::Json => print_json(&self.to_json()),
        }
    }
}

/// Prints a one-line message, or with `-o json` the JSON object `json`
/// (for commands whose result is a sentence, such as `topic create`).
pub fn print_message(text: &str, json: Value) -> Result<(), CliError> {
    match format() {
        OutputFormat::Table => print_stdout(text),
        OutputFormat::Json => print_json(&json),
    }
}

/// Writes `value` as pretty JSON and a newline to stdout.
pub fn print_json(value: &Value) -> Result<(), CliError> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::new(format!("cannot write JSON: {e}")))?;
    text.push('\n');
    print_stdout(&text)
}

/// A list of node ids as `0,1,2` (`-` when empty).
pub fn id_list(ids: &[i32]) -> String {
    if ids.is_empty() {
        return "-".to_owned();
    }
    ids.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}

/// An optional value, `-` when absent.
pub fn or_dash<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

/// Writes `text` to stdout and flushes it; a closed stdout (e.g. `| head`)
/// is not an error: the reader has seen all it wanted.
pub fn print_stdout(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CliError::new(format!("cannot write to stdout: {e}")))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_on_the_widest_cell_including_unicode() {
        let mut table = Table::new(["A", "B", "C"]);
        table.row(["dürian", "1", "x"]);
        table.row(["t", "22"]);
        assert_eq!(table.render(), "A       B   C\ndürian  1   x\nt       22\n");
        assert!(!table.is_empty());
        assert!(Table::new(["A"]).is_empty());
    }

    #[test]
    fn tables_become_arrays_of_objects_keyed_by_snake_case_headings() {
        let mut table = Table::new(["TOPIC", "HIGH-WATERMARK"]);
        table.row(["a", "7"]);
        table.row(["b"]);
        assert_eq!(
            table.to_json(),
            serde_json::json!([
                {"topic": "a", "high_watermark": "7"},
                {"topic": "b", "high_watermark": ""},
            ])
        );
        assert_eq!(Table::new(["A"]).to_json(), serde_json::json!([]));
    }

    #[test]
    fn reports_align_fields_and_drop_counts_named_like_a_table_from_json() {
        let mut report = Report::new();
        report.field("topic", "t");
        report.field("partitions", "1");
        let mut table = Table::new(["PARTITION"]);
        table.row(["0"]);
        report.table("partitions", table);
        report.table_if_any("members", Table::new(["MEMBER"]));
        assert_eq!(
            report.render(),
            "topic       t\npartitions  1\n\nPARTITION\n0\n"
        );
        assert_eq!(
            report.to_json(),
            serde_json::json!({"topic": "t", "partitions": [{"partition": "0"}], "members": []})
        );
    }

    #[test]
    fn helpers_print_dashes_for_nothing() {
        assert_eq!(id_list(&[]), "-");
        assert_eq!(id_list(&[0, 2]), "0,2");
        assert_eq!(or_dash(None::<i64>), "-");
        assert_eq!(or_dash(Some(5)), "5");
    }
}
