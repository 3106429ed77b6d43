//! Encodings, and files that are no CSV text at all.

use super::*;
use proptest::prelude::*;

#[test]
fn utf16_files_are_decoded_with_or_without_a_byte_order_mark() {
    // Excel's "Unicode Text": UTF-16 LE with a BOM, tab-separated, CRLF.
    let text =
        "Account Name\tWebsite\r\nSociété Générale\tsocgen.com\r\nMüller 😀 GmbH\tmueller.de\r\n";
    let le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
    for input in [
        [&b"\xFF\xFE"[..], &le].concat(),
        [&b"\xFE\xFF"[..], &be].concat(),
        le.clone(),
        be,
    ] {
        let (rows, errors, _) = accounts(&input);
        assert_eq!(errors, vec![]);
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["Société Générale", "Müller 😀 GmbH"]);
        assert_eq!(rows[1].domain, domain("mueller.de"));
    }
    // Read one byte at a time, so characters and surrogate pairs split across reads.
    let one_byte = OneByte([&b"\xFF\xFE"[..], &le].concat(), 0);
    let names: Vec<String> = read_accounts(one_byte)
        .unwrap()
        .map(|r| r.unwrap().name)
        .collect();
    assert_eq!(names, ["Société Générale", "Müller 😀 GmbH"]);
}

/// Hands out its bytes one at a time.
struct OneByte(Vec<u8>, usize);

impl Read for OneByte {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match (self.0.get(self.1), buf.first_mut()) {
            (Some(&b), Some(slot)) => {
                *slot = b;
                self.1 += 1;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

#[test]
fn windows_1252_bytes_are_decoded_in_the_header_and_in_cells() {
    // Excel's "CSV (Comma delimited)" on Western Windows: not UTF-8.
    let input = b"Soci\xE9t\xE9,Account Name,Owner\nx,Soci\xE9t\xE9 G\xE9n\xE9rale,M\xFCller\ny,Caf\xE9 \x80 \x96 \x9Cuvre,Jane\nz,Zo\xC3\xAB UTF-8 too,\xC3\xA9ric\n";
    let (rows, errors, ignored) = accounts(input);
    assert_eq!(errors, vec![]);
    assert_eq!(ignored, ["Société"]);
    let got: Vec<(&str, Option<&str>)> = rows
        .iter()
        .map(|r| (r.name.as_str(), r.owner.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            ("Société Générale", Some("Müller")),
            ("Café € – œuvre", Some("Jane")),
            ("Zoë UTF-8 too", Some("éric")),
        ]
    );
    // The same bytes read one at a time (a character split across reads) decode alike.
    let names: Vec<String> = read_accounts(OneByte(input.to_vec(), 0))
        .unwrap()
        .map(|r| r.unwrap().name)
        .collect();
    assert_eq!(names[0], "Société Générale");
    // A lone lead byte at the very end is a character too, not an error.
    let (rows, errors, _) = accounts(b"name\nCaf\xC3");
    assert_eq!(errors, vec![]);
    assert_eq!(rows[0].name, "CafÃ");
}

#[test]
fn workbooks_and_empty_files_are_refused_clearly() {
    assert_eq!(
        read_accounts(&b"PK\x03\x04\x14\x00\x06\x00"[..]).err(),
        Some(ImportError::Workbook)
    );
    for empty in [&b""[..], b"\xEF\xBB\xBF", b"\n\n", b",,\n"] {
        assert_eq!(
            read_accounts(empty).err(),
            Some(ImportError::Header(
                "the file is empty (expected a header row naming the columns)".into()
            )),
            "{empty:?}"
        );
    }
}

#[test]
fn files_that_are_not_csv_say_what_they_are() {
    let refused = |input: &[u8]| read_accounts(input).err().map(|e| e.to_string());
    let xlsx = b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00b\xee\x9dh^\x01\x00\x00\x90\x04\x00\x00\x13\x00\x08\x02[Content_Types].xml";
    assert_eq!(read_accounts(&xlsx[..]).err(), Some(ImportError::Workbook));
    assert_eq!(
        ImportError::Workbook.to_string(),
        "file is an Excel workbook, not CSV; in Excel use File > Save As > \"CSV UTF-8\""
    );
    for (input, starts) in [
        (&b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"[..], "file is an Excel workbook"),
        (
            b"PK\x03\x04\x14\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x0c\x00\x00\x00deals-1.csv",
            "file is a zip archive",
        ),
        (b"PK\x03\x04\x14\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x08\x00\x00\x00mimetype", "file is an OpenDocument"),
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "file is a PDF"),
        (b"\x1f\x8b\x08\x00\x00\x00\x00\x00", "file is gzip-compressed"),
        (b"<!DOCTYPE html>\n<html>", "file is a web page"),
        (b"  <html><body>", "file is a web page"),
        (b"<?xml version=\"1.0\"?>\n<Workbook>", "file is XML"),
        (b"[{\"name\":\"Acme\"}]\n", "file is JSON"),
        (b"{\"results\":[]}", "file is JSON"),
        (b"na\x00me,domain\nAcme,acme.com\n", "line 1 has NUL bytes"),
        (&[0u8, 0, 0, 1, 2, 3][..], "line 1 has NUL bytes"),
    ] {
        let got = refused(input).unwrap_or_default();
        assert!(got.starts_with(starts), "{input:?}: {got}");
    }
    // A title line above a header that names no account name column: the error shows
    // what was taken for the header, the first line (see
    // `lines_with_text_above_the_header_are_skipped_and_reported`).
    assert_eq!(
        refused(b"Accounts export 2026-11-23\nid,domain\nA1,acme.com\n"),
        Some(
            "no column for the account name (expected one of: name, Account Name, Company \
             name, Company, …); the header (line 1, comma-separated) reads: Accounts export \
             2026-11-23"
                .into()
        )
    );
}

#[test]
fn a_mac_excel_csv_with_lone_cr_line_ends_is_read_as_mac_roman() {
    // Excel for Mac's "CSV (Macintosh)": lone CR line ends and Mac OS Roman bytes, where
    // 0x8E is é (Windows-1252 would read Ž).
    let (rows, errors, _) =
        accounts(b"Account Name,Industry\rSoci\x8Et\x8E G\x8En\x8Erale,Caf\x8E\r");
    assert_eq!(errors, vec![]);
    assert_eq!(rows[0].name, "Société Générale");
    assert_eq!(rows[0].industry, some("Café"));
    // UTF-8 with lone CRs stays UTF-8; Windows-1252 with CRLF stays Windows-1252.
    let (rows, _, _) = accounts("name\rSociété\r".as_bytes());
    assert_eq!(rows[0].name, "Société");
    // One stray byte in such a file does not turn its UTF-8 letters into Mac Roman.
    let (rows, _, _) = accounts(
        "name\rSociété\rA\u{0}"
            .as_bytes()
            .iter()
            .map(|&b| if b == 0 { 0xE9 } else { b })
            .collect::<Vec<u8>>()
            .as_slice(),
    );
    assert_eq!(
        (rows[0].name.as_str(), rows[1].name.as_str()),
        ("Société", "Aé")
    );
    let (rows, _, _) = accounts(b"name\r\nSoci\xE9t\xE9\r\n");
    assert_eq!(rows[0].name, "Société");
}

proptest! {
    #[test]
    fn decoding_does_not_depend_on_how_reads_split_the_input(
        body in prop::collection::vec(
            prop_oneof![
                Just(b"a".to_vec()), Just(b",".to_vec()), Just(b"\n".to_vec()),
                Just(b"\r\n".to_vec()), Just(b"\"".to_vec()), Just("é".as_bytes().to_vec()),
                Just("😀".as_bytes().to_vec()), Just(b"\xE9".to_vec()), Just(b"\x80".to_vec()),
                Just(b"\xC3".to_vec()), Just(b"\xF0\x9F".to_vec()),
            ],
            0..60,
        ),
        utf16 in any::<bool>(),
    ) {
        let mut input = b"name,owner\n".to_vec();
        input.extend(body.concat());
        if utf16 {
            let text = String::from_utf8_lossy(&input).into_owned();
            input = b"\xFF\xFE".to_vec();
            input.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        }
        let collect = |items: Vec<Result<AccountRow, Vec<RowError>>>| {
            items
                .into_iter()
                .map(|r| r.map(|a| (a.name, a.owner)))
                .collect::<Vec<_>>()
        };
        let whole = collect(read_accounts(&input[..]).unwrap().collect());
        let bytewise = collect(read_accounts(OneByte(input.clone(), 0)).unwrap().collect());
        prop_assert_eq!(whole, bytewise);
    }
}
