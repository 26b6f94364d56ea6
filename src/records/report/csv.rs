//! CSV that Danish Excel opens as columns: UTF-8 with a byte-order mark,
//! `;` between fields, a decimal comma, CRLF line ends, fields quoted when
//! they hold `;`, `"` or a line break. One row per call.

use super::extract::{Extract, ExtractRow};
use super::lang::headings;

/// One cell of the call list.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Text (empty when absent).
    Text(String),
    /// Seconds, written with a decimal comma in CSV, as a number in XLSX.
    Seconds(Option<f64>),
}

fn text(s: Option<&str>) -> Cell {
    Cell::Text(s.unwrap_or_default().to_string())
}

/// The cells of one call, in [`headings`] order.
pub fn cells(c: &ExtractRow) -> Vec<Cell> {
    let r = &c.record;
    vec![
        text(Some(&r.call_id)),
        text(Some(c.category)),
        text(Some(&c.received)),
        text(c.answered.as_deref()),
        text(c.ended.as_deref()),
        Cell::Seconds(c.wait_s),
        Cell::Seconds(c.talk_s),
        text(Some(&r.caller)),
        text(r.account.as_deref()),
        text(Some(&r.protocol)),
        text(r.class.as_deref()),
        text(Some(&r.events.join(" | "))),
        text(Some(&r.operators.join(", "))),
        text(r.queue.as_deref()),
        text(Some(&r.overflows.join(" | "))),
        text(r.forwarded_to.as_deref()),
        text(r.end_reason.as_deref()),
        text(r.disposition.as_deref()),
        text(r.note.as_deref()),
        text(r.disposition_by.as_deref()),
        text(r.recall_of.as_deref()),
        text(r.recalled_by.as_deref()),
        text(r.recording.as_deref()),
        text(r.recording_sha256.as_deref()),
        Cell::Seconds(r.recording_duration_ms.map(|ms| ms as f64 / 1000.0)),
        text(Some(if r.callback { "ja" } else { "" })),
    ]
}

/// Seconds with a decimal comma and up to three decimals (`12,5`).
pub fn decimal_comma(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.replace('.', ",")
}

fn field(out: &mut String, value: &str) {
    if value.contains([';', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

fn line<'a>(out: &mut String, values: impl IntoIterator<Item = &'a str>) {
    for (i, v) in values.into_iter().enumerate() {
        if i > 0 {
            out.push(';');
        }
        field(out, v);
    }
    out.push_str("\r\n");
}

/// The CSV bytes: BOM, the heading line, one line per call.
pub fn write(x: &Extract) -> Vec<u8> {
    let mut out = String::from('\u{feff}');
    line(&mut out, headings(x.language));
    for call in &x.calls {
        let values: Vec<String> = cells(call)
            .into_iter()
            .map(|c| match c {
                Cell::Text(s) => s,
                Cell::Seconds(v) => v.map(decimal_comma).unwrap_or_default(),
            })
            .collect();
        line(&mut out, values.iter().map(String::as_str));
    }
    out.into_bytes()
}
