//! The scorecard for people: text at the end of a game day, a section of the HTML report.

use std::fmt::Write;
use std::time::Duration;

use super::{Band, Delay, Met, Scorecard, SpareIn};
use crate::report::html::escape;
use crate::units::human_duration as human;

fn ms(value: u64) -> String {
    human(Duration::from_millis(value))
}

fn delay(delay: &Delay) -> String {
    match delay.wall_ms {
        Some(wall) => format!("{} ({} on the run clock)", ms(wall), ms(delay.run_ms)),
        None => format!("{} on the run clock", ms(delay.run_ms)),
    }
}

/// The recovery line: time against the plan's ETA and the band.
fn recovery(card: &Scorecard) -> Vec<String> {
    let mut lines = Vec::new();
    match card.recovered_ms {
        Some(at) => {
            let eta = card.plan_eta_ms.max(1);
            let share = (at as f64 - eta as f64) / eta as f64 * 100.0;
            lines.push(format!(
                "recovered in {} (plan ETA {}, {:+.0}%)",
                ms(at),
                ms(card.plan_eta_ms),
                share
            ));
        }
        None => lines.push(format!(
            "not recovered after {} (plan ETA {})",
            ms(card.elapsed_ms),
            ms(card.plan_eta_ms)
        )),
    }
    match &card.band {
        Band::Studied {
            runs,
            p10_ms,
            p50_ms,
            p90_ms,
            people,
        } => {
            let place = match card.recovered_ms {
                Some(at) if at > *p90_ms => {
                    ": slower than 9 nights in 10 without people to wait for"
                }
                Some(at) if at < *p10_ms => ": faster than 9 nights in 10",
                Some(_) => ": within the band",
                None => "",
            };
            let people = people.as_deref().unwrap_or("people acting as planned");
            lines.push(format!(
                "Monte Carlo band of the same fleet ({runs} nights, {people}): p10 {}, p50 {}, p90 {}{place}",
                ms(*p10_ms),
                ms(*p50_ms),
                ms(*p90_ms)
            ));
        }
        Band::NotStudied { why } => lines.push(format!(
            "no Monte Carlo band ({why}): the plan's ETA is the reference"
        )),
    }
    lines
}

/// `; the run brought in spare ldap3 at +1m 43s, healthy at +2m 37s`.
fn spare_text(spare: &SpareIn) -> String {
    let healthy = match spare.healthy_ms {
        Some(at) => format!("healthy at +{}", ms(at)),
        None => "NEVER healthy".to_string(),
    };
    format!(
        "the run brought in spare {} at +{}, {healthy}",
        spare.host,
        ms(spare.brought_in_ms)
    )
}

fn failure_lines(card: &Scorecard) -> Vec<String> {
    card.failures
        .iter()
        .map(|f| match (f.retried_ms, &f.delay, &f.spare) {
            (None, _, Some(spare)) => format!(
                "{} on {} failed at +{} ({}); {}: no one needed to act",
                f.step,
                f.host,
                ms(f.failed_ms),
                f.cause,
                spare_text(spare)
            ),
            (Some(at), Some(d), Some(spare)) => format!(
                "{} on {} failed at +{} ({}); {}; retried at +{}, after {}",
                f.step,
                f.host,
                ms(f.failed_ms),
                f.cause,
                spare_text(spare),
                ms(at),
                delay(d)
            ),
            (Some(at), Some(d), None) => format!(
                "{} on {} failed at +{}; retried at +{}, after {}",
                f.step,
                f.host,
                ms(f.failed_ms),
                ms(at),
                delay(d)
            ),
            _ => format!(
                "{} on {} failed at +{}; NEVER acted on",
                f.step,
                f.host,
                ms(f.failed_ms)
            ),
        })
        .collect()
}

fn gate_lines(card: &Scorecard) -> Vec<String> {
    card.gates
        .iter()
        .map(|g| match (g.waiting_ms, g.acked_ms, &g.delay) {
            (Some(from), Some(_), Some(d)) => format!(
                "{} waited from +{}; acknowledged by {} after {}",
                g.step,
                ms(from),
                g.by.as_deref().unwrap_or("?"),
                delay(d)
            ),
            (None, Some(at), _) => format!(
                "{} acknowledged by {} at +{} before it waited",
                g.step,
                g.by.as_deref().unwrap_or("?"),
                ms(at)
            ),
            (Some(from), None, _) => {
                format!("{} waited from +{}; NEVER acknowledged", g.step, ms(from))
            }
            _ => format!(
                "{}: never called for (its dependencies never came up)",
                g.step
            ),
        })
        .collect()
}

fn expectation_lines(card: &Scorecard) -> Vec<String> {
    card.expectations
        .iter()
        .map(|j| {
            let slowest = j
                .slowest_ms
                .map(|s| format!(" (slowest {})", ms(s)))
                .unwrap_or_default();
            match j.met {
                Met::Met => format!("MET     {}{slowest}", j.expected),
                Met::Missed => format!("MISSED  {}{slowest}", j.expected),
                Met::NotCalledFor => format!("n/a     {} (never called for)", j.expected),
            }
        })
        .collect()
}

fn sections(card: &Scorecard) -> Vec<(&'static str, Vec<String>)> {
    let refused = card
        .refused
        .iter()
        .map(|r| format!("+{} {}: {}", ms(r.at_ms), r.request, r.why))
        .collect();
    vec![
        ("Recovery", recovery(card)),
        ("Failures and retries", failure_lines(card)),
        ("Gates and manual steps", gate_lines(card)),
        ("Expected of the team", expectation_lines(card)),
        ("Refused requests", refused),
    ]
}

/// The scorecard as text, for the end of a game day.
pub fn render_text(card: &Scorecard) -> String {
    let mut out =
        String::from("SCORECARD (delays on the wall clock people act on, and on the run clock)\n");
    for (title, lines) in sections(card) {
        if lines.is_empty() {
            continue;
        }
        let _ = writeln!(out, "  {title}:");
        for line in lines {
            let _ = writeln!(out, "    {line}");
        }
    }
    out
}

/// The scorecard as a section of the HTML report.
pub fn html_section(card: &Scorecard) -> String {
    let mut out = String::from("<section id=\"scorecard\"><h2>Game day scorecard</h2>");
    for (title, lines) in sections(card) {
        if lines.is_empty() {
            continue;
        }
        let _ = write!(out, "<h3>{}</h3><ul>", escape(title));
        for line in lines {
            let _ = write!(out, "<li>{}</li>", escape(&line));
        }
        out.push_str("</ul>");
    }
    out.push_str("</section>");
    out
}
