//! TLS client settings for Redfish BMCs and https health checks (rustls with the ring
//! provider). Peers are verified against the system's store (`/etc/ssl/certs`, or
//! `SSL_CERT_FILE` / `SSL_CERT_DIR`) or, when one is given, against a CA file alone; no
//! verification only when `insecure: true` is written, which the plan shows. A CA file may
//! also hold a BMC's own self-signed certificate: that exact certificate is then accepted.

use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_rustls::TlsConnector;

use crate::topology::TlsTrust;

fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// The system's trusted CAs, read once per process.
fn system_roots() -> Result<Arc<RootCertStore>, String> {
    static ROOTS: OnceLock<Result<Arc<RootCertStore>, String>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            let mut roots = RootCertStore::empty();
            let (added, _ignored) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                let why = found
                    .errors
                    .first()
                    .map_or_else(|| "none found".to_string(), |e| e.to_string());
                return Err(format!(
                    "no trusted CA in the system store ({why}); install ca-certificates or give `ca_file`"
                ));
            }
            Ok(Arc::new(roots))
        })
        .clone()
}

/// The certificates of a PEM file, trusted instead of the system store: CAs, and BMCs' own
/// self-signed certificates, which are pinned (a peer presenting exactly one of them is
/// accepted; webpki alone refuses those with `CaUsedAsEndEntity`).
fn file_verifier(path: &std::path::Path) -> Result<Arc<dyn ServerCertVerifier>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read CA file {}: {e}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("CA file {}: {e}", path.display()))?;
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(certs.iter().cloned());
    if added == 0 {
        return Err(format!(
            "CA file {} holds no usable certificate",
            path.display()
        ));
    }
    let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(|e| format!("CA file {}: {e}", path.display()))?;
    Ok(Arc::new(Pinned {
        pinned: certs.into_iter().map(|c| c.into_owned()).collect(),
        inner,
    }))
}

/// Verifies against CAs, and accepts a peer whose certificate is byte for byte one given.
#[derive(Debug)]
struct Pinned {
    pinned: Vec<CertificateDer<'static>>,
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Ok(verified) => Ok(verified),
            // The operator gave this very certificate: it is the BMC's identity.
            Err(_)
                if self
                    .pinned
                    .iter()
                    .any(|p| p.as_ref() == end_entity.as_ref()) =>
            {
                Ok(ServerCertVerified::assertion())
            }
            Err(e) => Err(e),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// rustls's refusal of a peer certificate, with what to do about it.
pub fn explain(error: &rustls::Error) -> String {
    use rustls::{CertificateError, Error};
    let what = match error {
        Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "the certificate is signed by none of the trusted CAs: give the CA that signed it, or the BMC's own certificate (to pin it), as `ca_file`"
        }
        Error::InvalidCertificate(CertificateError::NotValidForName) => {
            "the certificate does not name this address: connect to a name it carries, or give this certificate itself as `ca_file` to pin it"
        }
        Error::InvalidCertificate(CertificateError::Expired) => {
            "the certificate has expired: renew it on the BMC (or pin the current one with `ca_file`)"
        }
        Error::InvalidCertificate(CertificateError::Other(other))
            if format!("{other:?}").contains("CaUsedAsEndEntity") =>
        {
            "the peer presents a self-signed CA certificate as its own: save exactly that certificate (openssl s_client -showcerts) and give it as `ca_file` to pin it"
        }
        _ => return error.to_string(),
    };
    format!("{error}: {what}")
}

/// A connector that verifies peers as `trust` says. Errors say which store failed.
pub fn connector(trust: &TlsTrust) -> Result<TlsConnector, String> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?;
    let config = if trust.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider())))
            .with_no_client_auth()
    } else {
        match &trust.ca_file {
            Some(path) => builder
                .dangerous()
                .with_custom_certificate_verifier(file_verifier(path)?)
                .with_no_client_auth(),
            None => builder
                .with_root_certificates(system_roots()?)
                .with_no_client_auth(),
        }
    };
    Ok(TlsConnector::from(Arc::new(config)))
}

/// The name the peer's certificate must carry: a DNS name or an IP address.
pub fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    ServerName::try_from(host.to_string())
        .map_err(|e| format!("{host:?} is not a TLS server name: {e}"))
}

/// Says where trust came from, for error messages: which CA file, or the system store.
pub fn trust_origin(trust: &TlsTrust) -> String {
    match &trust.ca_file {
        Some(path) => format!("CA file {}", path.display()),
        None => "the system's CA store".into(),
    }
}

/// Accepts any certificate (`insecure: true`); signatures are still checked so the
/// handshake itself is sound.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
