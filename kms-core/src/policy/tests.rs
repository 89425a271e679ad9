use super::*;
use serde_json::json;

fn rules(v: serde_json::Value) -> RuleSet {
    let set: RuleSet = serde_json::from_value(v).unwrap();
    set.validate().unwrap();
    set
}

fn sign<'a>(data_type: &'a str, decoded: Option<&'a serde_json::Value>) -> SignContext<'a> {
    SignContext::new("k1", "GG18", Operation::sign(data_type, decoded), 0)
}

#[test]
fn no_rules_allow_everything() {
    assert_eq!(RuleSet::default().evaluate(&sign("HASH", None)), Decision::Allow);
}

#[test]
fn allowed_data_types_deny_others_and_name_the_rule() {
    let set = rules(json!({"rules": [
        {"name": "hash-only", "check": {"allowed_data_types": ["HASH"]}, "action": "deny"}
    ]}));
    assert_eq!(set.evaluate(&sign("HASH", None)), Decision::Allow);
    match set.evaluate(&sign("ETH_TX", None)) {
        Decision::Deny { rule, reason } => {
            assert_eq!(rule, "hash-only");
            assert!(reason.contains("ETH_TX"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn scope_limits_a_rule_to_its_keys_algorithms_and_data_types() {
    let set = rules(json!({"rules": [
        {"name": "r", "key_ids": ["k2"], "check": {"allowed_data_types": []}, "action": "deny"},
        {"name": "s", "algorithms": ["EDDSA"], "check": {"allowed_data_types": []}, "action": "deny"},
        {"name": "t", "data_types": ["EIP191"], "check": {"allowed_data_types": []}, "action": "deny"}
    ]}));
    // k1 / GG18 / HASH is outside all three scopes.
    assert_eq!(set.evaluate(&sign("HASH", None)), Decision::Allow);
    assert!(matches!(set.evaluate(&sign("EIP191", None)), Decision::Deny { rule, .. } if rule == "t"));
    let other_key = SignContext::new("k2", "GG18", Operation::sign("HASH", None), 0);
    assert!(matches!(set.evaluate(&other_key), Decision::Deny { rule, .. } if rule == "r"));
}

#[test]
fn counting_checks_count_this_signing() {
    let set = rules(json!({"rules": [
        {"name": "hourly", "check": {"max_signs_per_hour": 3}, "action": "deny"},
        {"name": "daily", "check": {"max_signs_per_day": 10}, "action": {"require_approval": {"approvals": 1}}}
    ]}));
    assert_eq!(
        set.evaluate(&sign("HASH", None).with_counts(2, 2)),
        Decision::Allow
    );
    assert!(
        matches!(set.evaluate(&sign("HASH", None).with_counts(3, 3)), Decision::Deny { rule, .. } if rule == "hourly")
    );
    assert_eq!(
        set.evaluate(&sign("HASH", None).with_counts(0, 10)),
        Decision::RequireApproval {
            rules: vec!["daily".into()],
            approvals: 1
        }
    );
}

#[test]
fn signing_history_counts_the_windows() {
    let mut h = SigningHistory::default();
    let hour = 3_600_000;
    h.record(0);
    h.record(hour / 2);
    h.record(2 * hour);
    assert_eq!(h.counts(2 * hour), (1, 3));
    assert_eq!(h.counts(25 * hour), (0, 1));
    h.record(30 * hour); // forgets what is older than a day
    assert_eq!(h.counts(30 * hour), (1, 1));
}

#[test]
fn time_window_with_and_without_wrap() {
    let day = rules(json!({"rules": [
        {"name": "office", "check": {"time_window_utc": {"from_minute": 480, "to_minute": 1200}}, "action": "deny"}
    ]}));
    let at = |minute: u64| {
        SignContext::new(
            "k1",
            "GG18",
            Operation::sign("HASH", None),
            86_400_000 * 5 + minute * 60_000,
        )
    };
    assert_eq!(day.evaluate(&at(480)), Decision::Allow);
    assert_eq!(day.evaluate(&at(1199)), Decision::Allow);
    match day.evaluate(&at(1200)) {
        Decision::Deny { reason, .. } => {
            assert!(reason.contains("20:00 UTC is outside 08:00 to 20:00"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    let night = rules(json!({"rules": [
        {"name": "night", "check": {"time_window_utc": {"from_minute": 1320, "to_minute": 120}}, "action": "deny"}
    ]}));
    assert_eq!(night.evaluate(&at(1380)), Decision::Allow);
    assert_eq!(night.evaluate(&at(60)), Decision::Allow);
    assert!(matches!(night.evaluate(&at(600)), Decision::Deny { .. }));
}

#[test]
fn field_max_compares_big_decimals_and_fails_closed() {
    let set = rules(json!({"rules": [
        {"name": "cap", "data_types": ["ETH_TX"],
         "check": {"field_max": {"field": "/value", "max": "1000000000000000000"}}, "action": "deny"}
    ]}));
    let ok = json!({"value": "999999999999999999"});
    let equal = json!({"value": "1000000000000000000"});
    let big = json!({"value": "1000000000000000001"});
    let huge = json!({"value": "340282366920938463463374607431768211455"});
    let number = json!({"value": 5});
    let missing = json!({"to": "0x00"});
    let negative = json!({"value": "-1"});
    assert_eq!(set.evaluate(&sign("ETH_TX", Some(&ok))), Decision::Allow);
    assert_eq!(set.evaluate(&sign("ETH_TX", Some(&equal))), Decision::Allow);
    assert_eq!(set.evaluate(&sign("ETH_TX", Some(&number))), Decision::Allow);
    for bad in [&big, &huge, &missing, &negative] {
        assert!(
            matches!(set.evaluate(&sign("ETH_TX", Some(bad))), Decision::Deny { .. }),
            "{bad}"
        );
    }
    assert!(matches!(
        set.evaluate(&sign("ETH_TX", None)),
        Decision::Deny { .. }
    ));
    // Another data type is outside the rule's scope.
    assert_eq!(set.evaluate(&sign("HASH", None)), Decision::Allow);
}

#[test]
fn field_one_of_matches_addresses_case_insensitively_and_chain_ids_as_numbers_or_strings() {
    let set = rules(json!({"rules": [
        {"name": "to", "data_types": ["ETH_TX"],
         "check": {"field_one_of": {"field": "/to", "values": ["0x3535353535353535353535353535353535353535"]}}, "action": "deny"},
        {"name": "chain", "data_types": ["ETH_TX", "EIP712"],
         "check": {"field_one_of": {"field": "/chain_id", "values": [1, 137]}}, "action": "deny"},
        {"name": "domain", "data_types": ["EIP712"],
         "check": {"field_one_of": {"field": "/domain/name", "values": ["Ether Mail"]}}, "action": {"require_approval": {"approvals": 2}}}
    ]}));
    let tx = json!({"to": "0x3535353535353535353535353535353535353535", "chain_id": 1});
    assert_eq!(set.evaluate(&sign("ETH_TX", Some(&tx))), Decision::Allow);
    let elsewhere = json!({"to": "0x1111111111111111111111111111111111111111", "chain_id": 1});
    assert!(
        matches!(set.evaluate(&sign("ETH_TX", Some(&elsewhere))), Decision::Deny { rule, .. } if rule == "to")
    );
    let other_chain = json!({"to": "0x3535353535353535353535353535353535353535", "chain_id": "56"});
    assert!(
        matches!(set.evaluate(&sign("ETH_TX", Some(&other_chain))), Decision::Deny { rule, .. } if rule == "chain")
    );
    let typed = json!({"chain_id": "137", "domain": {"name": "Other"}});
    assert_eq!(
        set.evaluate(&sign("EIP712", Some(&typed))),
        Decision::RequireApproval {
            rules: vec!["domain".into()],
            approvals: 2
        }
    );
}

#[test]
fn a_denial_beats_approvals_and_approvals_take_the_largest_count() {
    let set = rules(json!({"rules": [
        {"name": "a", "check": {"max_signs_per_hour": 0}, "action": {"require_approval": {"approvals": 1}}},
        {"name": "b", "check": {"max_signs_per_day": 0}, "action": {"require_approval": {"approvals": 3}}},
        {"name": "c", "data_types": ["EIP191"], "check": {"allowed_data_types": []}, "action": "deny"}
    ]}));
    assert_eq!(
        set.evaluate(&sign("HASH", None)),
        Decision::RequireApproval {
            rules: vec!["a".into(), "b".into()],
            approvals: 3
        }
    );
    assert!(matches!(set.evaluate(&sign("EIP191", None)), Decision::Deny { rule, .. } if rule == "c"));
}

#[test]
fn status_change_rules_hold_back_destruction_only() {
    let set = rules(json!({"rules": [
        {"name": "destroy-needs-approval", "check": {"status_change_to": ["DESTROYED"]},
         "action": {"require_approval": {"approvals": 1}}},
        {"name": "hash-only", "check": {"allowed_data_types": ["HASH"]}, "action": "deny"}
    ]}));
    let status = |to| SignContext::new("k1", "GG18", Operation::set_status(to), 0);
    assert_eq!(set.evaluate(&status("FROZEN")), Decision::Allow);
    assert_eq!(
        set.evaluate(&status("DESTROYED")),
        Decision::RequireApproval {
            rules: vec!["destroy-needs-approval".into()],
            approvals: 1
        }
    );
    // A signing check says nothing about a status change, and the reverse.
    assert_eq!(set.evaluate(&sign("HASH", None)), Decision::Allow);
}

#[test]
fn malformed_rule_sets_are_refused_when_loaded() {
    let bad = [
        (
            json!({"rules": [{"name": "", "check": {"max_signs_per_hour": 1}, "action": "deny"}]}),
            "no name",
        ),
        (
            json!({"rules": [
            {"name": "x", "check": {"max_signs_per_hour": 1}, "action": "deny"},
            {"name": "x", "check": {"max_signs_per_day": 1}, "action": "deny"}]}),
            "twice",
        ),
        (
            json!({"rules": [{"name": "x", "check": {"max_signs_per_hour": 1}, "action": {"require_approval": {"approvals": 0}}}]}),
            "approvals",
        ),
        (
            json!({"rules": [{"name": "x", "check": {"max_signs_per_hour": 1}, "action": {"require_approval": {"approvals": 17}}}]}),
            "approvals",
        ),
        (
            json!({"rules": [{"name": "x", "check": {"field_max": {"field": "value", "max": "1"}}, "action": "deny"}]}),
            "JSON pointer",
        ),
        (
            json!({"rules": [{"name": "x", "check": {"field_max": {"field": "/value", "max": "1e18"}}, "action": "deny"}]}),
            "decimal",
        ),
        (
            json!({"rules": [{"name": "x", "check": {"field_one_of": {"field": "/to", "values": []}}, "action": "deny"}]}),
            "no value",
        ),
        (
            json!({"rules": [{"name": "x", "check": {"time_window_utc": {"from_minute": 0, "to_minute": 1440}}, "action": "deny"}]}),
            "one day",
        ),
        (
            json!({"rules": [{"name": "x", "data_types": ["HASH"], "check": {"status_change_to": ["DESTROYED"]}, "action": "deny"}]}),
            "status",
        ),
    ];
    for (v, expect) in bad {
        let set: RuleSet = serde_json::from_value(v.clone()).unwrap();
        let err = set.validate().unwrap_err();
        assert!(err.to_string().contains(expect), "{v}: {err}");
    }
    // Unknown fields are refused by the parser itself.
    assert!(serde_json::from_value::<RuleSet>(json!({"rules": [
        {"name": "x", "check": {"max_signs_per_hour": 1}, "action": "deny", "actoin": "deny"}
    ]}))
    .is_err());
}

#[test]
fn the_digest_changes_with_the_rules() {
    let a = rules(json!({"rules": [{"name": "x", "check": {"max_signs_per_hour": 1}, "action": "deny"}]}));
    let b = rules(json!({"rules": [{"name": "x", "check": {"max_signs_per_hour": 2}, "action": "deny"}]}));
    assert_eq!(a.digest(), a.clone().digest());
    assert_ne!(a.digest(), b.digest());
    assert_eq!(a.digest().len(), 64);
}

fn pending(required: u8) -> PendingRequest {
    PendingRequest::new(
        "r1",
        "alice",
        Some("k1".into()),
        "sign",
        json!({}),
        required,
        vec!["rule".into()],
        1_000,
        60_000,
    )
}

#[test]
fn approval_needs_the_quorum_and_never_the_requester() {
    let mut r = pending(2);
    assert!(matches!(
        r.vote("alice", ApprovalDecision::Approve, 1_001),
        Err(ApprovalError::SelfApproval { .. })
    ));
    assert_eq!(
        r.vote("bob", ApprovalDecision::Approve, 1_002),
        Ok(ApprovalState::PendingApproval)
    );
    assert!(matches!(
        r.vote("bob", ApprovalDecision::Approve, 1_003),
        Err(ApprovalError::AlreadyVoted { .. })
    ));
    assert_eq!(
        r.vote("carol", ApprovalDecision::Approve, 1_004),
        Ok(ApprovalState::Approved)
    );
    assert!(matches!(
        r.vote("dave", ApprovalDecision::Approve, 1_005),
        Err(ApprovalError::NotPending {
            state: ApprovalState::Approved,
            ..
        })
    ));
    r.start().unwrap();
    assert!(r.start().is_err(), "an executing request cannot be taken twice");
    r.finish(true, json!({"signature": "00"})).unwrap();
    assert_eq!(r.state, ApprovalState::Completed);
    assert_eq!(r.approvals(), 2);
}

#[test]
fn one_rejection_rejects_and_expiry_closes() {
    let mut r = pending(2);
    assert_eq!(
        r.vote("bob", ApprovalDecision::Reject, 1_001),
        Ok(ApprovalState::Rejected)
    );
    assert!(r.start().is_err());
    let mut late = pending(1);
    assert!(matches!(
        late.vote("bob", ApprovalDecision::Approve, 61_000),
        Err(ApprovalError::NotPending {
            state: ApprovalState::Expired,
            ..
        })
    ));
}

#[test]
fn approval_states_serialize_as_the_api_names_them() {
    assert_eq!(
        serde_json::to_value(ApprovalState::PendingApproval).unwrap(),
        json!("PENDING_APPROVAL")
    );
    assert_eq!(
        serde_json::from_value::<ApprovalDecision>(json!("REJECT")).unwrap(),
        ApprovalDecision::Reject
    );
    for s in [
        ApprovalState::Approved,
        ApprovalState::Executing,
        ApprovalState::Completed,
        ApprovalState::Failed,
        ApprovalState::Rejected,
        ApprovalState::Expired,
    ] {
        assert_eq!(serde_json::to_value(s).unwrap(), json!(s.as_str()));
    }
}
