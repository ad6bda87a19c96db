//! https health checks against a real TLS server on loopback (Python's ssl module with a
//! certificate from a lab CA made by the openssl CLI): the peer is verified against the
//! check's `ca_file` or the system's CAs, never trusted blindly unless `insecure: true`.

mod support;

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use blackstart::plan::actions::RenderedCheck;
use blackstart::run::transport::probe::DirectProbe;
use blackstart::run::transport::ssh::SshRemote;
use blackstart::run::transport::Probe;
use blackstart::topology::{HttpCheck, TlsTrust};
use support::cli::{blackstart, text};
use support::lab::{wait_until, Lab};
use support::redfish::tls_material;

const SERVER: &str = r#"
import http.server, ssl, sys
addr, port, cert, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"secure ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.HTTPServer((addr, port), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
"#;

/// The https server; killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_check_trusts_its_ca_file_refuses_an_unknown_issuer_and_says_so() {
    let lab = Lab::start_with("hs", (77, 40), 1, &[]);
    let address = lab.hosts[0].address.clone();
    let (ca, cert, key) = tls_material(
        &lab.dir.join("tls"),
        "service",
        std::slice::from_ref(&address),
    );
    let (other_ca, _, _) = tls_material(
        &lab.dir.join("other"),
        "other",
        std::slice::from_ref(&address),
    );
    let script = lab.dir.join("https_server.py");
    std::fs::write(&script, SERVER).unwrap();
    let port = 18443;
    let _server = Server(
        Command::new("python3")
            .arg(&script)
            .args([&address, &port.to_string()])
            .arg(&cert)
            .arg(&key)
            .stdin(Stdio::null())
            .spawn()
            .expect("python3 runs the https server"),
    );
    assert!(
        wait_until(Duration::from_secs(10), || {
            TcpStream::connect((address.as_str(), port)).is_ok()
        }),
        "the https server listens"
    );
    let probe = DirectProbe::new(Arc::new(SshRemote::new(1)));
    let host = lab.host(0);
    let url = format!("https://{address}:{port}/health");
    let check = |tls: TlsTrust, body: Option<&str>| {
        RenderedCheck::Http(HttpCheck {
            url: url.clone(),
            status: 200,
            body: body.map(str::to_string),
            tls,
        })
    };
    let limit = Duration::from_secs(3);
    let trusting = |ca_file: &std::path::Path| TlsTrust {
        ca_file: Some(ca_file.to_path_buf()),
        insecure: false,
    };

    probe
        .check(&host, &check(trusting(&ca), Some("secure ok")), limit)
        .await
        .expect("verified against the lab CA, status and body as expected");
    let err = probe
        .check(&host, &check(trusting(&ca), Some("absent")), limit)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("lacks \"absent\""), "{err}");

    let err = probe
        .check(&host, &check(trusting(&other_ca), None), limit)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("TLS") && err.contains(other_ca.to_str().unwrap()),
        "a certificate from another CA is refused, naming the CA file trusted: {err}"
    );
    let err = probe
        .check(&host, &check(TlsTrust::default(), None), limit)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("TLS") && err.contains("system"),
        "the system's CAs do not know the lab CA: {err}"
    );
    let insecure = TlsTrust {
        ca_file: None,
        insecure: true,
    };
    probe
        .check(&host, &check(insecure, None), limit)
        .await
        .expect("insecure: true accepts any certificate");
}

#[test]
fn the_plan_shows_how_an_https_check_is_verified_and_validate_refuses_misplaced_tls_fields() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, _, _) = tls_material(&dir.path().join("tls"), "svc", &["10.0.0.1".into()]);
    let topology = |health: &str| {
        format!(
            "version: 1\nname: https\nhosts:\n  - {{ name: h1, address: 10.0.0.1 }}\n\
             subsystems:\n  - name: api\n    hosts: [h1]\n    start: \"true\"\n    health: {health}\n"
        )
    };
    let file = dir.path().join("t.yaml");
    std::fs::write(
        &file,
        topology(&format!(
            "{{ http: {{ url: \"https://{{address}}:8443/health\", ca_file: {:?} }} }}",
            ca.to_str().unwrap()
        )),
    )
    .unwrap();
    let output = blackstart(&["plan", file.to_str().unwrap(), "--every-node"]);
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(0), "{shown}");
    assert!(
        shown.contains(&format!("TLS verified against {}", ca.display())),
        "{shown}"
    );

    std::fs::write(
        &file,
        topology("{ http: { url: \"http://{address}:8080/health\", insecure: true } }"),
    )
    .unwrap();
    let output = blackstart(&["validate", file.to_str().unwrap()]);
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(2), "{shown}");
    assert!(shown.contains("https:// checks only"), "{shown}");
    assert!(shown.contains("t.yaml:9:"), "the place is named: {shown}");
}
