//! The API token of the TCP transport: what the daemon requires
//! ([`RequireToken`]) and what a client sends ([`SendToken`]), as gRPC
//! metadata `authorization: Bearer TOKEN` (the HTTP bearer scheme,
//! RFC 6750 §2.1).
//!
//! The Unix socket needs no token: it is owner-only, so the kernel already
//! decided who may talk. A token compares in time that depends only on the
//! expected token's length, never on where a guess goes wrong.

use std::path::Path;
use std::sync::Arc;

use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::{Request, Status};

use crate::ApiError;

/// The metadata key the token travels in.
const AUTHORIZATION: &str = "authorization";
/// Largest token file a client reads, in bytes.
const MAX_TOKEN_FILE: u64 = 4096;

/// A secret shared by closd and its TCP clients: printable ASCII, no
/// spaces (it is sent in an HTTP/2 header). `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiToken(Arc<str>);

impl ApiToken {
    /// Checks `token` (surrounding whitespace removed) is non-empty
    /// printable ASCII; `origin` names where it came from in the error.
    pub fn new(token: &str, origin: &str) -> Result<ApiToken, ApiError> {
        let token = token.trim();
        let invalid = |reason: &str| ApiError::Token {
            origin: origin.to_string(),
            reason: reason.to_string(),
        };
        if token.is_empty() {
            return Err(invalid("the token is empty"));
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(invalid(
                "the token has spaces, control or non-ASCII characters (it travels in \
                 an HTTP header: use printable ASCII)",
            ));
        }
        Ok(ApiToken(token.into()))
    }

    /// Reads the token from the file at `path` (one line; surrounding
    /// whitespace is ignored).
    pub fn from_file(path: &Path) -> Result<ApiToken, ApiError> {
        use std::io::Read;
        let origin = path.display().to_string();
        let cannot_read = |error: std::io::Error| ApiError::Token {
            origin: origin.clone(),
            reason: format!(
                "cannot read the token file: {}",
                crate::error::describe_io(&error)
            ),
        };
        let meta = std::fs::metadata(path).map_err(cannot_read)?;
        if !meta.is_file() {
            return Err(ApiError::Token {
                origin,
                reason: "not a regular file".to_string(),
            });
        }
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|file| file.take(MAX_TOKEN_FILE + 1).read_to_end(&mut bytes))
            .map_err(cannot_read)?;
        if bytes.len() as u64 > MAX_TOKEN_FILE {
            return Err(ApiError::Token {
                origin,
                reason: format!("longer than {MAX_TOKEN_FILE} bytes: it must hold just the token"),
            });
        }
        ApiToken::new(&String::from_utf8_lossy(&bytes), &origin)
    }

    /// The header value a client sends.
    fn bearer(&self) -> MetadataValue<Ascii> {
        // Printable ASCII without spaces, checked in `new`: always a valid
        // header value.
        MetadataValue::try_from(format!("Bearer {}", self.0))
            .unwrap_or_else(|_| MetadataValue::from_static(""))
    }
}

impl std::fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiToken(<redacted>)")
    }
}

/// Server side: refuses every request that does not carry the token, with
/// `Unauthenticated` and a message saying what is missing.
#[derive(Clone)]
pub struct RequireToken {
    expected: ApiToken,
}

impl RequireToken {
    /// Requires `expected` on every request.
    pub fn new(expected: ApiToken) -> RequireToken {
        RequireToken { expected }
    }

    fn check(&self, presented: Option<&[u8]>) -> Result<(), Status> {
        let Some(value) = presented else {
            return Err(Status::unauthenticated(
                "this API endpoint needs a token: send the metadata `authorization: Bearer \
                 TOKEN` with the token of closd's [api] token-file (closctl: --token-file FILE)",
            ));
        };
        let token = match value.get(..7) {
            Some(scheme) if scheme.eq_ignore_ascii_case(b"bearer ") => &value[7..],
            _ => {
                return Err(Status::unauthenticated(
                    "the authorization metadata must be `Bearer TOKEN`",
                ))
            }
        };
        if constant_time_eq(self.expected.0.as_bytes(), token) {
            Ok(())
        } else {
            Err(Status::unauthenticated(
                "wrong API token: it does not match closd's [api] token-file",
            ))
        }
    }
}

impl Interceptor for RequireToken {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let presented = request
            .metadata()
            .get(AUTHORIZATION)
            .map(|value| value.as_bytes());
        match self.check(presented) {
            Ok(()) => Ok(request),
            Err(status) => {
                let remote = request.remote_addr().map(|a| a.to_string());
                tracing::warn!(
                    remote = remote.as_deref().unwrap_or("unknown"),
                    reason = status.message(),
                    "API request refused"
                );
                Err(status)
            }
        }
    }
}

/// Client side: adds `authorization: Bearer TOKEN` to every request, or
/// nothing (the Unix socket).
#[derive(Clone, Debug)]
pub struct SendToken {
    header: Option<MetadataValue<Ascii>>,
}

impl SendToken {
    /// Sends `token` with every request.
    pub fn new(token: &ApiToken) -> SendToken {
        SendToken {
            header: Some(token.bearer()),
        }
    }

    /// Sends no token (for the Unix socket).
    pub fn none() -> SendToken {
        SendToken { header: None }
    }
}

impl Interceptor for SendToken {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(header) = &self.header {
            request.metadata_mut().insert(AUTHORIZATION, header.clone());
        }
        Ok(request)
    }
}

/// Whether `presented` equals `expected`, in time that depends only on
/// `expected.len()`: every byte of `expected` is compared, whatever the
/// presented bytes and wherever they first differ.
fn constant_time_eq(expected: &[u8], presented: &[u8]) -> bool {
    let mut difference = u8::from(expected.len() != presented.len());
    for (i, e) in expected.iter().enumerate() {
        let p = presented.get(i).copied().unwrap_or(0);
        difference |= std::hint::black_box(e ^ p);
    }
    std::hint::black_box(difference) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_is_equality() {
        assert!(constant_time_eq(b"token", b"token"));
        assert!(!constant_time_eq(b"token", b"tokem"));
        assert!(!constant_time_eq(b"token", b"toke"));
        assert!(!constant_time_eq(b"token", b"tokens"));
        assert!(!constant_time_eq(b"token", b""));
        // A presented token that is the expected one plus a NUL: the
        // length differs, so it is refused.
        assert!(!constant_time_eq(b"token", b"token\0"));
    }

    #[test]
    fn tokens_are_printable_and_never_shown() {
        let token = ApiToken::new("  s3cret-token\n", "test").unwrap();
        assert_eq!(format!("{token:?}"), "ApiToken(<redacted>)");
        assert_eq!(token.bearer(), "Bearer s3cret-token");
        assert!(ApiToken::new(" \n", "test").is_err());
        let error = ApiToken::new("two words", "test").unwrap_err();
        assert!(error.to_string().starts_with("test: the token has spaces"));
    }

    #[test]
    fn require_token_checks_scheme_and_value() {
        let require = RequireToken::new(ApiToken::new("s3cret-token", "test").unwrap());
        assert!(require.check(Some(b"Bearer s3cret-token")).is_ok());
        assert!(require.check(Some(b"bearer s3cret-token")).is_ok());
        for (presented, gist) in [
            (None, "needs a token"),
            (Some(&b"s3cret-token"[..]), "must be `Bearer TOKEN`"),
            (Some(b"Basic s3cret-token"), "must be `Bearer TOKEN`"),
            (Some(b"Bearer s3cret-tokeN"), "wrong API token"),
            (Some(b"Bearer "), "wrong API token"),
        ] {
            let status = require.check(presented).unwrap_err();
            assert_eq!(status.code(), tonic::Code::Unauthenticated);
            assert!(status.message().contains(gist), "{}", status.message());
        }
    }
}
