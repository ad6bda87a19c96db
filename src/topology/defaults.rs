//! Every default in one place. The README's format reference quotes these values.

use std::time::Duration;

/// Node actions in flight at once, fleet-wide.
pub const PARALLELISM: u32 = 64;
/// Power-on commands per power domain per window.
pub const POWER_ON_PER_WINDOW: u32 = 10;
/// The power-on rate window.
pub const POWER_ON_WINDOW: Duration = Duration::from_secs(10);

/// Time limit of one BMC (ipmitool) call.
pub const BMC_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts per BMC request.
pub const BMC_ATTEMPTS: u32 = 3;

/// SSH login user.
pub const SSH_USER: &str = "root";
/// SSH port.
pub const SSH_PORT: u16 = 22;
/// known_hosts file, `~` expanded at load time.
pub const KNOWN_HOSTS: &str = "~/.ssh/known_hosts";
/// SSH connect and handshake timeout.
pub const SSH_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Expected boot time, power-on to SSH.
pub const BOOT: Duration = Duration::from_secs(120);

/// BMC user.
pub const BMC_USER: &str = "admin";
/// ipmitool interface.
pub const BMC_INTERFACE: &str = "lanplus";
/// IPMI cipher suite: without `-C 3` ipmitool spends 10 s per call probing suites.
pub const BMC_CIPHER_SUITE: u8 = 3;

/// Expected start duration of a subsystem, for the plan's ETA.
pub const EXPECT: Duration = Duration::from_secs(30);
/// Time limit of a start command.
pub const START_TIMEOUT: Duration = Duration::from_secs(120);
/// Time limit from start to healthy, per attempt.
pub const READY_TIMEOUT: Duration = Duration::from_secs(300);
/// Attempts, the first included.
pub const RETRY_ATTEMPTS: u32 = 3;
/// First retry backoff; doubles each attempt.
pub const RETRY_BACKOFF: Duration = Duration::from_secs(5);
/// Backoff ceiling.
pub const RETRY_MAX_BACKOFF: Duration = Duration::from_secs(120);
/// Time between health polls.
pub const HEALTH_INTERVAL: Duration = Duration::from_secs(1);
/// Time limit of one health poll.
pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(5);
/// Consecutive healthy polls needed.
pub const HEALTH_SUCCESSES: u32 = 2;
/// Time between progress polls.
pub const PROGRESS_INTERVAL: Duration = Duration::from_secs(30);
/// Progress polls without change before a slow start counts as stalled.
pub const PROGRESS_STALL_INTERVALS: u32 = 3;
