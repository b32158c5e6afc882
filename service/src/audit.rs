//! The audit hook: calls for a service or method the router does not know.

use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::{Code, Status};

/// Why the router could not route a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnknownReason {
    /// The path is not `/package.Service/Method`.
    MalformedPath,
    /// No service of that name is registered.
    UnknownService,
    /// The service exists but has no method of that name.
    UnknownMethod,
}

/// A call the router answered with UNIMPLEMENTED without running any user
/// code, as the audit hook sees it.
#[derive(Debug, Clone, Copy)]
pub struct UnknownCall<'a> {
    /// The `:path` the client asked for.
    pub path: &'a str,
    /// Why it could not be routed.
    pub reason: UnknownReason,
    /// The client's address, when the adapter knows it.
    pub peer_addr: Option<&'a str>,
    /// The request metadata.
    pub metadata: &'a Metadata,
}

impl UnknownCall<'_> {
    /// The UNIMPLEMENTED status the client gets (grpc-go's wording).
    pub fn status(&self) -> Status {
        let path = self.path.strip_prefix('/').unwrap_or(self.path);
        let message = match (self.reason, path.split_once('/')) {
            (UnknownReason::UnknownMethod, Some((service, method))) => {
                format!("unknown method {method} for service {service}")
            }
            (UnknownReason::UnknownService, Some((service, _))) => {
                format!("unknown service {service}")
            }
            _ => format!("malformed method name: {:?}", self.path),
        };
        Status::new(Code::Unimplemented, message)
    }
}

/// Told about every call for an unknown service or method (probes, stale
/// clients, typos). Any `Fn(&UnknownCall)` is a hook.
pub trait AuditHook: Send + Sync {
    /// One unroutable call.
    fn unknown_call(&self, call: &UnknownCall<'_>);
}

impl<F: Fn(&UnknownCall<'_>) + Send + Sync> AuditHook for F {
    fn unknown_call(&self, call: &UnknownCall<'_>) {
        self(call)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(path: &str, reason: UnknownReason) -> String {
        UnknownCall {
            path,
            reason,
            peer_addr: None,
            metadata: &Metadata::new(),
        }
        .status()
        .message()
        .to_owned()
    }

    #[test]
    fn messages() {
        assert_eq!(
            status("/a.B/C", UnknownReason::UnknownMethod),
            "unknown method C for service a.B"
        );
        assert_eq!(
            status("/a.B/C", UnknownReason::UnknownService),
            "unknown service a.B"
        );
        assert_eq!(
            status("nonsense", UnknownReason::MalformedPath),
            "malformed method name: \"nonsense\""
        );
    }
}
