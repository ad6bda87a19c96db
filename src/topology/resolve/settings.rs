//! Settings of a subsystem: health checks, health polling, retries and progress probes,
//! each checked where it is written and inherited from `defaults.subsystem` field by field.

use std::path::Path;

use super::absolute;
use super::checked_template;
use crate::topology::defaults;
use crate::topology::diagnostic::Collector;
use crate::topology::model::*;
use crate::topology::raw::*;

pub(super) fn progress(raw: &RawProgress, path: &str, out: &mut Collector) -> ProgressProbe {
    let interval = raw
        .interval
        .map_or(defaults::PROGRESS_INTERVAL, |value| value.0);
    if interval.is_zero() {
        out.error(
            format!("{path}.progress.interval"),
            "a progress probe needs an interval above zero",
        );
    }
    ProgressProbe {
        command: checked_template(&raw.command, &format!("{path}.progress.command"), out),
        interval,
        stall_after: raw.stall_after.map_or(
            interval.saturating_mul(defaults::PROGRESS_STALL_INTERVALS),
            |value| value.0,
        ),
    }
}

/// The value of one field: the subsystem's own, else the default's. Settings blocks merge
/// field by field, so `retry: { attempts: 5 }` keeps the default's backoff.
fn inherited<R, T>(
    own: Option<&R>,
    defaults: Option<&R>,
    field: impl Fn(&R) -> Option<T>,
) -> Option<T> {
    own.and_then(&field).or_else(|| defaults.and_then(&field))
}

pub(super) fn retry_policy(
    own: Option<&RawRetry>,
    from_defaults: Option<&RawRetry>,
) -> RetryPolicy {
    RetryPolicy {
        attempts: inherited(own, from_defaults, |r| r.attempts).unwrap_or(defaults::RETRY_ATTEMPTS),
        backoff: inherited(own, from_defaults, |r| r.backoff)
            .map_or(defaults::RETRY_BACKOFF, |d| d.0),
        max_backoff: inherited(own, from_defaults, |r| r.max_backoff)
            .map_or(defaults::RETRY_MAX_BACKOFF, |d| d.0),
    }
}

pub(super) fn health_policy(
    own: Option<&RawHealthPolicy>,
    from_defaults: Option<&RawHealthPolicy>,
) -> HealthPolicy {
    HealthPolicy {
        interval: inherited(own, from_defaults, |p| p.interval)
            .map_or(defaults::HEALTH_INTERVAL, |d| d.0),
        timeout: inherited(own, from_defaults, |p| p.timeout)
            .map_or(defaults::HEALTH_TIMEOUT, |d| d.0),
        successes: inherited(own, from_defaults, |p| p.successes)
            .unwrap_or(defaults::HEALTH_SUCCESSES),
    }
}

/// The most attempts a retry policy may make, the first included.
pub const MAX_ATTEMPTS: u32 = 100;

/// Settings that are wrong wherever they are written; checked where they are written (each
/// subsystem, and `defaults.subsystem` once), so an inherited mistake is reported once.
pub(super) fn check_settings(entry: &RawSubsystem, path: &str, out: &mut Collector) {
    match entry.retry.as_ref().and_then(|r| r.attempts) {
        Some(0) => {
            out.error(
                format!("{path}.retry.attempts"),
                "attempts must be at least 1 (the first try counts)",
            );
        }
        Some(attempts) if attempts > MAX_ATTEMPTS => {
            // Billions of retries would keep a run, or a simulated drill, busy for ever.
            out.error(
                format!("{path}.retry.attempts"),
                format!("{attempts} attempts is more than the {MAX_ATTEMPTS} allowed"),
            )
            .hint("a start that failed this often needs a person; see `blackstart retry`");
        }
        _ => {}
    }
    if let Some(policy) = &entry.health_policy {
        if policy.successes == Some(0) {
            out.error(
                format!("{path}.health_policy.successes"),
                "successes must be at least 1",
            );
        }
        for (field, value) in [("interval", policy.interval), ("timeout", policy.timeout)] {
            if value.is_some_and(|value| value.0.is_zero()) {
                out.error(
                    format!("{path}.health_policy.{field}"),
                    format!("a health poll {field} must be above zero"),
                )
                .hint("e.g. `1s`");
            }
        }
    }
    if entry.max_parallel == Some(0) {
        out.error(
            format!("{path}.max_parallel"),
            "max_parallel must be at least 1",
        );
    }
}

pub(super) fn check_health(
    raw: Option<&RawHealth>,
    path: &str,
    base_dir: &Path,
    out: &mut Collector,
) -> Option<HealthCheck> {
    let raw = raw?;
    let given = [raw.tcp.is_some(), raw.http.is_some(), raw.command.is_some()]
        .iter()
        .filter(|set| **set)
        .count();
    if given != 1 {
        out.error(path, "a health check needs exactly one of `tcp`, `http`, `command`")
            .hint("e.g. `health: { tcp: 5432 }` or `health: { http: { url: \"http://{address}:8080/health\" } }`");
        return None;
    }
    if raw.exit_code.is_some() && raw.command.is_none() {
        out.error(
            format!("{path}.exit_code"),
            "`exit_code` only applies to a `command` check",
        );
    }
    if let Some(port) = raw.tcp {
        if port == 0 {
            out.error(format!("{path}.tcp"), "port 0 cannot be probed");
        }
        return Some(HealthCheck::Tcp { port });
    }
    if let Some(http) = &raw.http {
        let url = checked_template(&http.url, &format!("{path}.http.url"), out);
        let authority = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"));
        match authority {
            None => {
                out.error(
                    format!("{path}.http.url"),
                    format!("{url:?} is not an http(s) URL"),
                );
            }
            Some(rest) if rest.starts_with(['/', ':', '?']) || rest.is_empty() => {
                out.error(format!("{path}.http.url"), format!("{url:?} names no host"))
                    .hint("e.g. \"http://{address}:8080/health\"");
            }
            Some(_) => {}
        }
        if let Some(status) = http.status.filter(|status| !(100..=599).contains(status)) {
            out.error(
                format!("{path}.http.status"),
                format!("HTTP status {status} does not exist (100 to 599)"),
            );
        }
        let tls = http_trust(http, &url, &format!("{path}.http"), base_dir, out);
        return Some(HealthCheck::Http(HttpCheck {
            url,
            status: http.status.unwrap_or(200),
            body: http.body.clone(),
            tls,
        }));
    }
    raw.command.as_ref().map(|command| HealthCheck::Command {
        command: checked_template(command, &format!("{path}.command"), out),
        exit_code: raw.exit_code.unwrap_or(0),
    })
}

/// How an https check verifies its peer: a CA file (read now, so a missing one is found at
/// validation, not during the outage), the system store, or nothing when `insecure: true`.
fn http_trust(
    http: &RawHttpCheck,
    url: &str,
    path: &str,
    base_dir: &Path,
    out: &mut Collector,
) -> TlsTrust {
    let insecure = http.insecure.unwrap_or(false);
    if !url.starts_with("https://") && (http.ca_file.is_some() || insecure) {
        out.error(
            format!("{path}.url"),
            "`ca_file` and `insecure` apply to https:// checks only",
        );
    }
    if insecure && http.ca_file.is_some() {
        out.error(
            format!("{path}.insecure"),
            "`insecure: true` beside a `ca_file`: the CA would never be checked",
        )
        .hint("keep `ca_file` and remove `insecure`");
    }
    let ca_file = http.ca_file.as_ref().and_then(|file| {
        let file = absolute(file, base_dir);
        match std::fs::read_to_string(&file) {
            Ok(text) if text.contains("-----BEGIN CERTIFICATE-----") => Some(file),
            Ok(_) => {
                out.error(
                    format!("{path}.ca_file"),
                    format!("{} holds no PEM certificate", file.display()),
                );
                None
            }
            Err(e) => {
                out.error(
                    format!("{path}.ca_file"),
                    format!("cannot read CA file {}: {}", file.display(), e.kind()),
                )
                .hint("a relative path is read from the topology file's directory");
                None
            }
        }
    });
    TlsTrust { ca_file, insecure }
}
