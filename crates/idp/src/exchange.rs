//! The request side stays on the `oauth2` crate (grant parameters, PKCE, client
//! authentication), but its answer is read by [`crate::parse_token_answer`]:
//! [`Capture`] wraps the guarded transport and hands the raw HTTP answer back out of
//! the crate's flow, untouched, and re-encodes the request body as JSON when the
//! details ask for `tokenRequestFormat: json` (SPEC §11).

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use oauth2::http::{HeaderValue, header};
use oauth2::url::form_urlencoded;
use oauth2::{AsyncHttpClient, HttpRequest, HttpResponse, RequestTokenError};
use serde_json::{Map, Value};

use crate::settings::TokenRequestFormat;

/// What became of a token request sent through [`Capture`].
pub enum Exchange<E> {
    /// The IdP answered (any status): read it with [`crate::parse_token_answer`].
    Answer(HttpResponse),
    /// The transport failed before an answer could be read.
    Transport(E),
    /// The `oauth2` crate refused to build the request (a programming error).
    NotSent(String),
}

impl<E: fmt::Display> fmt::Display for Exchange<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Answer(response) => write!(f, "answered HTTP {}", response.status().as_u16()),
            Self::Transport(err) => err.fmt(f),
            Self::NotSent(reason) => write!(f, "the token request was not sent: {reason}"),
        }
    }
}

impl<E: fmt::Display> fmt::Debug for Exchange<E> {
    /// Never the answer's body: it holds the tokens.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Exchange({self})")
    }
}

impl<E: fmt::Display> std::error::Error for Exchange<E> {}

/// An `oauth2` HTTP client that sends through `inner` and returns every answer as an
/// [`Exchange`] "error", so the crate never parses it. Use with any grant's
/// `request_async`, then [`finish`].
///
/// It owns `inner` (pass a cheap clone, or a reference when `&C` is a client): an impl
/// tied to a borrowed client's lifetime is not general enough for a future that must
/// be `Send` across every lifetime, as a GraphQL resolver's must.
pub struct Capture<C> {
    inner: C,
    format: TokenRequestFormat,
}

impl<C> Capture<C> {
    /// Sends through `inner`, with the body in `format`.
    pub fn new(inner: C, format: TokenRequestFormat) -> Self {
        Self { inner, format }
    }
}

impl<'c, C> AsyncHttpClient<'c> for Capture<C>
where
    C: AsyncHttpClient<'c> + Sync + 'c,
    <C as AsyncHttpClient<'c>>::Future: Send,
    <C as AsyncHttpClient<'c>>::Error: fmt::Display + Send,
{
    type Error = Exchange<C::Error>;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, Self::Error>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        let request = match self.format {
            TokenRequestFormat::Form => request,
            TokenRequestFormat::Json => form_to_json(request),
        };
        captured(self.inner.call(request))
    }
}

/// The answer of `sent`, as the "error" that carries it out of the crate's flow. A
/// separate generic function: an `async` block over the trait's projected future type
/// trips the compiler's `Send` inference.
fn captured<'c, F, E>(
    sent: F,
) -> Pin<Box<dyn Future<Output = Result<HttpResponse, Exchange<E>>> + Send + 'c>>
where
    F: Future<Output = Result<HttpResponse, E>> + Send + 'c,
    E: Send + 'c,
{
    Box::pin(async move {
        Err(match sent.await {
            Ok(response) => Exchange::Answer(response),
            Err(err) => Exchange::Transport(err),
        })
    })
}

/// Unpacks what `request_async` returned when sent through [`Capture`].
pub fn finish<T, RE, E>(result: Result<T, RequestTokenError<Exchange<E>, RE>>) -> Exchange<E>
where
    RE: oauth2::ErrorResponse + 'static,
    E: fmt::Display + 'static,
{
    match result {
        Err(RequestTokenError::Request(exchange)) => exchange,
        Err(RequestTokenError::Other(reason)) => Exchange::NotSent(reason),
        // Capture never yields an answer to the crate, so it cannot parse one.
        Ok(_) | Err(RequestTokenError::ServerResponse(_) | RequestTokenError::Parse(..)) => {
            Exchange::NotSent("the oauth2 crate parsed an answer it was never given".into())
        }
    }
}

/// Re-encodes a form-encoded token request as a JSON object of strings, for IdPs that
/// want `application/json` (SPEC §11 `tokenRequestFormat`). Headers, including a
/// Basic `Authorization`, are kept.
pub fn form_to_json(request: HttpRequest) -> HttpRequest {
    let (mut parts, body) = request.into_parts();
    let object: Map<String, Value> = form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    HttpRequest::from_parts(parts, Value::Object(object).to_string().into_bytes())
}

#[cfg(test)]
#[path = "exchange_tests.rs"]
mod tests;
