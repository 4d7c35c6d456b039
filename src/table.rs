//! Result rows and their tables: rows of typed cells become a polars `DataFrame`, which is
//! written to and read from CSV. Floats are written in shortest round-trip form, so a CSV
//! holds exactly the computed numbers and the same numbers give the same bytes.

use crate::{Error, Result};
use polars::prelude::*;
use std::path::Path;

/// One value of a result row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Int(i64),
    Float(f64),
    Str(String),
}

/// One grid point's result: named cells in column order.
#[derive(Debug, Clone, PartialEq)]
pub struct Row(pub Vec<(String, Cell)>);

impl Row {
    /// An empty row.
    pub fn new() -> Row {
        Row(Vec::new())
    }

    /// Append an integer cell.
    pub fn int(mut self, name: &str, v: usize) -> Row {
        self.0.push((name.to_string(), Cell::Int(v as i64)));
        self
    }

    /// Append a float cell.
    pub fn float(mut self, name: &str, v: f64) -> Row {
        self.0.push((name.to_string(), Cell::Float(v)));
        self
    }

    /// Append a text cell.
    pub fn text(mut self, name: &str, v: &str) -> Row {
        self.0.push((name.to_string(), Cell::Str(v.to_string())));
        self
    }

    /// Serialise for the cache: one `name\tkind\tvalue` line per cell, floats as exact bits.
    pub fn to_cache_text(&self) -> String {
        let mut s = String::new();
        for (name, cell) in &self.0 {
            let (kind, value) = match cell {
                Cell::Int(v) => ("i", v.to_string()),
                Cell::Float(v) => ("f", format!("{:016x}", v.to_bits())),
                Cell::Str(v) => ("s", v.replace(['\t', '\n'], " ")),
            };
            s.push_str(&format!("{name}\t{kind}\t{value}\n"));
        }
        s
    }

    /// Inverse of `to_cache_text`; None if the text is not a well-formed row.
    pub fn from_cache_text(text: &str) -> Option<Row> {
        let mut cells = Vec::new();
        for line in text.lines() {
            let mut parts = line.splitn(3, '\t');
            let (name, kind, value) = (parts.next()?, parts.next()?, parts.next()?);
            let cell = match kind {
                "i" => Cell::Int(value.parse().ok()?),
                "f" => Cell::Float(f64::from_bits(u64::from_str_radix(value, 16).ok()?)),
                "s" => Cell::Str(value.to_string()),
                _ => return None,
            };
            cells.push((name.to_string(), cell));
        }
        Some(Row(cells))
    }
}

impl Default for Row {
    fn default() -> Row {
        Row::new()
    }
}

fn polars_err(context: &str) -> impl Fn(PolarsError) -> Error + '_ {
    move |e| Error::Internal(format!("{context}: {e}"))
}

/// The rows of `df` where `keep` is true, in their order.
pub fn filter_rows(df: &DataFrame, keep: &[bool]) -> Result<DataFrame> {
    let mask = BooleanChunked::from_slice("keep".into(), keep);
    df.filter(&mask).map_err(polars_err("filter rows"))
}

/// Rows (all with the same columns, in the same order) to a DataFrame.
pub fn rows_to_frame(rows: &[Row]) -> Result<DataFrame> {
    let first = rows
        .first()
        .ok_or_else(|| Error::Input("no rows to tabulate".into()))?;
    let mut columns = Vec::with_capacity(first.0.len());
    for (c, (name, cell)) in first.0.iter().enumerate() {
        let get = |r: &Row| -> Result<Cell> {
            match r.0.get(c) {
                Some((n, v)) if n == name => Ok(v.clone()),
                _ => Err(Error::Internal(format!("row columns differ at '{name}'"))),
            }
        };
        let column = match cell {
            Cell::Int(_) => {
                let v: Result<Vec<i64>> = rows
                    .iter()
                    .map(|r| match get(r)? {
                        Cell::Int(x) => Ok(x),
                        _ => Err(Error::Internal(format!("column '{name}' mixes types"))),
                    })
                    .collect();
                Column::new(name.as_str().into(), v?)
            }
            Cell::Float(_) => {
                let v: Result<Vec<f64>> = rows
                    .iter()
                    .map(|r| match get(r)? {
                        Cell::Float(x) => Ok(x),
                        _ => Err(Error::Internal(format!("column '{name}' mixes types"))),
                    })
                    .collect();
                Column::new(name.as_str().into(), v?)
            }
            Cell::Str(_) => {
                let v: Result<Vec<String>> = rows
                    .iter()
                    .map(|r| match get(r)? {
                        Cell::Str(x) => Ok(x),
                        _ => Err(Error::Internal(format!("column '{name}' mixes types"))),
                    })
                    .collect();
                Column::new(name.as_str().into(), v?)
            }
        };
        columns.push(column);
    }
    DataFrame::new(rows.len(), columns).map_err(polars_err("building the table"))
}

/// The CSV bytes of a DataFrame (header, comma separator, shortest round-trip floats).
pub fn frame_to_csv(df: &mut DataFrame) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    CsvWriter::new(&mut buf)
        .include_header(true)
        .finish(df)
        .map_err(polars_err("writing CSV"))?;
    Ok(buf)
}

/// Read a CSV written by `frame_to_csv`.
pub fn read_csv(path: &Path) -> Result<DataFrame> {
    if !path.exists() {
        return Err(Error::Read {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        });
    }
    CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(None)
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .and_then(|r| r.finish())
        .map_err(|e| Error::Data(format!("{}: not a readable CSV ({e})", path.display())))
}

/// Read CSV bytes written by `frame_to_csv` (`what` names them in errors), exactly as
/// `read_csv` reads the file: figures are drawn from this, so a figure is a function of its
/// CSV alone.
pub fn read_csv_bytes(bytes: &[u8], what: &str) -> Result<DataFrame> {
    CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(None)
        .into_reader_with_file_handle(std::io::Cursor::new(bytes.to_vec()))
        .finish()
        .map_err(|e| Error::Data(format!("{what}: not a readable CSV ({e})")))
}

/// A float column (integers are converted), naming the column when it is missing.
pub fn f64_col(df: &DataFrame, name: &str) -> Result<Vec<f64>> {
    let col = df
        .column(name)
        .map_err(|_| Error::Data(format!("the table has no column '{name}'")))?;
    let cast = col
        .cast(&DataType::Float64)
        .map_err(polars_err("reading a float column"))?;
    let ca = cast.f64().map_err(polars_err("reading a float column"))?;
    Ok(ca.iter().map(|v| v.unwrap_or(f64::NAN)).collect())
}

/// An integer column.
pub fn i64_col(df: &DataFrame, name: &str) -> Result<Vec<i64>> {
    let col = df
        .column(name)
        .map_err(|_| Error::Data(format!("the table has no column '{name}'")))?;
    let cast = col
        .cast(&DataType::Int64)
        .map_err(polars_err("reading an integer column"))?;
    let ca = cast
        .i64()
        .map_err(polars_err("reading an integer column"))?;
    Ok(ca.iter().map(|v| v.unwrap_or(i64::MIN)).collect())
}

/// Every cell of a column rendered as text (for comparisons and messages).
pub fn str_values(df: &DataFrame, name: &str) -> Result<Vec<String>> {
    let col = df
        .column(name)
        .map_err(|_| Error::Data(format!("the table has no column '{name}'")))?;
    let cast = col
        .cast(&DataType::String)
        .map_err(polars_err("reading a column as text"))?;
    let ca = cast.str().map_err(polars_err("reading a column as text"))?;
    Ok(ca.iter().map(|v| v.unwrap_or("").to_string()).collect())
}

/// Group `values` by `key`, returning (key, mean, sample std) in increasing key order.
pub fn mean_std_by<K: Ord + Copy>(keys: &[K], values: &[f64]) -> Vec<(K, f64, f64)> {
    let mut groups: std::collections::BTreeMap<K, Vec<f64>> = Default::default();
    for (k, v) in keys.iter().zip(values) {
        groups.entry(*k).or_default().push(*v);
    }
    groups
        .into_iter()
        .map(|(k, v)| {
            let n = v.len() as f64;
            let mean = v.iter().sum::<f64>() / n;
            let var = if v.len() > 1 {
                v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
            } else {
                0.0
            };
            (k, mean, var.sqrt())
        })
        .collect()
}
