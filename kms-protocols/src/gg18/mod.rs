//! GG18 threshold ECDSA on secp256k1 (Gennaro-Goldfeder 2018).

pub mod keygen;
pub mod mta_backend;
mod phase5;
pub mod secp256k1;
pub mod sign;
pub mod signature;
#[cfg(test)]
mod test_support;
pub mod key_share;
pub mod refresh;
