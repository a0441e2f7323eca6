//! Runs a connection test (SPEC §12): `details`, `clientSecret`, `token` and, when the
//! details name a `testURL`, `testRequest`, in that order; a failed step ends the test.
//! Tokens are obtained and refreshed by the token service's own functions, so a test
//! stores what it obtains exactly as a generation or a refresh would.

use std::time::Instant;

use chrono::Utc;
use entity::connector_details::Model as Record;
use entity::oauth_token::Model as Token;
use secrecy::SecretString;

use super::grant;
use super::test_request;
use super::types::{ConnectionTest, ConnectionTestStep, StepFailure};
use crate::Services;
use crate::code::Code;
use crate::connector_details::types::KeyInput;
use crate::context::Tenant;
use crate::error::{ApiError, ApiResult};
use crate::tokens::lease_wait::LeaseWaitBudget;
use crate::tokens::refresh::refreshable;
use crate::tokens::settings::IdpSettings;
use crate::tokens::types::{GenerateInput, GrantType, JwtInput};
use crate::tokens::{service as tokens, store};

/// Why a step did not pass: the connection's fault (a failed step), or the service's
/// (the whole mutation fails with `GENERIC_SYSTEM_ERROR` / `DATABASE_UNAVAILABLE`).
enum Failure {
    Step(StepFailure),
    Fatal(ApiError),
}

impl From<ApiError> for Failure {
    fn from(error: ApiError) -> Self {
        match error {
            ApiError::Internal(_) | ApiError::DatabaseUnavailable(_) => Self::Fatal(error),
            other => Self::Step(StepFailure::new(other.code(), other.to_string())),
        }
    }
}

impl From<StepFailure> for Failure {
    fn from(failure: StepFailure) -> Self {
        Self::Step(failure)
    }
}

type StepResult<T> = Result<(T, String), Failure>;

/// The steps run so far.
#[derive(Default)]
struct Steps(Vec<ConnectionTestStep>);

impl Steps {
    /// Records the step `name` begun at `started`; `Ok(None)` when it failed.
    fn record<T>(
        &mut self,
        name: &str,
        started: Instant,
        result: StepResult<T>,
    ) -> ApiResult<Option<T>> {
        let duration_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
        let (ok, code, message, value) = match result {
            Ok((value, message)) => (true, None, message, Some(value)),
            Err(Failure::Step(failure)) => (
                false,
                Some(failure.code.as_str().to_owned()),
                failure.message,
                None,
            ),
            Err(Failure::Fatal(error)) => return Err(error),
        };
        self.0.push(ConnectionTestStep {
            name: name.to_owned(),
            ok,
            code,
            message: Some(message),
            duration_ms,
        });
        Ok(value)
    }

    fn finish(self, record: &Record) -> ConnectionTest {
        let ok = self.0.iter().all(|step| step.ok);
        let failed = self.0.iter().find(|step| !step.ok).map(|step| &step.name);
        tracing::info!(connector = %record.id, ok, failed_step = ?failed, "connection tested");
        ConnectionTest { ok, steps: self.0 }
    }
}

/// `testIPackInstanceOauthConnection`: no record → `NOT_FOUND`; otherwise the steps.
pub async fn run(
    services: &Services,
    tenant: &Tenant,
    input: KeyInput,
    budget: &LeaseWaitBudget,
) -> ApiResult<ConnectionTest> {
    let key = input.parse(tenant)?;
    let record = key.find(&services.db).await?.ok_or(ApiError::NotFound)?;
    let held = store::valid_token(&services.db, &record).await?;
    let mut steps = Steps::default();

    let started = Instant::now();
    let checked = details(services, &record, held.as_ref()).await;
    let Some((grant, settings)) = steps.record("details", started, checked)? else {
        return Ok(steps.finish(&record));
    };

    let started = Instant::now();
    let secret = client_secret(grant, &settings);
    if steps.record("clientSecret", started, secret)?.is_none() {
        return Ok(steps.finish(&record));
    }

    let started = Instant::now();
    let obtained = token(
        services,
        tenant,
        input,
        grant,
        &settings,
        held.as_ref(),
        budget,
    )
    .await;
    let Some((token_type, access_token)) = steps.record("token", started, obtained)? else {
        return Ok(steps.finish(&record));
    };

    // The details' own `testURL`, else the catalog entry's, placeholders filled (SPEC §11).
    if let Some(url) = settings.effective.test_url.clone() {
        let started = Instant::now();
        let answered =
            test_request::call(&services.tokens.idp, url.trim(), &token_type, &access_token)
                .await
                .map(|message| ((), message))
                .map_err(Failure::Step);
        steps.record("testRequest", started, answered)?;
    }
    Ok(steps.finish(&record))
}

/// `details`: the grant the connection uses, and the settings that grant needs.
async fn details(
    services: &Services,
    record: &Record,
    held: Option<&Token>,
) -> StepResult<(GrantType, IdpSettings)> {
    let settings = IdpSettings::load(&services.tokens, &services.vault, record).await?;
    let grant = match held.and_then(|t| GrantType::parse(&t.grant_type)) {
        Some(grant) => grant,
        None => settings
            .detail("grantType")
            .as_deref()
            .and_then(grant::from_details)
            .ok_or_else(|| {
                StepFailure::new(
                    Code::InvalidOauthConnectorDetails,
                    "no token is held and the details name no known grantType",
                )
            })?,
    };
    settings.require_client_id()?;
    let policy = services.tokens.idp.policy();
    let mut urls = vec![("accessTokenURL", settings.token_url()?)];
    if grant == GrantType::AuthorizationCode {
        urls.push(("authorizationTokenURL", settings.authorization_url()?));
    }
    for (name, url) in urls {
        policy
            .check(&url)
            .map_err(|reason| ApiError::InvalidConnectorDetails(format!("{name}: {reason}")))?;
    }
    let message = format!("the settings are complete for {}", grant.as_str());
    Ok(((grant, settings), message))
}

/// `clientSecret`: held, when the grant sends one.
fn client_secret(grant: GrantType, settings: &IdpSettings) -> StepResult<()> {
    if !grant::needs_secret(grant) {
        return Ok(((), format!("{} sends no client secret", grant.as_str())));
    }
    settings.require_secret()?;
    Ok(((), "a client secret is held".into()))
}

/// `token`: the held token (refreshed when due, by the runtime read's rule), or a new
/// one for the grants that need no user. Answers the token type and the access token.
async fn token(
    services: &Services,
    tenant: &Tenant,
    input: KeyInput,
    grant: GrantType,
    settings: &IdpSettings,
    held: Option<&Token>,
    budget: &LeaseWaitBudget,
) -> StepResult<(String, SecretString)> {
    // Parsed again (cheaply): `input` goes on into a generation.
    let key = &input.parse(tenant)?;
    let now = Utc::now();
    let renewable = |t: &Token| t.expires_at.is_none_or(|e| e > now) || refreshable(t);
    let message = match held {
        Some(t) if renewable(t) => {
            if t.expires_at.is_some_and(|e| {
                e - chrono::Duration::seconds(tokens::READ_REFRESH_MARGIN_SECONDS) <= now
            }) {
                "the held token was due and has been refreshed"
            } else {
                "a valid token is held"
            }
        }
        _ if grant::non_interactive(grant) => {
            let jwt = match grant {
                GrantType::JwtBearer => Some(jwt_from_details(settings)?),
                _ => None,
            };
            tokens::generate(services, tenant, generate_input(input, grant, jwt)).await?;
            "a new token was obtained"
        }
        Some(_) => "the held token has expired and cannot be refreshed",
        None => {
            return Err(StepFailure::new(
                Code::NotFound,
                format!(
                    "no token is held; generate one with {} first",
                    grant.as_str()
                ),
            )
            .into());
        }
    };
    // Refreshes first when the token is due (SPEC §3), and fails on an expired one.
    let payload = tokens::read(services, key, budget).await?;
    let access_token = SecretString::from(payload.access_token);
    Ok(((payload.token_type, access_token), message.to_owned()))
}

/// The RFC 7523 assertion of a test: signed with the details' (vaulted) `privateKey`,
/// the client id as issuer and subject, the token URL as audience.
fn jwt_from_details(settings: &IdpSettings) -> Result<JwtInput, Failure> {
    let signing_key = settings
        .detail("privateKey")
        .or_else(|| settings.detail("private_key"))
        .filter(|key| !key.trim().is_empty())
        .ok_or_else(|| {
            StepFailure::new(
                Code::InvalidOauthConnectorDetails,
                "no token is held, and JWT_BEARER needs a privateKey in the details to obtain one",
            )
        })?;
    Ok(JwtInput {
        signing_key: Some(signing_key),
        issuer: None,
        subject: None,
        audience: None,
        expires_in_seconds: None,
        claims: None,
        unsigned: false,
    })
}

fn generate_input(key: KeyInput, grant: GrantType, jwt: Option<JwtInput>) -> GenerateInput {
    GenerateInput {
        key,
        grant_type: grant,
        connector_type: None,
        username: None,
        password: None,
        jwt,
        redirect_uri: None,
    }
}
