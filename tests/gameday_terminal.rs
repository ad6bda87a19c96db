//! A game day as a team lives it: the reference topology's night, sped up, driven through a
//! real terminal (tmux). `status --watch` in one pane shows the progress and LDAP failing,
//! `retry` typed at a shell prompt brings LDAP back, `ack` releases the gate, and the
//! scorecard printed at the end records both actions with their delays. Meanwhile the live
//! page served from the game day's directory is opened in headless Chromium: it shows the
//! failure while it is open and the recovery after.
//!
//! The night is the reference topology's file cut to what `graph-leader` needs (`--only`,
//! 49 steps on 307 hosts): the whole of it (5,700 hosts) runs slower than the pace in a debug
//! build and would take minutes of shared cores.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::browser;
use support::cli::{spawn, text, BIN};
use support::procs::wait_until;

const REFERENCE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/topologies/social-network.yaml"
);

/// A gate before `config`: it waits from about ten simulated minutes in, which keeps the
/// game day live (waiting for a person) while LDAP's failure blocks everything else.
fn playbook() -> String {
    format!(
        "version: 1\nplaybook: gated-reference\ntopology: {REFERENCE}\ngates:\n  - name: approve-config\n    before: config\n    instructions: check the cluster-store's leader map\n    expect: 5m\n"
    )
}

/// A tmux server of this test alone (its own socket), killed when dropped: a failing
/// assertion leaves no terminal behind.
struct Terminal {
    socket: String,
}

impl Terminal {
    fn new(name: &str) -> Terminal {
        let version = Command::new("tmux").arg("-V").output();
        assert!(
            version.is_ok_and(|v| v.status.success()),
            "tmux is required for the game day's terminal test: run `bash tests/install-lab-packages.sh`"
        );
        Terminal {
            socket: format!("bs-{name}-{}", std::process::id()),
        }
    }

    fn tmux(&self, args: &[&str]) -> std::process::Output {
        let mut command = Command::new("tmux");
        command
            .args(["-L", &self.socket])
            .args(args)
            .stdin(Stdio::null());
        support::cli::output_bounded(&mut command)
    }

    /// The visible screen of `window`, with up to 500 lines of its history.
    fn screen(&self, window: &str) -> String {
        let target = format!("gd:{window}");
        String::from_utf8_lossy(
            &self
                .tmux(&["capture-pane", "-p", "-J", "-S", "-500", "-t", &target])
                .stdout,
        )
        .into_owned()
    }

    /// Polls `window` until `seen` holds for its screen (bounded), and returns that screen.
    fn wait_for(&self, window: &str, what: &str, seen: impl Fn(&str) -> bool) -> String {
        let mut screen = String::new();
        let shown = wait_until(Duration::from_secs(90), || {
            screen = self.screen(window);
            seen(&screen)
        });
        assert!(shown, "{what} never showed in the {window} pane:\n{screen}");
        screen
    }

    /// Types `line` at the shell prompt of `window`, as a person does.
    fn type_line(&self, window: &str, line: &str) {
        let target = format!("gd:{window}");
        let typed = self.tmux(&["send-keys", "-t", &target, "-l", line]);
        assert!(typed.status.success(), "tmux send-keys: {}", text(&typed));
        self.tmux(&["send-keys", "-t", &target, "Enter"]);
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
    }
}

/// A word safe for the shell: the paths of a temporary directory, in single quotes.
fn quoted(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

/// The number of S1 steps ready that a `status` screen shows (`S1: 4/49 steps ready`).
fn s1_ready(screen: &str) -> Option<u32> {
    let line = screen
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with("S1: "))?;
    line.trim_start()["S1: ".len()..]
        .split('/')
        .next()?
        .parse()
        .ok()
}

/// The live page as Chromium renders it (its scripts ran).
fn live_page(addr: &str) -> String {
    browser::load(&format!("http://{addr}/")).dom
}

/// The class of the report's row of `step`.
fn row_class(dom: &str, step: &str) -> Option<String> {
    browser::attribute(dom, &format!("data-step=\"{step}\""), "class")
}

#[test]
fn a_sped_up_game_day_on_a_terminal_retry_and_ack_are_scored_and_the_live_page_follows() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gated.yaml");
    std::fs::write(&file, playbook()).unwrap();
    let run = dir.path().join("run");
    let term = Terminal::new("gd");
    // Four of the six LDAP servers fail every start until repaired: below LDAP's quorum.
    let faults: String = ["ldap01.dc1", "ldap02.dc1", "ldap03.dc1", "ldap01.dc2"]
        .iter()
        .map(|host| format!(" --inject start-failure=ldap@{host}"))
        .collect();
    let simulate = format!(
        "{BIN} simulate {} --only graph-leader --run-dir {} --speed 120 --no-faults --spread 0{faults}; sleep 120",
        quoted(&file),
        quoted(&run)
    );
    let started = term.tmux(&[
        "new-session",
        "-d",
        "-s",
        "gd",
        "-n",
        "day",
        "-x",
        "200",
        "-y",
        "60",
        &simulate,
    ]);
    assert!(started.status.success(), "tmux: {}", text(&started));
    assert!(
        wait_until(Duration::from_secs(60), || run.join("run.json").exists()),
        "the game day wrote no run directory:\n{}",
        term.screen("day")
    );
    let watch = format!("{BIN} status --watch 1 {}; sleep 120", quoted(&run));
    term.tmux(&["new-window", "-t", "gd", "-n", "watch", &watch]);
    term.tmux(&[
        "new-window",
        "-t",
        "gd",
        "-n",
        "shell",
        "bash --norc --noprofile",
    ]);

    // The watching pane shows the night moving, then LDAP failed and the gate waiting.
    let early = term.wait_for("watch", "progress", |s| {
        s.contains("SIMULATED game day") && s1_ready(s).is_some_and(|n| n > 0)
    });
    let failing = term.wait_for("watch", "ldap FAILED and the gate waiting", |s| {
        s.contains("FAILED  ldap: 2 of 6 healthy, 3 needed")
            && s.contains("WAITING approve-config for a person")
    });
    assert!(
        s1_ready(&failing) >= s1_ready(&early),
        "{early}\n---\n{failing}"
    );
    assert!(failing.contains("LIVE"), "{failing}");

    // The live page, opened while the failure is open: LDAP's row is failed, the banner says so.
    let addr = format!("127.96.1.1:{}", 20000 + std::process::id() % 20000);
    let mut server = spawn(&["serve", run.to_str().unwrap(), "--addr", &addr]);
    let served = wait_until(Duration::from_secs(20), || {
        std::net::TcpStream::connect(&addr).is_ok()
    });
    assert!(served, "the live page was not served on {addr}");
    let open = live_page(&addr);
    assert!(open.contains("SIMULATED game day"), "{open}");
    assert!(
        row_class(&open, "ldap").is_some_and(|c| c.contains("status-failed")),
        "ldap's row while it is failed: {:?}",
        row_class(&open, "ldap")
    );
    assert!(
        open.contains("id=\"banner\""),
        "the page says what is wrong"
    );

    // The person repairs LDAP and says so at a prompt; the step comes back.
    term.type_line("shell", &format!("{BIN} retry {} ldap", quoted(&run)));
    term.wait_for("shell", "the retry's answer", |s| {
        s.contains("handed to the live run")
    });
    let back = term.wait_for("watch", "ldap back", |s| {
        !s.contains("FAILED  ldap") && s.contains(", 0 failed,")
    });
    assert!(back.contains("WAITING approve-config"), "{back}");

    // Then approves the gate: the night goes on to its end.
    term.type_line(
        "shell",
        &format!("{BIN} ack {} approve-config --by ana", quoted(&run)),
    );
    let end = term.wait_for("day", "the scorecard", |s| {
        s.contains("SCORECARD") && s.contains("acknowledged by ana")
    });
    assert!(end.contains("steps: 49 ready, 0 failed"), "{end}");
    for host in ["ldap01.dc1", "ldap02.dc1", "ldap03.dc1", "ldap01.dc2"] {
        let line = end
            .lines()
            .find(|l| l.contains(&format!("ldap on {host} failed at +")))
            .unwrap_or_else(|| panic!("no scorecard line for {host}:\n{end}"));
        assert!(
            line.contains("; retried at +") && line.contains("on the run clock)"),
            "{line}"
        );
    }
    let gate = end
        .lines()
        .find(|l| l.contains("approve-config waited from +"))
        .unwrap_or_else(|| panic!("no scorecard line for the gate:\n{end}"));
    assert!(
        gate.contains("acknowledged by ana after") && gate.contains("on the run clock)"),
        "{gate}"
    );
    // The watch follows the night to its end.
    term.wait_for("watch", "the end of the night", |s| {
        s.contains("steps: 49 ready, 0 failed")
    });

    // The live page after: every row ready, no banner, recovered.
    let after = wait_until(Duration::from_secs(30), || {
        let dom = live_page(&addr);
        row_class(&dom, "ldap").is_some_and(|c| c.contains("status-ready"))
            && !dom.contains("id=\"banner\"")
            && dom.contains("recovered in")
    });
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(after, "the live page never showed the recovery");
}
