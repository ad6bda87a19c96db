//! Fan-out: one command on many hosts at once, through any [`Remote`], with a fixed number
//! of hosts in flight. Each host's exit code, output tail and duration come back as soon as
//! it finishes, so a caller can print them while the rest still run.
//!
//! Concurrency is bounded twice on purpose: here, by the number of worker tasks (so no more
//! than `parallelism` calls are ever waiting in the transport, and a host's time limit only
//! starts when its turn comes), and in the transport by its own session cap.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::transport::{CommandOutput, Remote, TransportError};
use crate::topology::Host;

/// How a fan-out runs.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Hosts in flight at once (at least 1).
    pub parallelism: usize,
    /// Time limit per host, connection included.
    pub timeout: Duration,
}

/// What one host did.
#[derive(Debug, Clone)]
pub struct HostResult {
    /// Index of the host in the list given to [`start`].
    pub index: usize,
    /// Host name.
    pub name: String,
    /// The command's exit and output, or why it could not run.
    pub result: Result<CommandOutput, TransportError>,
    /// From the start of this host's call to its end.
    pub duration: Duration,
}

impl HostResult {
    /// The command ran and exited 0.
    pub fn succeeded(&self) -> bool {
        matches!(&self.result, Ok(output) if output.exit_code == Some(0))
    }

    /// `exit N`, `killed by a signal`, or the transport's reason (without the host name).
    pub fn status(&self) -> String {
        match &self.result {
            Ok(output) => match output.exit_code {
                Some(code) => format!("exit {code}"),
                None => "killed by a signal".to_string(),
            },
            Err(err) => reason(err),
        }
    }
}

/// Why a transport failed, worded for a line that already starts with the host's name.
pub fn reason(err: &TransportError) -> String {
    match err {
        TransportError::Timeout { what, after, .. } => {
            format!(
                "timed out after {} ({what})",
                humantime::format_duration(*after)
            )
        }
        TransportError::Unreachable { detail, .. } => format!("unreachable: {detail}"),
        TransportError::HostKey { detail, .. } => format!("SSH host key refused: {detail}"),
        TransportError::Auth { detail, .. } => format!("authentication failed: {detail}"),
        TransportError::Config { detail, .. }
        | TransportError::Other { detail, .. }
        | TransportError::Tls { detail, .. }
        | TransportError::Refused { detail, .. } => detail.clone(),
    }
}

/// A fan-out under way. Dropping it stops handing out hosts; calls already in the transport
/// end at their time limit.
pub struct Fanout {
    results: mpsc::UnboundedReceiver<HostResult>,
    workers: JoinSet<()>,
    began: Instant,
    total: usize,
}

impl Fanout {
    /// The next host to finish, in order of completion; `None` once every host reported.
    pub async fn next(&mut self) -> Option<HostResult> {
        self.results.recv().await
    }

    /// Hosts in this fan-out.
    pub fn total(&self) -> usize {
        self.total
    }

    /// Time since the fan-out started.
    pub fn elapsed(&self) -> Duration {
        self.began.elapsed()
    }

    /// Stops handing out hosts that have not started yet.
    pub fn stop(&mut self) {
        self.workers.abort_all();
    }
}

/// Starts `command` on every host of `hosts`, at most `options.parallelism` at once, in list
/// order. Must be called inside a tokio runtime.
pub fn start<R: Remote>(
    remote: Arc<R>,
    hosts: Vec<Host>,
    command: &str,
    options: Options,
) -> Fanout {
    let total = hosts.len();
    let hosts: Arc<[Host]> = hosts.into();
    let command: Arc<str> = command.into();
    let next = Arc::new(AtomicUsize::new(0));
    let (sender, results) = mpsc::unbounded_channel();
    let mut workers = JoinSet::new();
    for _ in 0..options.parallelism.max(1).min(total) {
        let (remote, hosts, command, next, sender) = (
            remote.clone(),
            hosts.clone(),
            command.clone(),
            next.clone(),
            sender.clone(),
        );
        workers.spawn(async move {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(host) = hosts.get(index) else {
                    break;
                };
                let began = Instant::now();
                let result = remote.exec(host, &command, options.timeout).await;
                let done = HostResult {
                    index,
                    name: host.name.clone(),
                    result,
                    duration: began.elapsed(),
                };
                if sender.send(done).is_err() {
                    break;
                }
            }
        });
    }
    Fanout {
        results,
        workers,
        began: Instant::now(),
        total,
    }
}

/// Every host's result, in the order of `hosts`, and the wall time.
#[derive(Debug, Clone)]
pub struct Report {
    /// One per host, in list order.
    pub results: Vec<HostResult>,
    /// From start to the last host's end.
    pub wall: Duration,
}

impl Report {
    /// Hosts whose command exited 0.
    pub fn succeeded(&self) -> usize {
        self.results.iter().filter(|r| r.succeeded()).count()
    }

    /// Hosts that failed in any way.
    pub fn failed(&self) -> usize {
        self.results.len() - self.succeeded()
    }
}

/// Runs `command` on every host and waits for all of them.
pub async fn run<R: Remote>(
    remote: Arc<R>,
    hosts: Vec<Host>,
    command: &str,
    options: Options,
) -> Report {
    let mut fanout = start(remote, hosts, command, options);
    let mut results = Vec::with_capacity(fanout.total());
    while let Some(result) = fanout.next().await {
        results.push(result);
    }
    results.sort_by_key(|r| r.index);
    Report {
        results,
        wall: fanout.elapsed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Sleeps per host, fails on hosts named `bad*`, records the peak in flight.
    #[derive(Default)]
    struct Slow {
        in_flight: AtomicUsize,
        peak: AtomicUsize,
        seen: Mutex<Vec<String>>,
    }

    impl Remote for Slow {
        async fn exec(
            &self,
            host: &Host,
            command: &str,
            timeout: Duration,
        ) -> Result<CommandOutput, TransportError> {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(now, Ordering::SeqCst);
            self.seen
                .lock()
                .unwrap()
                .push(format!("{}:{command}", host.name));
            tokio::time::sleep(Duration::from_millis(20)).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            if host.name.starts_with("down") {
                return Err(TransportError::Unreachable {
                    host: host.name.clone(),
                    detail: "connection refused".into(),
                });
            }
            assert_eq!(timeout, Duration::from_secs(7));
            Ok(CommandOutput {
                exit_code: Some(if host.name.starts_with("bad") { 3 } else { 0 }),
                stdout: String::new(),
                stderr: String::new(),
                bmc: None,
            })
        }
    }

    #[tokio::test]
    async fn bounded_every_host_once_in_list_order() {
        let remote = Arc::new(Slow::default());
        let mut hosts: Vec<Host> = (0..25).map(|i| Host::for_test(&format!("h{i}"))).collect();
        hosts.push(Host::for_test("bad1"));
        hosts.push(Host::for_test("down1"));
        let options = Options {
            parallelism: 4,
            timeout: Duration::from_secs(7),
        };
        let report = run(remote.clone(), hosts, "true", options).await;
        assert_eq!(report.results.len(), 27);
        assert!(report.results.iter().enumerate().all(|(i, r)| r.index == i));
        assert_eq!(report.succeeded(), 25);
        assert_eq!(report.failed(), 2);
        assert_eq!(report.results[25].status(), "exit 3");
        assert_eq!(
            report.results[26].status(),
            "unreachable: connection refused"
        );
        assert_eq!(remote.peak.load(Ordering::SeqCst), 4);
        let seen = remote.seen.lock().unwrap();
        assert_eq!(seen.len(), 27);
        assert!(seen.iter().all(|s| s.ends_with(":true")));
    }

    #[tokio::test]
    async fn no_hosts_ends_at_once() {
        let remote = Arc::new(Slow::default());
        let options = Options {
            parallelism: 0,
            timeout: Duration::from_secs(1),
        };
        let report = run(remote, Vec::new(), "true", options).await;
        assert!(report.results.is_empty());
    }
}
