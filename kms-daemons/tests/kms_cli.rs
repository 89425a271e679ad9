//! The `kms` binary as an operator runs it.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

fn kms() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kms"))
}

#[test]
fn pki_init_issue_rotate() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    let out = kms().args(["pki", "init", "--dir"]).arg(&dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for f in [
        "ca.cert",
        "ca.key",
        "gateway/gateway.cert",
        "gateway/gateway.key",
        "tss4/tss4.cert",
        "tss4/tss4.key",
    ] {
        let mode = std::fs::metadata(dir.join(f)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{f}");
    }
    // A second init refuses to overwrite the CA, and says so.
    let again = kms().args(["pki", "init", "--dir"]).arg(&dir).output().unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    let before = std::fs::read(dir.join("tss2/tss2.key")).unwrap();
    let out = kms()
        .args(["pki", "rotate", "--dir"])
        .arg(&dir)
        .arg("tss2")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_ne!(before, std::fs::read(dir.join("tss2/tss2.key")).unwrap());

    let out = kms()
        .args(["pki", "issue", "--dir"])
        .arg(&dir)
        .args(["--node", "tss5", "--days", "30"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(dir.join("tss5/tss5.cert").exists());

    let bad = kms()
        .args(["pki", "rotate", "--dir"])
        .arg(&dir)
        .arg("../etc")
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid node id"));
}
