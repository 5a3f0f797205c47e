//! Output of the listing commands: plain-text tables (a header row and
//! aligned columns separated by two spaces, easy to read and to `awk`),
//! and writing to stdout where a closed pipe (`| head`) is not an error.

use std::io::Write;

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
    fn helpers_print_dashes_for_nothing() {
        assert_eq!(id_list(&[]), "-");
        assert_eq!(id_list(&[0, 2]), "0,2");
        assert_eq!(or_dash(None::<i64>), "-");
        assert_eq!(or_dash(Some(5)), "5");
    }
}
