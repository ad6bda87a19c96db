//! The Gantt chart: one row per step (a `<details>` whose summary is the bar), the hosts of
//! a step drawn by the page's script only when the row is opened, from embedded data.

use std::fmt::Write;

use super::model::{Kind, Model, Segment};
use super::{escape, millis, ms, status_class, RunPage};
use crate::event::narrate::status_word;
use crate::event::state::StepStatus;

/// When a step's first recorded work began, in ms; none when it never began.
fn started(row: &super::model::StepRow) -> Option<u64> {
    row.segments.iter().map(|segment| segment.from).min()
}

/// Width of a bar in SVG user units; bars scale to the page.
pub(super) const WIDTH: u64 = 1000;

/// x of `t` on a bar of [`WIDTH`] for a chart spanning `span` ms.
pub(super) fn x(t: u64, span: u64) -> f64 {
    (t as f64 * WIDTH as f64 / span as f64).min(WIDTH as f64)
}

/// A round tick interval (1, 2, 5, 10, 15 or 30 of a second, minute or hour, in ms) for
/// about eight ticks.
pub(super) fn tick(span: u64) -> u64 {
    const ROUND: [u64; 18] = [
        100, 200, 500, 1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000,
        600_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 18_000_000,
    ];
    let rough = span / 8;
    ROUND
        .iter()
        .copied()
        .find(|step| *step >= rough)
        .unwrap_or_else(|| rough.max(1))
}

/// The times of the ticks along an axis of `span` ms: every [`tick`] from 0, at most 51.
pub(super) fn ticks(span: u64) -> impl Iterator<Item = u64> {
    let step = tick(span);
    (0..=(span / step).min(50)).map(move |i| i * step)
}

fn axis(out: &mut String, span: u64) {
    let _ = write!(
        out,
        "<div class=\"row axis\"><span class=\"label\"></span><svg class=\"bar\" \
         viewBox=\"0 0 {WIDTH} 16\" preserveAspectRatio=\"none\">"
    );
    for t in ticks(span) {
        let _ = write!(
            out,
            "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"10\" y2=\"16\"/>",
            x(t, span)
        );
    }
    out.push_str("</svg><span class=\"times\"></span></div><div class=\"row axis-labels\"><span class=\"label\"></span><span class=\"ticks\">");
    for t in ticks(span) {
        let _ = write!(
            out,
            "<span style=\"left:{:.2}%\">{}</span>",
            x(t, span) / WIDTH as f64 * 100.0,
            ms(t)
        );
    }
    out.push_str("</span><span class=\"times\"></span></div>");
}

fn rect(out: &mut String, segment: &Segment, span: u64) {
    let from = x(segment.from, span);
    // A sliver stays visible: a 50 ms probe on a three-hour chart is still a mark.
    let width = (x(segment.to, span) - from).max(0.8);
    let _ = write!(
        out,
        "<rect class=\"seg seg-{}\" x=\"{from:.1}\" y=\"2\" width=\"{width:.1}\" height=\"12\">\
         <title>{}: +{} → +{} ({})</title></rect>",
        segment.kind.name(),
        segment.kind.meaning(),
        ms(segment.from),
        ms(segment.to),
        ms(segment.to.saturating_sub(segment.from)),
    );
}

/// The legend and one row per step.
pub(super) fn section(out: &mut String, page: &RunPage, model: &Model, span: u64) {
    let _ = write!(
        out,
        "<section id=\"gantt\" data-chain=\"{}\"><h2>Timeline</h2><p class=\"legend\">",
        if model.chain.to_failure {
            "to-failure"
        } else {
            "critical"
        }
    );
    for kind in Kind::ALL {
        let _ = write!(
            out,
            "<span><i class=\"swatch seg-{}\"></i>{}</span>",
            kind.name(),
            escape(kind.meaning())
        );
    }
    let _ = write!(
        out,
        "<span><i class=\"swatch plan\"></i>plan window</span>\
         <span><i class=\"swatch critical\"></i>{}: the stretch each step held it</span></p>\
         <p class=\"hint\">Open a row to see its hosts. \
         <input id=\"filter\" type=\"search\" placeholder=\"filter steps\"></p>",
        model.chain.legend()
    );
    axis(out, span);
    // Where the time went reads top to bottom: failed steps first, then by when each step's
    // work began (steps that never began last), not in declaration order.
    let mut rows: Vec<&super::model::StepRow> = model.rows.iter().collect();
    rows.sort_by_key(|row| {
        (
            row.status != StepStatus::Failed,
            started(row).unwrap_or(u64::MAX),
        )
    });
    for row in rows {
        let step = &page.plan.steps[row.step];
        let subsystem = &page.topology.subsystems[step.step.subsystem];
        let link = model.chain.link(row.step);
        let critical = link.is_some();
        let _ = write!(
            out,
            "<details class=\"row step status-{}{}\" data-step=\"{}\" data-subsystem=\"{}\" \
             data-index=\"{}\" data-tier=\"{}\" data-critical=\"{critical}\" data-bars=\"{}\" \
             data-start=\"{}\">\
             <summary><span class=\"label\" title=\"{}\">{}{}</span>\
             <svg class=\"bar\" viewBox=\"0 0 {WIDTH} 16\" preserveAspectRatio=\"none\">",
            status_class(&row.status),
            if critical { " critical" } else { "" },
            escape(&step.id),
            escape(&subsystem.name),
            row.step,
            subsystem.tier,
            row.segments.len(),
            started(row).map_or_else(|| "none".to_string(), |t| t.to_string()),
            escape(&step.id),
            if critical { "★ " } else { "" },
            escape(&step.id),
        );
        let (plan_from, plan_to) = (millis(step.earliest_start), millis(step.ready_at));
        let _ = write!(
            out,
            "<rect class=\"plan\" x=\"{:.1}\" y=\"0.5\" width=\"{:.1}\" height=\"15\">\
             <title>plan: +{} → +{}</title></rect>",
            x(plan_from, span),
            (x(plan_to, span) - x(plan_from, span)).max(0.8),
            ms(plan_from),
            ms(plan_to)
        );
        for segment in &row.segments {
            rect(out, segment, span);
        }
        if let Some(link) = link {
            let from = x(link.from, span);
            let _ = write!(
                out,
                "<rect class=\"chain\" data-from-ms=\"{}\" data-to-ms=\"{}\" x=\"{from:.1}\" \
                 y=\"0.5\" width=\"{:.1}\" height=\"15\"><title>{}: +{} → +{}</title></rect>",
                link.from,
                link.to,
                (x(link.to, span) - from).max(0.8),
                model.chain.legend(),
                ms(link.from),
                ms(link.to)
            );
        }
        if let Some(at) = row.ready_at {
            let _ = write!(
                out,
                "<line class=\"ready-mark\" x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"0\" y2=\"16\"/>",
                x(at, span)
            );
        }
        let _ = write!(
            out,
            "</svg><span class=\"times\"><span class=\"status-word\">{}</span>{} · {}</span>\
             </summary><div class=\"hosts\"></div></details>",
            escape(status_word(&row.status)),
            match (row.ready_at, row.status == StepStatus::Ready) {
                (Some(at), true) => format!(" +{}", ms(at)),
                (Some(at), false) => format!(" (was ready +{})", ms(at)),
                (None, _) => String::new(),
            },
            crate::units::count(step.hosts.len(), "host", "hosts"),
        );
    }
    out.push_str("</section>");
}

/// Per step, per host: `[host name, [[kind, from, to], ...]]`, drawn when a row is opened.
pub(super) fn host_data(page: &RunPage, model: &Model) -> serde_json::Value {
    let kinds: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
    let steps: Vec<serde_json::Value> = model
        .rows
        .iter()
        .map(|row| {
            row.nodes
                .iter()
                .map(|node| {
                    let segments: Vec<serde_json::Value> = node
                        .segments
                        .iter()
                        .map(|s| {
                            let kind = Kind::ALL.iter().position(|k| *k == s.kind).unwrap_or(0);
                            serde_json::json!([kind, s.from, s.to])
                        })
                        .collect();
                    serde_json::json!([page.topology.hosts[node.host].name, segments])
                })
                .collect()
        })
        .collect();
    let span = model.end_ms.max(millis(page.plan.eta)).max(1);
    serde_json::json!({ "span": span, "kinds": kinds, "steps": steps })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_about_eight() {
        assert_eq!(tick(8_000), 1_000);
        assert_eq!(tick(3 * 3_600_000), 1_800_000);
        assert_eq!(tick(0), 100);
        assert_eq!(tick(1_000 * 3_600_000), 125 * 3_600_000);
        assert!(x(5_000, 1_000) <= WIDTH as f64);
    }
}
