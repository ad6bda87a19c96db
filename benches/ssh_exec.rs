//! One command on a pooled SSH session, against a real sshd on loopback (a lab bench, not in
//! CI): `cargo bench --bench ssh_exec [-- CALLS]`. Logs in once (as the boot poll does), then
//! runs CALLS (default 30) commands one at a time on the kept session and prints, for `true`,
//! for a bare python start and for the lab's service start, the median, min and max of the
//! whole call as the scheduler sees it. `RUST_LOG=blackstart::run::transport=debug` adds each
//! call's stages (channel open, exec, output, close; time queued before the session thread).

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use blackstart::run::transport::ssh::SshRemote;
use blackstart::run::transport::Remote;
use support::lab::Lab;

const T: Duration = Duration::from_secs(10);

fn summary(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "median {:.1} ms, min {:.1} ms, max {:.1} ms",
        ms(samples[samples.len() / 2]),
        ms(samples[0]),
        ms(samples[samples.len() - 1])
    )
}

fn main() {
    let calls: usize = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(30);
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let lab = Lab::start_with("sxb", (94, 10), 1, &[0]);
    let host = lab.host(0);
    let python = lab.python.display().to_string();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let remote = SshRemote::new(4);
        remote.reachable(&host, T).await.expect("first login");
        let commands = [
            ("true", "true".to_string()),
            ("python3 -c pass", format!("{python} -c pass")),
            ("lab service start", lab.service_command(7300, 0.0, "")),
        ];
        println!(
            "ssh exec bench: {calls} calls each on one pooled session to {}",
            host.address
        );
        for (label, command) in commands {
            let mut took = Vec::new();
            for _ in 0..calls {
                let start = Instant::now();
                let out = remote.exec(&host, &command, T).await.expect(label);
                assert_eq!(out.exit_code, Some(0), "{label}: {out:?}");
                took.push(start.elapsed());
            }
            println!("  {label}: {}", summary(took));
        }
    });
}
