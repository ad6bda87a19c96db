//! The operator's own OpenSSH as a second SSH client (`ssh: { client: openssh }`): the system
//! `ssh` with the operator's configuration, so whatever it reaches (ProxyCommand, Match,
//! certificates, Kerberos, FIDO keys, post-quantum key exchange) blackstart reaches.
//!
//! One ControlMaster per host: the boot poll starts it (connect, host key, login, then ssh
//! backgrounds itself), the start command and the command checks run through it, a power
//! action closes it (`ssh -O exit`), and so does the end of the run. Its socket lives in a
//! private 0700 directory made for this process. At most [`MOST_MASTERS`] masters are open;
//! past that the one idle longest is closed, and when every master is busy a call connects
//! on its own. A master also exits by itself after [`MASTER_PERSIST`] without a call, so a
//! killed blackstart leaves none behind for long.
//!
//! Every `ssh` is a child of this process, cut at its call's time limit and killed when the
//! call is dropped. ssh's own failures (exit 255 and its words on stderr) are turned into
//! the transport's typed errors in `ssh_openssh_args.rs`, nowhere else.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::ssh_openssh_args::{argv, classify, Mux};
use super::ssh_openssh_proc::{close_masters, private_dir, run};
use super::{CommandOutput, TransportError};
use crate::topology::{Host, OpensshClient};

/// Most ControlMasters open at once (each is an ssh process and a connection).
pub(super) const MOST_MASTERS: usize = 64;

/// A master with no call for this long exits by itself (`ControlPersist`).
const MASTER_PERSIST: Duration = Duration::from_secs(120);

/// The masters of a fleet; shared by the clones of one transport. Closes them all on drop.
#[derive(Debug)]
pub(super) struct Openssh {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// The private directory of the control sockets, made on first use.
    dir: Option<PathBuf>,
    /// One entry per host login (see [`login_key`]).
    masters: HashMap<String, Arc<Master>>,
    /// Names the next socket.
    next: usize,
}

/// One host's master: its socket, and how busy it is.
#[derive(Debug)]
struct Master {
    socket: PathBuf,
    /// Held while the master is checked or started, so one call starts it, not two.
    start: tokio::sync::Mutex<()>,
    use_: Mutex<Use>,
}

#[derive(Debug)]
struct Use {
    in_flight: usize,
    last: Instant,
}

/// Marks a master busy for as long as it lives.
struct Busy(Arc<Master>);

impl Drop for Busy {
    fn drop(&mut self) {
        let mut use_ = self.0.lock_use();
        use_.in_flight -= 1;
        use_.last = Instant::now();
    }
}

impl Master {
    fn lock_use(&self) -> std::sync::MutexGuard<'_, Use> {
        self.use_.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn busy(self: &Arc<Self>) -> Busy {
        let mut use_ = self.lock_use();
        use_.in_flight += 1;
        use_.last = Instant::now();
        Busy(self.clone())
    }

    /// Whether the master listens: it removes its socket when it exits.
    fn up(&self) -> bool {
        self.socket.exists()
    }
}

impl Openssh {
    /// No master yet, no directory yet.
    pub fn new() -> Self {
        Openssh {
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `command` (already wrapped in the remote time limit) on `host` through its
    /// master, starting it first when needed; the whole call is cut at `timeout`.
    pub async fn exec(
        &self,
        host: &Host,
        client: &OpensshClient,
        command: &str,
        timeout: Duration,
        what: &str,
    ) -> Result<CommandOutput, TransportError> {
        let deadline = Instant::now() + timeout;
        let master = self.ensure_master(host, client, deadline, timeout).await?;
        let mux = master
            .as_ref()
            .map_or(Mux::Alone, |busy| Mux::Through(&busy.0.socket));
        let args = argv(host, client, mux, Some(command))?;
        let left = deadline.saturating_duration_since(Instant::now());
        let ended = run(host, args, left)
            .await?
            .ok_or_else(|| TransportError::Timeout {
                host: host.name.clone(),
                what: what.to_string(),
                after: timeout,
                reaching: false,
            })?;
        drop(master);
        if ended.code == Some(255) {
            if let Some(error) = classify(host, &ended.stderr, host.ssh.login.connect_timeout) {
                return Err(error);
            }
        }
        Ok(CommandOutput {
            exit_code: ended.code,
            stdout: ended.stdout,
            stderr: ended.stderr,
            bmc: None,
        })
    }

    /// Starts `host`'s master (connect, host key, login), or finds it up: "does SSH answer
    /// yet" after a power-on. Cut at `timeout`.
    pub async fn reachable(
        &self,
        host: &Host,
        client: &OpensshClient,
        timeout: Duration,
    ) -> Result<(), TransportError> {
        let deadline = Instant::now() + timeout;
        match self.ensure_master(host, client, deadline, timeout).await? {
            Some(_) => Ok(()),
            // Every master slot busy: a plain login answers the question.
            None => {
                let args = argv(host, client, Mux::Alone, Some("true"))?;
                let ended = run(host, args, timeout)
                    .await?
                    .ok_or_else(|| reaching_timeout(host, timeout))?;
                match ended.code {
                    Some(0) => Ok(()),
                    _ => Err(classify(host, &ended.stderr, timeout).unwrap_or_else(|| {
                        TransportError::Unreachable {
                            host: host.name.clone(),
                            detail: format!("system ssh: {}", ended.stderr.trim()),
                        }
                    })),
                }
            }
        }
    }

    /// Closes `host`'s master (it was just powered on or off), in the background, bounded.
    pub fn forget(&self, host: &Host, client: &OpensshClient) {
        let gone = self.lock().masters.remove(&login_key(host, client));
        if let Some(master) = gone.filter(|m| m.up()) {
            let socket = master.socket.clone();
            std::thread::spawn(move || close_masters(&[socket]));
        }
    }

    /// The host's master, up and marked busy; `None` when the cap is reached and every
    /// master is busy (the call then connects on its own).
    async fn ensure_master(
        &self,
        host: &Host,
        client: &OpensshClient,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<Option<Busy>, TransportError> {
        let Some(master) = self.master_for(host, client)? else {
            return Ok(None);
        };
        let busy = master.busy();
        let _starting = tokio::time::timeout_at(deadline.into(), master.start.lock())
            .await
            .map_err(|_| reaching_timeout(host, timeout))?;
        if master.up() {
            return Ok(Some(busy));
        }
        let args = argv(
            host,
            client,
            Mux::Start(&master.socket, MASTER_PERSIST),
            None,
        )?;
        let left = deadline.saturating_duration_since(Instant::now());
        let started = Instant::now();
        let ended = run(host, args, left)
            .await?
            .ok_or_else(|| reaching_timeout(host, timeout))?;
        if ended.code == Some(0) && master.up() {
            tracing::debug!(host = %host.name, ms = started.elapsed().as_millis() as u64, "ssh ControlMaster up");
            return Ok(Some(busy));
        }
        Err(
            classify(host, &ended.stderr, timeout).unwrap_or_else(|| TransportError::Unreachable {
                host: host.name.clone(),
                detail: format!(
                    "system ssh exited with {:?} without a ControlMaster: {}",
                    ended.code,
                    ended.stderr.trim()
                ),
            }),
        )
    }

    /// The master entry of `host`'s login, made when missing; past [`MOST_MASTERS`] the one
    /// idle longest is closed, or `None` when all are busy.
    fn master_for(
        &self,
        host: &Host,
        client: &OpensshClient,
    ) -> Result<Option<Arc<Master>>, TransportError> {
        let key = login_key(host, client);
        let mut state = self.lock();
        if let Some(master) = state.masters.get(&key) {
            return Ok(Some(master.clone()));
        }
        if state.masters.len() >= MOST_MASTERS {
            let idle = state
                .masters
                .iter()
                .filter(|(_, m)| m.lock_use().in_flight == 0)
                .min_by_key(|(_, m)| m.lock_use().last)
                .map(|(key, _)| key.clone());
            let Some(idle) = idle else {
                return Ok(None);
            };
            if let Some(evicted) = state.masters.remove(&idle) {
                let socket = evicted.socket.clone();
                std::thread::spawn(move || close_masters(&[socket]));
            }
        }
        let dir = match &state.dir {
            Some(dir) => dir.clone(),
            None => {
                let dir = private_dir().map_err(|e| TransportError::Config {
                    host: host.name.clone(),
                    detail: format!("cannot make a private directory for ssh control sockets: {e}"),
                })?;
                state.dir = Some(dir.clone());
                dir
            }
        };
        state.next += 1;
        let master = Arc::new(Master {
            socket: dir.join(format!("m{}", state.next)),
            start: tokio::sync::Mutex::new(()),
            use_: Mutex::new(Use {
                in_flight: 0,
                last: Instant::now(),
            }),
        });
        state.masters.insert(key, master.clone());
        Ok(Some(master))
    }
}

impl Drop for Openssh {
    /// Closes every master (`ssh -O exit`, side by side, bounded) and removes the directory.
    fn drop(&mut self) {
        let state = std::mem::take(&mut *self.lock());
        let sockets: Vec<PathBuf> = state
            .masters
            .values()
            .filter(|m| m.up())
            .map(|m| m.socket.clone())
            .collect();
        close_masters(&sockets);
        if let Some(dir) = state.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// What identifies a host's master: everything the argv depends on.
fn login_key(host: &Host, client: &OpensshClient) -> String {
    let login = &host.ssh.login;
    format!(
        "{client:?}\0{}\0{}",
        login.strict_host_key_checking,
        login.connect_timeout.as_millis()
    )
}

/// The timeout of a call still reaching the host.
fn reaching_timeout(host: &Host, after: Duration) -> TransportError {
    TransportError::Timeout {
        host: host.name.clone(),
        what: "system ssh connect and login".into(),
        after,
        reaching: true,
    }
}
