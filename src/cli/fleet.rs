//! `status`, `report` and `serve` over several run directories (one controller per
//! datacenter): each directory read back as it is alone, checked to be a shard of the same
//! topology, then merged into one fleet view (`report::fleet`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use blackstart::journal;
use blackstart::report::fleet::{fleet_status, FleetStatus, Shard};
use blackstart::report::fleet_status::render_fleet;
use blackstart::report::html::fleet::render_fleet_page;
use blackstart::report::serve::{self, Render, ServeOptions};
use blackstart::report::view::FollowedRun;
use blackstart::report::Verdict;
use blackstart::scope::Scope;

use super::pictures::{write_page, ServeArgs};
use super::prepare::{follow_run, prepare, Prepared};
use super::status::{StatusArgs, StatusFormat};
use super::Outcome;

/// One controller's run directory, followed.
struct FollowedShard {
    name: String,
    dir: PathBuf,
    prepared: Prepared,
    followed: FollowedRun,
}

/// Whether a process holds the run's lock.
fn is_live(dir: &Path) -> bool {
    std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join(journal::LOCK_FILE))
        .map(|file| file.try_lock().is_err())
        .unwrap_or(false)
}

/// Reads every directory; refuses the same directory twice and runs of different
/// topologies; warns of shards planned from different versions of the topology and of
/// shards that cover the same nodes.
fn follow_shards(dirs: &[PathBuf]) -> anyhow::Result<Result<Vec<FollowedShard>, Outcome>> {
    let mut seen: HashMap<PathBuf, &Path> = HashMap::new();
    for dir in dirs {
        let real = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone());
        if let Some(first) = seen.insert(real, dir) {
            eprintln!(
                "error: {} and {} are the same run directory: give each controller's directory once",
                first.display(),
                dir.display()
            );
            return Ok(Err(Outcome::InvalidInput));
        }
    }
    let mut shards: Vec<FollowedShard> = Vec::new();
    for dir in dirs {
        let (prepared, followed) = match follow_run(dir)? {
            Ok(followed) => followed,
            Err(outcome) => return Ok(Err(outcome)),
        };
        shards.push(FollowedShard {
            name: dir.display().to_string(),
            dir: dir.clone(),
            prepared,
            followed,
        });
    }
    let first = &shards[0];
    // The whole topology's digest, scope aside: shards of one topology share it.
    let whole = |shard: &FollowedShard| -> anyhow::Result<Option<String>> {
        let info = &shard.prepared.info;
        Ok(prepare(&info.topology, Some(Scope::default()), info.seed)?
            .ok()
            .map(|p| p.info.plan_digest))
    };
    let first_whole = whole(first)?;
    for shard in &shards {
        let (name, other) = (&first.prepared.topology.name, &shard.prepared.topology.name);
        if name != other {
            eprintln!(
                "error: not one fleet: {} is a run of topology {name:?} ({}), {} of topology {other:?} ({}); give the run directories of one topology",
                first.name,
                first.prepared.info.topology.display(),
                shard.name,
                shard.prepared.info.topology.display()
            );
            return Ok(Err(Outcome::InvalidInput));
        }
        let this_whole = whole(shard)?;
        if this_whole != first_whole {
            eprintln!(
                "warning: {} ran topology {name:?} from {} (digest {}), {} from {} (digest {}): the files differ; the shards are merged by step and host name",
                first.name,
                first.prepared.info.topology.display(),
                first_whole.as_deref().unwrap_or("?"),
                shard.name,
                shard.prepared.info.topology.display(),
                this_whole.as_deref().unwrap_or("?"),
            );
        }
        let recorded = journal::read_info(&shard.dir)?.plan_digest;
        if recorded != shard.prepared.info.plan_digest {
            eprintln!(
                "warning: {}: its run recorded plan digest {recorded}, but {} plans to {} now: the topology changed since that controller started",
                shard.name,
                shard.prepared.info.topology.display(),
                shard.prepared.info.plan_digest
            );
        }
    }
    warn_overlap(&shards);
    Ok(Ok(shards))
}

/// Warns when two shards plan the same node (step on host): it would be counted twice.
fn warn_overlap(shards: &[FollowedShard]) {
    let mut owner: HashMap<(String, String), &str> = HashMap::new();
    for shard in shards {
        let (topology, plan) = (&shard.prepared.topology, &shard.prepared.plan);
        let mut shared: Vec<String> = Vec::new();
        let mut with = "";
        for step in &plan.steps {
            for host in &step.hosts {
                let key = (step.id.clone(), topology.hosts[*host].name.clone());
                if let Some(other) = owner.insert(key, &shard.name) {
                    with = other;
                    shared.push(format!("{} on {}", step.id, topology.hosts[*host].name));
                }
            }
        }
        if let Some(example) = shared.first() {
            eprintln!(
                "warning: {} and {with} both plan {} node(s) (e.g. {example}): their scopes overlap, and those nodes are counted in both",
                shard.name,
                shared.len()
            );
        }
    }
}

/// The fleet as of the shards' last refresh.
fn merged(shards: &[FollowedShard]) -> (FleetStatus, Vec<Shard<'_>>) {
    let views: Vec<Shard> = shards
        .iter()
        .map(|s| Shard {
            dir: &s.name,
            topology: &s.prepared.topology,
            plan: &s.prepared.plan,
            view: s.followed.view(),
            live: is_live(&s.dir),
            scope: &s.prepared.info.scope,
            simulated: s.prepared.info.simulated,
        })
        .collect();
    (fleet_status(&views, SystemTime::now()), views)
}

fn refresh(shards: &mut [FollowedShard]) -> anyhow::Result<bool> {
    let mut grew = false;
    for shard in shards {
        grew |= shard.followed.refresh()?;
    }
    Ok(grew)
}

/// `blackstart status DIR1 DIR2 ...`: one fleet view, once or redrawn until every shard ends.
pub fn status(args: &StatusArgs) -> anyhow::Result<Outcome> {
    let mut shards = match follow_shards(&args.run_dirs)? {
        Ok(shards) => shards,
        Err(outcome) => return Ok(outcome),
    };
    let every = args.watch.map(Duration::from_secs);
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let most = every.map_or(1, |every| (24 * 3600 / every.as_secs()).max(1));
    let mut outcome = Outcome::Success;
    for round in 0..most {
        if terminal && round > 0 {
            // Clear and home: the redraw replaces the previous one.
            print!("\x1b[2J\x1b[H");
        }
        refresh(&mut shards)?;
        let (fleet, views) = merged(&shards);
        match args.format {
            StatusFormat::Json => println!("{}", serde_json::to_string(&fleet)?),
            StatusFormat::Text => print!("{}", render_fleet(&fleet, &views, args.failed)),
        }
        outcome = match fleet.verdict {
            Verdict::Degraded if args.strict => Outcome::Degraded,
            Verdict::Failed => Outcome::Failed,
            _ => Outcome::Success,
        };
        let Some(every) = every.filter(|_| fleet.live > 0) else {
            break;
        };
        if matches!(args.format, StatusFormat::Text) {
            println!(
                "(redrawn every {}s until every shard ends)",
                every.as_secs()
            );
        }
        std::thread::sleep(every);
    }
    Ok(outcome)
}

/// `blackstart report DIR1 DIR2 ... -o fleet.html`.
pub fn report(dirs: &[PathBuf], output: Option<PathBuf>) -> anyhow::Result<Outcome> {
    let Some(output) = output else {
        eprintln!("error: a fleet report of several run directories needs -o FILE (it belongs to none of them)");
        return Ok(Outcome::InvalidInput);
    };
    let mut shards = match follow_shards(dirs)? {
        Ok(shards) => shards,
        Err(outcome) => return Ok(outcome),
    };
    refresh(&mut shards)?;
    let (fleet, views) = merged(&shards);
    write_page(&render_fleet_page(&fleet, &views, None), output)
}

/// `blackstart serve DIR1 DIR2 ...`: the fleet page, redrawn from every shard's journal.
pub fn serve(dirs: &[PathBuf], addr: SocketAddr, args: ServeArgs) -> anyhow::Result<Outcome> {
    if let Err(why) = serve::check_addr(addr, args.allow_remote) {
        eprintln!("error: {why}");
        return Ok(Outcome::InvalidInput);
    }
    let shards = match follow_shards(dirs)? {
        Ok(shards) => shards,
        Err(outcome) => return Ok(outcome),
    };
    let state = Mutex::new(shards);
    let render: Render = Arc::new(move || {
        let mut shards = state
            .lock()
            .map_err(|_| "fleet page state poisoned".to_string())?;
        refresh(&mut shards).map_err(|err| err.to_string())?;
        let (fleet, views) = merged(&shards);
        Ok(render_fleet_page(&fleet, &views, Some(5)))
    });
    let options = ServeOptions {
        addr,
        token: args.token,
        allow_remote: args.allow_remote,
    };
    let server = serve::spawn(options, render).map_err(anyhow::Error::msg)?;
    eprintln!("fleet status page: http://{}/", server.addr);
    eprintln!("serving until interrupted (Ctrl-C)");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(tokio::signal::ctrl_c())?;
    drop(server);
    Ok(Outcome::Success)
}
