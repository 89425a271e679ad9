//! Who asks for an operation: the principal the host authenticated, and where the
//! request came from.
//!
//! The coordinator does not authenticate anyone: the host in front of it (the HTTP
//! gateway checking a signed request, a Rust service linking the SDK that knows its
//! caller) does, and hands the coordinator the result as a [`Principal`]. The
//! coordinator writes it into every audit record of the operation: `user_id` into the
//! record's `user_id`, the request's origin into its `audit_trail`, so one record answers
//! "who, from where, through which request".
//!
//! ```
//! use kms_core::Principal;
//! use std::net::{IpAddr, Ipv4Addr};
//!
//! let who = Principal::new("payments-service")
//!     .with_client_ip(IpAddr::V4(Ipv4Addr::LOCALHOST))
//!     .with_user_agent("curl/8.5.0")
//!     .with_request_id("req-42");
//! assert_eq!(who.user_id(), "payments-service");
//! assert_eq!(
//!     who.audit_origin(),
//!     "client_ip=127.0.0.1 user_agent=\"curl/8.5.0\" request_id=req-42"
//! );
//! ```

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;

/// Longest user id, user agent or request id kept, in characters; longer values are
/// cut (the audit column of MySQL holds 255 bytes, and a header must not bloat the log).
const MAX_FIELD_CHARS: usize = 128;

/// An authenticated caller and the origin of its request.
///
/// Values are cleaned when set: control characters become `?` and anything past 128
/// characters is cut, because they end up in audit records and log lines that other
/// tools parse.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Principal {
    user_id: String,
    client_ip: Option<IpAddr>,
    user_agent: Option<String>,
    request_id: Option<String>,
}

impl Principal {
    /// A principal the host has authenticated as `user_id` (an access key's owner, a
    /// service account, an operator). An empty id becomes `"anonymous"`, so no audit
    /// record has an empty `user_id`.
    pub fn new(user_id: impl Into<String>) -> Self {
        let mut user_id = clean(&user_id.into());
        if user_id.is_empty() {
            user_id = "anonymous".into();
        }
        Self {
            user_id,
            client_ip: None,
            user_agent: None,
            request_id: None,
        }
    }

    /// The address the request came from (the socket's peer, or a trusted proxy's
    /// forwarded-for value).
    pub fn with_client_ip(mut self, ip: IpAddr) -> Self {
        self.client_ip = Some(ip);
        self
    }

    /// The request's `User-Agent`.
    pub fn with_user_agent(mut self, agent: impl AsRef<str>) -> Self {
        self.user_agent = Some(clean(agent.as_ref()));
        self
    }

    /// The request id the host gave the request (echoed to the caller).
    pub fn with_request_id(mut self, id: impl AsRef<str>) -> Self {
        self.request_id = Some(clean(id.as_ref()));
        self
    }

    /// Who it is.
    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    /// Where the request came from, if the host said.
    pub fn client_ip(&self) -> Option<IpAddr> {
        self.client_ip
    }

    /// The request's user agent, if the host said.
    pub fn user_agent(&self) -> Option<&str> {
        self.user_agent.as_deref()
    }

    /// The request's id, if the host gave one.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// The origin as the audit trail records it: `client_ip=… user_agent="…"
    /// request_id=…`, each part only when known (empty when none is).
    pub fn audit_origin(&self) -> String {
        let mut parts = Vec::new();
        if let Some(ip) = self.client_ip {
            parts.push(format!("client_ip={ip}"));
        }
        if let Some(agent) = &self.user_agent {
            parts.push(format!("user_agent={agent:?}"));
        }
        if let Some(id) = &self.request_id {
            parts.push(format!("request_id={id}"));
        }
        parts.join(" ")
    }

    /// `trail` followed by this principal's origin (`trail; client_ip=…`), or `trail`
    /// alone when the origin is unknown.
    pub fn annotate(&self, trail: &str) -> String {
        let origin = self.audit_origin();
        if origin.is_empty() {
            trail.to_string()
        } else if trail.is_empty() {
            origin
        } else {
            format!("{trail}; {origin}")
        }
    }
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Principal")
            .field("user_id", &self.user_id)
            .field("client_ip", &self.client_ip)
            .field("request_id", &self.request_id)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.user_id)
    }
}

/// Replace control characters (which could forge lines in a log) and cut to
/// [`MAX_FIELD_CHARS`].
fn clean(value: &str) -> String {
    value
        .chars()
        .take(MAX_FIELD_CHARS)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    #[test]
    fn empty_user_is_anonymous_and_control_characters_are_replaced() {
        assert_eq!(Principal::new("").user_id(), "anonymous");
        let p = Principal::new("eve\nforged line").with_user_agent("a\r\nb");
        assert_eq!(p.user_id(), "eve?forged line");
        assert_eq!(p.user_agent(), Some("a??b"));
    }

    #[test]
    fn long_values_are_cut() {
        let p = Principal::new("u".repeat(1000)).with_request_id("r".repeat(300));
        assert_eq!(p.user_id().chars().count(), MAX_FIELD_CHARS);
        assert_eq!(p.request_id().map(|r| r.len()), Some(MAX_FIELD_CHARS));
    }

    #[test]
    fn annotate_joins_the_trail_and_the_origin() {
        let bare = Principal::new("ops");
        assert_eq!(bare.annotate("key generated"), "key generated");
        let p = bare.with_client_ip(IpAddr::V6(Ipv6Addr::LOCALHOST));
        assert_eq!(p.annotate("key generated"), "key generated; client_ip=::1");
        assert_eq!(p.annotate(""), "client_ip=::1");
    }

    #[test]
    fn user_agent_quotes_are_escaped_in_the_trail() {
        let p = Principal::new("ops").with_user_agent("x\"y");
        assert_eq!(p.audit_origin(), "user_agent=\"x\\\"y\"");
    }
}
