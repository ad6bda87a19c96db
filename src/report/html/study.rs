//! The page of a Monte Carlo study: how recovery time is distributed, per tier, and how
//! often each subsystem was on the critical path.

use std::fmt::Write;
use std::time::Duration;

use super::charts::{histogram, histogram_range, tier_class};
use super::{escape, millis, shell};
use crate::drill::{MonteCarlo, Percentiles};
use crate::plan::human;

/// What a study page is drawn from.
#[derive(Debug, Clone, Copy)]
pub struct Study<'a> {
    /// The topology's name.
    pub topology: &'a str,
    /// The study.
    pub result: &'a MonteCarlo,
    /// What was simulated, for the heading (faults, spread).
    pub source: &'a str,
}

fn opt(value: Option<Duration>) -> String {
    value.map_or_else(|| "never".to_string(), human)
}

fn percentiles(p: &Percentiles) -> String {
    format!(
        "<td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
        opt(p.p50),
        opt(p.p90),
        opt(p.p99),
        opt(p.mean)
    )
}

/// Renders a study's page.
pub fn render_study(study: &Study) -> String {
    let result = study.result;
    let mut body = String::new();
    let _ = write!(
        body,
        "<header><h1>{} — {} simulated recoveries</h1><p class=\"source\">{} · seed {} · \
         plan ETA {}</p><p class=\"stats\" id=\"stats\">median <b>{}</b> · p90 <b>{}</b> · \
         p99 <b>{}</b> · stalled in <b>{:.1}%</b> of runs · {:.1} starts and {:.1} retries \
         per run</p></header><div id=\"js-errors\" class=\"js-errors\" hidden></div>",
        escape(study.topology),
        result.runs,
        escape(study.source),
        result.seed,
        human(result.plan_eta),
        opt(result.makespan.p50),
        opt(result.makespan.p90),
        opt(result.makespan.p99),
        result.stall_probability * 100.0,
        result.mean_starts,
        result.mean_retries,
    );
    let reached = |samples: &[Option<Duration>]| -> Vec<u64> {
        samples.iter().flatten().map(|d| millis(*d)).collect()
    };
    let makespans = reached(&result.makespan_samples);
    // One axis for every histogram, from the data (not from zero) to the slowest run or the
    // plan's ETA, so tiers compare and the plan's number is on the chart.
    let range = histogram_range(
        makespans
            .iter()
            .copied()
            .chain(result.tier_samples.iter().flat_map(|s| reached(s)))
            .chain([millis(result.plan_eta)]),
    );
    let mut markers = vec![("plan ETA", millis(result.plan_eta))];
    markers.extend(result.makespan.p50.map(|p| ("p50", millis(p))));
    markers.extend(result.makespan.p90.map(|p| ("p90", millis(p))));
    body.push_str("<section id=\"distribution\"><h2>Recovery time</h2>");
    histogram(
        &mut body,
        &makespans,
        range,
        &markers,
        "all",
        &format!(
            "until every step was ready ({} of {} runs recovered)",
            makespans.len(),
            result.runs
        ),
    );
    body.push_str(
        "<table><thead><tr><th>Tier</th><th>p50</th><th>p90</th><th>p99</th><th>mean</th>\
         <th>never up</th></tr></thead><tbody>",
    );
    for tier in &result.tiers {
        let _ = write!(
            body,
            "<tr><td>{}</td>{}<td>{:.1}%</td></tr>",
            escape(&tier.tier),
            percentiles(&tier.up_by),
            tier.stalled * 100.0
        );
    }
    body.push_str("</tbody></table><div class=\"tiers\">");
    for (index, (tier, samples)) in result.tiers.iter().zip(&result.tier_samples).enumerate() {
        let samples = reached(samples);
        let mut markers = Vec::new();
        markers.extend(tier.up_by.p50.map(|p| ("p50", millis(p))));
        markers.extend(tier.up_by.p90.map(|p| ("p90", millis(p))));
        histogram(
            &mut body,
            &samples,
            range,
            &markers,
            &tier_class(index),
            &format!(
                "{} up ({} of {} runs)",
                tier.tier,
                samples.len(),
                result.runs
            ),
        );
    }
    body.push_str("</div></section>");
    critical(&mut body, result);
    if !result.fault_costs.is_empty() {
        body.push_str(
            "<section id=\"faults\"><h2>What faults cost</h2><table><thead><tr><th>Fault</th>\
             <th>rate</th><th>struck per run</th><th>adds to the mean (± standard error)</th>\
             <th>runs</th><th>stalls without it</th></tr></thead><tbody>",
        );
        for cost in &result.fault_costs {
            let _ = write!(
                body,
                "<tr data-fault=\"{0}\"><td>{0}</td><td>{1}</td><td>{2:.2}</td><td>{3}</td>\
                 <td>{4}</td><td>{5:.1}%</td></tr>",
                escape(cost.fault.name()),
                cost.rate,
                cost.struck_per_run,
                escape(&cost.added_text()),
                cost.runs,
                cost.stall_without * 100.0
            );
        }
        body.push_str("</tbody></table></section>");
    }
    shell(
        &format!("{} — blackstart study", study.topology),
        None,
        &format!(" data-runs=\"{}\"", result.runs),
        &body,
    )
}

fn critical(out: &mut String, result: &MonteCarlo) {
    out.push_str(
        "<section id=\"critical\"><h2>How often each subsystem is on the critical path</h2>\
         <div class=\"shares\">",
    );
    for share in &result.critical {
        let _ = write!(
            out,
            "<div class=\"share\" data-subsystem=\"{0}\"><span class=\"label\">{0}</span>\
             <span class=\"meter\"><i style=\"width:{1:.1}%\"></i></span>\
             <span class=\"times\">{1:.1}%</span></div>",
            escape(&share.subsystem),
            share.share * 100.0
        );
    }
    out.push_str("</div></section>");
}
