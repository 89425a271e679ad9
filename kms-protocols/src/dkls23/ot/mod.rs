//! Oblivious transfer for DKLS23: endemic base OT, punctured trees (all-but-one OT)
//! and the SoftSpokenOT extension. The specification is docs/dkls23.md §1-3.

pub mod base;
pub mod ext;
pub mod ggm;
