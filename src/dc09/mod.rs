//! SIA DC-09 (ANSI/SIA DC-09, IP event reporting): the pure receiver.
//! Bytes, wall time and randomness in; decisions and reply frames out. The
//! tokio layer is `crate::runtime::dc09`; alarm-protocols.md §5 is the
//! reference these files follow.
//!
//! | file | role |
//! |---|---|
//! | [`crc`] | CRC-16/ARC; CRC as 4 hex or 2 binary bytes |
//! | [`types`] | message id, sequence, receiver/line/account ids |
//! | [`frame`] | one frame: integrity, header, body, extended data |
//! | [`timestamp`] | `_HH:MM:SS,MM-DD-YYYY` and the acceptance window |
//! | [`crypto`] | AES-CBC (zero IV) keys, open and seal with the DC-09 pad |
//! | [`message`] | `ADM-CID` and `SIA-DCS` event data |
//! | [`sia_codes`] | SIA codes → Contact ID code and qualifier |
//! | [`accounts`] | receiver/line/account → tenant and key |
//! | [`reply`] | `ACK`, `*ACK`, `NAK`, `DUH` frames |
//! | [`receiver`] | the decision per frame (silence, NAK, DUH, repeat, store) |
//! | [`stream`] | frames out of a TCP stream, with a partial-frame deadline |
//! | [`record`] | the journal record's data and the operator's fields |

pub mod accounts;
pub mod crc;
pub mod crypto;
pub mod frame;
pub mod message;
pub mod receiver;
pub mod record;
pub mod reply;
pub mod sia_codes;
pub mod stream;
pub mod timestamp;
pub mod types;

pub use accounts::{AccountMatch, AccountRule, Directory, UnknownAccount};
pub use receiver::{Dc09Receiver, Decision, Now, ReceiverConfig};
