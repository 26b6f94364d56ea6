//! Media for one call leg, sans-IO: RTP (RFC 3550), the G.711 audio profile
//! (RFC 3551, ITU-T G.711), RFC 4733 telephone-events, tones, reordering and
//! RTCP receiver reports.
//!
//! Nothing here opens a socket or reads the clock: the runtime passes
//! datagrams and `now` in and sends what [`session::RtpSession`] hands back.
//!
//! | file | role |
//! |---|---|
//! | [`rtp`] | checked packet view, header emit |
//! | [`g711`] | A-law/µ-law tables and encoder, [`Codec`] |
//! | [`tone`] | tone and DTMF generation, Contact ID handshake and kissoff |
//! | [`telephone_event`] | RFC 4733 payload, event set, digit receiver |
//! | [`event_sender`] | RFC 4733 packet sequence for a digit |
//! | [`reorder`] | fixed-depth reorder buffer that reports gaps |
//! | [`rtcp`] | RR + SDES building, SR/RR parsing |
//! | [`rtcp_stats`] | receiver statistics: loss, jitter, LSR/DLSR |
//! | [`receiver`] | incoming leg: latching, reorder, decode, digits |
//! | [`sender`] | outgoing packet clock and audio sources |
//! | [`session`] | one leg: latching, decode, events, transmit, stats |
//! | [`source`] | strict media: which source and SSRC a leg takes |
//! | [`bridge`] | two legs connected: audio both ways, digit relay |
//! | [`bridge_port`] | what a leg plays: override tone, digits, bridged audio or hold |
//! | [`webrtc`] | a browser leg's transport below the session: ICE-lite, DTLS-SRTP |

pub mod bridge;
pub mod bridge_port;
pub mod event_sender;
pub mod from_sdp;
pub mod g711;
pub mod receiver;
pub mod recording;
pub mod reorder;
pub mod rtcp;
pub mod rtcp_stats;
pub mod rtp;
pub mod sender;
pub mod session;
pub mod source;
pub mod telephone_event;
pub mod tone;
pub mod webrtc;

pub use from_sdp::params_from_sdp;
pub use g711::Codec;
pub use session::{MediaParams, RtpSession};
