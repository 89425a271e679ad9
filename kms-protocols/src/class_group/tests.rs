//! Tests of the form arithmetic: the fast paths against the textbook algorithm, group
//! laws, exponentiation, encoding and the rejection of every kind of malformed form.

use super::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

/// A group whose discriminant is `-p` for a random prime `p ≡ 3 (mod 4)` of `bits`
/// bits, optionally times `k²` (a non-fundamental discriminant, like CL's `q²·Δ_K`).
fn group(rng: &mut ChaCha20Rng, bits: usize, k: u64) -> ClassGroup {
    loop {
        let p = BigInt::random_bits(rng, bits) + BigInt::pow2(bits);
        let low = p.rem_u64(4);
        let p = p - BigInt::from_u64(low) + BigInt::from_u64(3);
        if p.is_probable_prime(20) {
            let k2 = BigInt::from_u64(k * k);
            return ClassGroup::new(&-(&(p * k2))).unwrap();
        }
    }
}

/// A pseudo-random element: a small prime form raised to a random exponent.
fn element(g: &ClassGroup, rng: &mut ChaCha20Rng) -> QuadForm {
    let base = (3u64..)
        .filter(|r| BigInt::from_u64(*r).is_probable_prime(10))
        .find_map(|r| g.prime_form(r))
        .unwrap();
    let e = BigInt::random_bits(rng, g.discriminant().bits() / 2 + 20);
    g.pow(&base, &e)
}

fn assert_valid(g: &ClassGroup, f: &QuadForm) {
    assert_eq!(
        g.form_from_ab(&f.a(), &f.b()).as_ref(),
        Ok(f),
        "not a valid reduced form"
    );
    assert_eq!(
        &f.b() * &f.b() - BigInt::from_u64(4) * f.a() * f.c(),
        g.discriminant()
    );
}

fn sizes() -> [(usize, u64); 4] {
    // (bits of p, conductor): small, medium, the CL size (1827-bit Δ_K times a 256-bit
    // conductor is covered by the CL tests), and a non-fundamental one.
    [(62, 1), (130, 1), (700, 1), (300, 9)]
}

#[test]
fn nucomp_matches_textbook_composition() {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    for (bits, k) in sizes() {
        let g = group(&mut rng, bits, k);
        for _ in 0..12 {
            let x = element(&g, &mut rng);
            let y = element(&g, &mut rng);
            let fast = g.compose(&x, &y);
            assert_valid(&g, &fast);
            assert_eq!(fast, g.compose_textbook(&x, &y), "bits {bits}");
            assert_eq!(fast, g.compose(&y, &x), "commutative");
        }
    }
}

#[test]
fn nudupl_matches_composition_with_itself() {
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    for (bits, k) in sizes() {
        let g = group(&mut rng, bits, k);
        for _ in 0..12 {
            let x = element(&g, &mut rng);
            let sq = g.square(&x);
            assert_valid(&g, &sq);
            assert_eq!(sq, g.compose_textbook(&x, &x));
            assert_eq!(sq, g.compose(&x, &x));
        }
    }
}

#[test]
fn identity_inverse_and_associativity() {
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    for (bits, k) in sizes() {
        let g = group(&mut rng, bits, k);
        let id = g.identity();
        assert_valid(&g, &id);
        assert!(g.is_identity(&id));
        for _ in 0..6 {
            let (x, y, z) = (
                element(&g, &mut rng),
                element(&g, &mut rng),
                element(&g, &mut rng),
            );
            assert_eq!(g.compose(&x, &id), x);
            assert_eq!(g.compose(&id, &x), x);
            assert_eq!(g.square(&id), id);
            let xi = g.inverse(&x);
            assert_valid(&g, &xi);
            assert!(g.is_identity(&g.compose(&x, &xi)));
            assert!(g.is_identity(&g.compose_textbook(&x, &xi)));
            assert_eq!(
                g.compose(&g.compose(&x, &y), &z),
                g.compose(&x, &g.compose(&y, &z))
            );
        }
    }
}

#[test]
fn exponent_laws() {
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    for (bits, k) in [(130usize, 1u64), (700, 1), (300, 9)] {
        let g = group(&mut rng, bits, k);
        let x = element(&g, &mut rng);
        let y = element(&g, &mut rng);
        for ebits in [1usize, 7, 64, 300] {
            let a = BigInt::random_bits(&mut rng, ebits);
            let b = BigInt::random_bits(&mut rng, ebits);
            let xa = g.pow(&x, &a);
            let xb = g.pow(&x, &b);
            assert_valid(&g, &xa);
            assert_eq!(g.compose(&xa, &xb), g.pow(&x, &(&a + &b)), "x^a·x^b = x^(a+b)");
            assert_eq!(g.pow(&xa, &b), g.pow(&x, &(&a * &b)), "(x^a)^b = x^(ab)");
            assert_eq!(g.compose(&xa, &g.pow(&x, &-&a)), g.identity(), "x^-a = (x^a)^-1");
            assert_eq!(
                g.compose(&xa, &g.pow(&y, &a)),
                g.pow(&g.compose(&x, &y), &a),
                "(xy)^a"
            );
            let double = g.pow2(&x, &a, &y, &-&b);
            assert_eq!(double, g.compose(&xa, &g.pow(&y, &-&b)), "pow2");
        }
        // Small exponents against repeated composition.
        let mut acc = g.identity();
        for e in 0u64..40 {
            assert_eq!(g.pow(&x, &BigInt::from_u64(e)), acc, "x^{e}");
            acc = g.compose(&acc, &x);
        }
        assert_eq!(g.pow(&x, &BigInt::zero()), g.identity());
    }
}

#[test]
fn fixed_base_table_matches_pow() {
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let g = group(&mut rng, 400, 1);
    let x = element(&g, &mut rng);
    for w in [2u32, 4, 5] {
        let t = FixedBaseTable::new(&g, &x, 200, w);
        for ebits in [0usize, 1, 5, 100, 199, 200] {
            let e = BigInt::random_bits(&mut rng, ebits);
            assert_eq!(t.pow(&g, &e), g.pow(&x, &e), "w {w}, {ebits} bits");
        }
        // All-ones exponents exercise the carry out of every window.
        let ones = BigInt::pow2(200) - BigInt::one();
        assert_eq!(t.pow(&g, &ones), g.pow(&x, &ones));
        // Outside the table's range it falls back and stays correct.
        let big = BigInt::pow2(230) + BigInt::from_u64(5);
        assert_eq!(t.pow(&g, &big), g.pow(&x, &big));
        assert_eq!(t.pow(&g, &-&ones), g.pow(&x, &-&ones));
    }
}

#[test]
fn encode_decode_round_trip() {
    let mut rng = ChaCha20Rng::seed_from_u64(6);
    for (bits, k) in sizes() {
        let g = group(&mut rng, bits, k);
        for f in [g.identity(), element(&g, &mut rng), element(&g, &mut rng)] {
            let enc = g.encode(&f);
            assert_eq!(enc.len(), g.encoded_len());
            assert_eq!(g.decode(&enc), Ok(f.clone()));
            let inv = g.inverse(&f);
            assert_eq!(g.decode(&g.encode(&inv)), Ok(inv));
        }
    }
}

#[test]
fn rejects_malformed_forms() {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let g = group(&mut rng, 130, 1);
    let f = element(&g, &mut rng);
    let enc = g.encode(&f);
    // Lengths and sign byte.
    assert_eq!(g.decode(&enc[1..]), Err(FormError::Malformed));
    let mut long = enc.clone();
    long.push(0);
    assert_eq!(g.decode(&long), Err(FormError::Malformed));
    let mut bad_sign = enc.clone();
    bad_sign[0] = 2;
    assert_eq!(g.decode(&bad_sign), Err(FormError::Malformed));
    // a = 0 and a < 0.
    assert_eq!(
        g.form_from_ab(&BigInt::zero(), &BigInt::one()),
        Err(FormError::OutOfRange)
    );
    assert_eq!(g.form_from_ab(&-&f.a(), &f.b()), Err(FormError::OutOfRange));
    // Wrong discriminant: b changed by 2 keeps the parity but not b² ≡ Δ (mod 4a).
    let b2 = f.b() + BigInt::from_u64(2);
    assert_eq!(g.form_from_ab(&f.a(), &b2), Err(FormError::WrongDiscriminant));
    // A form of another discriminant.
    let other = group(&mut rng, 130, 1);
    let o = element(&other, &mut rng);
    assert_eq!(g.form_from_ab(&o.a(), &o.b()), Err(FormError::WrongDiscriminant));
    // Not reduced: (a, b + 2a) is the same class with b outside (-a, a].
    let unnorm = f.b() + BigInt::from_u64(2) * f.a();
    assert_eq!(g.form_from_ab(&f.a(), &unnorm), Err(FormError::NotReduced));
    // Not reduced: a > c, the swapped form (c, -b, a).
    assert_eq!(g.form_from_ab(&f.c(), &-&f.b()), Err(FormError::NotReduced));
    // Not reduced: b = -a, or a = c with b < 0 (the boundary cases).
    let id = g.identity();
    assert_eq!(g.form_from_ab(&id.a(), &-&id.b()), Err(FormError::NotReduced));
    // Sizes beyond any reduced form.
    let huge = BigInt::pow2(8 * g.encoded_len());
    assert_eq!(g.form_from_ab(&huge, &BigInt::one()), Err(FormError::OutOfRange));
    // Not primitive: with Δ = 9·Δ0, (3, 3, 3·c0) has discriminant Δ but gcd 3.
    let g9 = group(&mut rng, 130, 3);
    let three = BigInt::from_u64(3);
    assert_eq!(g9.form_from_ab(&three, &three), Err(FormError::NotPrimitive));
    let mut enc9 = g9.encode(&g9.identity());
    let n = (enc9.len() - 1) / 2;
    enc9[n] = 3;
    enc9[2 * n] = 3;
    assert_eq!(g9.decode(&enc9), Err(FormError::NotPrimitive));
    // A "negative zero" b is not canonical.
    let mut negzero = g.encode(&g.identity());
    negzero[0] = 1;
    let last = negzero.len() - 1;
    negzero[last] = 0;
    assert_eq!(g.decode(&negzero), Err(FormError::Malformed));
    // Bad discriminants.
    assert!(ClassGroup::new(&BigInt::from_u64(23)).is_err());
    assert!(ClassGroup::new(&-&BigInt::from_u64(22)).is_err());
    assert!(ClassGroup::new(&-&BigInt::from_u64(23)).is_ok());
}

#[test]
fn small_class_group_known_answers() {
    // Cl(-23) has order 3: the forms (1,1,6), (2,1,3), (2,-1,3) (Cohen, Table B.1 lists
    // h(-23) = 3). Cl(-47) has order 5.
    let g = ClassGroup::new(&-&BigInt::from_u64(23)).unwrap();
    let x = g.form_from_ab(&BigInt::from_u64(2), &BigInt::one()).unwrap();
    assert_eq!(x.c(), BigInt::from_u64(3));
    let x2 = g.square(&x);
    assert_eq!((x2.a(), x2.b()), (BigInt::from_u64(2), -&BigInt::one()));
    assert!(g.is_identity(&g.compose(&x2, &x)));
    assert!(g.is_identity(&g.pow(&x, &BigInt::from_u64(3))));
    let g47 = ClassGroup::new(&-&BigInt::from_u64(47)).unwrap();
    let y = g47.prime_form(2).unwrap();
    assert!(!g47.is_identity(&y));
    assert!(g47.is_identity(&g47.pow(&y, &BigInt::from_u64(5))));
}

/// Known answers from poanetwork/vdf @719925d, `classgroup/tests/multiply.txt`
/// (Apache-2.0; the first 12 of its 100 lines, copied unchanged into
/// `tests/data/vdf_classgroup_multiply.txt`). Each line is `x | y | x·y` as reduced
/// forms `a,b,c` in decimal, for discriminants of about 2048 bits.
#[test]
fn vdf_multiply_known_answers() {
    let text = include_str!("../../tests/data/vdf_classgroup_multiply.txt");
    let parse = |s: &str| -> Vec<BigInt> {
        s.split(',')
            .map(|n| BigInt::from_mpz(Mpz::from_str_radix(n.trim(), 10).unwrap()))
            .collect()
    };
    let mut lines = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let parts: Vec<Vec<BigInt>> = line.split('|').map(parse).collect();
        assert_eq!(parts.len(), 3);
        let d = &parts[0][1] * &parts[0][1] - BigInt::from_u64(4) * &parts[0][0] * &parts[0][2];
        let g = ClassGroup::new(&d).unwrap();
        let forms: Vec<QuadForm> = parts
            .iter()
            .map(|p| g.form_from_ab(&p[0], &p[1]).unwrap())
            .collect();
        for (f, p) in forms.iter().zip(&parts) {
            assert_eq!(f.c(), p[2]);
        }
        assert_eq!(g.compose(&forms[0], &forms[1]), forms[2]);
        assert_eq!(g.compose_textbook(&forms[0], &forms[1]), forms[2]);
        if forms[0] == forms[1] {
            assert_eq!(g.square(&forms[0]), forms[2]);
        }
        lines += 1;
    }
    assert_eq!(lines, 12);
}
