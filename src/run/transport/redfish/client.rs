//! One authenticated Redfish request as real BMCs need it: redirects followed (HPE iLO 4 and
//! iLO 5 before 1.40 answer 308 to every URL without a trailing slash), but only on the same
//! BMC and never from https down to http; 401 and 403 told apart, with the BMC's own message.

use base64::Engine;
use hyper::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE, LOCATION};
use hyper::{Method, Uri};
use serde_json::Value;

use super::super::bmc_calls::scrub;
use super::super::http::{self, HttpError};
use super::super::{tail, TransportError};
use super::Call;

/// Most bytes of a Redfish response read.
const MAX_BODY: usize = 256 * 1024;
/// Most bytes of a BMC's answer quoted in an error.
pub(super) const ERROR_TAIL: usize = 300;
/// Most redirects followed for one request: iLO needs one; a loop is cut here.
const MAX_REDIRECTS: usize = 5;

/// A BMC's answer: its status, its body (scrubbed of the password), the URL that answered
/// (after redirects) and its `Location` header resolved against that URL.
pub(super) struct Answer {
    pub status: u16,
    pub body: String,
    pub url: String,
    pub location: Option<String>,
}

/// One request, following same-host redirects. A 401 or a 403 is an error here; any other
/// status is the caller's to judge.
pub(super) async fn request(
    call: &Call<'_>,
    method: Method,
    url: &str,
    body: Option<String>,
) -> Result<Answer, TransportError> {
    let headers = headers(call, body.is_some())?;
    let mut url = url.to_string();
    for _ in 0..=MAX_REDIRECTS {
        let response = http::send(
            method.clone(),
            &url,
            &headers,
            body.clone(),
            &call.redfish.tls,
        )
        .await
        .map_err(|e| transport_error(call, e))?;
        let status = response.status;
        let location = response
            .headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = response
            .text(MAX_BODY)
            .await
            .map_err(|e| TransportError::Unreachable {
                host: call.host.name.clone(),
                detail: format!("{url}: reading the answer: {e}"),
            })?;
        let text = scrub(&text, call.password);
        let location = location.map(|to| same_bmc(call, &url, &to)).transpose()?;
        match status {
            401 => return Err(unauthorized(call, &method, &url)),
            403 => return Err(forbidden(call, &method, &url, &text)),
            // The method and body are kept for 301 and 302 too: Redfish services that send
            // them mean the resource moved, not "now GET it".
            301 | 302 | 307 | 308 => {
                let Some(next) = location else {
                    return Err(refused(call, method.as_str(), &url, status, &text));
                };
                tracing::debug!(host = %call.host.name, "{method} {url}: {status} to {next}");
                url = next;
            }
            _ => {
                return Ok(Answer {
                    status,
                    body: text,
                    url,
                    location,
                })
            }
        }
    }
    Err(TransportError::Refused {
        host: call.host.name.clone(),
        detail: format!(
            "{method} {url}: more than {MAX_REDIRECTS} redirects; give the system's final path with `system:`"
        ),
    })
}

fn headers(call: &Call<'_>, body: bool) -> Result<Vec<(HeaderName, HeaderValue)>, TransportError> {
    let token = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", call.bmc.user, call.password));
    let mut authorization =
        HeaderValue::from_str(&format!("Basic {token}")).map_err(|_| TransportError::Config {
            host: call.host.name.clone(),
            detail: "BMC user or password holds characters an HTTP header cannot carry".into(),
        })?;
    authorization.set_sensitive(true);
    let mut headers: Vec<(HeaderName, HeaderValue)> = vec![
        (AUTHORIZATION, authorization),
        (
            hyper::header::ACCEPT,
            HeaderValue::from_static("application/json"),
        ),
    ];
    if body {
        headers.push((CONTENT_TYPE, HeaderValue::from_static("application/json")));
    }
    Ok(headers)
}

/// `to` (a `Location`) resolved against `from`; refused when it leaves the BMC or drops TLS:
/// the credentials go with every request.
pub(super) fn same_bmc(call: &Call<'_>, from: &str, to: &str) -> Result<String, TransportError> {
    let base: Uri = from
        .parse()
        .map_err(|_| bad_location(call, from, to, "bad URL"))?;
    let authority = base.authority().map(|a| a.as_str()).unwrap_or_default();
    if to.starts_with('/') && !to.starts_with("//") {
        return Ok(format!("https://{authority}{to}"));
    }
    let next: Uri = to
        .parse()
        .map_err(|_| bad_location(call, from, to, "not a URL"))?;
    match next.scheme_str() {
        Some("https") => {}
        Some("http") => {
            return Err(bad_location(
                call,
                from,
                to,
                "it would leave TLS, and the password with it",
            ))
        }
        _ => {
            return Err(bad_location(
                call,
                from,
                to,
                "neither a path nor an https URL",
            ))
        }
    }
    if next.authority().map(|a| a.as_str()) != Some(authority) {
        return Err(bad_location(
            call,
            from,
            to,
            "it points at another host, which would be sent the BMC password",
        ));
    }
    Ok(to.to_string())
}

fn bad_location(call: &Call<'_>, from: &str, to: &str, why: &str) -> TransportError {
    TransportError::Refused {
        host: call.host.name.clone(),
        detail: format!(
            "{from} sent us to {to:?}, not followed: {why}; give the system's path on this BMC with `system:`"
        ),
    }
}

fn unauthorized(call: &Call<'_>, method: &Method, url: &str) -> TransportError {
    TransportError::Auth {
        host: call.host.name.clone(),
        detail: format!(
            "BMC {} answered 401 to {method} {url} for user {:?} ({}); not tried again on this BMC for any host, so the account is not locked out",
            call.bmc.address,
            call.bmc.user,
            crate::plan::actions::secret_origin(&call.bmc.password)
        ),
    }
}

/// 403: the password was right, the account may not do this (a read-only account).
fn forbidden(call: &Call<'_>, method: &Method, url: &str, body: &str) -> TransportError {
    let says =
        extended_info(body).unwrap_or_else(|| format!("{:?}", tail(body.trim(), ERROR_TAIL)));
    TransportError::Refused {
        host: call.host.name.clone(),
        detail: format!(
            "BMC {} let user {:?} in but refused {method} {url} (403, a privilege problem: the password is right). The BMC says: {says}. Give this account the privilege to reset systems (Redfish ConfigureComponents, the Operator role) or use another account",
            call.bmc.address, call.bmc.user
        ),
    }
}

/// The messages of a Redfish error body (`error.@Message.ExtendedInfo[].Message`, else
/// `error.message`), joined; None when the body holds none.
pub(super) fn extended_info(body: &str) -> Option<String> {
    let value: Value = serde_json::from_str(body).ok()?;
    let error = value.get("error")?;
    let messages: Vec<String> = error
        .get("@Message.ExtendedInfo")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(message_of).collect())
        .unwrap_or_default();
    if !messages.is_empty() {
        return Some(messages.join("; "));
    }
    error
        .get("message")
        .and_then(Value::as_str)
        .map(|m| format!("{m:?}"))
}

/// One Redfish Message: `"text" (MessageId)`.
pub(super) fn message_of(message: &Value) -> Option<String> {
    let text = message.get("Message").and_then(Value::as_str);
    let id = message.get("MessageId").and_then(Value::as_str);
    match (text, id) {
        (Some(text), Some(id)) => Some(format!("{:?} ({id})", tail(text, ERROR_TAIL))),
        (Some(text), None) => Some(format!("{:?}", tail(text, ERROR_TAIL))),
        (None, Some(id)) => Some(id.to_string()),
        (None, None) => None,
    }
}

pub(super) fn json(call: &Call<'_>, url: &str, body: &str) -> Result<Value, TransportError> {
    serde_json::from_str(body).map_err(|e| TransportError::Other {
        host: call.host.name.clone(),
        detail: format!(
            "{url}: answer is not JSON ({e}): {:?}",
            tail(body.trim(), ERROR_TAIL)
        ),
    })
}

/// A status the caller did not expect. A 4xx is the BMC's final word (not retried); a 5xx
/// may pass.
pub(super) fn refused(
    call: &Call<'_>,
    method: &str,
    url: &str,
    status: u16,
    body: &str,
) -> TransportError {
    let says =
        extended_info(body).unwrap_or_else(|| format!("{:?}", tail(body.trim(), ERROR_TAIL)));
    let detail = format!("{method} {url} answered {status}: {says}");
    let host = call.host.name.clone();
    if (400..500).contains(&status) {
        TransportError::Refused { host, detail }
    } else {
        TransportError::Other { host, detail }
    }
}

fn transport_error(call: &Call<'_>, error: HttpError) -> TransportError {
    let host = call.host.name.clone();
    match error {
        HttpError::BadUrl { .. } => TransportError::Config {
            host,
            detail: error.to_string(),
        },
        HttpError::Tls { .. } => TransportError::Tls {
            host,
            detail: error.to_string(),
        },
        HttpError::Connect { .. } | HttpError::Protocol { .. } => TransportError::Unreachable {
            host,
            detail: error.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::{Bmc, BmcProtocol, Host, RedfishOff, RedfishSettings, SecretSource};

    #[test]
    fn redirects_stay_on_the_bmc_and_on_tls() {
        let redfish = RedfishSettings {
            system: None,
            tls: Default::default(),
            off: RedfishOff::ForceOff,
        };
        let bmc = Bmc {
            address: "10.0.0.9:8443".into(),
            user: "admin".into(),
            password: SecretSource::Env("PW".into()),
            protocol: BmcProtocol::Redfish(redfish.clone()),
        };
        let host = Host::for_test("h1");
        let call = Call {
            host: &host,
            bmc: &bmc,
            redfish: &redfish,
            password: "pw",
        };
        let from = "https://10.0.0.9:8443/redfish/v1/Systems";
        assert_eq!(
            same_bmc(&call, from, "/redfish/v1/Systems/").unwrap(),
            "https://10.0.0.9:8443/redfish/v1/Systems/"
        );
        assert_eq!(
            same_bmc(&call, from, "https://10.0.0.9:8443/redfish/v1/Systems/").unwrap(),
            "https://10.0.0.9:8443/redfish/v1/Systems/"
        );
        for (to, why) in [
            ("http://10.0.0.9:8443/redfish/v1/Systems/", "leave TLS"),
            ("https://evil.example/redfish/v1/Systems/", "another host"),
            ("https://10.0.0.9/redfish/v1/Systems/", "another host"),
            ("//evil.example/x", "neither a path nor an https URL"),
        ] {
            let err = same_bmc(&call, from, to).unwrap_err();
            assert!(
                matches!(&err, TransportError::Refused { detail, .. } if detail.contains(why)),
                "{to}: {err:?}"
            );
        }
    }

    #[test]
    fn the_bmcs_own_message_is_quoted() {
        let body = r#"{"error":{"code":"Base.1.8.GeneralError","@Message.ExtendedInfo":[{"MessageId":"Base.1.8.InsufficientPrivilege","Message":"Not allowed."}]}}"#;
        assert_eq!(
            extended_info(body).unwrap(),
            r#""Not allowed." (Base.1.8.InsufficientPrivilege)"#
        );
        assert_eq!(extended_info("not json"), None);
    }
}
