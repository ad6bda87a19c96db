//! What every BMC protocol shares: one call at a time per BMC (BMCs fall over under parallel
//! sessions), a fleet-wide cap on calls in flight, a time limit per call, and retries with a
//! doubling pause. The password is read at every attempt, so a rotated secret is picked up
//! and none is kept around.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;

use super::TransportError;
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

    fn bmc_gate(&self, address: &str) -> Arc<Semaphore> {
        let mut map = self.per_bmc.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(address.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(1)))
            .clone()
    }

    /// Runs `call` with the BMC's password under the caps, each attempt cut at the time
    /// limit (the future is dropped, which kills a child process or closes a connection).
    /// `what` names the call in a timeout error. Configuration, TLS and authentication
    /// errors are not retried: they do not heal by themselves, and repeating a wrong
    /// password can lock the BMC's account.
    pub async fn run<T, F, Fut>(
        &self,
        host: &Host,
        bmc: &Bmc,
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
                let gate = self.bmc_gate(&bmc.address);
                let _bmc = gate.acquire().await.map_err(|_| closed(host))?;
                let _call = self.calls.acquire().await.map_err(|_| closed(host))?;
                match tokio::time::timeout(self.timeout, call(password)).await {
                    Ok(result) => result,
                    Err(_) => Err(TransportError::Timeout {
                        host: host.name.clone(),
                        what: what.to_string(),
                        after: self.timeout,
                    }),
                }
            };
            match result {
                Ok(value) => return Ok(value),
                Err(
                    err @ (TransportError::Config { .. }
                    | TransportError::Tls { .. }
                    | TransportError::Auth { .. }),
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
    use super::*;

    #[test]
    fn scrubs_password() {
        assert_eq!(scrub("bad s3cret here", "s3cret"), "bad ******** here");
        assert_eq!(scrub("text", ""), "text");
    }
}
