//! What every BMC protocol shares: one call at a time per BMC (BMCs fall over under parallel
//! sessions), a fleet-wide cap on calls in flight, a time limit per call, and retries with a
//! doubling pause. The password is read at every attempt, so a rotated secret is picked up
//! and none is kept around.
//!
//! Status reads may hold at most half of the fleet-wide cap. A run asks every host's power
//! state at once; with one first-come queue, a thousand reads would hold back the power-on of
//! the first host until the last read is answered (32 s on a 1,000-host lab), and with it the
//! whole critical path. Power-ons, decided one by one in priority order and rate-limited by
//! the scheduler, always find free slots.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;

use super::{PowerAction, TransportError};
use crate::run::secrets::{self, Secret};
use crate::topology::{defaults, Bmc, Host};

/// Pause before the first retry; doubles after each failure.
pub(crate) const RETRY_PAUSE: Duration = Duration::from_millis(250);

/// The caps, limit and retries of BMC calls. Cheap to clone; clones share the caps, so IPMI
/// and Redfish BMCs of one fleet count against the same fleet-wide cap.
#[derive(Debug, Clone)]
pub struct BmcCalls {
    timeout: Duration,
    attempts: u32,
    /// Caps calls in flight over all BMCs.
    calls: Arc<Semaphore>,
    /// Caps status reads (queued or in flight) at half of `calls`.
    reads: Arc<Semaphore>,
    /// One call at a time per BMC address.
    per_bmc: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
}

impl BmcCalls {
    /// At most `max_calls` calls at once (at least 1), one at a time per BMC, each cut at
    /// [`defaults::BMC_TIMEOUT`], [`defaults::BMC_ATTEMPTS`] attempts per request.
    pub fn new(max_calls: usize) -> Self {
        BmcCalls {
            timeout: defaults::BMC_TIMEOUT,
            attempts: defaults::BMC_ATTEMPTS,
            calls: Arc::new(Semaphore::new(max_calls.max(1))),
            reads: Arc::new(Semaphore::new((max_calls / 2).max(1))),
            per_bmc: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Sets the limit of one call.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the attempts per request (at least 1).
    pub fn with_attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts.max(1);
        self
    }

    /// The limit of one call.
    pub fn timeout(&self) -> std::time::Duration {
        self.timeout
    }

    fn bmc_gate(&self, address: &str) -> Arc<Semaphore> {
        let mut map = self.per_bmc.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(address.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(1)))
            .clone()
    }

    /// Runs `call` with the BMC's password under the caps, each attempt cut at the time
    /// limit (the future is dropped, which kills a child process or closes a connection).
    /// `what` names the call in a timeout error; `action` says whether it only reads the
    /// power state (such calls hold at most half of the cap). Configuration, TLS and
    /// authentication errors are not retried: they do not heal by themselves, and repeating
    /// a wrong password can lock the BMC's account.
    pub async fn run<T, F, Fut>(
        &self,
        host: &Host,
        bmc: &Bmc,
        action: PowerAction,
        what: &str,
        call: F,
    ) -> Result<T, TransportError>
    where
        F: Fn(Secret) -> Fut,
        Fut: Future<Output = Result<T, TransportError>>,
    {
        let mut pause = RETRY_PAUSE;
        let mut attempt = 1;
        loop {
            let password = secrets::read(&bmc.password).map_err(|err| TransportError::Config {
                host: host.name.clone(),
                detail: format!("BMC password: {err}"),
            })?;
            let result = {
                // Always reads, then the BMC, then the fleet: one order, so no deadlock.
                let _read = match action {
                    PowerAction::Status => {
                        Some(self.reads.acquire().await.map_err(|_| closed(host))?)
                    }
                    _ => None,
                };
                let gate = self.bmc_gate(&bmc.address);
                let _bmc = gate.acquire().await.map_err(|_| closed(host))?;
                let _call = self.calls.acquire().await.map_err(|_| closed(host))?;
                match tokio::time::timeout(self.timeout, call(password)).await {
                    Ok(result) => result,
                    Err(_) => Err(TransportError::Timeout {
                        host: host.name.clone(),
                        what: what.to_string(),
                        after: self.timeout,
                        reaching: false,
                    }),
                }
            };
            match result {
                Ok(value) => return Ok(value),
                Err(
                    err @ (TransportError::Config { .. }
                    | TransportError::Tls { .. }
                    | TransportError::Auth { .. }
                    | TransportError::Refused { .. }),
                ) => return Err(err),
                Err(err) if attempt >= self.attempts => return Err(err),
                Err(err) => {
                    tracing::debug!(host = %host.name, attempt, "BMC call failed, retrying: {err}");
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                    attempt += 1;
                }
            }
        }
    }
}

fn closed(host: &Host) -> TransportError {
    TransportError::Other {
        host: host.name.clone(),
        detail: "BMC call limiter closed".into(),
    }
}

/// Replaces every occurrence of the password, in case a BMC or a tool echoes it.
pub fn scrub(text: &str, password: &str) -> String {
    if password.is_empty() {
        text.to_string()
    } else {
        text.replace(password, "********")
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;

    fn host(name: &str) -> (Host, Bmc) {
        let bmc = Bmc {
            address: format!("bmc-{name}"),
            user: "admin".into(),
            password: crate::topology::SecretSource::Env("BLACKSTART_TEST_BMC_PW".into()),
            protocol: crate::topology::BmcProtocol::Ipmi(crate::topology::IpmiSettings {
                client: crate::topology::IpmiClient::Native,
                interface: "lanplus".into(),
                cipher_suite: 3,
            }),
        };
        let host = Host {
            bmc: Some(bmc.clone()),
            ..Host::for_test(name)
        };
        (host, bmc)
    }

    /// Many status reads queued first must not hold back a power-on asked after them, nor
    /// take more than half of the cap.
    #[tokio::test]
    async fn power_on_passes_queued_status_reads() {
        std::env::set_var("BLACKSTART_TEST_BMC_PW", "pw");
        let calls = BmcCalls::new(4);
        let release = Arc::new(tokio::sync::Notify::new());
        let in_flight = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let peak_reads = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut reads = Vec::new();
        for i in 0..20 {
            let (calls, release) = (calls.clone(), release.clone());
            let (in_flight, peak) = (in_flight.clone(), peak_reads.clone());
            reads.push(tokio::spawn(async move {
                let (host, bmc) = host(&format!("h{i}"));
                calls
                    .run(&host, &bmc, PowerAction::Status, "status", |_| async {
                        let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        release.notified().await;
                        in_flight.fetch_sub(1, Ordering::SeqCst);
                        Ok(())
                    })
                    .await
            }));
        }
        // Let every read reach its queue before the power-on is asked.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let (host, bmc) = host("urgent");
        let on = tokio::time::timeout(
            Duration::from_secs(5),
            calls.run(&host, &bmc, PowerAction::On, "on", |_| async { Ok(()) }),
        )
        .await;
        assert!(
            matches!(on, Ok(Ok(()))),
            "the power-on waited behind status reads"
        );
        assert_eq!(peak_reads.load(Ordering::SeqCst), 2, "reads hold half of 4");
        for _ in 0..1000 {
            if reads.iter().all(|r| r.is_finished()) {
                break;
            }
            release.notify_waiters();
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        for read in reads {
            assert!(read.await.unwrap().is_ok());
        }
    }

    #[test]
    fn scrubs_password() {
        assert_eq!(scrub("bad s3cret here", "s3cret"), "bad ******** here");
        assert_eq!(scrub("text", ""), "text");
    }
}
