//! The run as a picture: one panel per workload and caching group, one bar per peer, its
//! length the peer's median over the best peer library's, with a line at 1.
//!
//! Plain SVG written by hand: a bar chart is a few rectangles and labels, and a plotting
//! crate would bring dozens of dependencies for it.

use std::fmt::Write as _;

use crate::peers::Family;
use crate::report::Group;

const WIDTH: f64 = 960.0;
const LABEL: f64 = 230.0;
const BAR_AREA: f64 = 520.0;
const BAR: f64 = 15.0;
const GAP: f64 = 4.0;
const TITLE: f64 = 24.0;
const PANEL_GAP: f64 = 14.0;
/// Ratios beyond this are drawn to the edge, with their value written out.
const SCALE_MAX: f64 = 2.0;

fn colour(family: Family) -> &'static str {
    match family {
        Family::Tmpfs => "#bbbbbb",
        Family::Raw => "#555555",
        Family::Libfuse => "#1b9e77",
        Family::Fuser => "#7570b3",
        Family::Puffs => "#d95f02",
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The SVG document for `groups`, headed by `heading` (the run's settings).
pub fn svg(groups: &[Group], heading: &str) -> String {
    let panels: Vec<&Group> = groups.iter().filter(|g| g.best_peer.is_some()).collect();
    let height =
        70.0 + panels.iter().map(|g| TITLE + g.rows.len() as f64 * (BAR + GAP) + PANEL_GAP).sum::<f64>() + 40.0;
    let x = |ratio: f64| LABEL + BAR_AREA * ratio.clamp(0.0, SCALE_MAX) / SCALE_MAX;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" font-family="sans-serif" font-size="12">"##
    );
    let _ = writeln!(out, r##"<rect width="100%" height="100%" fill="white"/>"##);
    let _ = writeln!(
        out,
        r##"<text x="10" y="22" font-size="16" font-weight="bold">puffs-rs against libfuse and fuser: median / best peer library (longer is faster)</text>"##
    );
    let _ = writeln!(out, r##"<text x="10" y="42" fill="#444">{}</text>"##, escape(heading));
    let legend = [Family::Puffs, Family::Libfuse, Family::Fuser, Family::Raw, Family::Tmpfs];
    for (i, family) in legend.into_iter().enumerate() {
        let lx = 10.0 + i as f64 * 110.0;
        let _ = writeln!(
            out,
            r##"<rect x="{lx}" y="50" width="12" height="12" fill="{}"/><text x="{}" y="60">{}</text>"##,
            colour(family),
            lx + 16.0,
            family.name()
        );
    }
    let mut y = 80.0;
    for group in panels {
        let best = group.best_peer.as_deref().unwrap_or_default();
        let _ = writeln!(
            out,
            r##"<text x="10" y="{}" font-weight="bold">{}</text><text x="{}" y="{}" fill="#444" text-anchor="end">1 = {}</text>"##,
            y + 14.0,
            escape(&group.title),
            WIDTH - 10.0,
            y + 14.0,
            escape(best)
        );
        let top = y + TITLE - 4.0;
        y += TITLE;
        for row in &group.rows {
            let _ = writeln!(
                out,
                r##"<text x="{}" y="{}" text-anchor="end">{}</text>"##,
                LABEL - 8.0,
                y + 12.0,
                escape(&row.peer)
            );
            match row.vs_best_peer {
                Some(ratio) if ratio.is_finite() => {
                    let _ = writeln!(
                        out,
                        r##"<rect x="{LABEL}" y="{y}" width="{:.1}" height="{BAR}" fill="{}"/><text x="{:.1}" y="{}">{ratio:.2}x{}</text>"##,
                        x(ratio) - LABEL,
                        colour(row.family),
                        x(ratio) + 4.0,
                        y + 12.0,
                        if ratio > SCALE_MAX { " (off scale)" } else { "" }
                    );
                }
                _ => {
                    let why = row.error.as_deref().unwrap_or("no figure");
                    let _ = writeln!(
                        out,
                        r##"<text x="{}" y="{}" fill="#a00">{}</text>"##,
                        LABEL + 4.0,
                        y + 12.0,
                        escape(why)
                    );
                }
            }
            y += BAR + GAP;
        }
        let one = x(1.0);
        let _ = writeln!(
            out,
            r##"<line x1="{one}" y1="{top}" x2="{one}" y2="{y}" stroke="black" stroke-dasharray="3,2"/>"##
        );
        y += PANEL_GAP;
    }
    let _ = writeln!(
        out,
        r##"<text x="10" y="{}" fill="#444">Bars are ratios of medians measured in the same run, interleaved; the dashed line is the best of libfuse and fuser.</text>"##,
        y + 16.0
    );
    out.push_str("</svg>\n");
    out
}
