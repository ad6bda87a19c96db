//! The real fleet: actions carried out by executor tasks through the real transports on the
//! wall clock, with Ctrl-C, `blackstart retry`/`ack` requests from the run directory and
//! lines typed at the terminal coming in beside their results.

use std::future::Future;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::{Instant, Interval};

use super::{Finished, Fleet, Next};
use crate::event::{Action, Target};
use crate::plan::StepId;
use crate::run::executor::Executor;
use crate::run::requests::{self, Request};
use crate::run::transport::{Power, Probe, Remote};

/// Real hosts, reached through an [`Executor`]. Create it inside a tokio runtime.
pub struct RealFleet<P, R, Q> {
    executor: Executor<P, R, Q>,
    run_dir: PathBuf,
    origin: Instant,
    offset: Duration,
    sender: mpsc::UnboundedSender<Finished>,
    receiver: mpsc::UnboundedReceiver<Finished>,
    tasks: JoinSet<()>,
    stop: Pin<Box<dyn Future<Output = ()> + Send>>,
    stopping: bool,
    request_poll: Interval,
    prompt: mpsc::UnboundedReceiver<Request>,
}

impl<P: Power, R: Remote, Q: Probe> RealFleet<P, R, Q> {
    /// A fleet for the run in `run_dir`, whose clock starts at `offset` (the time a
    /// resumed run already recorded).
    pub fn new(executor: Executor<P, R, Q>, run_dir: PathBuf, offset: Duration) -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        RealFleet {
            executor,
            run_dir,
            origin: Instant::now(),
            offset,
            sender,
            receiver,
            tasks: JoinSet::new(),
            stop: Box::pin(shutdown_signal()),
            stopping: false,
            request_poll: tokio::time::interval(Duration::from_millis(250)),
            prompt: prompt_requests(),
        }
    }
}

impl<P: Power, R: Remote, Q: Probe> Fleet for RealFleet<P, R, Q> {
    fn now(&self) -> Duration {
        self.offset + self.origin.elapsed()
    }

    fn describe(&self, action: &Action, target: Target) -> Option<String> {
        self.executor.describe(action, target)
    }

    fn launch(&mut self, action: Action, target: Target) {
        let executor = self.executor.clone();
        let sender = self.sender.clone();
        self.tasks.spawn(async move {
            let began = Instant::now();
            let outcome = executor.perform(action, target).await;
            let _ = sender.send(Finished {
                event: outcome.event,
                took: began.elapsed(),
                output: outcome.output,
            });
        });
    }

    /// People are called by the reporter; the real fleet has nothing to do.
    fn person_needed(&mut self, _step: StepId, _at: Duration) {}

    async fn next(&mut self, wake_at: Option<Duration>) -> Next {
        let wake = wake_at
            .map(|at| at.saturating_sub(self.now()))
            .unwrap_or(Duration::from_secs(3600));
        tokio::select! {
            Some(first) = self.receiver.recv() => {
                // Take every result already waiting, so one sync covers them all.
                let mut batch = vec![first];
                while let Ok(more) = self.receiver.try_recv() {
                    batch.push(more);
                }
                Next::Finished(batch)
            }
            _ = tokio::time::sleep(wake) => Next::Wake,
            _ = self.request_poll.tick() => {
                let batch = requests::take(&self.run_dir);
                if batch.is_empty() { Next::Wake } else { Next::Requests(batch) }
            }
            Some(request) = self.prompt.recv() => Next::Requests(vec![request]),
            _ = &mut self.stop, if !self.stopping => {
                self.stopping = true;
                Next::Stop
            }
        }
    }
}

/// Lines typed at the terminal (`ack STEP`, `retry TARGET [HOST]`), when stdin is one.
fn prompt_requests() -> mpsc::UnboundedReceiver<Request> {
    let (sender, receiver) = mpsc::unbounded_channel();
    if std::io::stdin().is_terminal() {
        std::thread::spawn(move || {
            for line in std::io::stdin().lines().map_while(Result::ok) {
                let words: Vec<&str> = line.split_whitespace().collect();
                let request = match words.as_slice() {
                    ["ack", step] => Request::Ack {
                        step: step.to_string(),
                        by: requests::operator(),
                    },
                    ["retry", target] => Request::Retry {
                        target: target.to_string(),
                        host: None,
                    },
                    ["retry", target, host] => Request::Retry {
                        target: target.to_string(),
                        host: Some(host.to_string()),
                    },
                    _ => {
                        eprintln!("type `ack STEP` or `retry SUBSYSTEM [HOST]`");
                        continue;
                    }
                };
                if sender.send(request).is_err() {
                    break;
                }
            }
        });
    }
    receiver
}

/// Ctrl-C or SIGTERM (a game day's paced fleet stops on the same signals).
pub(crate) async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
