//! Separators: tabs, pipes, Excel's `sep=` line.

use super::*;

#[test]
fn tab_separated_files_are_read_too() {
    let (rows, errors, _) = accounts(b"name\tdomain\nAcme, Inc.\tacme.com\n");
    assert_eq!(errors, vec![]);
    assert_eq!(rows[0].name, "Acme, Inc.");
}

#[test]
fn excel_sep_line_names_the_separator_and_pipes_are_detected() {
    // The separator is sniffed from the first line that is not blank.
    let (rows, errors, _) =
        accounts(b"\xEF\xBB\xBF\r\n\r\n  \r\nname;domain\r\nAcme, Inc.;acme.com\r\n");
    assert_eq!(errors, vec![]);
    assert_eq!(rows[0].name, "Acme, Inc.");
    let (rows, errors, _) =
        accounts(b"sep=;\r\nname;domain\r\nAcme, Inc.;acme.com\r\nB;b.com;\r\n");
    assert_eq!(errors, vec![]);
    assert_eq!(rows[0].name, "Acme, Inc.");
    assert_eq!(rows.len(), 2);
    let (_, errors, _) = accounts(b"sep=,\nname,domain\nA,a.com,extra\n");
    assert_eq!(errors[0].line, 3, "the sep line counts as a line");
    // Quoted as a cell, as some tools write it (bug: read as the header).
    for first in [&b"\"sep=;\""[..], b"\"sep=;\";"] {
        let file = [first, b"\r\nname;domain\r\nAcme, Inc.;acme.com\r\n"].concat();
        let (rows, errors, _) = accounts(&file);
        assert_eq!(errors, vec![], "{}", String::from_utf8_lossy(first));
        assert_eq!(rows[0].name, "Acme, Inc.");
    }
    let (rows, errors, _) = accounts(b"name|domain\nAcme, Inc.|acme.com\n");
    assert_eq!(errors, vec![]);
    assert_eq!(rows[0].name, "Acme, Inc.");
}
