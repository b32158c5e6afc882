//! The example and test services of grpc-sansio, generated from
//! `proto/proto/*.proto` by `grpc-sansio-build` in this crate's `build.rs`,
//! with sample implementations:
//!
//! - [`user`]: `user.UserService`, the classic unary example, and
//!   [`UserDirectory`], an in-memory implementation (blocking and async);
//! - [`chat`]: `chat.Chat`, a bidirectional-streaming chat room, and
//!   [`ChatRoom`], its implementation (blocking and async);
//! - [`kinds`]: `kinds.v1.Kinds` with one method of each kind, and
//!   `kinds.v2.Kinds`, the same plus one method, for compatibility tests;
//! - [`edge`]: names and comments that stress the generator.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod chat_room;
mod user_directory;

pub use chat_room::ChatRoom;
pub use user_directory::UserDirectory;

/// `package user`: the classic example service.
pub mod user {
    include!(concat!(env!("OUT_DIR"), "/user.rs"));
}

/// `package chat`: a chat room over a bidirectional stream.
pub mod chat {
    include!(concat!(env!("OUT_DIR"), "/chat.rs"));
}

/// `package kinds.v1` and `kinds.v2`: the four kinds of RPC, in two versions.
pub mod kinds {
    /// `package kinds.v1`.
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/kinds.v1.rs"));
    }
    /// `package kinds.v2`: v1 plus `Negate`.
    pub mod v2 {
        include!(concat!(env!("OUT_DIR"), "/kinds.v2.rs"));
    }
}

/// `package edge`: generator edge cases.
pub mod edge {
    include!(concat!(env!("OUT_DIR"), "/edge.rs"));
}

// The README's Rust snippets, compiled as doctests so none goes stale.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeSnippets;
