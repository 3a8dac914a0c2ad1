//! The transactions of patient-batch: one function per operation. Each
//! submitted transaction checks, in this order, the caller's role and
//! organisation, the case state, the request, and the event time; then it
//! changes the case and calls [`commit`], which appends the timeline event,
//! writes the case, moves the (site, state) index, writes the
//! [`therapy_common::CaseSummary`] and emits `CaseStateChanged`. A refusal
//! returns before anything is written.

use cellchain_contract::{contract, Context, Timestamp};
use therapy_common::{
    batch_status, batch_summary_key, case_summary_key, ids, roles, BatchSummary, RELEASE,
    ROLE_ATTRIBUTE,
};

use crate::error::CaseError;
use crate::msg::{
    CaseReason, CaseStateChanged, CaseStep, CaseView, CloseDeviation, ConfigureProduct, CreateCase,
    DeclareCorrection, DeviationEvent, HandoverEvent, NextStep, ProposeHandover, RecordCollection,
    RecordCondition, RecordInfusion, ReportDeviation,
};
use crate::state::{
    case_key, din_key, event_key, product_head_key, product_key, site_state_key, Actor, Case,
    CaseEvent, Closure, Collection, ConditionRecord, Deviation, DeviationKind, DinUse, Handover,
    ProductConfig, ProductHead, Route, State, What, When, Where, Why, CASE_EVENT, INDEX_MARKER,
    SITE_STATE_INDEX,
};
use crate::time::{format_offset, format_utc, parse_rfc3339};

/// How far an event time may lie after the proposal time (clock skew between
/// a scanner and the client that signs).
pub const MAX_CLOCK_SKEW_SECONDS: i64 = 300;
/// The longest free text (reasons, notes, descriptions), in characters.
pub const MAX_TEXT_LEN: usize = 1024;
/// The longest identifier-like field (MSP ids, product codes, logger ids, locations).
pub const MAX_ID_LEN: usize = 128;

type Result<T, E = CaseError> = core::result::Result<T, E>;

/// The contract. It holds no data: everything lives in the ledger.
pub struct PatientBatch;

#[contract]
impl PatientBatch {
    // ---- products --------------------------------------------------------------

    /// QA records a new version of a product's configuration. The first
    /// version makes the caller's organisation the product's sponsor; later
    /// versions must come from the same sponsor. Existing cases keep the
    /// version they were created with.
    #[transaction]
    pub fn configure_product(ctx: &mut Context, req: ConfigureProduct) -> Result<ProductConfig> {
        const OP: &str = "configure_product";
        require_role(ctx, OP, &[roles::QA])?;
        check_id("product_code", &req.product_code)?;
        if req.spec_version == 0 {
            return Err(field("spec_version", "specification versions start at 1"));
        }
        if req.manufacturer_msps.is_empty() {
            return Err(field(
                "manufacturer_msps",
                "name at least one manufacturer MSP",
            ));
        }
        for (i, m) in req.manufacturer_msps.iter().enumerate() {
            check_id("manufacturer_msps", m)?;
            if req.manufacturer_msps[..i].contains(m) {
                return Err(field("manufacturer_msps", "an MSP is listed twice"));
            }
        }
        for route in [Route::ToManufacturing, Route::ToSite] {
            let n = req.routes.iter().filter(|r| r.route == route).count();
            if n != 1 {
                return Err(CaseError::InvalidField {
                    field: "routes",
                    reason: format!("give exactly one range for route {route} (got {n})"),
                });
            }
        }
        for r in &req.routes {
            let (min, max) = (r.range.min_c, r.range.max_c);
            if min.is_none() && max.is_none() {
                return Err(field("routes", "each range needs min_c, max_c or both"));
            }
            if min.into_iter().chain(max).any(|v| !v.is_finite()) {
                return Err(field("routes", "temperatures must be finite numbers"));
            }
            if let (Some(lo), Some(hi)) = (min, max) {
                if lo > hi {
                    return Err(CaseError::InvalidField {
                        field: "routes",
                        reason: format!("route {}: min_c {lo} is above max_c {hi}", r.route),
                    });
                }
            }
        }
        if req.collection_to_receipt_max_hours == 0 || req.thaw_to_infusion_max_minutes == 0 {
            return Err(field("time windows", "windows must be longer than 0"));
        }
        check_text("reason", &req.reason, true)?;

        let caller = actor(ctx);
        let head_key = product_head_key(&req.product_code)?;
        let version = match ctx.get_state_json::<ProductHead>(&head_key)? {
            Some(head) => {
                let current = load_product(ctx, &req.product_code, head.version)?;
                if current.sponsor_msp != caller.msp_id {
                    return Err(CaseError::WrongOrganisation {
                        operation: OP,
                        coi: format!("product {}", req.product_code),
                        party: "the product's sponsor",
                        expected: current.sponsor_msp,
                        caller_msp: caller.msp_id,
                    });
                }
                head.version + 1
            }
            None => 1,
        };
        let config = ProductConfig {
            product_code: req.product_code,
            version,
            spec_version: req.spec_version,
            manufacturer_msps: req.manufacturer_msps,
            sponsor_msp: caller.msp_id.clone(),
            routes: req.routes,
            collection_to_receipt_max_hours: req.collection_to_receipt_max_hours,
            thaw_to_infusion_max_minutes: req.thaw_to_infusion_max_minutes,
            reason: req.reason,
            configured_by: caller,
            configured_at: ctx.timestamp(),
        };
        ctx.put_state_json(&product_key(&config.product_code, version)?, &config)?;
        ctx.put_state_json(
            &head_key,
            &ProductHead {
                product_code: config.product_code.clone(),
                version,
            },
        )?;
        ctx.set_event_json(
            "ProductConfigured",
            &ProductHead {
                product_code: config.product_code.clone(),
                version,
            },
        )?;
        Ok(config)
    }

    // ---- the case --------------------------------------------------------------

    /// The treating site's clinician orders a batch: a new case under a COI,
    /// with the patient's random pseudonym and the product's current
    /// configuration. The site holds custody until the material leaves.
    #[transaction]
    pub fn create_case(ctx: &mut Context, req: CreateCase) -> Result<Case> {
        const OP: &str = "create_case";
        require_role(ctx, OP, &[roles::SITE_CLIN])?;
        ids::validate_coi(&req.coi).map_err(|r| ident("COI", r))?;
        ids::validate_pseudonym(&req.pseudonym).map_err(|r| ident("pseudonym", r))?;
        check_id("product_code", &req.product_code)?;
        check_id("manufacturer_msp", &req.manufacturer_msp)?;
        check_where(&req.location)?;
        let key = case_key(&req.coi)?;
        // Reading the absent key records it: two orders for one COI in a
        // block cannot both commit (MVCC).
        if let Some(existing) = ctx.get_state_json::<Case>(&key)? {
            return Err(CaseError::CaseExists {
                coi: req.coi,
                site_msp: existing.site_msp,
                state: existing.state,
            });
        }
        let head = ctx
            .get_state_json::<ProductHead>(&product_head_key(&req.product_code)?)?
            .ok_or_else(|| CaseError::ProductNotFound {
                product_code: req.product_code.clone(),
            })?;
        let product = load_product(ctx, &req.product_code, head.version)?;
        if !product.manufacturer_msps.contains(&req.manufacturer_msp) {
            return Err(CaseError::ManufacturerNotAllowed {
                product_code: req.product_code,
                manufacturer_msp: req.manufacturer_msp,
                allowed: product.manufacturer_msps,
            });
        }
        let when = event_time(ctx, &req.coi, None, req.event_time.as_deref())?;
        let site = ctx.caller().msp_id.clone();
        let mut case = Case {
            coi: req.coi,
            pseudonym: req.pseudonym,
            site_msp: site.clone(),
            product_code: product.product_code,
            product_version: product.version,
            spec_version: product.spec_version,
            manufacturer_msp: req.manufacturer_msp,
            sponsor_msp: product.sponsor_msp,
            state: State::Ordered,
            held_from: None,
            custodian_msp: site,
            collections: Vec::new(),
            pending_handover: None,
            shipment: None,
            conditions: Vec::new(),
            deviations: Vec::new(),
            thawed_at: None,
            last_event_time: when.0,
            event_count: 0,
            created_at: ctx.timestamp(),
            updated_at: ctx.timestamp(),
        };
        let change = Change::new(OP, when, "commissioning", "active").at(req.location);
        commit(ctx, &mut case, None, change)?;
        Ok(case)
    }

    /// The manufacturer confirms a manufacturing slot (also after a
    /// re-collection was requested).
    #[transaction]
    pub fn confirm_slot(ctx: &mut Context, req: CaseStep) -> Result<Case> {
        const OP: &str = "confirm_slot";
        let mut case = load_case(ctx, &req.coi)?;
        authorize(ctx, OP, &case, &[mfg(&case)])?;
        require_state(&case, OP, &[State::Ordered, State::Recollect])?;
        let change = step_change(ctx, &case, OP, &req, "accepting", "active")?;
        let from = case.state;
        case.state = State::SlotConfirmed;
        commit(ctx, &mut case, Some(from), change)?;
        Ok(case)
    }

    /// The site's apheresis unit records a collection and its DIN. After a
    /// re-collection this is a new DIN under the same COI; earlier DINs stay
    /// in the record, marked not current.
    #[transaction]
    pub fn record_collection(ctx: &mut Context, req: RecordCollection) -> Result<Case> {
        const OP: &str = "record_collection";
        let mut case = load_case(ctx, &req.coi)?;
        authorize(
            ctx,
            OP,
            &case,
            &[Grant::new(
                &[roles::APHERESIS],
                "the treating site",
                &case.site_msp,
            )],
        )?;
        require_state(&case, OP, &[State::SlotConfirmed])?;
        ids::validate_din(&req.din).map_err(|r| ident("DIN", r))?;
        check_where(&req.location)?;
        let dkey = din_key(&req.din)?;
        if let Some(used) = ctx.get_state_json::<DinUse>(&dkey)? {
            return Err(CaseError::DinAlreadyUsed {
                din: req.din,
                coi: used.coi,
            });
        }
        let when = event_time(
            ctx,
            &case.coi,
            Some(case.last_event_time),
            req.event_time.as_deref(),
        )?;
        for c in &mut case.collections {
            c.current = false;
        }
        case.collections.push(Collection {
            din: req.din.clone(),
            collected_at: when.0,
            recorded_by: actor(ctx),
            current: true,
        });
        // The new material is at the site, whoever held the previous one.
        case.custodian_msp = case.site_msp.clone();
        ctx.put_state_json(
            &dkey,
            &DinUse {
                din: req.din.clone(),
                coi: case.coi.clone(),
            },
        )?;
        let mut change = Change::new(OP, when, "commissioning", "active").at(req.location);
        change.ids.push(format!("din:{}", req.din));
        let from = case.state;
        case.state = State::Collected;
        commit(ctx, &mut case, Some(from), change)?;
        Ok(case)
    }

    /// The manufacturer or the site asks for a new collection (material
    /// unusable, manufacturing failed, batch rejected). The current DIN is
    /// kept in the record but no longer current.
    #[transaction]
    pub fn request_recollection(ctx: &mut Context, req: CaseReason) -> Result<Case> {
        const OP: &str = "request_recollection";
        let mut case = load_case(ctx, &req.coi)?;
        authorize(ctx, OP, &case, &[mfg(&case), site_clin(&case)])?;
        require_state(
            &case,
            OP,
            &[
                State::Collected,
                State::ReceivedAtMfg,
                State::InManufacturing,
                State::QcPending,
                State::Rejected,
            ],
        )?;
        no_pending_handover(&case)?;
        let mut change = reason_change(ctx, &case, OP, &req, "holding", "needs_replacement")?;
        if let Some(din) = case.current_din() {
            change.ids.push(format!("din:{din}"));
        }
        for c in &mut case.collections {
            c.current = false;
        }
        let from = case.state;
        case.state = State::Recollect;
        commit(ctx, &mut case, Some(from), change)?;
        Ok(case)
    }

    /// The site cancels a case before material was collected.
    #[transaction]
    pub fn cancel_case(ctx: &mut Context, req: CaseReason) -> Result<Case> {
        const OP: &str = "cancel_case";
        let mut case = load_case(ctx, &req.coi)?;
        authorize(ctx, OP, &case, &[site_clin(&case)])?;
        require_state(
            &case,
            OP,
            &[State::Ordered, State::SlotConfirmed, State::Recollect],
        )?;
        let change = reason_change(ctx, &case, OP, &req, "decommissioning", "inactive")?;
        let from = case.state;
        case.state = State::Cancelled;
        commit(ctx, &mut case, Some(from), change)?;
        Ok(case)
    }

    /// The material is destroyed: by decision of the sponsor's QA, or by the
    /// organisation holding it.
    #[transaction]
    pub fn destroy(ctx: &mut Context, req: CaseReason) -> Result<Case> {
        const OP: &str = "destroy";
        let mut case = load_case(ctx, &req.coi)?;
        authorize(ctx, OP, &case, &[qa(&case), custodian(&case)])?;
        require_state(
            &case,
            OP,
            &[
                State::Collected,
                State::ReceivedAtMfg,
                State::InManufacturing,
                State::QcPending,
                State::Released,
                State::ReceivedAtSite,
                State::Thawed,
                State::OnHold,
                State::Rejected,
                State::Recollect,
            ],
        )?;
        no_pending_handover(&case)?;
        let change = reason_change(ctx, &case, OP, &req, "destroying", "destroyed")?;
        let from = case.state;
        case.state = State::Destroyed;
        case.held_from = None;
        commit(ctx, &mut case, Some(from), change)?;
        Ok(case)
    }

    // ---- custody ---------------------------------------------------------------

    /// The current custodian proposes to hand the material to `to_msp`. Legal
    /// handovers: site -> courier (COLLECTED, starts the `to_manufacturing`
    /// leg), courier -> manufacturer or another courier (IN_TRANSIT_TO_MFG),
    /// manufacturer -> courier (RELEASED, starts the `to_site` leg), courier ->
    /// site or another courier (IN_TRANSIT_TO_SITE). One pending at a time.
    #[transaction]
    pub fn propose_handover(ctx: &mut Context, req: ProposeHandover) -> Result<Case> {
        const OP: &str = "propose_handover";
        let mut case = load_case(ctx, &req.coi)?;
        authorize(ctx, OP, &case, &[custodian(&case)])?;
        require_state(
            &case,
            OP,
            &[
                State::Collected,
                State::InTransitToMfg,
                State::Released,
                State::InTransitToSite,
            ],
        )?;
        no_pending_handover(&case)?;
        check_id("to_msp", &req.to_msp)?;
        check_where(&req.location)?;
        let courier = "a courier organisation (not the site, the manufacturer or the custodian)";
        let (allowed, expected, leg) = match case.state {
            State::Collected => (
                is_courier(&case, &req.to_msp),
                courier.to_string(),
                Some(Route::ToManufacturing),
            ),
            State::Released => (
                is_courier(&case, &req.to_msp),
                courier.to_string(),
                Some(Route::ToSite),
            ),
            State::InTransitToMfg => (
                req.to_msp == case.manufacturer_msp || is_courier(&case, &req.to_msp),
                format!(
                    "the manufacturer {} or another courier",
                    case.manufacturer_msp
                ),
                None,
            ),
            _ => (
                req.to_msp == case.site_msp || is_courier(&case, &req.to_msp),
                format!("the site {} or another courier", case.site_msp),
                None,
            ),
        };
        if !allowed {
            return Err(CaseError::WrongReceiver {
                coi: case.coi,
                state: case.state,
                to_msp: req.to_msp,
                expected,
            });
        }
        let shipment = match (leg, req.shipment) {
            (Some(route), None) => {
                return Err(CaseError::ShipmentRequired {
                    coi: case.coi,
                    state: case.state,
                    route,
                })
            }
            (Some(expected), Some(s)) => {
                ids::validate_sscc(&s.sscc).map_err(|r| ident("SSCC", r))?;
                check_id("logger_id", &s.logger_id)?;
                if s.route != expected {
                    return Err(CaseError::WrongRoute {
                        coi: case.coi,
                        route: s.route,
                        expected,
                    });
                }
                s
            }
            (None, given) => {
                let current = case
                    .shipment
                    .clone()
                    .ok_or_else(|| field("shipment", "no shipment is under way"))?;
                if let Some(s) = given {
                    if s != current {
                        return Err(CaseError::ShipmentMismatch {
                            coi: case.coi,
                            expected_sscc: current.sscc,
                            expected_logger: current.logger_id,
                            sscc: s.sscc,
                            logger_id: s.logger_id,
                        });
                    }
                }
                current
            }
        };
        let when = event_time(
            ctx,
            &case.coi,
            Some(case.last_event_time),
            req.event_time.as_deref(),
        )?;
        let mut change = Change::new(OP, when, "departing", "in_progress").at(req.location);
        change.ids.push(format!("sscc:{}", shipment.sscc));
        change.note = Some(format!("to {}", req.to_msp));
        let handover = Handover {
            from_msp: case.custodian_msp.clone(),
            to_msp: req.to_msp,
            proposed_by: actor(ctx),
            proposed_in: case.state,
            shipment: Some(shipment),
            proposed_at: ctx.timestamp(),
            event_seq: case.event_count,
        };
        ctx.set_event_json("HandoverProposed", &handover_event(&case.coi, &handover))?;
        case.pending_handover = Some(handover);
        let from = case.state;
        commit(ctx, &mut case, Some(from), change)?;
        Ok(case)
    }

    /// The named receiver accepts the pending handover: custody moves, and the
    /// state where DOMAIN.md says so. Arrival at the manufacturer checks the
    /// collection-to-receipt window (a breach is a deviation, not a refusal).
    /// A shipment ends only after its logger data was recorded.
    #[transaction]
    pub fn accept_handover(ctx: &mut Context, req: CaseStep) -> Result<Case> {
        const OP: &str = "accept_handover";
        let mut case = load_case(ctx, &req.coi)?;
        let pending =
            case.pending_handover
                .clone()
                .ok_or_else(|| CaseError::NoPendingHandover {
                    coi: case.coi.clone(),
                })?;
        authorize(ctx, OP, &case, &[receiver(&case, &pending.to_msp)])?;
        require_state(&case, OP, &[pending.proposed_in])?;
        let to = pending.to_msp.clone();
        let next = match case.state {
            State::Collected => State::InTransitToMfg,
            State::Released => State::InTransitToSite,
            State::InTransitToMfg if to == case.manufacturer_msp => State::ReceivedAtMfg,
            State::InTransitToSite if to == case.site_msp => State::ReceivedAtSite,
            s => s,
        };
        let arrives = matches!(next, State::ReceivedAtMfg | State::ReceivedAtSite);
        if arrives {
            let sscc = case
                .shipment
                .as_ref()
                .map(|s| s.sscc.clone())
                .unwrap_or_default();
            if !case.conditions.iter().any(|c| c.sscc == sscc) {
                return Err(CaseError::ConditionNotRecorded {
                    coi: case.coi,
                    sscc,
                });
            }
        }
        let (biz_step, disposition) = if arrives {
            ("receiving", "in_progress")
        } else {
            ("accepting", "in_transit")
        };
        let mut change = step_change(ctx, &case, OP, &req, biz_step, disposition)?;
        if let Some(s) = &pending.shipment {
            change.ids.push(format!("sscc:{}", s.sscc));
        }
        change.note = Some(format!("from {}", pending.from_msp));
        if next == State::ReceivedAtMfg {
            let product = load_product(ctx, &case.product_code, case.product_version)?;
            let collected = case
                .collections
                .iter()
                .rev()
                .find(|c| c.current)
                .map(|c| c.collected_at);
            if let Some(collected) = collected {
                let hours = product.collection_to_receipt_max_hours;
                let elapsed = change.when.0.seconds - collected.seconds;
                if elapsed > i64::from(hours) * 3600 {
                    let description = format!(
                        "collection to receipt took {}h{:02}m; the product allows {hours}h",
                        elapsed / 3600,
                        elapsed % 3600 / 60
                    );
                    open_deviation(
                        ctx,
                        &mut case,
                        &mut change,
                        DeviationKind::CollectionToReceiptWindow,
                        description,
                        false,
                    )?;
                }
            }
        }
        ctx.set_event_json("HandoverAccepted", &handover_event(&case.coi, &pending))?;
        if matches!(case.state, State::Collected | State::Released) {
            case.shipment = pending.shipment.clone();
        }
        case.custodian_msp = to;
        case.pending_handover = None;
        let from = case.state;
        case.state = next;
        commit(ctx, &mut case, Some(from), change)?;
        Ok(case)
    }

    /// The named receiver refuses the pending handover; custody stays.
    #[transaction]
    pub fn reject_handover(ctx: &mut Context, req: CaseReason) -> Result<Case> {
        const OP: &str = "reject_handover";
        let mut case = load_case(ctx, &req.coi)?;
        let pending = pending(&case)?;
        authorize(ctx, OP, &case, &[receiver(&case, &pending.to_msp)])?;
        let change = reason_change(ctx, &case, OP, &req, "inspecting", "non_conformant")?;
        ctx.set_event_json("HandoverRejected", &handover_event(&case.coi, &pending))?;
        case.pending_handover = None;
        let from = case.state;
        commit(ctx, &mut case, Some(from), change)?;
        Ok(case)
    }

    /// The proposer's organisation (still the custodian) withdraws the
    /// pending handover.
    #[transaction]
    pub fn cancel_handover(ctx: &mut Context, req: CaseReason) -> Result<Case> {
        const OP: &str = "cancel_handover";
        let mut case = load_case(ctx, &req.coi)?;
        let pending = pending(&case)?;
        authorize(ctx, OP, &case, &[custodian(&case)])?;
        let change = reason_change(ctx, &case, OP, &req, "void_shipping", "active")?;
        ctx.set_event_json("HandoverCancelled", &handover_event(&case.coi, &pending))?;
        case.pending_handover = None;
        let from = case.state;
        commit(ctx, &mut case, Some(from), change)?;
        Ok(case)
    }

    /// The courier in custody records the logger's summary and the SHA-256 of
    /// its file. An excursion from the route's range (from the product
    /// configuration the case was created with) records a deviation and puts
    /// the case ON_HOLD; the call still succeeds, because the record is what
    /// matters.
    #[transaction]
    pub fn record_shipment_condition(ctx: &mut Context, req: RecordCondition) -> Result<Case> {
        const OP: &str = "record_shipment_condition";
        let mut case = load_case(ctx, &req.coi)?;
        authorize(
            ctx,
            OP,
            &case,
            &[Grant::new(
                &[roles::COURIER],
                "the courier in custody",
                &case.custodian_msp,
            )],
        )?;
        let in_transit = [State::InTransitToMfg, State::InTransitToSite];
        let effective = if case.state == State::OnHold {
            case.held_from.unwrap_or(State::OnHold)
        } else {
            case.state
        };
        if !in_transit.contains(&effective) {
            return Err(CaseError::IllegalTransition {
                coi: case.coi,
                operation: OP,
                state: case.state,
                expected: in_transit.to_vec(),
            });
        }
        let shipment = case
            .shipment
            .clone()
            .ok_or_else(|| field("shipment", "no shipment is under way"))?;
        if req.logger_id != shipment.logger_id {
            return Err(CaseError::LoggerMismatch {
                coi: case.coi,
                expected: shipment.logger_id,
                logger_id: req.logger_id,
            });
        }
        ids::validate_sha256_hex(&req.logger_file_sha256)
            .map_err(|r| ident("logger file SHA-256", r))?;
        check_where(&req.location)?;
        let readings = |reason: &str| CaseError::InvalidReadings {
            reason: reason.to_string(),
        };
        if ![req.min_c, req.max_c, req.mean_c]
            .iter()
            .all(|v| v.is_finite())
        {
            return Err(readings("min, max and mean must be finite numbers"));
        }
        if req.count == 0 {
            return Err(readings("count must be at least 1"));
        }
        if !(req.min_c <= req.mean_c && req.mean_c <= req.max_c) {
            return Err(readings("min <= mean <= max must hold"));
        }
        let first = parse_rfc3339(&req.first_reading)
            .map_err(|r| readings(&format!("first_reading: {r}")))?
            .utc;
        let last = parse_rfc3339(&req.last_reading)
            .map_err(|r| readings(&format!("last_reading: {r}")))?
            .utc;
        if first > last {
            return Err(readings("the first reading is after the last"));
        }
        let mut change = Change::new(
            OP,
            event_time(
                ctx,
                &case.coi,
                Some(case.last_event_time),
                req.event_time.as_deref(),
            )?,
            "inspecting",
            "in_transit",
        )
        .at(req.location);
        if last.seconds > change.when.0.seconds + MAX_CLOCK_SKEW_SECONDS {
            return Err(readings("the last reading is after the event time"));
        }
        let product = load_product(ctx, &case.product_code, case.product_version)?;
        let allowed = product.range(shipment.route).ok_or_else(|| {
            field(
                "routes",
                "the product configuration has no range for this route",
            )
        })?;
        let below = allowed.min_c.is_some_and(|lo| req.min_c < lo);
        let above = allowed.max_c.is_some_and(|hi| req.max_c > hi);
        let excursion = below || above;
        let record = ConditionRecord {
            sscc: shipment.sscc.clone(),
            logger_id: req.logger_id,
            route: shipment.route,
            min_c: req.min_c,
            max_c: req.max_c,
            mean_c: req.mean_c,
            count: req.count,
            first_reading: first,
            last_reading: last,
            logger_file_sha256: req.logger_file_sha256,
            allowed,
            excursion,
            recorded_by: actor(ctx),
            event_seq: case.event_count,
        };
        change.ids.push(format!("sscc:{}", shipment.sscc));
        change.sensor = Some(record.clone());
        case.conditions.push(record);
        // Read before a hold changes it, so the change is published as
        // IN_TRANSIT_... -> ON_HOLD (event, site/state index, timeline).
        let from = case.state;
        if excursion {
            let bound = |v: Option<f64>| v.map_or("open".to_string(), |v| format!("{v}"));
            let description = format!(
                "temperature excursion on route {}: readings {} .. {} °C, allowed {} .. {} °C",
                shipment.route,
                req.min_c,
                req.max_c,
                bound(allowed.min_c),
                bound(allowed.max_c)
            );
            open_deviation(
                ctx,
                &mut case,
                &mut change,
                DeviationKind::TemperatureExcursion,
                description,
                true,
            )?;
            change.disposition = "non_conformant";
        }
        commit(ctx, &mut case, Some(from), change)?;
        Ok(case)
    }

    // ---- deviations ------------------------------------------------------------

    /// The sponsor's QA or the manufacturer records a deviation, and may put
    /// the case on hold with it.
    #[transaction]
    pub fn report_deviation(ctx: &mut Context, req: ReportDeviation) -> Result<Case> {
        const OP: &str = "report_deviation";
        let mut case = load_case(ctx, &req.coi)?;
        authorize(ctx, OP, &case, &[qa(&case), mfg(&case)])?;
        if case.state.is_terminal() {
            return Err(CaseError::IllegalTransition {
                coi: case.coi,
                operation: OP,
                state: case.state,
                expected: non_terminal(),
            });
        }
        check_text("description", &req.description, true)?;
        let when = event_time(
            ctx,
            &case.coi,
            Some(case.last_event_time),
            req.event_time.as_deref(),
        )?;
        let mut change = Change::new(OP, when, "holding", "active");
        if req.hold {
            change.disposition = "non_conformant";
        }
        let from = case.state;
        open_deviation(
            ctx,
            &mut case,
            &mut change,
            req.kind,
            req.description,
            req.hold,
        )?;
        commit(ctx, &mut case, Some(from), change)?;
        Ok(case)
    }

    /// The sponsor's QA closes a deviation with a reason. When no deviation
    /// that holds the case stays open, an ON_HOLD case returns to the state it
    /// was held from.
    #[transaction]
    pub fn close_deviation(ctx: &mut Context, req: CloseDeviation) -> Result<Case> {
        const OP: &str = "close_deviation";
        let mut case = load_case(ctx, &req.coi)?;
        authorize(ctx, OP, &case, &[qa(&case)])?;
        check_text("reason", &req.reason, true)?;
        let index = case
            .deviations
            .iter()
            .position(|d| d.id == req.deviation_id)
            .ok_or_else(|| CaseError::DeviationNotFound {
                coi: case.coi.clone(),
                id: req.deviation_id,
            })?;
        if case.deviations[index].closure.is_some() {
            return Err(CaseError::DeviationAlreadyClosed {
                coi: case.coi,
                id: req.deviation_id,
            });
        }
        let when = event_time(
            ctx,
            &case.coi,
            Some(case.last_event_time),
            req.event_time.as_deref(),
        )?;
        let mut change = Change::new(OP, when, "inspecting", "active");
        change.note = Some(req.reason.clone());
        change.deviations.push(req.deviation_id);
        let deviation = &mut case.deviations[index];
        deviation.closure = Some(Closure {
            reason: req.reason,
            closed_by: actor(ctx),
            closed_at: ctx.timestamp(),
            event_seq: case.event_count,
        });
        let kind = deviation.kind;
        let holds = deviation.holds;
        let from = case.state;
        if case.state == State::OnHold && !case.open_deviations().any(|d| d.holds) {
            case.state = case.held_from.take().unwrap_or(State::OnHold);
        }
        let open = case.open_deviations().count() as u32;
        ctx.set_event_json(
            "DeviationClosed",
            &DeviationEvent {
                coi: case.coi.clone(),
                deviation_id: req.deviation_id,
                kind,
                holds,
                open_deviations: open,
            },
        )?;
        commit(ctx, &mut case, Some(from), change)?;
        Ok(case)
    }

    // ---- manufacturing and release ---------------------------------------------

    /// The manufacturer starts manufacturing the received material.
    #[transaction]
    pub fn start_manufacturing(ctx: &mut Context, req: CaseStep) -> Result<Case> {
        const OP: &str = "start_manufacturing";
        let mut case = load_case(ctx, &req.coi)?;
        authorize(ctx, OP, &case, &[mfg(&case)])?;
        require_state(&case, OP, &[State::ReceivedAtMfg])?;
        let change = step_change(ctx, &case, OP, &req, "transforming", "in_progress")?;
        let from = case.state;
        case.state = State::InManufacturing;
        commit(ctx, &mut case, Some(from), change)?;
        Ok(case)
    }

    /// The manufacturer completes manufacturing (optionally with the SHA-256
    /// of the batch record, kept off-chain); the batch waits for QC and the
    /// release contract.
    #[transaction]
    pub fn complete_manufacturing(ctx: &mut Context, req: CaseStep) -> Result<Case> {
        const OP: &str = "complete_manufacturing";
        let mut case = load_case(ctx, &req.coi)?;
        authorize(ctx, OP, &case, &[mfg(&case)])?;
        require_state(&case, OP, &[State::InManufacturing])?;
        let change = step_change(ctx, &case, OP, &req, "storing", "in_progress")?;
        let from = case.state;
        case.state = State::QcPending;
        commit(ctx, &mut case, Some(from), change)?;
        Ok(case)
    }

    /// Records the release contract's decision: reads release's
    /// [`BatchSummary`] (a cross-contract read, MVCC-checked at commit) and
    /// moves QC_PENDING to RELEASED when the batch is released (normally or
    /// exceptionally) or to REJECTED when it is rejected. This is the only
    /// way to RELEASED.
    #[transaction]
    pub fn record_release_decision(ctx: &mut Context, req: CaseStep) -> Result<Case> {
        const OP: &str = "record_release_decision";
        let mut case = load_case(ctx, &req.coi)?;
        authorize(
            ctx,
            OP,
            &case,
            &[
                Grant::new(
                    &[roles::QP, roles::QA],
                    "the product's sponsor",
                    &case.sponsor_msp,
                ),
                mfg(&case),
            ],
        )?;
        require_state(&case, OP, &[State::QcPending])?;
        let batch: BatchSummary = ctx
            .get_state_of_json(RELEASE, &batch_summary_key(&case.coi))?
            .ok_or_else(|| CaseError::BatchSummaryMissing {
                coi: case.coi.clone(),
            })?;
        if batch.spec_version != case.spec_version {
            return Err(CaseError::BatchSpecMismatch {
                coi: case.coi,
                case_spec: case.spec_version,
                batch_spec: batch.spec_version,
            });
        }
        let (next, disposition) = if batch.is_released() {
            (State::Released, "conformant")
        } else if batch.status == batch_status::REJECTED {
            (State::Rejected, "non_conformant")
        } else {
            return Err(CaseError::BatchNotDecided {
                coi: case.coi,
                status: batch.status,
            });
        };
        let mut change = step_change(ctx, &case, OP, &req, "inspecting", disposition)?;
        change.note = Some(format!("release status {}", batch.status));
        let from = case.state;
        case.state = next;
        commit(ctx, &mut case, Some(from), change)?;
        Ok(case)
    }

    // ---- at the bedside ----------------------------------------------------------

    /// The site's clinician records the thaw; it starts the thaw-to-infusion window.
    #[transaction]
    pub fn record_thaw(ctx: &mut Context, req: CaseStep) -> Result<Case> {
        const OP: &str = "record_thaw";
        let mut case = load_case(ctx, &req.coi)?;
        authorize(ctx, OP, &case, &[site_clin(&case)])?;
        require_state(&case, OP, &[State::ReceivedAtSite])?;
        let change = step_change(ctx, &case, OP, &req, "transforming", "in_progress")?;
        case.thawed_at = Some(change.when.0);
        let from = case.state;
        case.state = State::Thawed;
        commit(ctx, &mut case, Some(from), change)?;
        Ok(case)
    }

    /// The site's clinician records the infusion after the bedside scan: the
    /// scanned COI and DIN must be the case's COI and current DIN, or nothing
    /// is written. A missed thaw-to-infusion window is a deviation (the
    /// physician decides; it does not block).
    #[transaction]
    pub fn record_infusion(ctx: &mut Context, req: RecordInfusion) -> Result<Case> {
        const OP: &str = "record_infusion";
        let mut case = load_case(ctx, &req.coi)?;
        authorize(ctx, OP, &case, &[site_clin(&case)])?;
        require_state(&case, OP, &[State::Thawed])?;
        let din = case.current_din().map(str::to_string);
        if req.scanned_coi != case.coi || din.as_deref() != Some(req.scanned_din.as_str()) {
            return Err(CaseError::IdentityMismatch {
                coi: case.coi,
                din,
                scanned_coi: req.scanned_coi,
                scanned_din: req.scanned_din,
            });
        }
        check_where(&req.location)?;
        let when = event_time(
            ctx,
            &case.coi,
            Some(case.last_event_time),
            req.event_time.as_deref(),
        )?;
        let mut change = Change::new(OP, when, "dispensing", "dispensed").at(req.location);
        change.ids.push(format!("din:{}", req.scanned_din));
        if let Some(thawed) = case.thawed_at {
            let product = load_product(ctx, &case.product_code, case.product_version)?;
            let minutes = product.thaw_to_infusion_max_minutes;
            let elapsed = change.when.0.seconds - thawed.seconds;
            if elapsed > i64::from(minutes) * 60 {
                let description = format!(
                    "thaw to infusion took {} min; the product allows {minutes} min",
                    elapsed / 60
                );
                open_deviation(
                    ctx,
                    &mut case,
                    &mut change,
                    DeviationKind::ThawToInfusionWindow,
                    description,
                    false,
                )?;
            }
        }
        let from = case.state;
        case.state = State::Infused;
        commit(ctx, &mut case, Some(from), change)?;
        Ok(case)
    }

    // ---- corrections ---------------------------------------------------------------

    /// An EPCIS error declaration: a new event saying what was wrong with an
    /// earlier one. Events are never edited. Allowed to the organisation and
    /// role that recorded the event, and to the sponsor's QA.
    #[transaction]
    pub fn declare_correction(ctx: &mut Context, req: DeclareCorrection) -> Result<Case> {
        const OP: &str = "declare_correction";
        let mut case = load_case(ctx, &req.coi)?;
        let original: CaseEvent = ctx
            .get_state_json(&event_key(&case.coi, req.corrects)?)?
            .ok_or_else(|| CaseError::EventNotFound {
                coi: case.coi.clone(),
                seq: req.corrects,
            })?;
        let author_role = original.who.role.clone().unwrap_or_default();
        let author_roles = [author_role.as_str()];
        authorize(
            ctx,
            OP,
            &case,
            &[
                qa(&case),
                Grant::new(
                    &author_roles,
                    "the organisation that recorded the event",
                    &original.who.msp_id,
                ),
            ],
        )?;
        check_text("reason", &req.reason, true)?;
        let when = event_time(ctx, &case.coi, Some(case.last_event_time), None)?;
        let mut change = Change::new(OP, when, "inspecting", "active");
        change.note = Some(req.reason);
        change.corrects = Some(req.corrects);
        let from = case.state;
        commit(ctx, &mut case, Some(from), change)?;
        Ok(case)
    }

    // ---- queries -------------------------------------------------------------------

    /// A case with its full timeline, its custodian and any pending handover.
    #[transaction(evaluate)]
    pub fn get_case(ctx: &Context, coi: String) -> Result<CaseView> {
        let case = load_case(ctx, &coi)?;
        let mut timeline = Vec::new();
        for entry in ctx.get_state_by_partial_composite_key(CASE_EVENT, &[&coi])? {
            timeline.push(entry.value_json::<CaseEvent>()?);
        }
        Ok(CaseView {
            custodian_msp: case.custodian_msp.clone(),
            pending_handover: case.pending_handover.clone(),
            summary: case.summary(),
            case,
            timeline,
        })
    }

    /// The cases of a site in a state (e.g. `HospitalAMSP`, `RECEIVED_AT_SITE`),
    /// in COI order, through the (site, state) index.
    #[transaction(evaluate)]
    pub fn cases_by_site_and_state(
        ctx: &Context,
        site: String,
        state: String,
    ) -> Result<Vec<Case>> {
        let parsed = State::parse(&state).ok_or_else(|| CaseError::InvalidField {
            field: "state",
            reason: format!(
                "{state:?} is not a state; use one of {}",
                State::ALL.map(State::as_str).join(", ")
            ),
        })?;
        let mut cases = Vec::new();
        for entry in
            ctx.get_state_by_partial_composite_key(SITE_STATE_INDEX, &[&site, parsed.as_str()])?
        {
            let (_, attributes) = ctx.split_composite_key(&entry.key)?;
            // Index keys are `site~state~case / site / state / coi`.
            cases.push(load_case(ctx, &attributes[2])?);
        }
        Ok(cases)
    }

    /// A product's configuration: the given version, or the current one.
    #[transaction(evaluate)]
    pub fn get_product(
        ctx: &Context,
        product_code: String,
        version: Option<u32>,
    ) -> Result<ProductConfig> {
        let version = match version {
            Some(v) => v,
            None => {
                ctx.get_state_json::<ProductHead>(&product_head_key(&product_code)?)?
                    .ok_or_else(|| CaseError::ProductNotFound {
                        product_code: product_code.clone(),
                    })?
                    .version
            }
        };
        load_product(ctx, &product_code, version)
    }
}

// ---- authorisation ---------------------------------------------------------------

/// One way to be allowed an operation: a business role in a given organisation.
struct Grant<'a> {
    roles: &'a [&'a str],
    party: &'static str,
    msp: &'a str,
}

impl<'a> Grant<'a> {
    fn new(roles: &'a [&'a str], party: &'static str, msp: &'a str) -> Self {
        Grant { roles, party, msp }
    }
}

const SITE_ROLES: &[&str] = &[roles::SITE_CLIN, roles::APHERESIS];

fn mfg(case: &Case) -> Grant<'_> {
    Grant::new(
        &[roles::MFG],
        "the case's manufacturer",
        &case.manufacturer_msp,
    )
}

fn site_clin(case: &Case) -> Grant<'_> {
    Grant::new(&[roles::SITE_CLIN], "the treating site", &case.site_msp)
}

fn qa(case: &Case) -> Grant<'_> {
    Grant::new(&[roles::QA], "the product's sponsor", &case.sponsor_msp)
}

/// The roles that act for `msp` when it holds or receives the material.
fn custody_roles(case: &Case, msp: &str) -> &'static [&'static str] {
    if msp == case.site_msp {
        SITE_ROLES
    } else if msp == case.manufacturer_msp {
        &[roles::MFG]
    } else {
        &[roles::COURIER]
    }
}

fn custodian(case: &Case) -> Grant<'_> {
    Grant::new(
        custody_roles(case, &case.custodian_msp),
        "the current custodian",
        &case.custodian_msp,
    )
}

fn receiver<'a>(case: &Case, to: &'a str) -> Grant<'a> {
    Grant::new(custody_roles(case, to), "the named receiver", to)
}

/// A courier is any organisation other than the case's site and manufacturer
/// (the accepting user must then hold the COURIER role).
fn is_courier(case: &Case, msp: &str) -> bool {
    msp != case.site_msp && msp != case.manufacturer_msp && msp != case.custodian_msp
}

fn caller_role(ctx: &Context) -> Option<String> {
    ctx.caller().attribute(ROLE_ATTRIBUTE).map(str::to_string)
}

/// Refuses auditors and callers without one of `required` roles.
fn require_role(ctx: &Context, operation: &'static str, required: &[&str]) -> Result<()> {
    let role = caller_role(ctx);
    if role.as_deref() == Some(roles::AUDITOR) {
        return Err(CaseError::ReadOnlyRole { operation });
    }
    if !required
        .iter()
        .any(|r| ctx.caller().has_attribute(ROLE_ATTRIBUTE, r))
    {
        return Err(CaseError::WrongRole {
            operation,
            required: required.iter().map(|r| r.to_string()).collect(),
            caller_role: role,
        });
    }
    Ok(())
}

/// The caller's role must appear in one of `grants`, and the caller's
/// organisation must be that grant's.
fn authorize(
    ctx: &Context,
    operation: &'static str,
    case: &Case,
    grants: &[Grant<'_>],
) -> Result<()> {
    let mut all: Vec<&str> = Vec::new();
    for g in grants {
        for r in g.roles {
            if !all.contains(r) {
                all.push(r);
            }
        }
    }
    require_role(ctx, operation, &all)?;
    let caller = ctx.caller();
    let matching: Vec<&Grant<'_>> = grants
        .iter()
        .filter(|g| {
            g.roles
                .iter()
                .any(|r| caller.has_attribute(ROLE_ATTRIBUTE, r))
        })
        .collect();
    if matching.iter().any(|g| g.msp == caller.msp_id) {
        return Ok(());
    }
    let g = matching[0];
    Err(CaseError::WrongOrganisation {
        operation,
        coi: case.coi.clone(),
        party: g.party,
        expected: g.msp.to_string(),
        caller_msp: caller.msp_id.clone(),
    })
}

fn require_state(case: &Case, operation: &'static str, expected: &[State]) -> Result<()> {
    if expected.contains(&case.state) {
        return Ok(());
    }
    Err(CaseError::IllegalTransition {
        coi: case.coi.clone(),
        operation,
        state: case.state,
        expected: expected.to_vec(),
    })
}

fn non_terminal() -> Vec<State> {
    State::ALL
        .into_iter()
        .filter(|s| !s.is_terminal())
        .collect()
}

fn pending(case: &Case) -> Result<Handover> {
    case.pending_handover
        .clone()
        .ok_or_else(|| CaseError::NoPendingHandover {
            coi: case.coi.clone(),
        })
}

fn no_pending_handover(case: &Case) -> Result<()> {
    match &case.pending_handover {
        Some(h) => Err(CaseError::HandoverPending {
            coi: case.coi.clone(),
            from_msp: h.from_msp.clone(),
            to_msp: h.to_msp.clone(),
        }),
        None => Ok(()),
    }
}

fn actor(ctx: &Context) -> Actor {
    let caller = ctx.caller();
    Actor {
        common_name: caller.common_name.clone(),
        msp_id: caller.msp_id.clone(),
        role: caller_role(ctx),
    }
}

// ---- request checks ----------------------------------------------------------------

fn ident(kind: &'static str, reason: String) -> CaseError {
    CaseError::InvalidIdentifier { kind, reason }
}

fn field(field: &'static str, reason: &str) -> CaseError {
    CaseError::InvalidField {
        field,
        reason: reason.to_string(),
    }
}

fn check_id(name: &'static str, value: &str) -> Result<()> {
    if value.is_empty() {
        return Err(field(name, "it is empty"));
    }
    if value.chars().count() > MAX_ID_LEN {
        return Err(field(name, "it is longer than 128 characters"));
    }
    if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(field(name, "it contains spaces or control characters"));
    }
    Ok(())
}

fn check_text(name: &'static str, value: &str, required: bool) -> Result<()> {
    if required && value.trim().is_empty() {
        return Err(field(name, "it is required"));
    }
    if value.chars().count() > MAX_TEXT_LEN {
        return Err(field(name, "it is longer than 1024 characters"));
    }
    Ok(())
}

fn check_where(location: &Option<Where>) -> Result<()> {
    if let Some(w) = location {
        for v in [&w.read_point, &w.biz_location].into_iter().flatten() {
            check_id("location", v)?;
        }
    }
    Ok(())
}

/// The event time of an operation on a case: the given RFC 3339 time, or the
/// proposal time. Refused in the future (beyond the skew) and before the
/// case's previous event (back-dating).
fn event_time(
    ctx: &Context,
    coi: &str,
    previous: Option<Timestamp>,
    given: Option<&str>,
) -> Result<(Timestamp, i32)> {
    let now = ctx.timestamp();
    let Some(given) = given else {
        // "Now", but never before the previous event (which may lie within
        // the skew ahead of this proposal's clock).
        return Ok((previous.map_or(now, |p| p.max(now)), 0));
    };
    let parsed = parse_rfc3339(given).map_err(|reason| CaseError::InvalidEventTime { reason })?;
    if parsed.utc.seconds > now.seconds + MAX_CLOCK_SKEW_SECONDS {
        return Err(CaseError::EventTimeInFuture {
            event_time: given.to_string(),
            record_time: format_utc(now),
            max_skew_seconds: MAX_CLOCK_SKEW_SECONDS,
        });
    }
    if let Some(previous) = previous {
        if parsed.utc < previous {
            return Err(CaseError::EventTimeBeforePrevious {
                coi: coi.to_string(),
                event_time: given.to_string(),
                previous: format_utc(previous),
            });
        }
    }
    Ok((parsed.utc, parsed.offset_minutes))
}

// ---- loading -------------------------------------------------------------------------

fn load_case(ctx: &Context, coi: &str) -> Result<Case> {
    ctx.get_state_json(&case_key(coi)?)?
        .ok_or_else(|| CaseError::CaseNotFound {
            coi: coi.to_string(),
        })
}

fn load_product(ctx: &Context, code: &str, version: u32) -> Result<ProductConfig> {
    ctx.get_state_json(&product_key(code, version)?)?
        .ok_or_else(|| CaseError::ProductVersionNotFound {
            product_code: code.to_string(),
            version,
        })
}

// ---- changing a case ----------------------------------------------------------------

/// The timeline event a transaction is about to append.
struct Change {
    operation: &'static str,
    when: (Timestamp, i32),
    biz_step: &'static str,
    disposition: &'static str,
    location: Option<Where>,
    ids: Vec<String>,
    note: Option<String>,
    sensor: Option<ConditionRecord>,
    deviations: Vec<u32>,
    corrects: Option<u64>,
}

impl Change {
    fn new(
        operation: &'static str,
        when: (Timestamp, i32),
        biz_step: &'static str,
        disposition: &'static str,
    ) -> Change {
        Change {
            operation,
            when,
            biz_step,
            disposition,
            location: None,
            ids: Vec::new(),
            note: None,
            sensor: None,
            deviations: Vec::new(),
            corrects: None,
        }
    }

    fn at(mut self, location: Option<Where>) -> Change {
        self.location = location;
        self
    }
}

/// The change of a [`CaseStep`] request: its event time, location, note and document hash.
fn step_change(
    ctx: &Context,
    case: &Case,
    operation: &'static str,
    req: &CaseStep,
    biz_step: &'static str,
    disposition: &'static str,
) -> Result<Change> {
    check_where(&req.location)?;
    if let Some(note) = &req.note {
        check_text("note", note, false)?;
    }
    if let Some(hash) = &req.document_sha256 {
        ids::validate_sha256_hex(hash).map_err(|r| ident("document SHA-256", r))?;
    }
    let when = event_time(
        ctx,
        &case.coi,
        Some(case.last_event_time),
        req.event_time.as_deref(),
    )?;
    let mut change = Change::new(operation, when, biz_step, disposition).at(req.location.clone());
    change.note = req.note.clone();
    if let Some(hash) = &req.document_sha256 {
        change.ids.push(format!("sha256:{hash}"));
    }
    Ok(change)
}

/// The change of a [`CaseReason`] request.
fn reason_change(
    ctx: &Context,
    case: &Case,
    operation: &'static str,
    req: &CaseReason,
    biz_step: &'static str,
    disposition: &'static str,
) -> Result<Change> {
    check_text("reason", &req.reason, true)?;
    check_where(&req.location)?;
    let when = event_time(
        ctx,
        &case.coi,
        Some(case.last_event_time),
        req.event_time.as_deref(),
    )?;
    let mut change = Change::new(operation, when, biz_step, disposition).at(req.location.clone());
    change.note = Some(req.reason.clone());
    Ok(change)
}

/// Records a deviation in the event about to be appended; a holding one puts
/// the case ON_HOLD (remembering the state to return to).
fn open_deviation(
    ctx: &mut Context,
    case: &mut Case,
    change: &mut Change,
    kind: DeviationKind,
    description: String,
    holds: bool,
) -> Result<()> {
    let id = case.deviations.len() as u32 + 1;
    case.deviations.push(Deviation {
        id,
        kind,
        description,
        holds,
        opened_by: actor(ctx),
        opened_at: ctx.timestamp(),
        opened_in_event: case.event_count,
        closure: None,
    });
    if holds && case.state != State::OnHold {
        case.held_from = Some(case.state);
        case.state = State::OnHold;
    }
    change.deviations.push(id);
    ctx.set_event_json(
        "DeviationOpened",
        &DeviationEvent {
            coi: case.coi.clone(),
            deviation_id: id,
            kind,
            holds,
            open_deviations: case.open_deviations().count() as u32,
        },
    )?;
    Ok(())
}

fn handover_event(coi: &str, h: &Handover) -> HandoverEvent {
    HandoverEvent {
        coi: coi.to_string(),
        from_msp: h.from_msp.clone(),
        to_msp: h.to_msp.clone(),
        shipment: h.shipment.clone(),
    }
}

/// Who is expected to act next.
fn next_step(case: &Case) -> Option<NextStep> {
    let step = |msp: &str, roles: &[&str], operation: &str| {
        Some(NextStep {
            msp_id: msp.to_string(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            operation: operation.to_string(),
        })
    };
    if let Some(h) = &case.pending_handover {
        return step(&h.to_msp, custody_roles(case, &h.to_msp), "accept_handover");
    }
    let (site, mfg, sponsor) = (&case.site_msp, &case.manufacturer_msp, &case.sponsor_msp);
    match case.state {
        State::Ordered | State::Recollect => step(mfg, &[roles::MFG], "confirm_slot"),
        State::SlotConfirmed => step(site, &[roles::APHERESIS], "record_collection"),
        State::Collected => step(site, SITE_ROLES, "propose_handover"),
        State::InTransitToMfg | State::InTransitToSite => step(
            &case.custodian_msp,
            &[roles::COURIER],
            "record_shipment_condition, propose_handover",
        ),
        State::ReceivedAtMfg => step(mfg, &[roles::MFG], "start_manufacturing"),
        State::InManufacturing => step(mfg, &[roles::MFG], "complete_manufacturing"),
        State::QcPending => step(
            sponsor,
            &[roles::QP],
            "release the batch, then record_release_decision",
        ),
        State::Released => step(mfg, &[roles::MFG], "propose_handover"),
        State::ReceivedAtSite => step(site, &[roles::SITE_CLIN], "record_thaw"),
        State::Thawed => step(site, &[roles::SITE_CLIN], "record_infusion"),
        State::OnHold => step(sponsor, &[roles::QA], "close_deviation"),
        State::Rejected => step(mfg, &[roles::MFG], "request_recollection or destroy"),
        State::Infused | State::Destroyed | State::Cancelled => None,
    }
}

/// Appends the change to the timeline and writes everything that follows
/// from the case: the case, the (site, state) index, the case summary, and
/// `CaseStateChanged` when the state changed (`from` is `None` for a new case).
fn commit(ctx: &mut Context, case: &mut Case, from: Option<State>, change: Change) -> Result<()> {
    let seq = case.event_count;
    let now = ctx.timestamp();
    let mut ids = vec![format!("coi:{}", case.coi)];
    ids.extend(change.ids);
    let event = CaseEvent {
        coi: case.coi.clone(),
        seq,
        what: What {
            operation: change.operation.to_string(),
            ids,
            note: change.note,
            sensor: change.sensor,
            deviations: change.deviations,
            corrects: change.corrects,
        },
        when: When {
            event_time: change.when.0,
            event_time_zone_offset: format_offset(change.when.1),
            record_time: now,
            tx_id: ctx.tx_id().to_string(),
        },
        where_: change.location.unwrap_or_default(),
        why: Why {
            biz_step: change.biz_step.to_string(),
            disposition: change.disposition.to_string(),
        },
        who: actor(ctx),
        state_before: from.unwrap_or(case.state),
        state_after: case.state,
        custodian_after: case.custodian_msp.clone(),
    };
    case.event_count += 1;
    case.last_event_time = case.last_event_time.max(change.when.0);
    case.updated_at = now;
    ctx.put_state_json(&event_key(&case.coi, seq)?, &event)?;
    ctx.put_state_json(&case_key(&case.coi)?, case)?;
    ctx.put_state_json(&case_summary_key(&case.coi), &case.summary())?;
    if from != Some(case.state) {
        if let Some(old) = from {
            ctx.del_state(&site_state_key(&case.site_msp, old, &case.coi)?)?;
        }
        ctx.put_state(
            &site_state_key(&case.site_msp, case.state, &case.coi)?,
            INDEX_MARKER,
        )?;
        ctx.set_event_json(
            "CaseStateChanged",
            &CaseStateChanged {
                coi: case.coi.clone(),
                from,
                to: case.state,
                custodian_msp: case.custodian_msp.clone(),
                next: next_step(case),
            },
        )?;
    }
    Ok(())
}
