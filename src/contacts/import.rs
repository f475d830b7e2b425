//! CSV import (R-CON-3). The file is read as a stream and its rows validated in order, in batches
//! that a writer stores as they come (see `contacts::import_csv`): one transaction, so either
//! every accepted row lands or none does, and memory stays bounded whatever the file's size.
//!
//! Columns (header names are case-insensitive; spaces and dashes count as `_`):
//! `first_name`, `last_name`, `email`, `mobile`, `home`, `work`, `other` (alias `phone`),
//! `tags`, `street`, `city`, `state`, `zip`, `country`, `time_zone`, and `field:NAME` for a
//! custom field. Several numbers or tags in one cell are separated by `;`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::model::{Address, ContactInput, NewContact, PhoneInput, Source};
use crate::accounts::model::Country;
use crate::domain::phone::Label;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    FirstName,
    LastName,
    Email,
    Phone(Label),
    Tags,
    Street,
    City,
    State,
    Zip,
    Country,
    TimeZone,
    Field(usize),
}

fn column(name: &str) -> Option<Column> {
    Some(match name {
        "first_name" | "firstname" | "first" | "given_name" => Column::FirstName,
        "last_name" | "lastname" | "last" | "surname" | "family_name" => Column::LastName,
        "email" | "e_mail" | "email_address" => Column::Email,
        "mobile" | "cell" | "mobile_phone" | "cell_phone" => Column::Phone(Label::Mobile),
        "home" | "home_phone" => Column::Phone(Label::Home),
        "work" | "work_phone" | "office_phone" => Column::Phone(Label::Work),
        "other" | "phone" | "other_phone" | "phone_number" => Column::Phone(Label::Other),
        "tags" | "tag" => Column::Tags,
        "street" | "address" | "street_address" => Column::Street,
        "city" => Column::City,
        "state" | "province" | "region" => Column::State,
        "zip" | "zip_code" | "postal_code" | "postcode" => Column::Zip,
        "country" => Column::Country,
        "time_zone" | "timezone" | "tz" => Column::TimeZone,
        _ => return None,
    })
}

/// A problem with the file as a whole: nothing is imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileError {
    Empty,
    NotUtf8 { line: u64 },
    UnknownColumns(Vec<String>),
    DuplicateColumn(String),
    NoUsableColumn,
    Unreadable { line: u64, message: String },
}

impl FileError {
    pub fn code(&self) -> &'static str {
        match self {
            FileError::Empty => "csv_empty",
            FileError::NotUtf8 { .. } => "csv_not_utf8",
            FileError::UnknownColumns(_) => "csv_unknown_columns",
            FileError::DuplicateColumn(_) => "csv_duplicate_column",
            FileError::NoUsableColumn => "csv_no_usable_column",
            FileError::Unreadable { .. } => "csv_unreadable",
        }
    }
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FileError::Empty => {
                write!(f, "The CSV file has no contacts: it needs a header line and at least one row.")
            }
            FileError::NotUtf8 { line } => {
                write!(f, "Line {line} is not UTF-8 text; save the file as CSV UTF-8 and import it again.")
            }
            FileError::UnknownColumns(cols) => write!(
                f,
                "Unknown column(s): {}. Rename them to one of the documented columns, or prefix them with \
                 `field:` to keep them as custom fields.",
                cols.join(", ")
            ),
            FileError::DuplicateColumn(c) => write!(f, "The column `{c}` appears twice in the header."),
            FileError::NoUsableColumn => write!(
                f,
                "The header has no name, email or phone column (first_name, last_name, email, mobile, home, work, other)."
            ),
            FileError::Unreadable { line, message } => {
                write!(f, "Line {line} cannot be read as CSV: {message}.")
            }
        }
    }
}

/// A row that was not accepted, with its line in the file (1 = the header) and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejected {
    pub line: u64,
    pub reason: String,
}

/// The rows of a file: accepted contacts and rejected lines.
#[derive(Debug, Default)]
pub struct Parsed {
    pub contacts: Vec<NewContact>,
    pub rejected: Vec<Rejected>,
}

/// The next rows of [`stream`], each with its line (a contact or why not), and how many bytes of
/// the file were read so far (for progress).
pub struct Rows {
    pub rows: Vec<(u64, Result<NewContact, String>)>,
    pub bytes_read: u64,
}

/// Rows per [`Event::Rows`].
const BATCH: usize = 1_000;

/// A CSV error as a file problem, with its line.
fn unreadable(e: csv::Error) -> FileError {
    let line = e.position().map(|p| p.line()).unwrap_or(1);
    match e.kind() {
        csv::ErrorKind::Utf8 { pos, .. } => {
            FileError::NotUtf8 { line: pos.as_ref().map_or(line, |p| p.line()) }
        }
        _ => FileError::Unreadable { line, message: e.to_string() },
    }
}

/// Reads a CSV file as it comes and validates its rows; numbers are parsed with `region` as the
/// default region.
pub fn stream(
    source: impl std::io::Read,
    region: &Country,
    mut emit: impl FnMut(Rows),
) -> Result<(), FileError> {
    use std::io::BufRead;
    let mut source = std::io::BufReader::with_capacity(64 * 1024, source);
    let start = source.fill_buf().map_err(|e| FileError::Unreadable { line: 1, message: e.to_string() })?;
    if start.starts_with(b"\xEF\xBB\xBF") {
        source.consume(3);
    }
    let mut reader = csv::ReaderBuilder::new().flexible(true).has_headers(true).from_reader(source);
    let headers = reader.headers().map_err(unreadable)?.clone();
    let width = headers.len();
    if headers.iter().all(|h| h.trim().is_empty()) {
        return Err(FileError::Empty);
    }
    let mut columns = Vec::with_capacity(headers.len());
    let mut field_names = Vec::new();
    let mut unknown = Vec::new();
    for h in headers.iter() {
        let raw = h.trim();
        let col = if raw.len() > 6 && raw[..6].eq_ignore_ascii_case("field:") {
            field_names.push(raw[6..].trim().to_owned());
            Some(Column::Field(field_names.len() - 1))
        } else {
            column(&raw.to_lowercase().replace([' ', '-'], "_"))
        };
        match col {
            Some(c) if !matches!(c, Column::Field(_)) && columns.contains(&Some(c)) => {
                return Err(FileError::DuplicateColumn(raw.to_owned()));
            }
            Some(c) => columns.push(Some(c)),
            None if raw.is_empty() => columns.push(None),
            None => unknown.push(raw.to_owned()),
        }
    }
    if !unknown.is_empty() {
        return Err(FileError::UnknownColumns(unknown));
    }
    if !columns
        .iter()
        .flatten()
        .any(|c| matches!(c, Column::FirstName | Column::LastName | Column::Email | Column::Phone(_)))
    {
        return Err(FileError::NoUsableColumn);
    }
    let (mut batch, mut any) = (Vec::with_capacity(BATCH), false);
    let mut rec = csv::StringRecord::new();
    while reader.read_record(&mut rec).map_err(unreadable)? {
        if rec.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        any = true;
        batch.push(row(&rec, &columns, &field_names, width, region));
        if batch.len() == BATCH {
            let rows = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
            emit(Rows { rows, bytes_read: reader.position().byte() });
        }
    }
    if !any {
        return Err(FileError::Empty);
    }
    if !batch.is_empty() {
        emit(Rows { rows: batch, bytes_read: reader.position().byte() });
    }
    Ok(())
}

/// Reads a whole CSV file into accepted contacts and rejected lines.
pub fn parse(bytes: &[u8], region: &Country) -> Result<Parsed, FileError> {
    let mut parsed = Parsed::default();
    stream(bytes, region, |batch| {
        for (line, result) in batch.rows {
            match result {
                Ok(c) => parsed.contacts.push(c),
                Err(reason) => parsed.rejected.push(Rejected { line, reason }),
            }
        }
    })?;
    Ok(parsed)
}

fn list(cell: &str) -> impl Iterator<Item = &str> {
    cell.split(';').map(str::trim).filter(|s| !s.is_empty())
}

fn row(
    rec: &csv::StringRecord,
    columns: &[Option<Column>],
    field_names: &[String],
    width: usize,
    region: &Country,
) -> (u64, Result<NewContact, String>) {
    let line = rec.position().map(|p| p.line()).unwrap_or(0);
    if rec.len() != width {
        return (line, Err(format!("the row has {} cells and the header {width}", rec.len())));
    }
    let mut input = ContactInput::default();
    let mut address = Address::default();
    let mut fields = BTreeMap::new();
    for (cell, col) in rec.iter().zip(columns) {
        let value = || Some(cell.trim().to_owned()).filter(|s| !s.is_empty());
        match col {
            None => {}
            Some(Column::FirstName) => input.first_name = value(),
            Some(Column::LastName) => input.last_name = value(),
            Some(Column::Email) => input.email = value(),
            Some(Column::Phone(label)) => {
                input.phones.extend(list(cell).map(|n| PhoneInput { number: n.to_owned(), label: *label }))
            }
            Some(Column::Tags) => input.tags.extend(list(cell).map(str::to_owned)),
            Some(Column::Street) => address.street = value(),
            Some(Column::City) => address.city = value(),
            Some(Column::State) => address.state = value(),
            Some(Column::Zip) => address.zip = value(),
            Some(Column::Country) => address.country = value(),
            Some(Column::TimeZone) => input.time_zone = value(),
            Some(Column::Field(i)) => {
                if let Some(v) = value() {
                    fields.insert(field_names[*i].clone(), v);
                }
            }
        }
    }
    if address != Address::default() {
        input.address = Some(address);
    }
    input.fields = fields;
    (line, input.validate(region, Source::Import).map_err(|e| e.reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us() -> Country {
        Country::parse("US").unwrap()
    }

    #[test]
    fn columns_lists_and_custom_fields() {
        let csv = "First Name,last-name,Mobile,work,Tags,field:Budget\n\
                   Jane,Doe,(312) 555-0100; 312-555-0101,312 555 0102,buyer;vip,450000\n";
        let p = parse(csv.as_bytes(), &us()).unwrap();
        assert!(p.rejected.is_empty());
        let c = &p.contacts[0];
        assert_eq!(c.phones.len(), 3);
        assert_eq!(c.phones[2].label, Label::Work);
        assert_eq!(c.tags, vec!["buyer", "vip"]);
        assert_eq!(c.fields["Budget"], "450000");
        assert_eq!(c.source, Source::Import);
    }

    #[test]
    fn every_bad_row_is_reported_with_its_line() {
        let csv =
            "first_name,email,time_zone\nAnn,ann@example.com,\n,not-an-email,\nBob,,Mars/Base\nCid\n,,\n";
        let p = parse(csv.as_bytes(), &us()).unwrap();
        assert_eq!(p.contacts.len(), 1);
        let lines: Vec<u64> = p.rejected.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![3, 4, 5]);
        assert!(p.rejected[0].reason.contains("email"), "{:?}", p.rejected);
    }

    #[test]
    fn file_level_problems() {
        assert_eq!(parse(b"", &us()).unwrap_err(), FileError::Empty);
        assert_eq!(parse(b"first_name,email\n", &us()).unwrap_err(), FileError::Empty);
        assert_eq!(parse(b"first_name\nJos\xe9\n", &us()).unwrap_err(), FileError::NotUtf8 { line: 2 });
        assert_eq!(
            parse(b"first_name,budget\nA,1\n", &us()).unwrap_err(),
            FileError::UnknownColumns(vec!["budget".into()])
        );
        assert_eq!(parse(b"city\nChicago\n", &us()).unwrap_err(), FileError::NoUsableColumn);
        assert!(matches!(parse(b"email,Email\na@b.co,a@b.co\n", &us()), Err(FileError::DuplicateColumn(_))));
    }

    #[test]
    fn the_demo_fixture_imports_cleanly() {
        let p = parse(include_bytes!("../../fixtures/contacts.csv"), &us()).unwrap();
        assert!(p.rejected.is_empty(), "{:?}", p.rejected);
        assert!(p.contacts.len() >= 45);
    }
}
