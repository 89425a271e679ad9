//! Zero-knowledge proofs of the hardened GG18 layer.
//!
//! Aux material (once per node and peer): [`modulus`] (Πmod), [`no_small_factor`]
//! (Πfac), [`ring_pedersen_params`] (Πprm). MtA (every signing): [`mta_range`] (Alice's
//! range proof), [`mta_respondent`] (Bob's proof, with or without the check g^b = B).
//! Every proof hashes its whole statement, all first-message values at once, the session
//! and the prover into its Fiat-Shamir challenge ([`crate::transcript`]).

pub mod modulus;
pub mod mta_range;
pub mod mta_respondent;
pub mod no_small_factor;
pub mod ring_pedersen_params;
