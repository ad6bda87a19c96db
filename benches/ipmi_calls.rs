//! BMC call latency, the native IPMI client against `ipmitool`, in one run on the same
//! ipmi_sim BMCs: `cargo bench --bench ipmi_calls [-- CALLS]`. Reports the medians of power
//! status reads one at a time, then of a burst over every BMC at once, and their ratio (the
//! figure that holds from one machine to the next). A lab bench: not in CI.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use blackstart::run::transport::bmc::BmcPower;
use blackstart::run::transport::bmc_calls::BmcCalls;
use blackstart::run::transport::{Power, PowerAction};
use blackstart::topology::{BmcProtocol, Host, IpmiClient};
use support::lab::Lab;

/// BMCs in the burst.
const BMCS: usize = 20;

fn with_client(mut host: Host, client: IpmiClient) -> Host {
    if let Some(BmcProtocol::Ipmi(ipmi)) = host.bmc.as_mut().map(|bmc| &mut bmc.protocol) {
        ipmi.client = client;
    }
    host
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

async fn one_by_one(power: &BmcPower, host: &Host, calls: usize) -> Duration {
    let mut samples = Vec::new();
    for _ in 0..calls {
        let began = Instant::now();
        power
            .power(host, PowerAction::Status)
            .await
            .expect("status read");
        samples.push(began.elapsed());
    }
    median(samples)
}

async fn burst(power: &BmcPower, hosts: &[Host]) -> Duration {
    let began = Instant::now();
    let mut reads = tokio::task::JoinSet::new();
    for host in hosts {
        let (power, host) = (power.clone(), host.clone());
        reads.spawn(async move { power.power(&host, PowerAction::Status).await });
    }
    while let Some(result) = reads.join_next().await {
        result
            .expect("read task")
            .expect("status read in the burst");
    }
    began.elapsed()
}

fn main() {
    let calls: usize = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(50);
    let lab = Lab::start("bi", (83, 40), BMCS);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let power = BmcPower::shared(BmcCalls::new(64).with_timeout(Duration::from_secs(10)));
        let native: Vec<Host> = (0..BMCS).map(|i| with_client(lab.host(i), IpmiClient::Native)).collect();
        let tool: Vec<Host> = (0..BMCS).map(|i| with_client(lab.host(i), IpmiClient::Ipmitool)).collect();
        let n1 = one_by_one(&power, &native[0], calls).await;
        let t1 = one_by_one(&power, &tool[0], calls).await;
        println!(
            "status read one at a time ({calls} calls): native median {n1:?}, ipmitool median {t1:?}, ipmitool/native {:.1}",
            t1.as_secs_f64() / n1.as_secs_f64()
        );
        let nb = burst(&power, &native).await;
        let tb = burst(&power, &tool).await;
        println!(
            "status read of {BMCS} BMCs at once: native {nb:?}, ipmitool {tb:?}, ipmitool/native {:.1}",
            tb.as_secs_f64() / nb.as_secs_f64()
        );
    });
}
