//! A game day's scorecard in the commands: the basis (plan ETA, Monte Carlo band, what the
//! scenario expects) fixed when the game day begins and kept in its settings file, and the
//! card drawn from the journal by `simulate`, `status` and `report`.

use std::path::Path;
use std::time::{Duration, Instant};

use blackstart::drill::{monte_carlo_with_costs, scenario::Expectation, Drill, DrillConfig};
use blackstart::journal::Record;
use blackstart::report::scorecard::{Band, Basis, Scorecard};

use super::prepare::{scheduler_for, Prepared, SETTINGS_FILE};

/// At most this long is spent on the Monte Carlo band before a game day begins.
const BAND_BUDGET: Duration = Duration::from_secs(5);
/// Nights in the band when they fit the budget.
const BAND_RUNS: usize = 200;
/// Fewer nights than this make no band worth quoting.
const BAND_MIN_RUNS: usize = 20;

/// The basis of a new game day's scorecard: the plan's ETA (under the caps, as `plan`
/// quotes it) and the Monte Carlo band of the same fleet without its placed faults (they
/// need people: a drill has them only as the model's calibrated `people`, said in the band),
/// if one night is cheap enough to run many.
pub fn basis(prepared: &Prepared, config: &DrillConfig, expect: Vec<Expectation>) -> Basis {
    let plan = blackstart::drill::scheduled(&prepared.topology, (*prepared.plan).clone());
    let drill = Drill::new(&prepared.topology, &plan, *config);
    let seed = prepared.info.seed;
    let begun = Instant::now();
    // One night, timed: how many fit the budget.
    drill.run(seed);
    let took = begun.elapsed().max(Duration::from_micros(1));
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    // Counted as if on one thread: the cores are often shared, and the first night's
    // time already went on the budget's clock.
    let fit = (BAND_BUDGET.as_secs_f64() / took.as_secs_f64()) as usize;
    eprintln!(
        "studying the Monte Carlo band of this fleet for the scorecard (at most {})…",
        blackstart::units::human_duration(BAND_BUDGET)
    );
    let band = if fit < BAND_MIN_RUNS {
        Band::NotStudied {
            why: format!(
                "one simulated night takes {}; {BAND_MIN_RUNS} would take more than {}",
                blackstart::units::human_duration(took),
                blackstart::units::human_duration(BAND_BUDGET)
            ),
        }
    } else {
        let runs = fit.min(BAND_RUNS);
        let study = monte_carlo_with_costs(&drill, runs, 0, seed, threads, &|| {});
        let ms = |d: Option<Duration>| d.map(|d| d.as_millis() as u64);
        match (
            ms(study.makespan.p10),
            ms(study.makespan.p50),
            ms(study.makespan.p90),
        ) {
            (Some(p10_ms), Some(p50_ms), Some(p90_ms)) => Band::Studied {
                runs,
                p10_ms,
                p50_ms,
                p90_ms,
                people: people_words(&config.people),
            },
            _ => Band::NotStudied {
                why: format!("more than one night in ten of the {runs} studied never recovered"),
            },
        }
    };
    Basis {
        plan_eta_ms: plan.quoted_eta().as_millis() as u64,
        band,
        expect,
    }
}

/// The calibrated people a band's nights were simulated with, in words.
fn people_words(people: &blackstart::drill::People) -> Option<String> {
    let human = blackstart::units::human_duration;
    let mut said = Vec::new();
    if let Some(ack) = people.ack {
        said.push(format!("acks after {}", human(ack)));
    }
    if let Some(retry) = people.retry {
        said.push(format!("retries {} after a failure", human(retry)));
    }
    (!said.is_empty()).then(|| format!("calibrated people: {}", said.join(", ")))
}

/// The basis kept in a game day's settings; the plan's own ETA and no band when the
/// settings hold none (a game day begun by an older release).
pub fn read_basis(prepared: &Prepared, dir: &Path) -> anyhow::Result<Basis> {
    let path = dir.join(SETTINGS_FILE);
    let fallback = || Basis {
        plan_eta_ms: prepared.plan.quoted_eta().as_millis() as u64,
        ..Basis::default()
    };
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(fallback());
    };
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|err| {
        anyhow::anyhow!("{}: unreadable game day settings: {err}", path.display())
    })?;
    match value.get("scorecard") {
        Some(basis) => serde_json::from_value(basis.clone()).map_err(|err| {
            anyhow::anyhow!("{}: unreadable scorecard basis: {err}", path.display())
        }),
        None => Ok(fallback()),
    }
}

/// The scorecard of a game day's records.
pub fn card(prepared: &Prepared, dir: &Path, records: &[Record]) -> anyhow::Result<Scorecard> {
    let basis = read_basis(prepared, dir)?;
    Ok(Scorecard::of(
        &prepared.topology,
        &prepared.plan,
        scheduler_for(prepared, &[]),
        records,
        &basis,
    ))
}
