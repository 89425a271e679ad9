//! EVM chains: EIP-191 messages, EIP-712 typed data, and transactions.

pub mod eip191;
pub mod eip712;
pub mod tx;
