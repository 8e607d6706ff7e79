//! The samples of a run, their medians and ratios, and the table and CSV they are shown as.
//!
//! A ratio is a peer's median over the best median of libfuse's and fuser's peers in the same
//! workload and caching group ("× best peer"), and over the raw responder's where it ran
//! ("× raw"). Figures are throughputs, so above 1 is faster.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::peers::{Caching, Family, Peer};
use crate::workloads::{Sizes, Workload, ALL};

/// What one peer did in one workload: its figures, or why it has none.
#[derive(Debug, Clone, Default)]
pub struct Cell {
    /// One figure per round.
    pub samples: Vec<f64>,
    /// The first error, if a round failed.
    pub error: Option<String>,
}

/// Every figure of a run, by workload, caching group and peer (in catalogue order).
#[derive(Debug, Default)]
pub struct Results {
    cells: BTreeMap<(Workload, Caching, usize), Cell>,
}

/// One line of the report.
#[derive(Debug, Clone)]
pub struct Row {
    /// The peer's name.
    pub peer: String,
    /// Who wrote it.
    pub family: Family,
    /// Median of its samples (`NaN` when it has none).
    pub median: f64,
    /// Smallest and largest sample.
    pub min: f64,
    /// Largest sample.
    pub max: f64,
    /// How many samples.
    pub samples: usize,
    /// Median over the best peer library's median.
    pub vs_best_peer: Option<f64>,
    /// Median over the raw responder's.
    pub vs_raw: Option<f64>,
    /// Why it has no figure, or missed rounds.
    pub error: Option<String>,
}

/// One workload in one caching group, with its rows in catalogue order.
#[derive(Debug, Clone)]
pub struct Group {
    /// The workload.
    pub workload: Workload,
    /// The caching group.
    pub caching: Caching,
    /// The workload's name, with its size.
    pub name: String,
    /// Its name in the report: workload, caching group and unit.
    pub title: String,
    /// Name of the best peer library, if one ran.
    pub best_peer: Option<String>,
    /// The rows.
    pub rows: Vec<Row>,
}

/// The median of `samples` (the mean of the middle two for an even count; `NaN` if empty).
pub fn median(samples: &[f64]) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

impl Results {
    /// Records a figure of peer number `peer`.
    pub fn add(&mut self, workload: Workload, caching: Caching, peer: usize, figure: f64) {
        self.cells.entry((workload, caching, peer)).or_default().samples.push(figure);
    }

    /// Records that peer number `peer` failed a round (the first error is kept).
    pub fn fail(&mut self, workload: Workload, caching: Caching, peer: usize, error: String) {
        self.cells.entry((workload, caching, peer)).or_default().error.get_or_insert(error);
    }

    /// The groups of the report, in workload then caching order, with medians and ratios.
    pub fn groups(&self, peers: &[Peer], sizes: &Sizes) -> Vec<Group> {
        let mut groups = Vec::new();
        for workload in ALL {
            for caching in [Caching::None, Caching::Cached, Caching::Hello] {
                let cells: Vec<(usize, &Cell)> =
                    (0..peers.len()).filter_map(|i| self.cells.get(&(workload, caching, i)).map(|c| (i, c))).collect();
                if cells.is_empty() {
                    continue;
                }
                let median_of = |family: fn(Family) -> bool| {
                    cells
                        .iter()
                        .filter(|(i, c)| family(peers[*i].family) && !c.samples.is_empty())
                        .map(|(i, c)| (median(&c.samples), &peers[*i].name))
                        .max_by(|a, b| a.0.total_cmp(&b.0))
                };
                let best = median_of(Family::is_peer_library);
                let raw = median_of(|f| f == Family::Raw).map(|(m, _)| m);
                let rows = cells
                    .iter()
                    .map(|(i, cell)| {
                        let m = median(&cell.samples);
                        let has = !cell.samples.is_empty();
                        Row {
                            peer: peers[*i].name.clone(),
                            family: peers[*i].family,
                            median: m,
                            min: cell.samples.iter().copied().fold(f64::INFINITY, f64::min),
                            max: cell.samples.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                            samples: cell.samples.len(),
                            vs_best_peer: best.filter(|_| has).map(|(b, _)| m / b),
                            vs_raw: raw.filter(|_| has).map(|r| m / r),
                            error: cell.error.clone(),
                        }
                    })
                    .collect();
                let name = workload.name(sizes);
                groups.push(Group {
                    workload,
                    caching,
                    title: format!("{name} ({}, {})", caching.name(), workload.unit()),
                    name,
                    best_peer: best.map(|(_, name)| name.clone()),
                    rows,
                });
            }
        }
        groups
    }
}

fn ratio(r: Option<f64>) -> String {
    r.map_or(String::new(), |r| format!("{r:.2}x"))
}

fn figure(value: f64) -> String {
    if value.is_nan() {
        "-".into()
    } else if value >= 100.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

/// The table printed at the end of a run.
pub fn table(groups: &[Group]) -> String {
    let mut out = String::new();
    for group in groups {
        let best = group.best_peer.as_deref().unwrap_or("none ran");
        let _ = writeln!(out, "\n{}  [best peer: {best}]", group.title);
        let _ = writeln!(out, "  {:<28} {:>12} {:>9} {:>9} {:>6}", "peer", "median", "x best", "x raw", "n");
        for row in &group.rows {
            let _ = writeln!(
                out,
                "  {:<28} {:>12} {:>9} {:>9} {:>6}{}",
                row.peer,
                figure(row.median),
                ratio(row.vs_best_peer),
                ratio(row.vs_raw),
                row.samples,
                row.error.as_deref().map_or(String::new(), |e| format!("  failed: {e}"))
            );
        }
    }
    out
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// The same as CSV, one line per peer and group, with a header line.
pub fn csv(groups: &[Group]) -> String {
    let mut out = String::from("workload,caching,unit,peer,family,median,min,max,samples,vs_best_peer,vs_raw,error\n");
    let number = |v: f64| if v.is_finite() { format!("{v:.3}") } else { String::new() };
    let option = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.4}"));
    for group in groups {
        for row in &group.rows {
            let fields = [
                csv_field(&group.name),
                csv_field(group.caching.name()),
                group.workload.unit().to_string(),
                csv_field(&row.peer),
                row.family.name().to_string(),
                number(row.median),
                number(row.min),
                number(row.max),
                row.samples.to_string(),
                option(row.vs_best_peer),
                option(row.vs_raw),
                csv_field(row.error.as_deref().unwrap_or("")),
            ];
            out.push_str(&fields.join(","));
            out.push('\n');
        }
    }
    out
}
