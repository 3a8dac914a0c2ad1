//! The data-sharing transactions: consents (register, withdraw), datasets,
//! access requests decided by the contract, training runs, and the private
//! personal links, with their queries.

use cellchain_contract::{contract, Context, Timestamp};
use therapy_common::{
    batch_summary_key, case_summary_key, roles, BatchSummary, CaseSummary, PATIENT_BATCH, RELEASE,
};

use crate::duo;
use crate::error::DataSharingError;
use crate::msg::{
    AccessGrantedEvent, AccessRefusedEvent, ConsentEvent, ConsentView, LinkStored,
    RecordTrainingRun, RegisterConsent, RegisterDataset, RequestAccess, TrainingRunEvent,
};
use crate::state::{
    consent_grant_key, consent_key, consent_status, dataset_key, grant_key, grant_status,
    patient_links_collection, request_key, training_run_key, AccessRequest, Actor, Consent,
    Dataset, Decision, Grant, PatientLink, Refusal, TrainingRun, Withdrawal, CONSENT_GRANT_INDEX,
    INDEX_MARKER,
};

/// The longest id accepted.
pub const MAX_ID_LEN: usize = 64;
/// The longest URI accepted.
pub const MAX_URI_LEN: usize = 1024;
/// At most this many items in a list argument (consents, datasets, grants).
pub const MAX_LIST_LEN: usize = 256;
/// The transient input carrying the patient record reference.
pub const PATIENT_LINK_TRANSIENT: &str = "patient_record_ref";

pub const EVENT_CONSENT_REGISTERED: &str = "ConsentRegistered";
pub const EVENT_CONSENT_WITHDRAWN: &str = "ConsentWithdrawn";
pub const EVENT_ACCESS_GRANTED: &str = "AccessGranted";
pub const EVENT_ACCESS_REFUSED: &str = "AccessRefused";
pub const EVENT_TRAINING_RUN: &str = "TrainingRunRecorded";

pub struct DataSharing;

type Res<T> = Result<T, DataSharingError>;

#[contract]
impl DataSharing {
    /// The treating site registers a patient's consent for its case.
    #[transaction]
    pub fn register_consent(
        ctx: &mut Context,
        req: RegisterConsent,
    ) -> Result<Consent, DataSharingError> {
        let actor = require_role(ctx, "register_consent", roles::SITE_CLIN)?;
        check_id("consent id", &req.consent_id)?;
        let case = load_case(ctx, &req.coi)?;
        if case.site_msp != actor.msp_id {
            return Err(DataSharingError::NotTheSite {
                coi: req.coi,
                site: case.site_msp,
                caller: actor.msp_id,
            });
        }
        if req.pseudonym != case.pseudonym {
            return Err(DataSharingError::PseudonymMismatch { coi: req.coi });
        }
        check_duo_codes(&req.permitted_uses)?;
        check_list("recipients", &req.recipients)?;
        for r in &req.recipients {
            check_id("recipient MSP id", r)?;
        }
        if req.expires_at <= ctx.timestamp() {
            return Err(DataSharingError::ExpiryInPast {
                expires_at: req.expires_at,
                now: ctx.timestamp(),
            });
        }
        check_sha256("form_sha256", &req.form_sha256)?;
        let key = consent_key(&req.consent_id)?;
        if ctx.get_state(&key)?.is_some() {
            return Err(DataSharingError::ConsentExists { id: req.consent_id });
        }
        let consent = Consent {
            id: req.consent_id,
            coi: req.coi,
            pseudonym: req.pseudonym,
            site_msp: case.site_msp,
            permitted_uses: req.permitted_uses,
            recipients: req.recipients,
            expires_at: req.expires_at,
            form_sha256: req.form_sha256,
            status: consent_status::ACTIVE.into(),
            registered_by: actor,
            registered_at: ctx.timestamp(),
            withdrawal: None,
        };
        ctx.put_state_json(&key, &consent)?;
        ctx.set_event_json(
            EVENT_CONSENT_REGISTERED,
            &ConsentEvent {
                consent: consent.id.clone(),
                coi: consent.coi.clone(),
                site_msp: consent.site_msp.clone(),
                superseded_grants: Vec::new(),
            },
        )?;
        Ok(consent)
    }

    /// The controlling site records a withdrawal: no grant is issued on the
    /// consent again, and active grants resting on it are marked
    /// SUPERSEDED_BY_WITHDRAWAL (kept on record, no longer usable).
    #[transaction]
    pub fn withdraw_consent(
        ctx: &mut Context,
        consent_id: String,
    ) -> Result<Consent, DataSharingError> {
        let actor = require_role(ctx, "withdraw_consent", roles::SITE_CLIN)?;
        let mut consent = load_consent(ctx, &consent_id)?;
        if consent.site_msp != actor.msp_id {
            return Err(DataSharingError::NotTheSite {
                coi: consent.coi,
                site: consent.site_msp,
                caller: actor.msp_id,
            });
        }
        if consent.status == consent_status::WITHDRAWN {
            return Err(DataSharingError::AlreadyWithdrawn { id: consent_id });
        }
        let mut superseded = Vec::new();
        for entry in ctx.get_state_by_partial_composite_key(CONSENT_GRANT_INDEX, &[&consent_id])? {
            let (_, attributes) = ctx.split_composite_key(&entry.key)?;
            let mut grant = load_grant(ctx, &attributes[1])?;
            grant.withdrawn_consents.push(consent_id.clone());
            if grant.status == grant_status::ACTIVE {
                grant.status = grant_status::SUPERSEDED_BY_WITHDRAWAL.into();
                superseded.push(grant.id.clone());
            }
            ctx.put_state_json(&grant_key(&grant.id)?, &grant)?;
        }
        consent.status = consent_status::WITHDRAWN.into();
        consent.withdrawal = Some(Withdrawal {
            by: actor,
            at: ctx.timestamp(),
            superseded_grants: superseded.clone(),
        });
        ctx.put_state_json(&consent_key(&consent.id)?, &consent)?;
        ctx.set_event_json(
            EVENT_CONSENT_WITHDRAWN,
            &ConsentEvent {
                consent: consent.id.clone(),
                coi: consent.coi.clone(),
                site_msp: consent.site_msp.clone(),
                superseded_grants: superseded,
            },
        )?;
        Ok(consent)
    }

    /// The owner site registers a dataset: the caller's organisation must
    /// control every consent it covers.
    #[transaction]
    pub fn register_dataset(
        ctx: &mut Context,
        req: RegisterDataset,
    ) -> Result<Dataset, DataSharingError> {
        let actor = require_role(ctx, "register_dataset", roles::SITE_CLIN)?;
        check_id("dataset id", &req.dataset_id)?;
        check_sha256("root", &req.root)?;
        if req.uri.trim().is_empty() {
            return Err(DataSharingError::EmptyField { field: "uri" });
        }
        if req.uri.len() > MAX_URI_LEN {
            return Err(DataSharingError::InvalidId {
                what: "uri",
                id: req.uri.chars().take(64).collect(),
                reason: "it is longer than 1024 bytes",
            });
        }
        check_list("consents", &req.consents)?;
        for id in &req.consents {
            let consent = load_consent(ctx, id)?;
            if consent.site_msp != actor.msp_id {
                return Err(DataSharingError::NotControllingSite {
                    consent: consent.id,
                    site: consent.site_msp,
                    caller: actor.msp_id,
                });
            }
        }
        let key = dataset_key(&req.dataset_id)?;
        if ctx.get_state(&key)?.is_some() {
            return Err(DataSharingError::DatasetExists { id: req.dataset_id });
        }
        let dataset = Dataset {
            id: req.dataset_id,
            root: req.root,
            uri: req.uri,
            consents: req.consents,
            owner_msp: actor.msp_id.clone(),
            registered_by: actor,
            registered_at: ctx.timestamp(),
        };
        ctx.put_state_json(&key, &dataset)?;
        Ok(dataset)
    }

    /// A requester (the caller's organisation) asks to use datasets for a
    /// DUO purpose under a protocol. The contract decides: a grant only when
    /// every covered consent is active, unexpired, permits the purpose and
    /// lists the requester, and every case's batch passed QC and was
    /// released; otherwise a refusal naming the consent and the reason. The
    /// request and its decision are recorded either way.
    #[transaction]
    pub fn request_access(
        ctx: &mut Context,
        req: RequestAccess,
    ) -> Result<Decision, DataSharingError> {
        let actor = require_not_auditor(ctx, "request_access")?;
        check_list("datasets", &req.datasets)?;
        let purpose = duo::parse_purpose(&req.purpose).map_err(|reason| {
            DataSharingError::InvalidPurpose {
                purpose: req.purpose.clone(),
                reason,
            }
        })?;
        check_sha256("protocol_sha256", &req.protocol_sha256)?;
        let mut consents: Vec<Consent> = Vec::new();
        for id in &req.datasets {
            let dataset = load_dataset(ctx, id)?;
            for c in &dataset.consents {
                if !consents.iter().any(|k| &k.id == c) {
                    consents.push(load_consent(ctx, c)?);
                }
            }
        }
        let now = ctx.timestamp();
        let request_id = ctx.tx_id().to_string();
        let requester = actor.msp_id.clone();
        let mut refusal = None;
        for c in &consents {
            if let Some(reason) = check_consent(ctx, c, &purpose, &requester, now)? {
                refusal = Some((c.id.clone(), reason));
                break;
            }
        }
        let decision = match refusal {
            Some((consent, reason)) => {
                ctx.set_event_json(
                    EVENT_ACCESS_REFUSED,
                    &AccessRefusedEvent {
                        request_id: request_id.clone(),
                        requester_msp: requester.clone(),
                        consent: consent.clone(),
                        reason: reason.clone(),
                    },
                )?;
                Decision::Refused {
                    request_id: request_id.clone(),
                    consent,
                    reason,
                }
            }
            None => {
                let mut conditions: Vec<String> = Vec::new();
                for m in consents
                    .iter()
                    .flat_map(|c| duo::modifiers(&c.permitted_uses))
                {
                    if !conditions.contains(&m) {
                        conditions.push(m);
                    }
                }
                let expires_at = consents.iter().map(|c| c.expires_at).min().unwrap_or(now);
                let grant = Grant {
                    id: request_id.clone(),
                    request_id: request_id.clone(),
                    grantee_msp: requester.clone(),
                    datasets: req.datasets.clone(),
                    consents: consents.iter().map(|c| c.id.clone()).collect(),
                    purpose: req.purpose.clone(),
                    protocol_sha256: req.protocol_sha256.clone(),
                    granted_at: now,
                    expires_at,
                    conditions: conditions.clone(),
                    status: grant_status::ACTIVE.into(),
                    withdrawn_consents: Vec::new(),
                };
                ctx.put_state_json(&grant_key(&grant.id)?, &grant)?;
                for c in &grant.consents {
                    ctx.put_state(&consent_grant_key(c, &grant.id)?, INDEX_MARKER)?;
                }
                ctx.set_event_json(
                    EVENT_ACCESS_GRANTED,
                    &AccessGrantedEvent {
                        request_id: request_id.clone(),
                        grant_id: grant.id.clone(),
                        grantee_msp: requester.clone(),
                        purpose: grant.purpose.clone(),
                    },
                )?;
                Decision::Granted {
                    request_id: request_id.clone(),
                    grant_id: grant.id,
                    expires_at,
                    conditions,
                }
            }
        };
        let record = AccessRequest {
            id: request_id.clone(),
            requester_msp: requester,
            requested_by: actor,
            datasets: req.datasets,
            purpose: req.purpose,
            protocol_sha256: req.protocol_sha256,
            requested_at: now,
            decision: decision.clone(),
        };
        ctx.put_state_json(&request_key(&request_id)?, &record)?;
        Ok(decision)
    }

    /// The grantee records a training run: the grants used (its own, active,
    /// unexpired), the roots of the datasets used (as registered) and the
    /// resulting model's hash.
    #[transaction]
    pub fn record_training_run(
        ctx: &mut Context,
        req: RecordTrainingRun,
    ) -> Result<TrainingRun, DataSharingError> {
        let actor = require_not_auditor(ctx, "record_training_run")?;
        check_id("run id", &req.run_id)?;
        check_sha256("model_sha256", &req.model_sha256)?;
        check_list("grants", &req.grants)?;
        if req.dataset_roots.is_empty() {
            return Err(DataSharingError::EmptyField {
                field: "dataset_roots",
            });
        }
        let now = ctx.timestamp();
        let mut granted: Vec<String> = Vec::new();
        for id in &req.grants {
            let grant = load_grant(ctx, id)?;
            if grant.grantee_msp != actor.msp_id {
                return Err(DataSharingError::NotGrantee {
                    grant: grant.id,
                    grantee: grant.grantee_msp,
                    caller: actor.msp_id,
                });
            }
            if grant.status != grant_status::ACTIVE {
                return Err(DataSharingError::GrantNotActive {
                    grant: grant.id,
                    status: grant.status,
                });
            }
            if now >= grant.expires_at {
                return Err(DataSharingError::GrantExpired {
                    grant: grant.id,
                    expired_at: grant.expires_at,
                });
            }
            granted.extend(grant.datasets);
        }
        for (i, dr) in req.dataset_roots.iter().enumerate() {
            if req.dataset_roots[..i]
                .iter()
                .any(|o| o.dataset == dr.dataset)
            {
                return Err(DataSharingError::Duplicate {
                    field: "dataset_roots",
                    item: dr.dataset.clone(),
                });
            }
            check_sha256("dataset root", &dr.root)?;
            if !granted.contains(&dr.dataset) {
                return Err(DataSharingError::DatasetNotGranted {
                    dataset: dr.dataset.clone(),
                    grants: req.grants.clone(),
                });
            }
            let dataset = load_dataset(ctx, &dr.dataset)?;
            if dataset.root != dr.root {
                return Err(DataSharingError::RootMismatch {
                    dataset: dataset.id,
                    recorded: dataset.root,
                    given: dr.root.clone(),
                });
            }
        }
        let key = training_run_key(&req.run_id)?;
        if ctx.get_state(&key)?.is_some() {
            return Err(DataSharingError::TrainingRunExists { id: req.run_id });
        }
        let run = TrainingRun {
            id: req.run_id,
            grantee_msp: actor.msp_id.clone(),
            recorded_by: actor,
            grants: req.grants,
            dataset_roots: req.dataset_roots,
            model_sha256: req.model_sha256,
            recorded_at: now,
        };
        ctx.put_state_json(&key, &run)?;
        ctx.set_event_json(
            EVENT_TRAINING_RUN,
            &TrainingRunEvent {
                run_id: run.id.clone(),
                grantee_msp: run.grantee_msp.clone(),
                model_sha256: run.model_sha256.clone(),
            },
        )?;
        Ok(run)
    }

    /// The treating site stores the link pseudonym -> patient record in its
    /// private data collection `patient-links-<site MSP>`. The reference
    /// comes as the transient input `patient_record_ref`; the block carries
    /// only hashes, and the answer names where it went, not what.
    #[transaction(transient = "patient_record_ref")]
    pub fn link_patient(ctx: &mut Context, coi: String) -> Result<LinkStored, DataSharingError> {
        let actor = require_role(ctx, "link_patient", roles::SITE_CLIN)?;
        let case = load_case(ctx, &coi)?;
        if case.site_msp != actor.msp_id {
            return Err(DataSharingError::NotTheSite {
                coi,
                site: case.site_msp,
                caller: actor.msp_id,
            });
        }
        let reference = ctx
            .transient(PATIENT_LINK_TRANSIENT)
            .and_then(|v| String::from_utf8(v).ok())
            .filter(|s| !s.trim().is_empty())
            .ok_or(DataSharingError::MissingTransient {
                key: PATIENT_LINK_TRANSIENT,
            })?;
        let collection = patient_links_collection(&case.site_msp);
        let link = PatientLink {
            pseudonym: case.pseudonym.clone(),
            coi: case.coi,
            patient_record_ref: reference,
            linked_by: actor,
            linked_at: ctx.timestamp(),
        };
        ctx.put_private_data_json(&collection, &case.pseudonym, &link)?;
        Ok(LinkStored {
            collection,
            key: case.pseudonym,
        })
    }

    /// The site's own link for a case (a query on the site's peer, the only
    /// one holding the collection).
    #[transaction(evaluate)]
    pub fn get_patient_link(ctx: &Context, coi: String) -> Result<PatientLink, DataSharingError> {
        let actor = require_role(ctx, "get_patient_link", roles::SITE_CLIN)?;
        let case = load_case(ctx, &coi)?;
        if case.site_msp != actor.msp_id {
            return Err(DataSharingError::NotTheSite {
                coi,
                site: case.site_msp,
                caller: actor.msp_id,
            });
        }
        ctx.get_private_data_json(&patient_links_collection(&case.site_msp), &case.pseudonym)?
            .ok_or(DataSharingError::LinkNotFound { coi })
    }

    /// A consent with its status at the proposal time.
    #[transaction(evaluate)]
    pub fn get_consent(ctx: &Context, consent_id: String) -> Result<ConsentView, DataSharingError> {
        let consent = load_consent(ctx, &consent_id)?;
        Ok(ConsentView {
            status: consent.status_at(ctx.timestamp()).into(),
            consent,
        })
    }

    #[transaction(evaluate)]
    pub fn get_dataset(ctx: &Context, dataset_id: String) -> Result<Dataset, DataSharingError> {
        load_dataset(ctx, &dataset_id)
    }

    #[transaction(evaluate)]
    pub fn get_grant(ctx: &Context, grant_id: String) -> Result<Grant, DataSharingError> {
        load_grant(ctx, &grant_id)
    }

    /// An access request and its decision (the audit trail).
    #[transaction(evaluate)]
    pub fn get_access_request(
        ctx: &Context,
        request_id: String,
    ) -> Result<AccessRequest, DataSharingError> {
        check_id("request id", &request_id)?;
        ctx.get_state_json(&request_key(&request_id)?)?
            .ok_or(DataSharingError::RequestNotFound { id: request_id })
    }

    #[transaction(evaluate)]
    pub fn get_training_run(
        ctx: &Context,
        run_id: String,
    ) -> Result<TrainingRun, DataSharingError> {
        check_id("run id", &run_id)?;
        ctx.get_state_json(&training_run_key(&run_id)?)?
            .ok_or(DataSharingError::TrainingRunNotFound { id: run_id })
    }
}

/// The first reason a consent refuses the request, if any. Reads the case's
/// `BatchSummary` from release (recorded for MVCC).
fn check_consent(
    ctx: &Context,
    c: &Consent,
    purpose: &duo::Permission,
    requester: &str,
    now: Timestamp,
) -> Res<Option<Refusal>> {
    match c.status_at(now) {
        consent_status::WITHDRAWN => {
            return Ok(Some(Refusal::ConsentWithdrawn {
                consent: c.id.clone(),
            }))
        }
        consent_status::EXPIRED => {
            return Ok(Some(Refusal::ConsentExpired {
                consent: c.id.clone(),
                expired_at: c.expires_at,
            }))
        }
        _ => {}
    }
    if !duo::permits(&c.permitted_uses, purpose) {
        return Ok(Some(Refusal::PurposeNotPermitted {
            consent: c.id.clone(),
            purpose: purpose.to_string(),
            permitted: c.permitted_uses.clone(),
        }));
    }
    if !c.recipients.iter().any(|r| r == requester) {
        return Ok(Some(Refusal::RecipientNotListed {
            consent: c.id.clone(),
            recipient: requester.to_string(),
            recipients: c.recipients.clone(),
        }));
    }
    let summary: Option<BatchSummary> =
        ctx.get_state_of_json(RELEASE, &batch_summary_key(&c.coi))?;
    match summary {
        Some(s) if s.qc_passed && s.is_released() => Ok(None),
        Some(s) => Ok(Some(Refusal::BatchNotReleased {
            coi: c.coi.clone(),
            status: if s.is_released() {
                format!("{} without QC passed", s.status)
            } else {
                s.status
            },
        })),
        None => Ok(Some(Refusal::BatchNotReleased {
            coi: c.coi.clone(),
            status: "NONE".into(),
        })),
    }
}

// ---- loading --------------------------------------------------------------------

fn load_case(ctx: &Context, coi: &str) -> Res<CaseSummary> {
    therapy_common::ids::validate_coi(coi).map_err(|reason| DataSharingError::InvalidCoi {
        coi: coi.to_string(),
        reason,
    })?;
    ctx.get_state_of_json(PATIENT_BATCH, &case_summary_key(coi))?
        .ok_or_else(|| DataSharingError::CaseNotFound {
            coi: coi.to_string(),
        })
}

fn load_consent(ctx: &Context, id: &str) -> Res<Consent> {
    check_id("consent id", id)?;
    ctx.get_state_json(&consent_key(id)?)?
        .ok_or_else(|| DataSharingError::ConsentNotFound { id: id.to_string() })
}

fn load_dataset(ctx: &Context, id: &str) -> Res<Dataset> {
    check_id("dataset id", id)?;
    ctx.get_state_json(&dataset_key(id)?)?
        .ok_or_else(|| DataSharingError::DatasetNotFound { id: id.to_string() })
}

fn load_grant(ctx: &Context, id: &str) -> Res<Grant> {
    check_id("grant id", id)?;
    ctx.get_state_json(&grant_key(id)?)?
        .ok_or_else(|| DataSharingError::GrantNotFound { id: id.to_string() })
}

// ---- checks -----------------------------------------------------------------------

fn actor(ctx: &Context) -> Actor {
    let c = ctx.caller();
    Actor {
        name: c.common_name.clone(),
        msp_id: c.msp_id.clone(),
    }
}

fn caller_role(ctx: &Context) -> Option<&str> {
    ctx.caller().attribute(therapy_common::ROLE_ATTRIBUTE)
}

fn require_role(ctx: &Context, action: &'static str, role: &'static str) -> Res<Actor> {
    match caller_role(ctx) {
        Some(r) if r == role => Ok(actor(ctx)),
        other => Err(DataSharingError::WrongRole {
            action,
            required: role,
            caller_role: other.unwrap_or("no role").to_string(),
        }),
    }
}

/// Any member may request data or record runs for its organisation, except
/// an auditor (read-only by the network's rules).
fn require_not_auditor(ctx: &Context, action: &'static str) -> Res<Actor> {
    if caller_role(ctx) == Some(roles::AUDITOR) {
        return Err(DataSharingError::ReadOnlyCaller { action });
    }
    Ok(actor(ctx))
}

/// Every code a DUO code, and one primary permission (or DS codes only).
fn check_duo_codes(codes: &[String]) -> Res<()> {
    check_list("permitted_uses", codes)?;
    let mut primary = Vec::new();
    let mut diseases = 0;
    for code in codes {
        match duo::parse(code) {
            Err(reason) => {
                return Err(DataSharingError::InvalidDuoCode {
                    code: code.clone(),
                    reason,
                })
            }
            Ok(duo::Code::Permission(duo::Permission::DiseaseSpecific(_))) => diseases += 1,
            Ok(duo::Code::Permission(_)) => primary.push(code.clone()),
            Ok(duo::Code::Modifier(_)) => {}
        }
    }
    let ok = matches!((primary.len(), diseases), (1, 0) | (0, 1..));
    if !ok {
        let permissions = codes
            .iter()
            .filter(|c| matches!(duo::parse(c), Ok(duo::Code::Permission(_))))
            .cloned()
            .collect();
        return Err(DataSharingError::PrimaryPermission { permissions });
    }
    Ok(())
}

/// Non-empty, bounded, no duplicates.
fn check_list(field: &'static str, items: &[String]) -> Res<()> {
    if items.is_empty() {
        return Err(DataSharingError::EmptyField { field });
    }
    if items.len() > MAX_LIST_LEN {
        return Err(DataSharingError::InvalidId {
            what: field,
            id: format!("{} items", items.len()),
            reason: "at most 256 items",
        });
    }
    for (i, item) in items.iter().enumerate() {
        if items[..i].contains(item) {
            return Err(DataSharingError::Duplicate {
                field,
                item: item.clone(),
            });
        }
    }
    Ok(())
}

fn check_id(what: &'static str, id: &str) -> Res<()> {
    let invalid = |reason| {
        Err(DataSharingError::InvalidId {
            what,
            id: id.to_string(),
            reason,
        })
    };
    if id.is_empty() {
        return invalid("it is empty");
    }
    if id.len() > MAX_ID_LEN {
        return invalid("it is longer than 64 characters");
    }
    if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return invalid("use letters, digits, '-', '_' and '.' only");
    }
    Ok(())
}

fn check_sha256(field: &'static str, value: &str) -> Res<()> {
    if therapy_common::ids::validate_sha256_hex(value).is_err() {
        return Err(DataSharingError::InvalidSha256 {
            field,
            value: value.to_string(),
        });
    }
    Ok(())
}
