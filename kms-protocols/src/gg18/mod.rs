//! GG18 threshold ECDSA on secp256k1 (Gennaro-Goldfeder 2018).

pub mod secp256k1;
pub mod signature;
