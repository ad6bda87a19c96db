//! The HTML report: one self-contained page (inline SVG, CSS and JS; nothing fetched) for
//! a run directory, a drill, or a Monte Carlo study. It is drawn from journal records only,
//! so the page of a run that was killed shows where it stopped, and the live status page
//! is the same page drawn again from the growing journal.
//!
//! Every text that comes from a topology, a journal or a command goes through [`escape`].

pub mod chain;
mod charts;
pub mod fleet;
mod gantt;
pub mod model;
pub mod now;
pub mod segment;
mod study;

use std::fmt::Write;
use std::time::Duration;

use crate::event::narrate::status_word;
use crate::event::state::StepStatus;
use crate::journal::Record;
use crate::plan::{human, Plan, StepId};
use crate::template::replace_chars;
use crate::topology::{HostId, Topology};

pub use study::{render_study, Study};

/// The page's stylesheet and script, inlined into every page.
const CSS: &str = include_str!("report.css");
const JS: &str = include_str!("report.js");

/// Escapes text for HTML element content and double- or single-quoted attributes.
pub fn escape(text: &str) -> String {
    let entities = [
        ('&', "&amp;"),
        ('<', "&lt;"),
        ('>', "&gt;"),
        ('"', "&quot;"),
        ('\'', "&#39;"),
    ];
    replace_chars(text, &entities)
}

/// Makes JSON safe inside `<script type="application/json">`: no `<` can close the
/// element or open a comment.
fn script_json(value: &serde_json::Value) -> String {
    value.to_string().replace('<', "\\u003c")
}

/// What a run page is drawn from.
#[derive(Debug, Clone, Copy)]
pub struct RunPage<'a> {
    /// The topology that ran.
    pub topology: &'a Topology,
    /// Its plan.
    pub plan: &'a Plan,
    /// The journal's node ids as (step, host), as the scheduler numbered them.
    pub nodes: &'a [(StepId, HostId)],
    /// The records: a run directory's journal, or a drill's timeline.
    pub records: &'a [Record],
    /// What this is, for the heading: `run /var/lib/...`, `drill (seed 1)`.
    pub source: &'a str,
    /// Reload every so many seconds (the live status page), or never.
    pub refresh_secs: Option<u32>,
    /// What is wrong, first ([`crate::report::triage::banner`]); empty when nothing is.
    pub banner: &'a [String],
    /// Sections drawn after the banner, already HTML (a game day's scorecard); empty for none.
    pub extra: &'a str,
}

fn ms(value: u64) -> String {
    human(Duration::from_millis(value))
}

/// Renders the report of a run or a single drill.
pub fn render_run(page: &RunPage) -> String {
    let (topology, plan) = (page.topology, page.plan);
    let model = model::build(topology, plan, page.nodes, page.records);
    let span = model.end_ms.max(millis(plan.eta)).max(1);
    let ready = model
        .rows
        .iter()
        .filter(|row| row.status == StepStatus::Ready)
        .count();
    let healthy: usize = model
        .readiness
        .values()
        .map(|(points, _)| points.last().map_or(0, |p| p.1))
        .sum();
    let state = match (&model.finished, page.refresh_secs) {
        (Some(outcome), _) => outcome.to_string(),
        (None, Some(_)) => "in progress".to_string(),
        (None, None) => "stopped before finishing (no run_finished record)".to_string(),
    };
    let mut body = String::new();
    let _ = write!(
        body,
        "<header><h1>{}</h1><p class=\"source\">{}</p>\
         <p class=\"stats\" id=\"stats\"><b>{ready}/{}</b> steps ready · <b>{healthy}/{}</b> \
         nodes healthy · <b>{}</b> (plan ETA {}) · <span class=\"state\">{}</span> · \
         {} records</p></header>",
        escape(&topology.name),
        escape(page.source),
        plan.steps.len(),
        page.nodes.len(),
        match crate::journal::recovered_at(page.records, plan.steps.len()) {
            Some(at) => format!("recovered in {}", human(at)),
            None => format!("{} elapsed", ms(model.end_ms)),
        },
        human(plan.quoted_eta()),
        escape(&state),
        model.records,
    );
    if !page.banner.is_empty() {
        body.push_str(
            "<section id=\"banner\" class=\"banner\" role=\"alert\"><h2>What is wrong</h2><ul>",
        );
        for line in page.banner {
            let _ = write!(body, "<li>{}</li>", escape(line.trim()));
        }
        body.push_str("</ul></section>");
    }
    body.push_str(page.extra);
    body.push_str(
        "<div id=\"js-errors\" class=\"js-errors\" hidden></div>\
         <nav><a href=\"#gantt\">Timeline</a> <a href=\"#readiness\">Readiness</a> \
         <a href=\"#failures\">Failures</a> <a href=\"#plan-vs-actual\">Plan vs actual</a></nav>",
    );
    gantt::section(&mut body, page, &model, span);
    charts::readiness(&mut body, &model, span);
    failures(&mut body, &model);
    plan_vs_actual(&mut body, page, &model);
    let data = gantt::host_data(page, &model);
    let _ = write!(
        body,
        "<script type=\"application/json\" id=\"report-data\">{}</script>",
        script_json(&data)
    );
    shell(
        &format!("{} — blackstart report", topology.name),
        page.refresh_secs,
        &format!(
            " data-elapsed-ms=\"{}\" data-ready-steps=\"{ready}\" data-records=\"{}\"",
            model.end_ms, model.records
        ),
        &body,
    )
}

/// The document around a body: inline stylesheet and script, nothing fetched.
fn shell(title: &str, refresh_secs: Option<u32>, body_attrs: &str, body: &str) -> String {
    let refresh = refresh_secs.map_or(String::new(), |secs| format!(" data-refresh=\"{secs}\""));
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\
         <title>{}</title><style>{CSS}</style></head>\
         <body{refresh}{body_attrs}>{body}<script>{JS}</script></body></html>\n",
        escape(title)
    )
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn failures(out: &mut String, model: &model::Model) {
    let total: usize = model.failures.iter().map(|(_, list)| list.len()).sum();
    let _ = write!(
        out,
        "<section id=\"failures\"><h2>Failures by cause ({total})</h2>"
    );
    if model.failures.is_empty() {
        out.push_str("<p class=\"quiet\">No action failed.</p>");
    }
    let mut groups: Vec<&(String, Vec<model::Failure>)> = model.failures.iter().collect();
    groups.sort_by_key(|(_, list)| std::cmp::Reverse(list.len()));
    for (cause, list) in groups {
        let _ = write!(
            out,
            "<details class=\"cause\"><summary><b>{}</b>: {} </summary><ul>",
            escape(cause),
            crate::units::count(list.len(), "failure", "failures")
        );
        // The first hundred say enough; the journal has them all.
        for failure in list.iter().take(100) {
            let _ = write!(
                out,
                "<li><span class=\"t\">+{}</span> {}: {}</li>",
                ms(failure.at),
                escape(&failure.label),
                escape(&failure.text)
            );
        }
        if list.len() > 100 {
            let _ = write!(out, "<li>… and {} more</li>", list.len() - 100);
        }
        out.push_str("</ul></details>");
    }
    out.push_str("</section>");
}

fn plan_vs_actual(out: &mut String, page: &RunPage, model: &model::Model) {
    out.push_str(
        "<section id=\"plan-vs-actual\"><h2>Plan vs actual</h2><table><thead><tr>\
         <th>Step</th><th>Tier</th><th>Hosts</th><th>Plan ready</th><th>Actual ready</th>\
         <th>Difference</th><th>Status</th></tr></thead><tbody>",
    );
    for row in &model.rows {
        let step = &page.plan.steps[row.step];
        let tier = page.topology.subsystems[step.step.subsystem].tier;
        let plan_ms = millis(step.ready_at);
        let (actual, delta) = match row.ready_at {
            Some(at) => {
                let sign = if at >= plan_ms { "+" } else { "−" };
                (
                    format!("+{}", ms(at)),
                    format!("{sign}{}", ms(at.abs_diff(plan_ms))),
                )
            }
            None => ("—".to_string(), String::new()),
        };
        let _ = write!(
            out,
            "<tr class=\"status-{}\"><td>{}</td><td>{tier}</td><td>{}</td><td>+{}</td>\
             <td>{actual}</td><td>{delta}</td><td>{}</td></tr>",
            status_class(&row.status),
            escape(&step.id),
            step.hosts.len(),
            ms(plan_ms),
            escape(status_word(&row.status)),
        );
    }
    out.push_str("</tbody></table></section>");
}

fn status_class(status: &StepStatus) -> &'static str {
    match status {
        StepStatus::Waiting => "waiting",
        StepStatus::Active => "active",
        StepStatus::Ready => "ready",
        StepStatus::Failed => "failed",
        StepStatus::Blocked { .. } => "blocked",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_and_both_quotes() {
        assert_eq!(
            escape("<a href='x'>\"&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&quot;&amp;&quot;&lt;/a&gt;"
        );
    }

    #[test]
    fn script_json_cannot_close_its_element() {
        let value = serde_json::json!({"label": "</script><script>alert(1)</script>"});
        let text = script_json(&value);
        assert!(!text.contains("</"));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&text).unwrap(),
            value
        );
    }
}
