//! The fleet page: several controllers' run directories as one report (`report DIR1 DIR2
//! -o fleet.html`, `serve DIR1 DIR2`): what is wrong first in every shard, each shard's
//! share, every step with its members from every shard. Each shard's own timeline stays in
//! its own report (`blackstart report DIR`), named on the page.

use std::fmt::Write;
use std::time::Duration;

use super::{escape, shell};
use crate::plan::human;
use crate::report::fleet::{FleetStatus, Shard};
use crate::template::shell_quote;

fn ms(value: u64) -> String {
    human(Duration::from_millis(value))
}

/// The fleet page; `refresh_secs` for the live page.
pub fn render_fleet_page(
    status: &FleetStatus,
    shards: &[Shard],
    refresh_secs: Option<u32>,
) -> String {
    let mut body = String::new();
    let simulated = if shards.iter().any(|s| s.simulated) {
        "SIMULATED game day (nothing contacted): "
    } else {
        ""
    };
    let clock = match status.recovered_ms {
        Some(at) => format!("recovered in {} (the latest shard)", ms(at)),
        None => format!("{} elapsed (the latest shard)", ms(status.elapsed_ms)),
    };
    let eta = status
        .remaining_eta_ms
        .filter(|_| status.recovered_ms.is_none())
        .map(|left| format!(" · remaining ETA {}", ms(left)))
        .unwrap_or_default();
    let _ = write!(
        body,
        "<header><h1>{}</h1><p class=\"source\">{simulated}fleet of {} run directories: {}</p>\
         <p class=\"stats\" id=\"stats\"><b>{}/{}</b> steps ready · <b>{}/{}</b> nodes healthy · \
         <b>{clock}</b>{eta} · {} live</p></header>",
        escape(&status.topology),
        shards.len(),
        escape(&shards.iter().map(|s| s.dir).collect::<Vec<_>>().join(", ")),
        status.counts.ready,
        status.counts.steps,
        status.counts.started + status.counts.already_healthy,
        status.counts.nodes,
        status.live,
    );
    banner(&mut body, shards);
    shares(&mut body, status);
    steps(&mut body, status);
    if !status.failed.is_empty() {
        body.push_str(
            "<section id=\"failures\"><h2>Failed nodes</h2><table><thead><tr><th>shard</th>\
             <th>step</th><th>host</th><th>why</th><th>after repairing</th></tr></thead><tbody>",
        );
        for f in &status.failed {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                escape(&f.dir),
                escape(&f.step),
                escape(&f.host),
                escape(&f.reason),
                escape(&f.retry)
            );
        }
        body.push_str("</tbody></table></section>");
    }
    body.push_str("<div id=\"js-errors\" class=\"js-errors\" hidden></div>");
    shell(
        &format!("{} — blackstart fleet report", status.topology),
        refresh_secs,
        &format!(
            " data-elapsed-ms=\"{}\" data-ready-steps=\"{}\" data-shards=\"{}\"",
            status.elapsed_ms,
            status.counts.ready,
            shards.len()
        ),
        &body,
    )
}

/// Each shard's share: its controller's directory, scope, outcome, clock, liveness.
fn shares(body: &mut String, status: &FleetStatus) {
    body.push_str(
        "<section id=\"shards\"><h2>Shards</h2><table><thead><tr><th>run directory</th>\
         <th>scope</th><th>state</th><th>verdict</th><th>elapsed</th><th>last record</th>\
         <th>steps ready</th><th>failed nodes</th><th>its own report</th></tr></thead><tbody>",
    );
    for share in &status.shards {
        let s = &share.status;
        let state = match &s.run {
            crate::event::state::RunState::Live => "live".to_string(),
            crate::event::state::RunState::Finished { outcome } => format!("finished: {outcome}"),
            crate::event::state::RunState::Killed => "killed (no end recorded)".to_string(),
        };
        let _ = write!(
            body,
            "<tr class=\"shard\" data-dir=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}/{}</td><td>{}</td><td><code>blackstart report {}</code></td></tr>",
            escape(&share.dir),
            escape(&share.dir),
            escape(&share.scope),
            escape(&state),
            format!("{:?}", s.verdict).to_lowercase(),
            ms(s.elapsed_ms),
            share
                .last_record_age_ms
                .map_or("—".to_string(), |age| format!("{} ago", ms(age))),
            s.counts.ready,
            s.counts.steps,
            s.counts.failed_nodes,
            escape(&shell_quote(&share.dir)),
        );
    }
    body.push_str("</tbody></table></section>");
}

/// Every step with its members from every shard.
fn steps(body: &mut String, status: &FleetStatus) {
    body.push_str(
        "<section id=\"fleet-steps\"><h2>Steps over every shard</h2><table><thead><tr>\
         <th>tier</th><th>step</th><th>status</th><th>healthy</th><th>needed</th>\
         <th>per shard</th></tr></thead><tbody>",
    );
    for step in &status.steps {
        let parts: Vec<String> = step
            .shards
            .iter()
            .map(|s| format!("{} {}/{} {}", s.dir, s.healthy, s.hosts, s.status))
            .collect();
        let _ = write!(
            body,
            "<tr data-step=\"{}\" data-status=\"{}\"><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}/{}</td><td>{}</td><td>{}</td></tr>",
            escape(&step.id),
            step.status,
            escape(&step.tier),
            escape(&step.id),
            step.status,
            step.healthy,
            step.hosts,
            step.needed,
            escape(&parts.join("; "))
        );
    }
    body.push_str("</tbody></table></section>");
}

/// What is wrong, first: every shard's banner, each line naming its shard.
fn banner(body: &mut String, shards: &[Shard]) {
    let mut banner = Vec::new();
    for shard in shards {
        for line in super::super::triage::banner(
            shard.topology,
            shard.plan,
            shard.view.scheduler(),
            Some(shard.dir),
        ) {
            banner.push(format!("{}: {}", shard.dir, line.trim()));
        }
    }
    if !banner.is_empty() {
        body.push_str(
            "<section id=\"banner\" class=\"banner\" role=\"alert\"><h2>What is wrong</h2><ul>",
        );
        for line in &banner {
            let _ = write!(body, "<li>{}</li>", escape(line));
        }
        body.push_str("</ul></section>");
    }
}
