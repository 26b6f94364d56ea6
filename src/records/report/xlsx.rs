//! The XLSX workbook (rust_xlsxwriter): sheet 1 the calls (one row per
//! call, seconds as numbers), sheet 2 the totals per category, per day and
//! per hour of day, the answer-time percentiles and the top callers.

use super::csv::{cells, Cell};
use super::extract::Extract;
use super::lang::{headings, totals_words, Language};
use super::ReportError;
use rust_xlsxwriter::{Format, Workbook, Worksheet};

/// The workbook's bytes.
pub fn write(x: &Extract) -> Result<Vec<u8>, ReportError> {
    let mut book = Workbook::new();
    let bold = Format::new().set_bold();
    calls_sheet(book.add_worksheet_with_constant_memory()?, x, &bold)?;
    totals_sheet(book.add_worksheet(), x, &bold)?;
    Ok(book.save_to_buffer()?)
}

fn sheet_names(lang: Language) -> (&'static str, &'static str) {
    match lang {
        Language::Da => ("Opkald", "Totaler"),
        Language::Nb => ("Anrop", "Totaler"),
    }
}

fn calls_sheet(ws: &mut Worksheet, x: &Extract, bold: &Format) -> Result<(), ReportError> {
    ws.set_name(sheet_names(x.language).0)?;
    for (col, h) in headings(x.language).iter().enumerate() {
        ws.write_string_with_format(0, col as u16, *h, bold)?;
    }
    for (i, call) in x.calls.iter().enumerate() {
        let row = i as u32 + 1;
        for (col, cell) in cells(call).into_iter().enumerate() {
            match cell {
                Cell::Text(s) if !s.is_empty() => {
                    ws.write_string(row, col as u16, s)?;
                }
                Cell::Seconds(Some(v)) => {
                    ws.write_number(row, col as u16, v)?;
                }
                _ => {}
            }
        }
    }
    ws.set_freeze_panes(1, 0)?;
    Ok(())
}

fn totals_sheet(ws: &mut Worksheet, x: &Extract, bold: &Format) -> Result<(), ReportError> {
    ws.set_name(sheet_names(x.language).1)?;
    let [category, date, hour, calls, answer, seconds, top, total] = totals_words(x.language);
    let mut row = 0u32;
    let heading =
        |ws: &mut Worksheet, row: &mut u32, a: &str, b: &str| -> Result<(), ReportError> {
            ws.write_string_with_format(*row, 0, a, bold)?;
            ws.write_string_with_format(*row, 1, b, bold)?;
            *row += 1;
            Ok(())
        };
    heading(ws, &mut row, category, calls)?;
    for (_, label, n) in &x.totals.by_category {
        ws.write_string(row, 0, *label)?;
        ws.write_number(row, 1, *n as f64)?;
        row += 1;
    }
    ws.write_string_with_format(row, 0, total, bold)?;
    ws.write_number(row, 1, x.totals.calls as f64)?;
    row += 2;
    heading(ws, &mut row, date, calls)?;
    for (day, n) in &x.totals.by_day {
        ws.write_string(row, 0, day)?;
        ws.write_number(row, 1, *n as f64)?;
        row += 1;
    }
    row += 1;
    heading(ws, &mut row, hour, calls)?;
    for (h, n) in x.totals.by_hour.iter().enumerate() {
        ws.write_string(row, 0, format!("{h:02}"))?;
        ws.write_number(row, 1, *n as f64)?;
        row += 1;
    }
    row += 1;
    heading(ws, &mut row, answer, seconds)?;
    let p = &x.answer_time;
    let rows = [
        ("n", Some(p.answered as f64)),
        ("p50", p.p50_s),
        ("p80", p.p80_s),
        ("p90", p.p90_s),
        ("p95", p.p95_s),
        ("p99", p.p99_s),
        ("max", p.max_s),
    ];
    for (name, v) in rows {
        ws.write_string(row, 0, name)?;
        if let Some(v) = v {
            ws.write_number(row, 1, v)?;
        }
        row += 1;
    }
    row += 1;
    heading(ws, &mut row, top, calls)?;
    for (caller, n) in &x.top_callers {
        ws.write_string(row, 0, caller)?;
        ws.write_number(row, 1, *n as f64)?;
        row += 1;
    }
    Ok(())
}
