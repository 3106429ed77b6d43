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

#[test]
fn a_header_candidate_splits_as_the_csv_reader_reads_the_line() {
    // The separator search splits candidate lines with one reused parser per separator; each
    // line must read as a `csv::Reader` over that line alone reads its first record.
    let lines: [&[u8]; 12] = [
        b"name,domain",
        b"\"Account, Name\",\"Web\"\"site\"\",x",
        b"name;domain;;",
        b"  name | domain |",
        b"name\tdomain\r",
        b"name,domain\rAcme,acme.com",
        b"\"unbalanced,name,domain",
        b"a\"b,c\"d",
        b"\xEF\xBB\xBFname,\xFF\xFEdomain",
        b"\"\",\"\",x",
        b",,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,y",
        b"\r",
    ];
    let mut split = LineSplitter::default();
    for line in lines {
        for delimiter in [b',', b';', b'\t', b'|'] {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .delimiter(delimiter)
                .from_reader(line);
            let mut record = csv::ByteRecord::new();
            let expected = matches!(reader.read_byte_record(&mut record), Ok(true)).then(|| {
                record
                    .iter()
                    .map(|cell| {
                        String::from_utf8_lossy(cell)
                            .trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
                            .to_string()
                    })
                    .collect::<Vec<_>>()
            });
            let shown = String::from_utf8_lossy(line);
            assert_eq!(
                split.names(line, delimiter),
                expected,
                "{shown:?} on {delimiter}"
            );
        }
    }
}
