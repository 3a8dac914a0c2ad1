use super::*;

const ATMP: &str = include_str!("../../../channel-configs/atmp-network.yaml");

fn atmp() -> NetworkConfig {
    NetworkConfig::from_yaml(ATMP).expect("the shipped network file is valid")
}

/// The shipped file with one textual change; panics if `from` is absent so a test
/// never silently checks the unmodified file.
fn with(from: &str, to: &str) -> Result<NetworkConfig, ConfigError> {
    assert!(ATMP.contains(from), "test fixture text not found: {from}");
    NetworkConfig::from_yaml(&ATMP.replacen(from, to, 1))
}

#[test]
fn shipped_network_file_is_valid_and_complete() {
    let n = atmp();
    assert_eq!(n.organizations.len(), 7);
    assert_eq!(n.orderers.len(), 3);
    let atmp = n.channel("atmp").unwrap();
    assert_eq!(atmp.organizations.len(), 7);
    assert_eq!(atmp.batch.batch_timeout, Millis(250));
    assert_eq!(atmp.batch.preferred_max_bytes, ByteSize(2 * 1024 * 1024));
    let private = n.channel("northgate-manufacturing").unwrap();
    assert_eq!(
        private.organizations,
        ["HospitalAMSP", "CdmoMSP", "SponsorMSP"]
    );
    // Unset batch fields keep their defaults.
    assert_eq!(
        private.batch.absolute_max_bytes,
        BatchConfig::default().absolute_max_bytes
    );
    assert!(n.organization("RegulatorMSP").unwrap().read_only);
}

#[test]
fn malformed_yaml_reports_line_and_column() {
    let e = NetworkConfig::from_yaml("name: x\norganizations: [\n  - msp_id: A\n").unwrap_err();
    let ConfigError::Yaml { reason } = &e else {
        panic!("{e:?}")
    };
    assert!(reason.contains("line"), "{reason}");
}

#[test]
fn misspelt_setting_is_refused_not_ignored() {
    let e = with("max_message_count: 500", "max_messages: 500").unwrap_err();
    assert!(
        e.to_string().contains("unknown field `max_messages`"),
        "{e}"
    );
}

#[test]
fn duplicate_organization_is_refused() {
    let e = with("msp_id: HospitalBMSP", "msp_id: HospitalAMSP").unwrap_err();
    assert_eq!(
        e,
        ConfigError::Duplicate {
            what: "organization",
            name: "HospitalAMSP".into()
        }
    );
}

#[test]
fn duplicate_consenter_is_refused() {
    let e = with(
        "consenters: [orderer0, orderer1, orderer2]",
        "consenters: [orderer0, orderer1, orderer1]",
    )
    .unwrap_err();
    assert_eq!(
        e,
        ConfigError::DuplicateConsenter {
            channel: "atmp".into(),
            name: "orderer1".into()
        }
    );
}

#[test]
fn unknown_consenter_is_refused() {
    let e = with(
        "consenters: [orderer0, orderer1, orderer2]",
        "consenters: [orderer0, orderer9]",
    )
    .unwrap_err();
    assert_eq!(
        e,
        ConfigError::UnknownOrderer {
            channel: "atmp".into(),
            name: "orderer9".into()
        }
    );
}

#[test]
fn orderer_of_a_non_member_cannot_order_a_private_channel() {
    let e = with(
        "- { name: orderer2, org: HospitalAMSP, port: 7052 }",
        "- { name: orderer2, org: CourierMSP, port: 7052 }",
    )
    .unwrap_err();
    assert_eq!(
        e,
        ConfigError::ConsenterNotMember {
            channel: "northgate-manufacturing".into(),
            orderer: "orderer2".into(),
            org: "CourierMSP".into()
        }
    );
}

#[test]
fn duplicate_orderer_endpoint_is_refused() {
    let e = with("port: 7051", "port: 7050").unwrap_err();
    assert_eq!(
        e,
        ConfigError::Duplicate {
            what: "orderer endpoint",
            name: "127.0.0.1:7050".into()
        }
    );
}

#[test]
fn unknown_organization_in_a_channel_is_refused() {
    let e = with(
        "organizations: [HospitalAMSP, CdmoMSP, SponsorMSP]",
        "organizations: [HospitalAMSP, CdmoMSP, SponsorMSP, PharmacyMSP]",
    )
    .unwrap_err();
    assert!(
        matches!(&e, ConfigError::UnknownOrganization { msp_id, .. } if msp_id == "PharmacyMSP"),
        "{e:?}"
    );
}

#[test]
fn policy_naming_a_non_member_is_refused() {
    let e = with(
        "endorsement: \"AND('CdmoMSP.peer', 'SponsorMSP.peer')\"",
        "endorsement: \"AND('CdmoMSP.peer', 'CourierMSP.peer')\"",
    )
    .unwrap_err();
    let ConfigError::Policy { place, reason } = &e else {
        panic!("{e:?}")
    };
    assert!(
        place.contains("northgate-manufacturing") && place.contains("Endorsement"),
        "{place}"
    );
    assert!(reason.contains("CourierMSP"), "{reason}");
}

#[test]
fn malformed_policy_names_its_position() {
    let e = with(
        "endorsement: \"AND('CdmoMSP.peer', 'SponsorMSP.peer')\"",
        "endorsement: \"AND('CdmoMSP.peer' 'SponsorMSP.peer')\"",
    )
    .unwrap_err();
    assert!(e.to_string().contains("column"), "{e}");
}

#[test]
fn unknown_implicit_meta_sub_policy_is_refused() {
    let e = with("readers: ANY Readers", "readers: ANY Auditors").unwrap_err();
    assert!(e.to_string().contains("Auditors"), "{e}");
}

#[test]
fn batch_settings_that_cannot_work_are_refused() {
    let e = with("preferred_max_bytes: 2 MiB", "preferred_max_bytes: 20 MiB").unwrap_err();
    assert!(matches!(e, ConfigError::Batch { .. }), "{e:?}");
    let e = with("max_message_count: 500", "max_message_count: 0").unwrap_err();
    assert!(matches!(e, ConfigError::Batch { .. }), "{e:?}");
    let e = with("batch_timeout: 250ms", "batch_timeout: 5 minutes").unwrap_err();
    assert!(e.to_string().contains("duration unit"), "{e}");
}

#[test]
fn raft_election_must_outlast_heartbeat() {
    let e = with("election_tick: 10", "election_tick: 1").unwrap_err();
    assert!(matches!(e, ConfigError::Raft { .. }), "{e:?}");
}

#[test]
fn unknown_acl_resource_and_policy_are_refused() {
    let e = with(
        "      endorsement: MAJORITY Endorsement\n",
        "      endorsement: MAJORITY Endorsement\n    acls:\n      peer/Proposee: Writers\n",
    )
    .unwrap_err();
    assert!(
        matches!(&e, ConfigError::UnknownAclResource { resource, .. } if resource == "peer/Proposee"),
        "{e:?}"
    );
    let e = with(
        "      endorsement: MAJORITY Endorsement\n",
        "      endorsement: MAJORITY Endorsement\n    acls:\n      peer/Propose: Everyone\n",
    )
    .unwrap_err();
    assert!(
        matches!(&e, ConfigError::UnknownPolicyName { name, .. } if name == "Everyone"),
        "{e:?}"
    );
}

#[test]
fn read_only_organization_cannot_be_given_writers() {
    let e = with(
        "    read_only: true\n",
        "    read_only: true\n    policies:\n      writers: \"'RegulatorMSP.client'\"\n",
    )
    .unwrap_err();
    assert_eq!(
        e,
        ConfigError::ReadOnlyWithWriters {
            org: "RegulatorMSP".into()
        }
    );
}

#[test]
fn users_cannot_take_node_roles() {
    let e = with(
        "{ name: courier, role: client",
        "{ name: courier, role: peer",
    )
    .unwrap_err();
    assert!(matches!(e, ConfigError::BadUserRole { .. }), "{e:?}");
}

#[test]
fn channel_names_follow_fabric_rules() {
    let e = with("- name: atmp\n", "- name: ATMP\n").unwrap_err();
    assert!(
        matches!(
            e,
            ConfigError::BadName {
                what: "channel name",
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn every_acl_resource_has_a_default_channel_policy() {
    for (resource, policy) in default_acls() {
        assert!(
            CHANNEL_POLICY_NAMES.contains(&policy.as_str()),
            "{resource} -> {policy}"
        );
    }
}

mod genesis;
