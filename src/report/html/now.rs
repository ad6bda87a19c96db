//! The live page's "Now" section: what a run is doing this minute, as `status` says it —
//! every step in progress with the work under way on its nodes (starts in flight and their
//! attempt, probes, backoffs, attempts failed so far), the wall-clock elapsed time, and the
//! remaining ETA or how far behind the plan the run is.

use std::fmt::Write;
use std::time::Duration;

use super::escape;
use crate::plan::human;
use crate::report::status::RunStatus;

/// The section, already HTML; empty when no step is in progress and nothing is late.
pub fn section(status: &RunStatus) -> String {
    let active: Vec<_> = status
        .steps
        .iter()
        .filter(|step| step.status == "active")
        .collect();
    if active.is_empty() && status.overdue_ms.is_none() {
        return String::new();
    }
    let ms = |value: u64| human(Duration::from_millis(value));
    let mut out = String::from("<section id=\"now\"><h2>Now</h2><p class=\"clock\">");
    let _ = write!(out, "{} elapsed (wall clock)", ms(status.elapsed_ms));
    match (status.overdue_ms, status.remaining_eta_ms) {
        (Some(late), _) => {
            let _ = write!(
                out,
                " · <b class=\"overdue\" data-overdue-ms=\"{late}\">OVERDUE by {}</b> against \
                 the plan (counted from the latest step ready)",
                ms(late)
            );
        }
        (None, Some(left)) => {
            let _ = write!(out, " · remaining ETA (plan) {}", ms(left));
        }
        (None, None) => {}
    }
    out.push_str("</p><ul class=\"in-flight\">");
    for step in active {
        let _ = write!(
            out,
            "<li data-step=\"{}\"><b>{}</b> {}/{} healthy: {}</li>",
            escape(&step.id),
            escape(&step.id),
            step.healthy,
            step.hosts,
            escape(&step.text)
        );
    }
    out.push_str("</ul></section>");
    out
}
