//! An in-memory `user.UserService`.

use std::collections::HashMap;

use grpc_sansio::grpc::status::{Code, Status};
use grpc_sansio_service::CallContext;

use crate::user::user_service_server::{AsyncUserService, UserService};
use crate::user::{UserRequest, UserResponse};

/// Users by id, served blocking or async.
#[derive(Debug, Clone, Default)]
pub struct UserDirectory {
    users: HashMap<String, UserResponse>,
}

impl UserDirectory {
    /// An empty directory.
    pub fn new() -> Self {
        UserDirectory::default()
    }

    /// Adds a user.
    pub fn with_user(mut self, id: &str, name: &str, age: i32) -> Self {
        self.users.insert(
            id.to_owned(),
            UserResponse {
                name: name.to_owned(),
                age,
            },
        );
        self
    }

    fn lookup(&self, request: &UserRequest) -> Result<UserResponse, Status> {
        if request.user_id.is_empty() {
            return Err(Status::new(Code::InvalidArgument, "user_id is empty"));
        }
        self.users.get(&request.user_id).cloned().ok_or_else(|| {
            Status::new(
                Code::NotFound,
                format!("no user with id {:?}", request.user_id),
            )
        })
    }
}

impl UserService for UserDirectory {
    fn get_user(
        &self,
        _ctx: &mut CallContext,
        request: UserRequest,
    ) -> Result<UserResponse, Status> {
        self.lookup(&request)
    }
}

impl AsyncUserService for UserDirectory {
    async fn get_user(
        &self,
        _ctx: &mut CallContext,
        request: UserRequest,
    ) -> Result<UserResponse, Status> {
        self.lookup(&request)
    }
}
