//! `report`, `serve`, `completions` and `man`: the HTML report of a run directory, the live
//! status page, shell completions and the manual page.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use blackstart::report::html::{render_run, RunPage};
use blackstart::report::serve::{self, Render, ServeOptions, Server};
use blackstart::report::triage;
use blackstart::report::view::{FollowedRun, RunView};

use super::prepare::{follow_run, scheduler_for, Prepared};
use super::Outcome;

/// Where the status page listens, and who may read it.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Serve a live, read-only status page (the HTML report, redrawn from the journal) on
    /// this address, e.g. 127.0.0.1:8080. Loopback only unless --allow-remote.
    #[arg(long, value_name = "ADDR")]
    pub serve: Option<SocketAddr>,
    /// Require this token on the status page (`?token=T` or `Authorization: Bearer T`).
    #[arg(long, value_name = "TOKEN", requires = "serve")]
    pub token: Option<String>,
    /// Allow the status page on an address other than loopback.
    #[arg(long, requires = "serve")]
    pub allow_remote: bool,
}

/// Draws the report of a run from its replayed view.
fn render_view(prepared: &Prepared, dir: &Path, view: &RunView, live: bool) -> String {
    let source = format!(
        "{}{} {}",
        if prepared.info.simulated {
            "SIMULATED game day (nothing contacted): "
        } else {
            ""
        },
        if live { "live run" } else { "run" },
        dir.display()
    );
    // A game day's scorecard; a real run's report stays as it was.
    let extra = if prepared.info.simulated {
        match super::scorecard::card(prepared, dir, view.records()) {
            Ok(card) => blackstart::report::scorecard::html_section(&card),
            Err(err) => format!(
                "<section id=\"scorecard\"><h2>Game day scorecard</h2><p>{}</p></section>",
                blackstart::report::html::escape(&format!("{err:#}"))
            ),
        }
    } else {
        String::new()
    };
    // What is under way this minute, on a page that is still being drawn.
    let now = if live {
        let status =
            blackstart::report::status::run_status(&prepared.topology, &prepared.plan, view, true);
        blackstart::report::html::now::section(&status)
    } else {
        String::new()
    };
    let extra = format!("{now}{extra}");
    render_run(&RunPage {
        topology: &prepared.topology,
        plan: &prepared.plan,
        nodes: &view.node_map(),
        records: view.records(),
        source: &source,
        refresh_secs: live.then_some(5),
        banner: &triage::banner(
            &prepared.topology,
            &prepared.plan,
            view.scheduler(),
            Some(&dir.display().to_string()),
        ),
        extra: &extra,
    })
}

/// `blackstart report RUN_DIR [-o FILE]`.
pub fn report(dir: &Path, output: Option<PathBuf>) -> anyhow::Result<Outcome> {
    let (prepared, mut followed) = match follow_run(dir)? {
        Ok(followed) => followed,
        Err(outcome) => return Ok(outcome),
    };
    followed.refresh()?;
    let page = render_view(&prepared, dir, followed.view(), false);
    write_page(&page, output.unwrap_or_else(|| dir.join("report.html")))
}

/// Writes a page to `path` (`-` for stdout) and says where.
pub fn write_page(page: &str, path: PathBuf) -> anyhow::Result<Outcome> {
    if path == Path::new("-") {
        print!("{page}");
    } else {
        std::fs::write(&path, page)
            .with_context(|| format!("cannot write the report to {}", path.display()))?;
        eprintln!(
            "report written to {} ({} KiB)",
            path.display(),
            page.len() / 1024
        );
    }
    Ok(Outcome::Success)
}

/// A renderer for the status page of `dir`: each redraw applies only the records appended
/// since the last one, and draws again only when there were any.
fn live_render(prepared: Prepared, dir: PathBuf) -> Render {
    let followed = FollowedRun::new(&dir, scheduler_for(&prepared, &[]), &prepared.plan);
    type Drawn = Option<(String, std::time::Instant)>;
    let state: Mutex<(FollowedRun, Drawn)> = Mutex::new((followed, None));
    // The page's clock (elapsed, remaining ETA, overdue) moves on between records: a page
    // older than this is drawn again even when the journal did not grow.
    const CLOCK_TICK: std::time::Duration = std::time::Duration::from_secs(1);
    Arc::new(move || {
        let mut state = state
            .lock()
            .map_err(|_| "status page state poisoned".to_string())?;
        let (followed, page) = &mut *state;
        let grew = followed.refresh().map_err(|err| err.to_string())?;
        let running = followed.view().outcome().is_none();
        let stale = page
            .as_ref()
            .is_none_or(|(_, drawn)| running && drawn.elapsed() >= CLOCK_TICK);
        if grew || stale {
            let text = render_view(&prepared, &dir, followed.view(), true);
            *page = Some((text, std::time::Instant::now()));
        }
        Ok(page
            .as_ref()
            .map(|(text, _)| text.clone())
            .unwrap_or_default())
    })
}

/// Starts the status page of `dir` when `args` ask for one.
pub fn serve_run(
    args: &ServeArgs,
    prepared: &Prepared,
    dir: &Path,
) -> anyhow::Result<Option<Server>> {
    let Some(addr) = args.serve else {
        return Ok(None);
    };
    let options = ServeOptions {
        addr,
        token: args.token.clone(),
        allow_remote: args.allow_remote,
    };
    let server = serve::spawn(options, live_render(prepared.clone(), dir.to_path_buf()))
        .map_err(anyhow::Error::msg)?;
    eprintln!("status page: http://{}/", server.addr);
    Ok(Some(server))
}

/// `blackstart serve RUN_DIR`: the status page of a run, from another terminal.
pub fn serve_dir(dir: &Path, addr: SocketAddr, args: ServeArgs) -> anyhow::Result<Outcome> {
    if let Err(why) = serve::check_addr(addr, args.allow_remote) {
        eprintln!("error: {why}");
        return Ok(Outcome::InvalidInput);
    }
    let prepared = match follow_run(dir)? {
        Ok((prepared, _)) => prepared,
        Err(outcome) => return Ok(outcome),
    };
    let args = ServeArgs {
        serve: Some(addr),
        ..args
    };
    let _server = serve_run(&args, &prepared, dir)?;
    eprintln!("serving until interrupted (Ctrl-C)");
    // The server lives on its own thread; this one only waits for Ctrl-C.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(tokio::signal::ctrl_c())?;
    Ok(Outcome::Success)
}

/// `blackstart completions SHELL`.
pub fn completions(shell: clap_complete::Shell) -> Outcome {
    let mut command = <super::Args as clap::CommandFactory>::command();
    clap_complete::generate(shell, &mut command, "blackstart", &mut std::io::stdout());
    Outcome::Success
}

/// `blackstart man`: the manual page, roff on stdout.
pub fn man() -> anyhow::Result<Outcome> {
    let command = <super::Args as clap::CommandFactory>::command();
    clap_mangen::Man::new(command).render(&mut std::io::stdout())?;
    Ok(Outcome::Success)
}
