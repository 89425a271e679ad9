//! Review L3: secret big integers do not survive in freed memory.
//!
//! GMP allocates limbs through replaceable memory functions. This test (alone in its
//! binary, because the functions are process-wide) installs ones that scan every block
//! GMP frees or moves for the limbs of a ring-Pedersen secret prime p~, then opens
//! commitments with the trapdoor (which reduces by p~ and q~ through temporary copies).
//! No freed block may still hold a limb of p~.

use kms_protocols::gg18::aux_info::AuxSecret;
use kms_protocols::gg18::bigint::BigInt;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::os::raw::c_void;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

extern "C" {
    fn malloc(size: usize) -> *mut c_void;
    fn free(ptr: *mut c_void);
    fn __gmp_set_memory_functions(
        alloc: Option<extern "C" fn(usize) -> *mut c_void>,
        realloc: Option<extern "C" fn(*mut c_void, usize, usize) -> *mut c_void>,
        free: Option<extern "C" fn(*mut c_void, usize)>,
    );
}

static SCANNING: AtomicBool = AtomicBool::new(false);
static HITS: AtomicUsize = AtomicUsize::new(0);
static SCANNED: AtomicUsize = AtomicUsize::new(0);
static PATTERNS: Mutex<Vec<u64>> = Mutex::new(Vec::new());

/// Count the secret limbs found in a block that is about to be given back.
fn scan(ptr: *const c_void, size: usize) {
    if !SCANNING.load(Ordering::SeqCst) || ptr.is_null() {
        return;
    }
    SCANNED.fetch_add(1, Ordering::SeqCst);
    let patterns = PATTERNS.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: GMP hands back a block of `size` bytes it allocated through us; limbs are
    // 8-byte aligned words.
    let words = unsafe { std::slice::from_raw_parts(ptr as *const u64, size / 8) };
    HITS.fetch_add(
        words.iter().filter(|w| patterns.contains(w)).count(),
        Ordering::SeqCst,
    );
}

extern "C" fn scan_alloc(size: usize) -> *mut c_void {
    // SAFETY: plain libc allocation, as GMP's default.
    unsafe { malloc(size) }
}

extern "C" fn scan_realloc(old: *mut c_void, old_size: usize, new_size: usize) -> *mut c_void {
    // A reallocation frees the old block: scan it, and move by hand so it is freed here.
    scan(old, old_size);
    // SAFETY: `old` holds `old_size` bytes; the new block at least `new_size`.
    unsafe {
        let new = malloc(new_size);
        if !new.is_null() && !old.is_null() {
            std::ptr::copy_nonoverlapping(old as *const u8, new as *mut u8, old_size.min(new_size));
        }
        free(old);
        new
    }
}

extern "C" fn scan_free(ptr: *mut c_void, size: usize) {
    scan(ptr, size);
    // SAFETY: every block GMP frees came from malloc (ours or GMP's default).
    unsafe { free(ptr) }
}

fn fixture_secret() -> (AuxSecret, BigInt) {
    let json: serde_json::Value =
        serde_json::from_str(include_str!("data/gg18_fixtures.json")).expect("fixture json");
    let party = &json["parties"][0];
    let int = |k: &str| BigInt::from_hex(party[k].as_str().expect("hex")).expect("hex");
    let p_tilde = int("rp_p");
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let aux = AuxSecret::from_primes(
        &mut rng,
        int("paillier_p"),
        int("paillier_q"),
        p_tilde.clone(),
        int("rp_q"),
    )
    .expect("fixture primes");
    (aux, p_tilde)
}

#[test]
fn review_l3_trapdoor_opening_leaves_no_secret_prime_in_freed_memory() {
    // SAFETY: installed before this test makes any GMP value; blocks allocated earlier
    // by GMP's default malloc are freed correctly by `scan_free`.
    unsafe { __gmp_set_memory_functions(Some(scan_alloc), Some(scan_realloc), Some(scan_free)) };
    let (aux, p_tilde) = fixture_secret();
    // The limbs of p~ as GMP stores them (little-endian 64-bit words).
    let bytes = p_tilde.to_bytes_be();
    assert_eq!(bytes.len(), 128);
    *PATTERNS.lock().unwrap() = bytes
        .rchunks(8)
        .map(|c| u64::from_be_bytes(c.try_into().expect("8 bytes")))
        .collect();
    let rp = aux.ring_pedersen_secret();
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    SCANNING.store(true, Ordering::SeqCst);
    for _ in 0..4 {
        let x = BigInt::random_bits(&mut rng, 800);
        let r = BigInt::random_bits(&mut rng, 2300);
        assert!(rp.open_with_trapdoor(&x, &r).is_some());
    }
    SCANNING.store(false, Ordering::SeqCst);
    assert!(
        SCANNED.load(Ordering::SeqCst) > 0,
        "GMP freed nothing: the scanner is not installed"
    );
    assert_eq!(
        HITS.load(Ordering::SeqCst),
        0,
        "limbs of the secret prime p~ were found in memory GMP gave back"
    );
}
