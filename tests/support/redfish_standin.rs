//! A small Redfish BMC of our own, for what sushy-tools does not do and real BMCs do: 308
//! redirects to slashed paths (HPE iLO 4, iLO 5 before 1.40), resets answered `202` with a
//! task monitor that completes or fails, read-only accounts (403 with
//! `@Message.ExtendedInfo`), enclosures with several systems behind one address, reset types
//! offered only through `AllowableValues` or ActionInfo, and a self-signed certificate.
//!
//! HTTPS (rustls) on a std `TcpListener`, one connection at a time (BMC calls are one at a
//! time per BMC anyway), every request logged. The server thread stops when dropped, and in
//! any case after [`LIFETIME`].

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{json, Value};

/// The longest a stand-in serves, whatever the test does.
pub const LIFETIME: Duration = Duration::from_secs(120);

/// How a stand-in BMC behaves.
#[derive(Debug, Clone)]
pub struct Behaviour {
    /// Ids of the ComputerSystems it serves (all off at first).
    pub systems: Vec<String>,
    /// Every URL without a trailing slash answers 308 to the slashed one.
    pub slash_redirects: bool,
    /// `(user, password, may reset)`.
    pub users: Vec<(String, String, bool)>,
    /// `ResetType@Redfish.AllowableValues` on the action; None: not listed there.
    pub allowed: Option<Vec<String>>,
    /// Lists the allowed values through `@Redfish.ActionInfo` instead.
    pub action_info: Option<Vec<String>>,
    /// Resets answer 202 with a task monitor: Some(true) the task completes, Some(false) it
    /// ends in Exception. None: 204 at once.
    pub task: Option<bool>,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            systems: vec!["1".into()],
            slash_redirects: false,
            users: vec![("admin".into(), "pw".into(), true)],
            allowed: None,
            action_info: None,
            task: None,
        }
    }
}

/// One request the stand-in answered.
#[derive(Debug, Clone)]
pub struct Hit {
    /// `GET`, `POST`.
    pub method: String,
    /// The path asked.
    pub path: String,
    /// The status answered.
    pub status: u16,
    /// The request body.
    pub body: String,
}

#[derive(Default)]
struct State {
    hits: Vec<Hit>,
    on: HashMap<String, bool>,
    /// Per task id: the system, the power wanted, polls so far.
    tasks: Vec<(String, bool, u32)>,
}

/// A running stand-in. Dropping it stops the server.
pub struct StandIn {
    /// `ip:port`.
    pub address: String,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl StandIn {
    /// Serves `behaviour` on `ip` (an unused port), with this certificate and key (PEM).
    pub fn start(ip: &str, cert: &Path, key: &Path, behaviour: Behaviour) -> StandIn {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(key).unwrap();
        let config = Arc::new(
            rustls::ServerConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
        );
        let listener = TcpListener::bind((ip, 0)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let state = Arc::new(Mutex::new(State::default()));
        for id in &behaviour.systems {
            state.lock().unwrap().on.insert(id.clone(), false);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let (thread_state, thread_stop) = (state.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + LIFETIME;
            while !thread_stop.load(Ordering::SeqCst) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let _ = serve(stream, &config, &behaviour, &thread_state);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        StandIn {
            address,
            state,
            stop,
            thread: Some(thread),
        }
    }

    /// Every request answered so far.
    pub fn hits(&self) -> Vec<Hit> {
        self.state.lock().unwrap().hits.clone()
    }

    /// How many requests were answered `status`.
    pub fn count(&self, status: u16) -> usize {
        self.hits().iter().filter(|h| h.status == status).count()
    }

    /// Whether system `id` is on.
    pub fn is_on(&self, id: &str) -> bool {
        self.state.lock().unwrap().on[id]
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(
    stream: std::net::TcpStream,
    config: &Arc<rustls::ServerConfig>,
    behaviour: &Behaviour,
    state: &Mutex<State>,
) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let connection =
        rustls::ServerConnection::new(config.clone()).map_err(std::io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(connection, stream);
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let (head, mut body) = loop {
        let n = tls.read(&mut buf)?;
        if n == 0 || raw.len() > 64 * 1024 {
            return Ok(());
        }
        raw.extend_from_slice(&buf[..n]);
        if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break (
                String::from_utf8_lossy(&raw[..at]).into_owned(),
                raw[at + 4..].to_vec(),
            );
        }
    };
    let mut lines = head.lines();
    let first: Vec<&str> = lines.next().unwrap_or_default().split(' ').collect();
    let (method, path) = (
        first[0].to_string(),
        first.get(1).unwrap_or(&"/").to_string(),
    );
    let mut length = 0;
    let mut authorization = String::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().unwrap_or(0),
            "authorization" => authorization = value.trim().to_string(),
            _ => {}
        }
    }
    while body.len() < length {
        let n = tls.read(&mut buf)?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&buf[..n]);
    }
    let body = String::from_utf8_lossy(&body).into_owned();
    let (status, headers, answer) = route(behaviour, state, &method, &path, &authorization, &body);
    state.lock().unwrap().hits.push(Hit {
        method,
        path,
        status,
        body,
    });
    let text = answer.map(|v| v.to_string()).unwrap_or_default();
    let mut response = format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        text.len()
    );
    if !text.is_empty() {
        response.push_str("Content-Type: application/json\r\n");
    }
    for (name, value) in headers {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str("\r\n");
    response.push_str(&text);
    tls.write_all(response.as_bytes())?;
    tls.flush()?;
    tls.conn.send_close_notify();
    let _ = tls.flush();
    Ok(())
}

type Answer = (u16, Vec<(&'static str, String)>, Option<Value>);

fn route(
    behaviour: &Behaviour,
    state: &Mutex<State>,
    method: &str,
    path: &str,
    authorization: &str,
    body: &str,
) -> Answer {
    use base64::Engine;
    let user = authorization
        .strip_prefix("Basic ")
        .and_then(|t| base64::engine::general_purpose::STANDARD.decode(t).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .and_then(|pair| {
            behaviour
                .users
                .iter()
                .find(|(u, p, _)| pair == format!("{u}:{p}"))
                .cloned()
        });
    let Some((_, _, may_reset)) = user else {
        return (
            401,
            vec![("WWW-Authenticate", "Basic realm=\"bmc\"".into())],
            None,
        );
    };
    let slash = if behaviour.slash_redirects { "/" } else { "" };
    if behaviour.slash_redirects && !path.ends_with('/') {
        return (308, vec![("Location", format!("{path}/"))], None);
    }
    let path = path.trim_end_matches('/');
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method, parts.as_slice()) {
        ("GET", ["redfish", "v1", "Systems"]) => {
            let members: Vec<Value> = behaviour
                .systems
                .iter()
                .map(|id| json!({"@odata.id": format!("/redfish/v1/Systems/{id}{slash}")}))
                .collect();
            (200, vec![], Some(json!({"Members": members})))
        }
        ("GET", ["redfish", "v1", "Systems", id]) if behaviour.systems.iter().any(|s| s == id) => {
            let on = state.lock().unwrap().on[*id];
            let mut action = json!({
                "target": format!("/redfish/v1/Systems/{id}/Actions/ComputerSystem.Reset{slash}")
            });
            if let Some(allowed) = &behaviour.allowed {
                action["ResetType@Redfish.AllowableValues"] = json!(allowed);
            }
            if behaviour.action_info.is_some() {
                action["@Redfish.ActionInfo"] =
                    json!(format!("/redfish/v1/Systems/{id}/ResetActionInfo{slash}"));
            }
            let system = json!({
                "@odata.id": format!("/redfish/v1/Systems/{id}{slash}"),
                "Id": id,
                "PowerState": if on { "On" } else { "Off" },
                "Actions": {"#ComputerSystem.Reset": action},
            });
            (200, vec![], Some(system))
        }
        ("GET", ["redfish", "v1", "Systems", _, "ResetActionInfo"]) => match &behaviour.action_info
        {
            Some(values) => (
                200,
                vec![],
                Some(
                    json!({"Parameters": [{"Name": "ResetType", "Required": true, "AllowableValues": values}]}),
                ),
            ),
            None => (404, vec![], None),
        },
        ("POST", ["redfish", "v1", "Systems", id, "Actions", "ComputerSystem.Reset"])
            if behaviour.systems.iter().any(|s| s == id) =>
        {
            if !may_reset {
                return (
                    403,
                    vec![],
                    Some(json!({"error": {
                    "code": "Base.1.8.GeneralError",
                    "message": "A general error has occurred.",
                    "@Message.ExtendedInfo": [{
                        "MessageId": "Base.1.8.InsufficientPrivilege",
                        "Message": "There are insufficient privileges for the account or credentials associated with the current session to perform the requested operation."
                    }]}})),
                );
            }
            let reset: Value = serde_json::from_str(body).unwrap_or(Value::Null);
            let reset = reset["ResetType"].as_str().unwrap_or_default().to_string();
            let allowed = behaviour
                .allowed
                .clone()
                .or_else(|| behaviour.action_info.clone())
                .unwrap_or_else(|| vec!["On".into(), "ForceOff".into(), "ForceOn".into()]);
            if !allowed.contains(&reset) {
                return (
                    400,
                    vec![],
                    Some(json!({"error": {"@Message.ExtendedInfo": [{
                    "MessageId": "Base.1.8.ActionParameterValueNotInList",
                    "Message": format!("The value {reset} for the parameter ResetType is not in the list of acceptable values.")}]}})),
                );
            }
            let on = matches!(
                reset.as_str(),
                "On" | "ForceOn" | "PushPowerButton" | "ForceRestart"
            );
            let mut state = state.lock().unwrap();
            match behaviour.task {
                None => {
                    state.on.insert(id.to_string(), on);
                    (204, vec![], None)
                }
                Some(_) => {
                    state.tasks.push((id.to_string(), on, 0));
                    let task = state.tasks.len();
                    (
                        202,
                        vec![(
                            "Location",
                            format!("/redfish/v1/TaskService/TaskMonitors/{task}{slash}"),
                        )],
                        None,
                    )
                }
            }
        }
        ("GET", ["redfish", "v1", "TaskService", "TaskMonitors", task]) => {
            let Some(index) = task.parse::<usize>().ok().and_then(|t| t.checked_sub(1)) else {
                return (404, vec![], None);
            };
            let mut state = state.lock().unwrap();
            let Some((system, on, polls)) = state.tasks.get_mut(index) else {
                return (404, vec![], None);
            };
            *polls += 1;
            let (system, on, polls) = (system.clone(), *on, *polls);
            if polls < 3 {
                return (
                    202,
                    vec![],
                    Some(json!({"TaskState": "Running", "PercentComplete": polls * 30})),
                );
            }
            if behaviour.task == Some(true) {
                state.on.insert(system, on);
                (
                    200,
                    vec![],
                    Some(json!({"TaskState": "Completed", "TaskStatus": "OK", "Messages": []})),
                )
            } else {
                (
                    200,
                    vec![],
                    Some(
                        json!({"TaskState": "Exception", "TaskStatus": "Critical", "Messages": [{
                    "MessageId": "IDRAC.2.8.SYS446",
                    "Message": "Unable to power on the server because the power supply units are not available."}]}),
                    ),
                )
            }
        }
        _ => (
            404,
            vec![],
            Some(json!({"error": {"message": format!("no {method} {path}")}})),
        ),
    }
}
