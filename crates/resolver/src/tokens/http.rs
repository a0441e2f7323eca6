//! The HTTP client for identity providers (SPEC §8): no redirects, a timeout, a cap on
//! the response size, and the [`IdpPolicy`] applied to every URL and resolved address.
//! Token requests reach it only through a [`GuardedSender`], the `oauth2` crate's
//! transport and the JWT bearer grant's, which keeps vaulted values with their IdP.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use oauth2::{AsyncHttpClient, HttpRequest, HttpResponse};

use super::policy::{IdpPolicy, PolicyResolver};
use crate::details::binding::SecretBinding;

/// Why an IdP call failed before any IdP answer could be read.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("{0}")]
    Refused(String),
    #[error("the identity provider did not answer within {0} seconds")]
    Timeout(u64),
    #[error("the identity provider could not be reached")]
    Unreachable(#[source] reqwest::Error),
    #[error("the identity provider's response is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the identity provider answered with a redirect, which is not followed")]
    Redirect,
    #[error("the request to the identity provider could not be built")]
    Build,
}

/// Calls identity providers under the operator's policy. Cheap to clone.
#[derive(Clone, Debug)]
pub struct IdpClient {
    http: reqwest::Client,
    policy: Arc<IdpPolicy>,
}

impl IdpClient {
    /// A client applying `policy`. `HTTP(S)_PROXY` of the environment is ignored: a
    /// proxy resolves names itself, out of reach of the address check.
    pub fn new(policy: IdpPolicy) -> Result<Self, reqwest::Error> {
        let policy = Arc::new(policy);
        let builder = match &policy.proxy {
            Some(proxy) => reqwest::Client::builder().proxy(reqwest::Proxy::all(proxy)?),
            None => reqwest::Client::builder().no_proxy(),
        };
        let http = builder
            .redirect(reqwest::redirect::Policy::none())
            .timeout(policy.timeout)
            .connect_timeout(policy.timeout)
            .dns_resolver(Arc::new(PolicyResolver(Arc::clone(&policy))))
            .user_agent(concat!("spaces-oauth/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { http, policy })
    }

    /// The policy in force.
    pub fn policy(&self) -> &IdpPolicy {
        &self.policy
    }

    /// Sends `request` and reads at most the policy's response size; counts and times
    /// the call by outcome (`/metrics`), never with the URL or any request data.
    pub async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let started = Instant::now();
        let result = self.send_unmetered(request).await;
        let outcome = match &result {
            Ok(response) if response.status().is_success() => "2xx",
            Ok(response) if response.status().is_client_error() => "4xx",
            Ok(response) if response.status().is_server_error() => "5xx",
            Ok(_) => "other",
            Err(TransportError::Refused(_)) => "refused",
            Err(TransportError::Timeout(_)) => "timeout",
            Err(TransportError::Unreachable(_)) => "unreachable",
            Err(TransportError::TooLarge(_)) => "too_large",
            Err(TransportError::Redirect) => "redirect",
            Err(TransportError::Build) => "invalid_request",
        };
        metrics::counter!("spaces_oauth_idp_requests_total", "outcome" => outcome).increment(1);
        metrics::histogram!("spaces_oauth_idp_request_duration_seconds")
            .record(started.elapsed().as_secs_f64());
        result
    }

    async fn send_unmetered(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let url = oauth2::url::Url::parse(&request.uri().to_string())
            .map_err(|_| TransportError::Build)?;
        self.policy.check(&url).map_err(TransportError::Refused)?;
        let request = reqwest::Request::try_from(request).map_err(|_| TransportError::Build)?;
        let seconds = self.policy.timeout.as_secs();
        // The client's own timeout covers the body too; this one is a backstop.
        tokio::time::timeout(self.policy.timeout, self.execute(request))
            .await
            .map_err(|_| TransportError::Timeout(seconds))?
            .map_err(|e| match e {
                TransportError::Unreachable(err) if err.is_timeout() => {
                    TransportError::Timeout(seconds)
                }
                other => other,
            })
    }

    async fn execute(&self, request: reqwest::Request) -> Result<HttpResponse, TransportError> {
        let mut response = self
            .http
            .execute(request)
            .await
            .map_err(TransportError::Unreachable)?;
        if response.status().is_redirection() {
            return Err(TransportError::Redirect);
        }
        let max = self.policy.max_response_bytes;
        if response
            .content_length()
            .is_some_and(|len| len > max as u64)
        {
            return Err(TransportError::TooLarge(max));
        }
        let mut builder = oauth2::http::Response::builder().status(response.status());
        for (name, value) in response.headers() {
            builder = builder.header(name, value);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(TransportError::Unreachable)?
        {
            if body.len() + chunk.len() > max {
                return Err(TransportError::TooLarge(max));
            }
            body.extend_from_slice(&chunk);
        }
        builder.body(body).map_err(|_| TransportError::Build)
    }
}

/// The transport of the requests built from one record's settings: before anything is
/// sent, the request's origin must be one the record's vaulted values are tied to
/// (SPEC §10). Every token request goes through one, so no code path can send a
/// vaulted value elsewhere. It owns what it holds (both cheap to clone) so that it
/// can serve as `idp::Capture`'s transport inside a resolver's `Send` future.
pub struct GuardedSender {
    idp: IdpClient,
    /// `None` when the settings hold no vaulted value.
    tied_to: Option<SecretBinding>,
}

impl GuardedSender {
    /// A sender over `idp` for settings whose vaulted values are tied to `tied_to`.
    pub fn new(idp: IdpClient, tied_to: Option<SecretBinding>) -> Self {
        Self { idp, tied_to }
    }

    /// Sends `request` through the client if its origin is allowed.
    pub async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        if let Some(binding) = &self.tied_to {
            let url = oauth2::url::Url::parse(&request.uri().to_string())
                .map_err(|_| TransportError::Build)?;
            if !binding.allows(&url) {
                tracing::error!(
                    "a token request to an origin its secrets are not tied to was refused"
                );
                return Err(TransportError::Refused(
                    "the request's host is not the identity provider the connector's secrets belong to"
                        .into(),
                ));
            }
        }
        self.idp.send(request).await
    }
}

impl<'c> AsyncHttpClient<'c> for GuardedSender {
    type Error = TransportError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, TransportError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}
