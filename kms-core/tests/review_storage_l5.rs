//! Storage review L5: identifiers that flow into file paths and table keys are
//! validated when they are deserialized, not only when they are built in code.

use kms_core::{KeyId, NodeId};

#[test]
fn review_storage_l5_node_id_validated_on_deserialize() {
    // A path traversal, an empty name and an over-long name are refused...
    for bad in [
        "\"../x\"",
        "\"\"",
        "\"a/b\"",
        "\"tss 1\"",
        &format!("\"{}\"", "n".repeat(65)),
    ] {
        assert!(
            serde_json::from_str::<NodeId>(bad).is_err(),
            "NodeId {bad} accepted"
        );
        assert!(
            serde_json::from_str::<KeyId>(bad).is_err(),
            "KeyId {bad} accepted"
        );
    }
    // ...with the reason in the message.
    let err = serde_json::from_str::<NodeId>("\"../x\"").unwrap_err();
    assert!(err.to_string().contains("invalid node id"), "{err}");
    // Valid ids still round-trip, in the same transparent JSON form as before.
    let n: NodeId = serde_json::from_str("\"tss1\"").unwrap();
    assert_eq!(n, NodeId::new("tss1").unwrap());
    assert_eq!(serde_json::to_string(&n).unwrap(), "\"tss1\"");
    let k: KeyId = serde_json::from_str("\"0123abcd_-\"").unwrap();
    assert_eq!(serde_json::to_string(&k).unwrap(), "\"0123abcd_-\"");
    // Also inside a larger structure.
    assert!(serde_json::from_str::<Vec<NodeId>>("[\"tss1\", \"../../etc\"]").is_err());
}
