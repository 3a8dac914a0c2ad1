//! The release transactions: specifications (draft, e-signed approval),
//! batches (open, QC results, deviations, re-evaluation), and the decisions
//! (QP certification, rejection, exceptional release, closing an OOS
//! investigation as a laboratory error), with their queries.

use cellchain_contract::{contract, hex, Context};
use therapy_common::{
    batch_status, batch_summary_key, case_summary_key, roles, BatchSummary, CaseSummary,
    PATIENT_BATCH,
};

use crate::error::ReleaseError;
use crate::evidence::{self, Missing};
use crate::msg::{
    ApproveSpec, BatchStatusChanged, BatchView, Certify, CloseDeviation, CloseOosInvestigation,
    CreateSpec, ExceptionalRelease, OpenBatch, OpenDeviation, RecordResult, Reject, SpecApproved,
    SpecView,
};
use crate::state::{
    batch_key, decision_key, meaning, spec_approval_key, spec_key, spec_latest_key, Actor, Batch,
    Closure, Criterion, Decision, Deviation, ESignature, QcResult, SpecApproval, SpecBody,
    StatusChange, PENDING,
};

/// The longest id accepted (product codes, test codes, COIs).
pub const MAX_ID_LEN: usize = 64;
/// The longest free text accepted (names, methods, reasons), in characters.
pub const MAX_TEXT_LEN: usize = 1024;

pub const EVENT_STATUS_CHANGED: &str = "BatchStatusChanged";
pub const EVENT_SPEC_APPROVED: &str = "SpecApproved";

/// The contract; everything lives in the ledger.
pub struct Release;

type Res<T> = Result<T, ReleaseError>;

#[contract]
impl Release {
    /// QA drafts the next version of a product specification.
    #[transaction]
    pub fn create_spec(ctx: &mut Context, req: CreateSpec) -> Result<SpecView, ReleaseError> {
        let actor = require_role(ctx, "create_spec", &[roles::QA])?;
        check_id("product code", &req.product_code)?;
        if req.tests.is_empty() {
            return Err(ReleaseError::NoTests);
        }
        for (i, t) in req.tests.iter().enumerate() {
            check_id("test code", &t.code)?;
            check_text("test name", &t.name)?;
            check_text("test method", &t.method)?;
            check_text("test unit", &t.unit)?;
            if req.tests[..i].iter().any(|u| u.code == t.code) {
                return Err(ReleaseError::DuplicateTestCode {
                    code: t.code.clone(),
                });
            }
            let bad = |reason| ReleaseError::BadCriterion {
                code: t.code.clone(),
                reason,
            };
            match &t.criterion {
                Criterion::Between { min, max } if min > max => {
                    return Err(bad("min is above max"))
                }
                Criterion::Equals { value } if value.trim().is_empty() => {
                    return Err(bad("the expected text is empty"))
                }
                _ => {}
            }
        }
        let latest_key = spec_latest_key(&req.product_code)?;
        let latest: u32 = ctx.get_state_json(&latest_key)?.unwrap_or(0);
        let expected = latest + 1;
        if req.version != expected {
            return Err(ReleaseError::SpecVersionOutOfOrder {
                product: req.product_code,
                version: req.version,
                expected,
            });
        }
        let body = SpecBody {
            product_code: req.product_code,
            version: req.version,
            tests: req.tests,
            drafted_by: actor,
            drafted_at: ctx.timestamp(),
        };
        let bytes = serde_json::to_vec(&body).map_err(cellchain_contract::ContractError::from)?;
        ctx.put_state(&spec_key(&body.product_code, body.version)?, &bytes)?;
        ctx.put_state_json(&latest_key, &body.version)?;
        Ok(SpecView {
            spec_sha256: hex::encode(ctx.sha256(&bytes)),
            spec: body,
            status: "DRAFT".into(),
            approval: None,
        })
    }

    /// QA (not the drafter) e-signs a drafted specification version, bound to
    /// the SHA-256 of its stored record. The approved version is immutable.
    #[transaction]
    pub fn approve_spec(ctx: &mut Context, req: ApproveSpec) -> Result<SpecView, ReleaseError> {
        let actor = require_role(ctx, "approve_spec", &[roles::QA])?;
        check_sha256("spec_sha256", &req.spec_sha256)?;
        let (body, bytes) = load_spec_bytes(ctx, &req.product_code, req.version)?;
        let approval_key = spec_approval_key(&req.product_code, req.version)?;
        if let Some(a) = ctx.get_state_json::<SpecApproval>(&approval_key)? {
            return Err(ReleaseError::SpecAlreadyApproved {
                product: req.product_code,
                version: req.version,
                by: a.signature.signer,
            });
        }
        if body.drafted_by == actor {
            return Err(ReleaseError::SelfApproval {
                signer: format!("{}@{}", actor.name, actor.msp_id),
            });
        }
        let record = format!("spec {} v{}", body.product_code, body.version);
        let actual = hex::encode(ctx.sha256(&bytes));
        check_signed_hash(&record, &actual, &req.spec_sha256)?;
        let signature = sign(ctx, meaning::APPROVED, record, actual.clone());
        let approval = SpecApproval {
            product_code: body.product_code.clone(),
            version: body.version,
            signature: signature.clone(),
        };
        ctx.put_state_json(&approval_key, &approval)?;
        ctx.set_event_json(
            EVENT_SPEC_APPROVED,
            &SpecApproved {
                product_code: body.product_code.clone(),
                version: body.version,
                spec_sha256: actual.clone(),
                signer: signature.signer.clone(),
            },
        )?;
        Ok(SpecView {
            spec: body,
            spec_sha256: actual,
            status: "APPROVED".into(),
            approval: Some(signature),
        })
    }

    /// The manufacturer opens the batch of a case in manufacturing or
    /// awaiting QC, against the specification version the case names, and
    /// puts the key-level policy `AND(manufacturer, sponsor)` on the batch,
    /// decision and summary keys.
    #[transaction]
    pub fn open_batch(ctx: &mut Context, req: OpenBatch) -> Result<BatchView, ReleaseError> {
        let actor = require_role(ctx, "open_batch", &[roles::MFG])?;
        check_coi(&req.coi)?;
        let case = load_case(ctx, &req.coi)?;
        if case.state != "IN_MANUFACTURING" && case.state != "QC_PENDING" {
            return Err(ReleaseError::CaseNotInManufacturing {
                coi: req.coi,
                state: case.state,
            });
        }
        if case.custodian_msp != actor.msp_id {
            return Err(ReleaseError::NotManufacturer {
                coi: req.coi,
                custodian: case.custodian_msp,
                caller: actor.msp_id,
            });
        }
        let key = batch_key(&req.coi)?;
        if let Some(b) = ctx.get_state_json::<Batch>(&key)? {
            return Err(ReleaseError::BatchExists {
                coi: req.coi,
                status: b.status,
            });
        }
        let (spec, _) = load_spec_bytes(ctx, &case.product_code, case.spec_version)?;
        let approval = ctx
            .get_state_json::<SpecApproval>(&spec_approval_key(&spec.product_code, spec.version)?)?
            .ok_or_else(|| ReleaseError::SpecNotApproved {
                product: spec.product_code.clone(),
                version: spec.version,
            })?;
        let mut batch = Batch {
            coi: req.coi.clone(),
            product_code: spec.product_code.clone(),
            spec_version: spec.version,
            status: String::new(),
            manufacturer_msp: actor.msp_id.clone(),
            sponsor_msp: approval.signature.msp_id.clone(),
            opened_by: actor,
            opened_at: ctx.timestamp(),
            results: Vec::new(),
            deviations: Vec::new(),
            history: Vec::new(),
        };
        let mut changes = Vec::new();
        set_status(
            ctx,
            &mut batch,
            batch_status::TESTING,
            "batch opened",
            &mut changes,
        );
        settle(ctx, &spec, &mut batch, Some(&case), &mut changes)?;
        let decision = Decision {
            coi: req.coi.clone(),
            status: PENDING.into(),
            signature: None,
            reason: None,
            physician_request_sha256: None,
            risk_assessment_sha256: None,
        };
        ctx.put_state_json(&decision_key(&req.coi)?, &decision)?;
        let policy = release_policy(&batch.manufacturer_msp, &batch.sponsor_msp);
        for k in [key, decision_key(&req.coi)?, batch_summary_key(&req.coi)] {
            ctx.set_key_endorsement_policy(&k, &policy)?;
        }
        save(ctx, &spec, &batch, &changes)?;
        view(ctx, &spec, batch, decision, Some(approval.signature))
    }

    /// QC records a result. The contract computes pass/fail from the
    /// specification; a failure moves the batch to OOS_INVESTIGATION; a change
    /// that completes the evidence sets EVIDENCE_COMPLETE in this transaction.
    #[transaction]
    pub fn record_result(ctx: &mut Context, req: RecordResult) -> Result<QcResult, ReleaseError> {
        let actor = require_role(ctx, "record_result", &[roles::QC])?;
        check_id("test code", &req.test_code)?;
        let mut batch = load_batch(ctx, &req.coi)?;
        require_open(&batch)?;
        let spec = load_approved_spec(ctx, &batch)?;
        let test = spec
            .test(&req.test_code)
            .ok_or_else(|| ReleaseError::UnknownTest {
                test: req.test_code.clone(),
                product: spec.product_code.clone(),
                version: spec.version,
            })?;
        if req.unit != test.unit {
            return Err(ReleaseError::UnitMismatch {
                test: test.code.clone(),
                expected: test.unit.clone(),
                given: req.unit,
            });
        }
        let passed =
            test.criterion
                .accepts(&req.value)
                .ok_or_else(|| ReleaseError::ValueKindMismatch {
                    test: test.code.clone(),
                    expected: test.criterion.value_kind(),
                })?;
        let earlier = batch
            .results
            .iter()
            .find(|r| r.test_code == req.test_code && r.retest_of.is_none());
        match (&req.retest_of, earlier) {
            (None, Some(original)) => {
                return Err(ReleaseError::DuplicateResult {
                    test: req.test_code,
                    existing: original.id.clone(),
                })
            }
            (Some(target), original) if original.map(|o| &o.id) != Some(target) => {
                return Err(ReleaseError::RetestTargetInvalid {
                    result: target.clone(),
                    test: req.test_code,
                })
            }
            _ => {}
        }
        let result = QcResult {
            id: format!("R{}", batch.results.len() + 1),
            test_code: req.test_code,
            value: req.value,
            unit: req.unit,
            passed,
            retest_of: req.retest_of,
            recorded_by: actor,
            recorded_at: ctx.timestamp(),
            tx_id: ctx.tx_id().to_string(),
        };
        batch.results.push(result.clone());
        let mut changes = Vec::new();
        if !passed && batch.status != batch_status::OOS_INVESTIGATION {
            let reason = format!(
                "result {} of test {} is out of specification",
                result.id, result.test_code
            );
            set_status(
                ctx,
                &mut batch,
                batch_status::OOS_INVESTIGATION,
                &reason,
                &mut changes,
            );
        }
        settle(ctx, &spec, &mut batch, None, &mut changes)?;
        save(ctx, &spec, &batch, &changes)?;
        Ok(result)
    }

    /// The sponsor's QA opens a release deviation; it blocks completeness.
    #[transaction]
    pub fn open_deviation(
        ctx: &mut Context,
        req: OpenDeviation,
    ) -> Result<Deviation, ReleaseError> {
        let actor = require_role(ctx, "open_deviation", &[roles::QA])?;
        check_text("description", &req.description)?;
        let mut batch = load_batch(ctx, &req.coi)?;
        require_sponsor(&batch, &actor, "open_deviation")?;
        require_open(&batch)?;
        let spec = load_approved_spec(ctx, &batch)?;
        let deviation = Deviation {
            id: format!("D{}", batch.deviations.len() + 1),
            description: req.description,
            opened_by: actor,
            opened_at: ctx.timestamp(),
            closure: None,
        };
        batch.deviations.push(deviation.clone());
        let mut changes = Vec::new();
        settle(ctx, &spec, &mut batch, None, &mut changes)?;
        save(ctx, &spec, &batch, &changes)?;
        Ok(deviation)
    }

    /// The sponsor's QA closes a deviation with a reason; if that completes
    /// the evidence, the batch becomes EVIDENCE_COMPLETE in this transaction.
    #[transaction]
    pub fn close_deviation(
        ctx: &mut Context,
        req: CloseDeviation,
    ) -> Result<Deviation, ReleaseError> {
        let actor = require_role(ctx, "close_deviation", &[roles::QA])?;
        check_text("reason", &req.reason)?;
        let mut batch = load_batch(ctx, &req.coi)?;
        require_sponsor(&batch, &actor, "close_deviation")?;
        require_open(&batch)?;
        let spec = load_approved_spec(ctx, &batch)?;
        let deviation = batch
            .deviations
            .iter_mut()
            .find(|d| d.id == req.deviation_id)
            .ok_or_else(|| ReleaseError::DeviationNotFound {
                coi: req.coi.clone(),
                id: req.deviation_id.clone(),
            })?;
        if deviation.closure.is_some() {
            return Err(ReleaseError::DeviationAlreadyClosed {
                id: req.deviation_id,
            });
        }
        deviation.closure = Some(Closure {
            reason: req.reason,
            by: actor,
            at: ctx.timestamp(),
        });
        let deviation = deviation.clone();
        let mut changes = Vec::new();
        settle(ctx, &spec, &mut batch, None, &mut changes)?;
        save(ctx, &spec, &batch, &changes)?;
        Ok(deviation)
    }

    /// Applies the release rule again, for changes made in patient-batch (the
    /// case became clean, or not): TESTING <-> EVIDENCE_COMPLETE. Writes
    /// nothing when the status stays.
    #[transaction]
    pub fn reevaluate(ctx: &mut Context, coi: String) -> Result<BatchView, ReleaseError> {
        require_role(
            ctx,
            "reevaluate",
            &[roles::MFG, roles::QC, roles::QA, roles::QP],
        )?;
        let mut batch = load_batch(ctx, &coi)?;
        require_status(
            &batch,
            "reevaluate",
            &[batch_status::TESTING, batch_status::EVIDENCE_COMPLETE],
            "TESTING or EVIDENCE_COMPLETE",
        )?;
        let spec = load_approved_spec(ctx, &batch)?;
        let mut changes = Vec::new();
        settle(ctx, &spec, &mut batch, None, &mut changes)?;
        if !changes.is_empty() {
            save(ctx, &spec, &batch, &changes)?;
        }
        let decision = load_decision(ctx, &coi)?;
        let approval = load_approval(ctx, &batch)?;
        view(ctx, &spec, batch, decision, approval)
    }

    /// The sponsor's QP certifies the batch with an e-signature ("released")
    /// bound to the batch record's SHA-256: RELEASED. Refused, listing what is
    /// missing, unless the evidence is complete now.
    #[transaction]
    pub fn certify(ctx: &mut Context, req: Certify) -> Result<BatchView, ReleaseError> {
        let actor = require_role(ctx, "certify", &[roles::QP])?;
        check_sha256("batch_record_sha256", &req.batch_record_sha256)?;
        let (mut batch, bytes) = load_batch_bytes(ctx, &req.coi)?;
        require_sponsor(&batch, &actor, "certify")?;
        require_status(
            &batch,
            "certify",
            &[batch_status::TESTING, batch_status::EVIDENCE_COMPLETE],
            "EVIDENCE_COMPLETE",
        )?;
        let spec = load_approved_spec(ctx, &batch)?;
        let case = load_case(ctx, &batch.coi)?;
        let missing = evidence::missing(&spec, &batch, &case);
        if !missing.is_empty() {
            return Err(ReleaseError::EvidenceIncomplete {
                coi: batch.coi,
                missing,
            });
        }
        let signature = sign_batch(
            ctx,
            &batch,
            &bytes,
            &req.batch_record_sha256,
            meaning::RELEASED,
        )?;
        let mut changes = Vec::new();
        settle(ctx, &spec, &mut batch, Some(&case), &mut changes)?;
        set_status(
            ctx,
            &mut batch,
            batch_status::RELEASED,
            "certified by the QP",
            &mut changes,
        );
        decide(ctx, &spec, batch, changes, signature, None, None, None)
    }

    /// The sponsor's QA or QP rejects the batch, with a reason and an
    /// e-signature ("rejected"): REJECTED, final.
    #[transaction]
    pub fn reject(ctx: &mut Context, req: Reject) -> Result<BatchView, ReleaseError> {
        let actor = require_role(ctx, "reject", &[roles::QA, roles::QP])?;
        check_text("reason", &req.reason)?;
        check_sha256("batch_record_sha256", &req.batch_record_sha256)?;
        let (mut batch, bytes) = load_batch_bytes(ctx, &req.coi)?;
        require_sponsor(&batch, &actor, "reject")?;
        require_open(&batch)?;
        let spec = load_approved_spec(ctx, &batch)?;
        let signature = sign_batch(
            ctx,
            &batch,
            &bytes,
            &req.batch_record_sha256,
            meaning::REJECTED,
        )?;
        let mut changes = Vec::new();
        set_status(
            ctx,
            &mut batch,
            batch_status::REJECTED,
            &req.reason,
            &mut changes,
        );
        decide(
            ctx,
            &spec,
            batch,
            changes,
            signature,
            Some(req.reason),
            None,
            None,
        )
    }

    /// The sponsor's QP releases an out-of-specification batch on the treating
    /// physician's request (21 CFR/Annex 16-style exceptional release), with
    /// the SHA-256 of the request and of the risk assessment and an
    /// e-signature. Every required test must have a result (failures allowed),
    /// deviations closed, and the case clean.
    #[transaction]
    pub fn exceptional_release(
        ctx: &mut Context,
        req: ExceptionalRelease,
    ) -> Result<BatchView, ReleaseError> {
        let actor = require_role(ctx, "exceptional_release", &[roles::QP])?;
        check_text("reason", &req.reason)?;
        check_sha256("physician_request_sha256", &req.physician_request_sha256)?;
        check_sha256("risk_assessment_sha256", &req.risk_assessment_sha256)?;
        check_sha256("batch_record_sha256", &req.batch_record_sha256)?;
        let (mut batch, bytes) = load_batch_bytes(ctx, &req.coi)?;
        require_sponsor(&batch, &actor, "exceptional_release")?;
        require_status(
            &batch,
            "exceptional_release",
            &[batch_status::OOS_INVESTIGATION],
            "OOS_INVESTIGATION",
        )?;
        let spec = load_approved_spec(ctx, &batch)?;
        let case = load_case(ctx, &batch.coi)?;
        let mut missing = evidence::missing(&spec, &batch, &case);
        // The failures are what the exception is about; a test with no
        // result at all is not.
        missing
            .tests_not_passed
            .retain(|g| g.failed_result.is_none());
        if !missing.is_empty() {
            return Err(ReleaseError::EvidenceIncomplete {
                coi: batch.coi,
                missing,
            });
        }
        let signature = sign_batch(
            ctx,
            &batch,
            &bytes,
            &req.batch_record_sha256,
            meaning::EXCEPTIONALLY_RELEASED,
        )?;
        let mut changes = Vec::new();
        set_status(
            ctx,
            &mut batch,
            batch_status::EXCEPTIONAL_RELEASE,
            &req.reason,
            &mut changes,
        );
        decide(
            ctx,
            &spec,
            batch,
            changes,
            signature,
            Some(req.reason),
            Some(req.physician_request_sha256),
            Some(req.risk_assessment_sha256),
        )
    }

    /// The sponsor's QA closes an OOS investigation as an assignable
    /// laboratory error once the retests pass: back to TESTING (and to
    /// EVIDENCE_COMPLETE at once if nothing else is missing).
    #[transaction]
    pub fn close_oos_investigation(
        ctx: &mut Context,
        req: CloseOosInvestigation,
    ) -> Result<BatchView, ReleaseError> {
        let actor = require_role(ctx, "close_oos_investigation", &[roles::QA])?;
        check_text("reason", &req.reason)?;
        let mut batch = load_batch(ctx, &req.coi)?;
        require_sponsor(&batch, &actor, "close_oos_investigation")?;
        require_status(
            &batch,
            "close_oos_investigation",
            &[batch_status::OOS_INVESTIGATION],
            "OOS_INVESTIGATION",
        )?;
        let failing = evidence::failing_tests(&batch);
        if !failing.is_empty() {
            return Err(ReleaseError::OosNotResolved {
                coi: batch.coi,
                failing,
            });
        }
        let spec = load_approved_spec(ctx, &batch)?;
        let mut changes = Vec::new();
        let reason = format!(
            "OOS investigation closed (laboratory error): {}",
            req.reason
        );
        set_status(
            ctx,
            &mut batch,
            batch_status::TESTING,
            &reason,
            &mut changes,
        );
        settle(ctx, &spec, &mut batch, None, &mut changes)?;
        save(ctx, &spec, &batch, &changes)?;
        let decision = load_decision(ctx, &batch.coi)?;
        let approval = load_approval(ctx, &batch)?;
        view(ctx, &spec, batch, decision, approval)
    }

    /// A batch with its results, deviations, status history, decision,
    /// signatures and summary.
    #[transaction(evaluate)]
    pub fn get_batch(ctx: &Context, coi: String) -> Result<BatchView, ReleaseError> {
        let batch = load_batch(ctx, &coi)?;
        let spec = load_approved_spec(ctx, &batch)?;
        let decision = load_decision(ctx, &coi)?;
        let approval = load_approval(ctx, &batch)?;
        view(ctx, &spec, batch, decision, approval)
    }

    /// A specification version, its SHA-256 and its approval.
    #[transaction(evaluate)]
    pub fn get_spec(
        ctx: &Context,
        product_code: String,
        version: u32,
    ) -> Result<SpecView, ReleaseError> {
        let (spec, bytes) = load_spec_bytes(ctx, &product_code, version)?;
        let approval =
            ctx.get_state_json::<SpecApproval>(&spec_approval_key(&product_code, version)?)?;
        Ok(SpecView {
            spec,
            spec_sha256: hex::encode(ctx.sha256(&bytes)),
            status: if approval.is_some() {
                "APPROVED"
            } else {
                "DRAFT"
            }
            .into(),
            approval: approval.map(|a| a.signature),
        })
    }
}

// ---- the release rule ---------------------------------------------------------

/// Moves the batch between TESTING and EVIDENCE_COMPLETE as the evidence
/// says. Other statuses are left alone. Reads the case summary unless given.
fn settle(
    ctx: &Context,
    spec: &SpecBody,
    batch: &mut Batch,
    case: Option<&CaseSummary>,
    changes: &mut Vec<BatchStatusChanged>,
) -> Res<()> {
    let testing = batch.status == batch_status::TESTING;
    let complete = batch.status == batch_status::EVIDENCE_COMPLETE;
    if !testing && !complete {
        return Ok(());
    }
    let missing: Missing = match case {
        Some(c) => evidence::missing(spec, batch, c),
        None => evidence::missing(spec, batch, &load_case(ctx, &batch.coi)?),
    };
    if testing && missing.is_empty() {
        set_status(
            ctx,
            batch,
            batch_status::EVIDENCE_COMPLETE,
            "every required test passed, every deviation closed, case clean",
            changes,
        );
    } else if complete && !missing.is_empty() {
        let reason = format!("evidence no longer complete: missing {missing}");
        set_status(ctx, batch, batch_status::TESTING, &reason, changes);
    }
    Ok(())
}

/// Appends a status change to the batch's history and to the events to emit.
fn set_status(
    ctx: &Context,
    batch: &mut Batch,
    to: &str,
    reason: &str,
    changes: &mut Vec<BatchStatusChanged>,
) {
    let from = (!batch.status.is_empty()).then(|| batch.status.clone());
    let caller = ctx.caller();
    batch.history.push(StatusChange {
        from: from.clone(),
        to: to.to_string(),
        at: ctx.timestamp(),
        by: Actor {
            name: caller.common_name.clone(),
            msp_id: caller.msp_id.clone(),
        },
        reason: reason.to_string(),
        tx_id: ctx.tx_id().to_string(),
    });
    batch.status = to.to_string();
    changes.push(BatchStatusChanged {
        coi: batch.coi.clone(),
        from,
        to: to.to_string(),
        reason: reason.to_string(),
    });
}

/// Writes the batch and its summary (always together), and emits one
/// `BatchStatusChanged` per status change.
fn save(
    ctx: &mut Context,
    spec: &SpecBody,
    batch: &Batch,
    changes: &[BatchStatusChanged],
) -> Res<()> {
    ctx.put_state_json(&batch_key(&batch.coi)?, batch)?;
    ctx.put_state_json(&batch_summary_key(&batch.coi), &summary(spec, batch))?;
    for c in changes {
        ctx.set_event_json(EVENT_STATUS_CHANGED, c)?;
    }
    Ok(())
}

fn summary(spec: &SpecBody, batch: &Batch) -> BatchSummary {
    BatchSummary {
        coi: batch.coi.clone(),
        status: batch.status.clone(),
        spec_version: batch.spec_version,
        qc_passed: evidence::qc_passed(spec, batch),
    }
}

/// Writes a final decision (the decision record, the batch and its summary).
#[allow(clippy::too_many_arguments)]
fn decide(
    ctx: &mut Context,
    spec: &SpecBody,
    batch: Batch,
    changes: Vec<BatchStatusChanged>,
    signature: ESignature,
    reason: Option<String>,
    physician_request_sha256: Option<String>,
    risk_assessment_sha256: Option<String>,
) -> Result<BatchView, ReleaseError> {
    let decision = Decision {
        coi: batch.coi.clone(),
        status: batch.status.clone(),
        signature: Some(signature),
        reason,
        physician_request_sha256,
        risk_assessment_sha256,
    };
    ctx.put_state_json(&decision_key(&batch.coi)?, &decision)?;
    save(ctx, spec, &batch, &changes)?;
    let approval = load_approval(ctx, &batch)?;
    view(ctx, spec, batch, decision, approval)
}

/// `AND(manufacturer, sponsor)` peers; one principal when they are the same
/// organisation (Fabric would otherwise want two signatures of one org).
pub fn release_policy(manufacturer: &str, sponsor: &str) -> String {
    if manufacturer == sponsor {
        format!("AND('{manufacturer}.peer')")
    } else {
        format!("AND('{manufacturer}.peer', '{sponsor}.peer')")
    }
}

fn view(
    ctx: &Context,
    spec: &SpecBody,
    batch: Batch,
    decision: Decision,
    approval: Option<ESignature>,
) -> Result<BatchView, ReleaseError> {
    let bytes = serde_json::to_vec(&batch).map_err(cellchain_contract::ContractError::from)?;
    let signatures = approval
        .into_iter()
        .chain(decision.signature.clone())
        .collect();
    Ok(BatchView {
        batch_sha256: hex::encode(ctx.sha256(&bytes)),
        summary: summary(spec, &batch),
        batch,
        decision,
        signatures,
    })
}

// ---- signatures ---------------------------------------------------------------

fn sign(ctx: &Context, meaning: &str, record: String, record_sha256: String) -> ESignature {
    let c = ctx.caller();
    ESignature {
        signer: c.common_name.clone(),
        msp_id: c.msp_id.clone(),
        cert_hash: c.cert_hash.clone(),
        signed_at: ctx.timestamp(),
        meaning: meaning.to_string(),
        record,
        record_sha256,
        tx_id: ctx.tx_id().to_string(),
    }
}

fn check_signed_hash(record: &str, actual: &str, given: &str) -> Res<()> {
    if actual != given {
        return Err(ReleaseError::RecordHashMismatch {
            record: record.to_string(),
            actual: actual.to_string(),
            given: given.to_string(),
        });
    }
    Ok(())
}

/// Signs the stored batch record (its exact bytes), after checking the
/// signer reviewed that very record.
fn sign_batch(
    ctx: &Context,
    batch: &Batch,
    stored: &[u8],
    given: &str,
    meaning: &str,
) -> Result<ESignature, ReleaseError> {
    let record = format!("batch {}", batch.coi);
    let actual = hex::encode(ctx.sha256(stored));
    check_signed_hash(&record, &actual, given)?;
    Ok(sign(ctx, meaning, record, actual))
}

// ---- loading ------------------------------------------------------------------

fn load_case(ctx: &Context, coi: &str) -> Result<CaseSummary, ReleaseError> {
    ctx.get_state_of_json(PATIENT_BATCH, &case_summary_key(coi))?
        .ok_or_else(|| ReleaseError::CaseNotFound {
            coi: coi.to_string(),
        })
}

fn load_spec_bytes(ctx: &Context, product: &str, version: u32) -> Res<(SpecBody, Vec<u8>)> {
    check_id("product code", product)?;
    let key = spec_key(product, version)?;
    let bytes = ctx
        .get_state(&key)?
        .ok_or_else(|| ReleaseError::SpecNotFound {
            product: product.to_string(),
            version,
        })?;
    let body = serde_json::from_slice(&bytes).map_err(|e| {
        cellchain_contract::ContractError::new(format!(
            "the value of {key:?} is not the expected JSON: {e}"
        ))
    })?;
    Ok((body, bytes))
}

/// The batch's spec (approved: a batch is only opened against an approved one).
fn load_approved_spec(ctx: &Context, batch: &Batch) -> Result<SpecBody, ReleaseError> {
    Ok(load_spec_bytes(ctx, &batch.product_code, batch.spec_version)?.0)
}

fn load_approval(ctx: &Context, batch: &Batch) -> Res<Option<ESignature>> {
    Ok(ctx
        .get_state_json::<SpecApproval>(&spec_approval_key(
            &batch.product_code,
            batch.spec_version,
        )?)?
        .map(|a| a.signature))
}

fn load_batch_bytes(ctx: &Context, coi: &str) -> Res<(Batch, Vec<u8>)> {
    check_coi(coi)?;
    let key = batch_key(coi)?;
    let bytes = ctx
        .get_state(&key)?
        .ok_or_else(|| ReleaseError::BatchNotFound {
            coi: coi.to_string(),
        })?;
    let batch = serde_json::from_slice(&bytes).map_err(|e| {
        cellchain_contract::ContractError::new(format!(
            "the value of {key:?} is not the expected JSON: {e}"
        ))
    })?;
    Ok((batch, bytes))
}

fn load_batch(ctx: &Context, coi: &str) -> Result<Batch, ReleaseError> {
    Ok(load_batch_bytes(ctx, coi)?.0)
}

fn load_decision(ctx: &Context, coi: &str) -> Result<Decision, ReleaseError> {
    ctx.get_state_json(&decision_key(coi)?)?
        .ok_or_else(|| ReleaseError::BatchNotFound {
            coi: coi.to_string(),
        })
}

// ---- checks -------------------------------------------------------------------

/// The caller's business role must be one of `allowed`.
fn require_role(
    ctx: &Context,
    action: &'static str,
    allowed: &[&str],
) -> Result<Actor, ReleaseError> {
    let caller = ctx.caller();
    let role = caller.attribute(therapy_common::ROLE_ATTRIBUTE);
    if !role.is_some_and(|r| allowed.contains(&r)) {
        return Err(ReleaseError::WrongRole {
            action,
            required: allowed.join(" or "),
            caller_role: role.unwrap_or("no role").to_string(),
        });
    }
    Ok(Actor {
        name: caller.common_name.clone(),
        msp_id: caller.msp_id.clone(),
    })
}

fn require_sponsor(batch: &Batch, actor: &Actor, action: &'static str) -> Res<()> {
    if actor.msp_id != batch.sponsor_msp {
        return Err(ReleaseError::WrongOrganisation {
            action,
            coi: batch.coi.clone(),
            expected: batch.sponsor_msp.clone(),
            caller: actor.msp_id.clone(),
        });
    }
    Ok(())
}

fn is_final(status: &str) -> bool {
    matches!(
        status,
        batch_status::RELEASED | batch_status::EXCEPTIONAL_RELEASE | batch_status::REJECTED
    )
}

fn require_open(batch: &Batch) -> Res<()> {
    if is_final(&batch.status) {
        return Err(ReleaseError::BatchClosed {
            coi: batch.coi.clone(),
            status: batch.status.clone(),
        });
    }
    Ok(())
}

fn require_status(
    batch: &Batch,
    action: &'static str,
    allowed: &[&str],
    expected: &'static str,
) -> Res<()> {
    if !allowed.contains(&batch.status.as_str()) {
        return Err(ReleaseError::WrongStatus {
            action,
            coi: batch.coi.clone(),
            status: batch.status.clone(),
            expected,
        });
    }
    Ok(())
}

fn check_id(what: &'static str, id: &str) -> Res<()> {
    let invalid = |reason| {
        Err(ReleaseError::InvalidId {
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

fn check_text(field: &'static str, text: &str) -> Res<()> {
    if text.trim().is_empty() {
        return Err(ReleaseError::EmptyField { field });
    }
    if text.chars().count() > MAX_TEXT_LEN {
        return Err(ReleaseError::TextTooLong {
            field,
            max: MAX_TEXT_LEN,
        });
    }
    Ok(())
}

fn check_coi(coi: &str) -> Res<()> {
    therapy_common::ids::validate_coi(coi).map_err(|reason| ReleaseError::InvalidCoi {
        coi: coi.to_string(),
        reason,
    })
}

fn check_sha256(field: &'static str, value: &str) -> Res<()> {
    if therapy_common::ids::validate_sha256_hex(value).is_err() {
        return Err(ReleaseError::InvalidSha256 {
            field,
            value: value.to_string(),
        });
    }
    Ok(())
}
