//! What goes wrong in an import: a file that cannot be read at all ([`ImportError`]), or one
//! cell or row of it ([`RowError`]).

use std::fmt;

/// One problem with one cell (or a whole row) of an import file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based data row: the header is not counted, nor rows whose cells are all empty.
    pub row: u64,
    /// 1-based physical line of the file where the row starts (the header is line 1).
    pub line: u64,
    /// The column's header text as written in the file, or empty when the problem is the row
    /// itself (wrong number of fields, unreadable input).
    pub column: String,
    /// Why, as UI text: lowercase, no trailing period.
    pub message: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "row {} (line {})", self.row, self.line)?;
        if !self.column.is_empty() {
            write!(f, ", column {}", self.column)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for RowError {}

/// Why a file cannot be imported at all (before any row is read).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    /// The file is an Excel workbook (xlsx or xls), not CSV.
    #[error("file is an Excel workbook, not CSV; in Excel use File > Save As > \"CSV UTF-8\"")]
    Workbook,
    /// The file is something else that is not CSV text (PDF, zip, gzip, HTML, JSON, binary):
    /// what it looks like and what to do.
    #[error("{0}")]
    NotCsv(String),
    /// The header lacks a required column, or the file is empty.
    #[error("{0}")]
    Header(String),
    /// The input could not be read before the first data row.
    #[error("could not read the file at line {line}: {message}")]
    Csv {
        /// 1-based line where reading failed.
        line: u64,
        /// What the reader said.
        message: String,
    },
}
